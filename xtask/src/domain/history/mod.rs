//! The migration history: the files (`migrations`), what has been applied where (`lock`), the batch after a
//! head (`batch`), which database a target is (`identity`, pinned in the lock), and a file held against the
//! statements a database stored for it (`statements`).

pub mod batch;
pub mod identity;
pub mod lock;
pub mod migrations;
pub mod statements;
