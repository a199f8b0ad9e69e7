//! Interruption as a state the xtask handles: SIGINT, SIGTERM and SIGHUP set a flag instead of ending the
//! process, so a promotion can stop where it is safe to (before the push: nothing pushed; during it: the CLI's
//! process group and its server session ended, the history read back and recorded), release its locks and remove
//! its stage.
//!
//! A second SIGINT or SIGTERM keeps the promise of the first, in a bounded time (SIGHUP never counts as a second:
//! a terminal hanging up sends it twice): before the push the process ends at once
//! (nothing was pushed; the OS releases the locks, the next run removes the stage); during the push the CLI is
//! ended as for the first, and what the database holds is read within `SECOND_SIGNAL_BOUND` — past it the process
//! ends saying the target's state is unknown and how to read it. A third signal ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The exit code of a command ended by a signal it handled (128 + SIGINT), as shells report Ctrl-C.
pub const EXIT_CODE: u8 = 130;

/// How long after a second signal during the push the xtask may take to end the CLI, read the history and
/// write the record.
pub const SECOND_SIGNAL_BOUND: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    first: Arc<AtomicBool>,
    second: Arc<AtomicBool>,
    /// Where a promotion is: what a second signal may still do.
    phase: Arc<Mutex<Phase>>,
}

/// What a second signal finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Phase {
    /// Nothing pushed yet.
    #[default]
    Before,
    /// The push to this target runs, until its record is written.
    Pushing(String),
    /// The record is written; the catalog is being refreshed.
    Recorded(String),
    /// The record is written and the xtask is ending on its own.
    Ending,
}

impl Interrupt {
    /// Catches the three signals for the rest of the process, and watches for a second one.
    pub fn install() -> anyhow::Result<Interrupt> {
        let interrupt = Interrupt::default();
        // A terminal that hangs up sends SIGHUP twice (to the foreground group, and again when its shell exits):
        // that is one request, never a second signal.
        signal_hook::flag::register(SIGHUP, Arc::clone(&interrupt.first))?;
        for signal in [SIGINT, SIGTERM] {
            // The third signal: the default action (the process ends), acted on only once `second` is set.
            signal_hook::flag::register_conditional_default(signal, Arc::clone(&interrupt.second))?;
            let (first, second) = (Arc::clone(&interrupt.first), Arc::clone(&interrupt.second));
            // SAFETY: the action only loads and stores atomics, which is async-signal-safe.
            unsafe {
                signal_hook::low_level::register(signal, move || {
                    if first.swap(true, Ordering::SeqCst) {
                        second.store(true, Ordering::SeqCst);
                    }
                })?;
            }
        }
        let watched = interrupt.clone();
        std::thread::spawn(move || watched.watch());
        Ok(interrupt)
    }

    pub fn requested(&self) -> bool {
        self.first.load(Ordering::SeqCst)
    }

    /// A second signal came: whatever the xtask does now must end within `SECOND_SIGNAL_BOUND`.
    pub fn abandoned(&self) -> bool {
        self.second.load(Ordering::SeqCst)
    }

    /// The push to `target` starts: from now on a second signal gives the xtask `SECOND_SIGNAL_BOUND` to say
    /// what the target holds.
    pub fn pushing(&self, target: &str) {
        self.set(Phase::Pushing(target.to_string()));
    }

    /// The push's record is written: a second signal now only abandons the catalog refresh.
    pub fn recorded(&self, target: &str) {
        self.set(Phase::Recorded(target.to_string()));
    }

    /// The promotion's outcome is written and it ends now: a second signal changes nothing more.
    pub fn ending(&self) {
        self.set(Phase::Ending);
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    fn phase(&self) -> Phase {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// What a second signal does when the code that runs cannot look at it in time.
    fn watch(self) {
        while !self.abandoned() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let deadline = Instant::now() + SECOND_SIGNAL_BOUND;
        loop {
            match self.phase() {
                Phase::Before => {
                    eprintln!("second signal: abandoned before the push; nothing was pushed");
                    break;
                }
                Phase::Recorded(target) => {
                    eprintln!(
                        "second signal: the push is recorded; the catalog refresh is abandoned: run `cargo xtask catalog --target {target}` and `cargo xtask docs-refresh --target {target}`"
                    );
                    break;
                }
                Phase::Pushing(target) if Instant::now() >= deadline => {
                    eprintln!(
                        "promote: the CLI was ended, but what {target} holds could not be read within {} s of the second signal: the state of {target} is unknown: run `cargo xtask status --live --target {target}`",
                        SECOND_SIGNAL_BOUND.as_secs()
                    );
                    break;
                }
                Phase::Pushing(_) => std::thread::sleep(Duration::from_millis(50)),
                Phase::Ending => return,
            }
        }
        std::process::exit(EXIT_CODE.into());
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
