//! Edges: the parts of the xtask that talk to the world outside its own process: the Supabase CLI and the
//! Management API (`supabase`), Postgres sessions, the embedded cluster, shadows and stages (`postgres`), a
//! target resolved to how it is reached (`target`), GitHub and HTTP (`github`, `http`), output and secrets
//! (`output`), the migration files as read once (`migration_files`), the records it wrote (`records`), and the local system: files, git, the clock, signals (`os`).

pub mod github;
pub mod http;
pub mod migration_files;
pub mod os;
pub mod output;
pub mod postgres;
pub mod records;
pub mod repo;
pub mod shadow;
pub mod supabase;
pub mod target;
