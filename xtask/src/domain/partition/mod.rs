//! Partitions decided over data, for `cargo xtask partition`: a shadow's windows from its bounds (`windows`),
//! two scans of a window compared (`compare`), and the one-pass reads' buckets, slices and queue (`buckets`).
//! Reading the tables is `partition::scan`'s.

pub mod buckets;
pub mod compare;
pub mod windows;
