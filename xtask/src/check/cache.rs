//! `check`'s lint cache, in the manner of ruff's: a file's analysis (the parse, its facts, squawk's findings)
//! is kept under the SHA-256 of its bytes and reused only while the xtask binary and the set of squawk rules
//! that run are the ones that made it. Severities and every cross-file rule are applied afresh on each run,
//! so a changed `[check.severity]` never needs a new lint and never meets a stale one. The cache lives in
//! `target/xtask/check-cache.json`; a missing, stale or unreadable cache is not used, never an error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use squawk_linter::Rule;

use crate::domain::history::migrations;
use crate::domain::lint::sql::Analysis;
use crate::edges::os::fsutil;

/// Bumped when the stored layout changes.
const FORMAT: u32 = 1;

#[derive(Deserialize)]
struct Stored {
    format: u32,
    key: String,
    entries: HashMap<String, Analysis>,
}

#[derive(Serialize)]
struct StoredRef<'a> {
    format: u32,
    key: &'a str,
    entries: BTreeMap<&'a str, &'a Analysis>,
}

pub struct LintCache {
    /// `None`: the cache is off (`--no-cache`, or the binary cannot be identified).
    path: Option<PathBuf>,
    key: String,
    kept: Mutex<HashMap<String, Analysis>>,
    /// The hashes the file held when read: an unchanged tree writes nothing.
    read: BTreeSet<String>,
}

/// The content hash a file's analysis is kept under.
pub fn content_hash(bytes: &[u8]) -> String {
    migrations::hex(&Sha256::digest(bytes))
}

impl LintCache {
    pub fn off() -> LintCache {
        LintCache { path: None, key: String::new(), kept: Mutex::default(), read: BTreeSet::new() }
    }

    /// The cache at `path` if it was made by this binary for these rules; else an empty one that `save` fills.
    pub fn open(path: PathBuf, rules: &[Rule]) -> LintCache {
        let Some(key) = key(rules) else { return LintCache::off() };
        let stored = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|s| s.format == FORMAT && s.key == key);
        let entries = stored.map(|s| s.entries).unwrap_or_default();
        let read = entries.keys().cloned().collect();
        LintCache { path: Some(path), key, kept: Mutex::new(entries), read }
    }

    /// Whether lookups can hit (and files need hashing at all).
    pub fn is_on(&self) -> bool {
        self.path.is_some()
    }

    /// The analysis kept for these bytes, if any. A copy: files with equal contents (a history often repeats a
    /// grant or a seed file) share one entry.
    pub fn get(&self, hash: &str) -> Option<Analysis> {
        self.path.as_ref()?;
        self.kept.lock().ok()?.get(hash).cloned()
    }

    /// Keeps exactly these analyses (the files of this run), unless they are what the cache already held.
    pub fn save<'a>(&self, analyses: impl Iterator<Item = (&'a str, &'a Analysis)>) -> anyhow::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let entries: BTreeMap<&str, &Analysis> = analyses.collect();
        if entries.len() == self.read.len() && entries.keys().all(|k| self.read.contains(*k)) {
            return Ok(());
        }
        let stored = StoredRef { format: FORMAT, key: &self.key, entries };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        fsutil::write_atomic(path, &serde_json::to_vec(&stored)?)
    }
}

/// What makes a cached analysis valid besides the file's bytes: this very binary (its size and modification
/// time: any rebuild, so any change to the parser, the facts or squawk, starts a new cache) and the rules run.
fn key(rules: &[Rule]) -> Option<String> {
    let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let built = exe.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    let mut names: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
    names.sort();
    Some(format!("{} {} {built} {}", env!("CARGO_PKG_VERSION"), exe.len(), names.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lint::sql::{LintSettings, analyze};

    fn analysis(sql: &str, rules: &[Rule]) -> Analysis {
        analyze(sql, &LintSettings { squawk_rules: rules })
    }

    #[test]
    fn a_kept_analysis_comes_back_only_for_the_same_rules_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check-cache.json");
        let rules = [Rule::AddingRequiredField];
        let sql =
            "alter table t add column c int not null;\nbegin;\ncreate index concurrently if not exists i on t (c);\n";
        let a = analysis(sql, &rules);
        let hash = content_hash(sql.as_bytes());
        LintCache::open(path.clone(), &rules).save([(hash.as_str(), &a)].into_iter()).unwrap();

        let back = LintCache::open(path.clone(), &rules).get(&hash).expect("kept");
        assert_eq!(format!("{back:?}"), format!("{a:?}"), "facts, violations and directives read back whole");
        assert!(LintCache::open(path.clone(), &rules).get(&content_hash(b"other bytes")).is_none());
        let more = [Rule::AddingRequiredField, Rule::BanCharField];
        assert!(LintCache::open(path.clone(), &more).get(&hash).is_none(), "another rule set: lint afresh");
        assert!(LintCache::off().get(&hash).is_none());

        std::fs::write(&path, b"{ not json").unwrap();
        assert!(LintCache::open(path, &rules).get(&hash).is_none(), "a damaged cache is not used");
    }
}
