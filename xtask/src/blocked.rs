//! The "no" answer of a command that ran to the end (blocking findings, a stale file, a mismatch, a refusal):
//! exit 1, where every other error exits 2. What was refused is a `Refusal` (the domain's), kept typed to the
//! exit code and the json documents' `"refusal"`.

use crate::domain::refusal::Refusal;

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Blocked(pub Refusal);

/// `Err(blocked(..))?` reads as the refusal it is.
pub fn blocked(refusal: Refusal) -> anyhow::Error {
    Blocked(refusal).into()
}

/// The refusal an error is, if it is one: a `Blocked`, or a bare `Refusal` that reached anyhow through `?`
/// (still a refusal: exit 1).
pub fn refusal(err: &anyhow::Error) -> Option<&Refusal> {
    err.downcast_ref::<Blocked>().map(|b| &b.0).or_else(|| err.downcast_ref::<Refusal>())
}
