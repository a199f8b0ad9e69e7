//! The promotion's decisions: each statement's lock budget (`budget`), the partition cutover's gate (`cutover`),
//! the durations they are written in (`duration`), and the platform's locks for policy statements
//! (`policy_locks`).

pub mod budget;
pub mod cutover;
pub mod duration;
pub mod policy_locks;
