//! Domain: decisions over data, no processes, files or sessions: the migration history and its lock, the rules
//! `check` applies, the schema catalog and its deltas, the promotion's decisions (lock budgets, cutovers), the
//! targets' configuration (`config`), what `check` reports (`findings`), the safe rewrites of flagged
//! statements, and why a command refuses (`refusal`).

pub mod config;
pub mod findings;
pub mod history;
pub mod lint;
pub mod major;
pub mod platform;
pub mod promotion;
pub mod refusal;
pub mod rewrites;
pub mod schema;
