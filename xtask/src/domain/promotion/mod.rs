//! The promotion's decisions: each statement's lock budget (`budget`), the partition cutover's gate (`cutover`),
//! and the durations they are written in (`duration`).

pub mod budget;
pub mod cutover;
pub mod duration;
