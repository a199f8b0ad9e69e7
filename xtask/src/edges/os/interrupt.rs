//! Interruption as a state the xtask handles: SIGINT, SIGTERM and SIGHUP set a flag instead of ending the
//! process, so a promotion can stop where it is safe to (before the push: nothing pushed; during it: the CLI's
//! session ended, the history read back and recorded), release its locks and remove its stage. A second
//! signal ends the process at once, for whoever must abandon it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The exit code of a command ended by a signal it handled (128 + SIGINT), as shells report Ctrl-C.
pub const EXIT_CODE: u8 = 130;

#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    /// Catches the three signals for the rest of the process.
    pub fn install() -> anyhow::Result<Interrupt> {
        let interrupt = Interrupt::default();
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            // The conditional default first: it acts only once the flag is already set (the second signal).
            signal_hook::flag::register_conditional_default(signal, Arc::clone(&interrupt.flag))?;
            signal_hook::flag::register(signal, Arc::clone(&interrupt.flag))?;
        }
        Ok(interrupt)
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// The error a handled interruption ends a command with: exit 130, its message saying what state it left.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}
