//! Partitions decided over data, for `cargo xtask partition`: a shadow's windows from its bounds (`windows`),
//! two scans of a window compared (`compare`), the one-pass reads' buckets, slices and queue (`buckets`), a parity
//! run's evidence and its Markdown (`evidence`), and a reviewed retention plan, its digest and its record
//! (`prune`).
//! Reading the tables is `partition::scan`'s.

pub mod buckets;
pub mod compare;
pub mod evidence;
pub mod prune;
pub mod windows;
