//! Progress for long work (the push, the rehearsal, the catalog read, parity's scans): a spinner on a
//! terminal, nothing at all when stderr is not a terminal (CI logs, tests) or the output is JSON.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::edges::output::report::Format;

/// Spins while it lives; cleared when dropped, so a failure message never lands behind a spinner.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub fn start(message: &str, format: Format) -> Spinner {
        if format == Format::Json || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(bar))
    }

    /// Updates the message (e.g. "window 3 of 14").
    pub fn set(&self, message: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
