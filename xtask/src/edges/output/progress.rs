//! Progress for long work (the push, the rehearsal, the catalog read, parity's scans): a spinner on a
//! terminal, nothing at all when stderr is not a terminal (CI logs, tests) or the output is JSON.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::edges::output::report::Format;

/// Spins while it lives; cleared when dropped, so a failure message never lands behind a spinner.
pub struct Spinner {
    bar: Option<ProgressBar>,
    /// Cleared before its work ended (an interruption is being said): no frame is drawn again.
    cleared: AtomicBool,
}

impl Spinner {
    pub fn start(message: &str, format: Format) -> Spinner {
        let cleared = AtomicBool::new(false);
        if format == Format::Json || !std::io::stderr().is_terminal() {
            return Spinner { bar: None, cleared };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner { bar: Some(bar), cleared }
    }

    /// Updates the message (e.g. "window 3 of 14").
    pub fn set(&self, message: String) {
        if let Some(bar) = self.bar.as_ref().filter(|_| !self.cleared.load(Ordering::SeqCst)) {
            bar.set_message(message);
        }
    }

    /// A step of the work people follow (the file being applied): the spinner's message on a terminal, a line
    /// of its own elsewhere (a CI log), so every step is seen.
    pub fn step(&self, message: String) {
        match &self.bar {
            Some(_) => self.set(message),
            None => say(&format!("       {message}")),
        }
    }

    /// Ends the spinner now, so what is said next is not drawn over, nor followed, by a stale frame.
    pub fn clear(&self) {
        self.cleared.store(true, Ordering::SeqCst);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A line to stderr that never panics (`eprintln!` does when the write fails): a terminal that hung up (its window
/// closed, an SSH session lost) must not stop a promotion between its push and its record.
pub fn say(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}
