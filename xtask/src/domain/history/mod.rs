//! The migration history: the files (`migrations`), what has been applied where (`lock`), the batch after a
//! head (`batch`), the live history against the record (`live`), an out-of-order file's new version (`renumber`), what `reconcile` repairs (`repair`), which database a target is (`identity`, pinned in the lock), and a file held against the
//! statements a database stored for it (`statements`).

pub mod batch;
pub mod identity;
pub mod live;
pub mod lock;
pub mod migrations;
pub mod proof;
pub mod renumber;
pub mod repair;
pub mod statements;
