//! What leaves the process for people and programs: reports in every format (`report`), secrets masked
//! (`redact`), evidence files (`evidence`), spinners (`progress`) and a person's confirmation (`confirm`).

pub mod confirm;
pub mod evidence;
pub mod progress;
pub mod redact;
pub mod report;
