//! The local system: atomic file writes (`fsutil`), git, the clock, and signals (`interrupt`).

pub mod clock;
pub mod fsutil;
pub mod git;
pub mod interrupt;
