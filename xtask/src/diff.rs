//! `cargo xtask diff A B`: schema deltas between two snapshots (the runbook's "DEV vs PROD deltas reviewed for
//! expected differences only").

use std::path::Path;

use xshell::Shell;

use crate::catalog::{self, Snapshot};
use crate::delta::{self, Delta, Expected};
use crate::flags;
use crate::report::Blocked;
use crate::tree::Repo;

pub const EXPECTED_FILE: &str = "docs/database/expected-deltas.toml";

impl flags::Diff {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let repo = Repo::open(sh)?;
        let (a, b) = (snapshot(&repo, &self.a)?, snapshot(&repo, &self.b)?);
        let expected = expected(&repo)?;
        let (unexpected, accepted) = split(delta::diff(&a, &b), &expected);
        print!("{}", delta::render(&unexpected, self.output.format, &self.a, &self.b));
        eprintln!("diff: {} unexpected delta(s), {} expected (listed in {EXPECTED_FILE})", unexpected.len(), accepted);
        if unexpected.is_empty() {
            return Ok(());
        }
        Err(Blocked(format!(
            "diff: {} unexpected delta(s) between {} and {}: fix the schema with a migration, or list them with a reason in {EXPECTED_FILE}",
            unexpected.len(),
            self.a,
            self.b
        ))
        .into())
    }
}

/// A snapshot file, or the committed snapshot of a target.
fn snapshot(repo: &Repo, arg: &str) -> anyhow::Result<Snapshot> {
    let as_path = Path::new(arg);
    if arg.ends_with(".json") || as_path.is_file() {
        let path = if as_path.is_absolute() { as_path.to_path_buf() } else { repo.root.join(as_path) };
        return catalog::load(&path, arg, "<target>");
    }
    repo.config.target(arg)?;
    let path = catalog::path(repo, arg);
    catalog::load(&path, &crate::migrations::rel(&repo.root, &path), arg)
}

pub fn expected(repo: &Repo) -> anyhow::Result<Expected> {
    match std::fs::read_to_string(repo.root.join(EXPECTED_FILE)) {
        Ok(text) => Expected::parse(&text, EXPECTED_FILE),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Expected::default()),
        Err(err) => Err(err.into()),
    }
}

/// (unexpected deltas, how many were expected)
pub fn split(deltas: Vec<Delta>, expected: &Expected) -> (Vec<Delta>, usize) {
    let total = deltas.len();
    let unexpected: Vec<Delta> = deltas.into_iter().filter(|d| !expected.covers(d)).collect();
    let accepted = total - unexpected.len();
    (unexpected, accepted)
}
