//! The records the xtask wrote (`<utc>-<target>.json` for promotions, `<utc>-<target>-reconcile.json` for
//! reconciliations), read back for what they say a target was pushed and applied: `fix --renumber` keeps what
//! a target applied where it is, and a file found applied on a target is an interrupted promotion's work only
//! when a record of ours says it pushed it (anything else is another tool's, `domain::history::live`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;

use crate::edges::repo::{RecordPlace, Repo};

/// What one record says, as far as the history goes.
#[derive(Debug, serde::Deserialize)]
pub struct Said {
    pub target: String,
    /// A promotion's files, pushed or about to be (absent from a reconcile's record).
    #[serde(default)]
    pub batch: Vec<BatchFile>,
    #[serde(default)]
    pub applied: Vec<String>,
    #[serde(default)]
    pub reconciled: Vec<String>,
    /// A reconciliation's files recorded as applied (history only, or in the lock only).
    #[serde(default)]
    pub recorded: Vec<String>,
    #[serde(default)]
    pub outcome: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct BatchFile {
    pub file: String,
}

/// Every record under `place`, oldest first. A file there that is not a record is an error naming it.
pub fn read(repo: &Repo, place: RecordPlace) -> anyhow::Result<Vec<Said>> {
    read_matching(repo, place, |name| name.ends_with(".json"))
}

/// The promotion records of `target` only (`<utc>-<target>.json`): what `pushed_to` needs, read at every
/// promotion's step 2 without parsing every other target's records and every reconciliation.
pub fn read_promotions_of(repo: &Repo, place: RecordPlace, target: &str) -> anyhow::Result<Vec<Said>> {
    let suffix = format!("-{target}.json");
    read_matching(repo, place, |name| name.ends_with(&suffix))
}

fn read_matching(repo: &Repo, place: RecordPlace, keep: impl Fn(&str) -> bool) -> anyhow::Result<Vec<Said>> {
    let dir = repo.promotions_dir(place);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", repo.rel(path)))?;
            serde_json::from_str(&text).with_context(|| {
                format!("{} is not a promotion record; restore it from git (`git checkout -- {0}`)", repo.rel(path))
            })
        })
        .collect()
}

/// What the records say each target applied (`applied`, `reconciled`, `recorded`), by file name.
pub fn applied(records: &[Said]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for said in records {
        for file in said.applied.iter().chain(&said.reconciled).chain(&said.recorded) {
            out.entry(file.clone()).or_default().insert(said.target.clone());
        }
    }
    out
}

/// The files a promotion of ours pushed to `target`: what its record says it applied, and, where the record
/// cannot say what the target holds (the push began and the run was killed, or the target could not be read
/// back: `pushing`, `unknown`, `unverified`), its whole batch. A failed or interrupted push's other files were
/// rolled back: they are not ours to find applied.
pub fn pushed_to(records: &[Said], target: &str) -> BTreeSet<String> {
    let unsure = |o: &Option<String>| matches!(o.as_deref(), Some("pushing" | "unknown" | "unverified"));
    records
        .iter()
        .filter(|r| r.target == target)
        .flat_map(|r| {
            let batch = if unsure(&r.outcome) { &r.batch[..] } else { &[] };
            batch.iter().map(|b| b.file.clone()).chain(r.applied.iter().cloned())
        })
        .collect()
}
