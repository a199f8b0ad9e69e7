//! The "no" answer of a command that ran to the end (blocking findings, a stale file, a mismatch, a refusal):
//! exit 1, where every other error exits 2.

use std::fmt;

#[derive(Debug)]
pub struct Blocked(pub String);

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// `Err(blocked(..))?` reads as the refusal it is.
pub fn blocked(message: impl Into<String>) -> anyhow::Error {
    Blocked(message.into()).into()
}
