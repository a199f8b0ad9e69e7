//! `cargo xtask partition parity|prune|rollback`: the runbook's partition steps 2 (parity evidence before a
//! cutover), 3 (undoing a promoted cutover; `promote` gates the cutover itself) and 4 (retention drops from a
//! reviewed plan), on a real database through direct sessions. `rollback` runs what the cutover's record names;
//! `parity` orchestrates the reads of `scan` over the windows `domain::partition` decides, and `evidence` renders
//! what a parity run leaves and reports; `prune` plans and runs retention drops.

mod evidence;
mod parity;
mod prune;
mod rollback;
mod scan;

use anyhow::bail;
use xshell::Shell;

use crate::edges::repo::Repo;
use crate::flags::{self, PartitionCmd};

impl flags::Partition {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        match self.cmd {
            PartitionCmd::Parity(cmd) => cmd.run(sh, repo),
            PartitionCmd::Prune(cmd) => cmd.run(sh, repo),
            PartitionCmd::Rollback(cmd) => cmd.run(sh, repo),
        }
    }
}

/// `schema.table` (or `table` in public), quoted for SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub schema: String,
    pub name: String,
}

impl TableRef {
    pub fn parse(text: &str) -> anyhow::Result<TableRef> {
        let (schema, name) = text.split_once('.').unwrap_or(("public", text));
        if schema.is_empty() || name.is_empty() || name.contains('.') {
            bail!("`{text}` is not a table name; write schema.table");
        }
        Ok(TableRef { schema: schema.to_string(), name: name.to_string() })
    }

    pub fn sql(&self) -> String {
        format!("{}.{}", crate::edges::postgres::ident(&self.schema), crate::edges::postgres::ident(&self.name))
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}
