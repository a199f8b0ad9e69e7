//! Supabase: the CLI, the only way anything is pushed (`cli`), and the Management API client for the token path
//! (`management_api`: login roles, the project's pooler), the history rows it writes without a push (`repair`), and
//! the staged workdir the CLI pushes from (`stage`).

pub mod cli;
pub mod management_api;
pub mod repair;
pub mod stage;
