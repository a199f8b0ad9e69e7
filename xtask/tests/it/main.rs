//! The integration tests, one binary (as rust-analyzer's are): each module drives the built `xtask` against real
//! Postgres clusters, the real Supabase CLI and the platform doubles in `support/`. Run one module with
//! `cargo test --test it <module>::`, e.g. `cargo test --test it bad_inputs::`.

mod support;

mod bad_inputs;
mod catalog;
mod check;
mod commands;
mod comments;
mod diagnoses;
mod exposure;
mod faults;
mod hosted;
mod identity;
mod interrupt;
mod local_loop;
mod majors;
mod parse_errors;
mod partition;
mod plain_target;
mod platform;
mod platform_check;
mod pooler;
mod promote;
mod reconcile;
mod rehearsal;
mod renumber;
mod review;
mod roles;
mod setup;
mod smaller;
mod tidy;
