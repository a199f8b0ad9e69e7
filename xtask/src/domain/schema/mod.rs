//! The schema as the catalog snapshot holds it (`catalog`), its documentation (`docs`), the deltas between two
//! snapshots (`delta`), and the committed platform baseline's format (`platform_file`).

pub mod catalog;
pub mod delta;
pub mod docs;
pub mod platform_file;
