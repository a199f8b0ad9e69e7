//! Domain: decisions over data, no processes, files, sessions, environment or clock: the migration history and
//! its lock (`history`), the rules `check` applies (`lint`), the schema catalog and its deltas (`schema`), the
//! promotion's decisions (`promotion`: lock budgets, cutovers), parity's windows, comparisons and buckets
//! (`partition`), the targets' configuration (`config`) and major (`major`), the platform's role model
//! (`platform`), what `check` reports (`findings`), the safe rewrites of flagged statements (`rewrites`), why a
//! command refuses (`refusal`), and a Markdown cell's text (`markdown`).

pub mod config;
pub mod exposure;
pub mod findings;
pub mod history;
pub mod lint;
pub mod major;
pub mod markdown;
pub mod partition;
pub mod platform;
pub mod promotion;
pub mod refusal;
pub mod rewrites;
pub mod schema;
