//! `cargo xtask diff A B`: schema deltas between two snapshots (the runbook's "DEV vs PROD deltas reviewed for
//! expected differences only").

use std::path::Path;

use xshell::Shell;

use crate::blocked::blocked;
use crate::catalog::{self, Snapshot};
use crate::delta::{self, Delta, DeltaReport, Expected};
use crate::flags;
use crate::repo::Repo;
use crate::report;

impl flags::Diff {
    pub fn run(self, _sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let (a, b) = (snapshot(repo, &self.a)?, snapshot(repo, &self.b)?);
        let expected = expected(repo)?;
        let (unexpected, accepted) = split(delta::diff(&a, &b), &expected);
        let count = unexpected.len();
        let report = DeltaReport { deltas: unexpected, a: self.a.clone(), b: self.b.clone() };
        report::emit(&report, self.output.format)?;
        let listed_in = repo.rel(&repo.expected_deltas_path());
        eprintln!("diff: {count} unexpected delta(s), {accepted} expected (listed in {listed_in})");
        if count == 0 {
            return Ok(());
        }
        Err(blocked(format!(
            "diff: {count} unexpected delta(s) between {} and {}: fix the schema with a migration, or list them with a reason in {listed_in}",
            self.a, self.b
        )))
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
    let path = repo.catalog_path(arg);
    catalog::load(&path, &repo.rel(&path), arg)
}

/// `docs/database/expected-deltas.toml`, or nothing expected when it does not exist.
pub fn expected(repo: &Repo) -> anyhow::Result<Expected> {
    let path = repo.expected_deltas_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => Expected::parse(&text, &repo.rel(&path)),
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
