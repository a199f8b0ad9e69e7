//! Edges: the parts of the xtask that talk to the world outside its own process. New edge modules start here;
//! the older ones (`supabase`, `platform`, `pg`, `shadow`, `stage`) move in with the layering work.

pub mod confirm;
pub mod github;
pub mod http;
pub mod interrupt;
pub mod pooler;
