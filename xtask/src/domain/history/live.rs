//! The live history against the record, decided over data: whether a target's history matches what the lock
//! says (`reconcile`, and why not: `Mismatch`), what a push applied (`outcome`), and how
//! the statements a database ran compare with the files. Reading the history is `edges::target::history`'s.

use std::collections::BTreeSet;

use crate::domain::history::migrations::{Migration, snake_case};
use crate::domain::history::statements::{self, Verdict};

/// One row of `supabase_migrations.schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub version: String,
    pub name: String,
    /// The fingerprint of the statements the database ran (`domain::statements`); `None` when none are stored.
    #[serde(skip)]
    pub fingerprint: Option<String>,
}

/// A live history this checkout cannot account for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Versions the target has that no file here has.
    Unknown { versions: Vec<String> },
    /// Files that sort before the head but were never applied; `new_name` for the file to move them into.
    OutOfOrder { files: Vec<String>, head: String, new_name: String },
    /// Files the lock records as applied that the target lacks.
    Missing { files: Vec<String>, head: String },
    /// Versions after the head that are not the next pending files.
    Ahead { head: Option<String>, versions: Vec<String> },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Unknown { versions } => write!(
                f,
                "the target has migration(s) {} that no file here has (pushed from another branch, or by hand): merge them into this branch first",
                versions.join(", ")
            ),
            Mismatch::OutOfOrder { files, head, new_name } => write!(
                f,
                "{} sort(s) before the target's head {head} but was never applied (out-of-order, as `cargo xtask check` says): the CLI refuses to push a file there. Move its SQL into a new file after the head (`cargo xtask new {new_name}`) and delete it",
                files.join(", ")
            ),
            Mismatch::Missing { files, head } => write!(
                f,
                "{} recorded as applied (at or before head {head}) but missing from the target's history: wrong database, or one restored from a backup?",
                files.join(", ")
            ),
            Mismatch::Ahead { head, versions } => write!(
                f,
                "the target's history is ahead of the recorded head {} by {}, which are not the next pending files: push order was broken; inspect with `cargo xtask status --live`",
                head.as_deref().unwrap_or("(none)"),
                versions.join(", ")
            ),
        }
    }
}

/// What the live history says about the recorded head.
#[derive(Debug, PartialEq, Eq)]
pub enum Reconcile {
    InSync,
    /// The first `n` pending files are already applied: an earlier promotion was interrupted after them.
    Interrupted(usize),
}

/// Compares the target's live history with what the lock (or, for an embedded target, the history itself)
/// says is applied. `Err` is a history this checkout cannot account for.
/// `recorded` says whether the lock records a file as applied somewhere: a file at or before the head that the
/// target lacks is then missing from it (a wrong database?); one never recorded was never applied (out of order,
/// as `check` says), and gets that diagnosis and its fix.
pub fn reconcile(
    files: &[Migration],
    head: Option<&str>,
    live: &[Applied],
    pending: &[&Migration],
    recorded: impl Fn(&Migration) -> bool,
) -> Result<Reconcile, Mismatch> {
    let known: BTreeSet<&str> = files.iter().map(|m| m.version.as_str()).collect();
    let live_versions: BTreeSet<&str> = live.iter().map(|a| a.version.as_str()).collect();
    let unknown: Vec<&str> = live_versions.iter().copied().filter(|v| !known.contains(v)).collect();
    if !unknown.is_empty() {
        return Err(Mismatch::Unknown { versions: unknown.iter().map(|v| v.to_string()).collect() });
    }
    let (missing, out_of_order): (Vec<&Migration>, Vec<&Migration>) = files
        .iter()
        .filter(|m| head.is_some_and(|h| m.version.as_str() <= h) && !live_versions.contains(m.version.as_str()))
        .partition(|m| recorded(m));
    if let Some(first) = out_of_order.first() {
        let names: Vec<&str> = out_of_order.iter().map(|m| m.file_name.as_str()).collect();
        let name = snake_case(&first.name).chars().take(60).collect::<String>().trim_matches('_').to_string();
        return Err(Mismatch::OutOfOrder {
            files: names.iter().map(|n| n.to_string()).collect(),
            head: head.unwrap_or_default().to_string(),
            new_name: name,
        });
    }
    let missing: Vec<&str> = missing.iter().map(|m| m.file_name.as_str()).collect();
    if !missing.is_empty() {
        return Err(Mismatch::Missing {
            files: missing.iter().map(|n| n.to_string()).collect(),
            head: head.unwrap_or_default().to_string(),
        });
    }
    let ahead: Vec<&str> = live_versions.iter().copied().filter(|v| head.is_none_or(|h| *v > h)).collect();
    let prefix: Vec<&str> = pending.iter().take(ahead.len()).map(|m| m.version.as_str()).collect();
    match (ahead.is_empty(), ahead == prefix) {
        (true, _) => Ok(Reconcile::InSync),
        (false, true) => Ok(Reconcile::Interrupted(ahead.len())),
        (false, false) => Err(Mismatch::Ahead {
            head: head.map(str::to_string),
            versions: ahead.iter().map(|v| v.to_string()).collect(),
        }),
    }
}

/// After a push: the batch's longest applied prefix, the file that failed, and those never attempted.
pub fn outcome<'m>(
    batch: &[&'m Migration],
    live: &BTreeSet<String>,
) -> (Vec<&'m Migration>, Option<&'m Migration>, Vec<&'m Migration>) {
    let applied = batch.iter().take_while(|m| live.contains(&m.version)).copied().collect::<Vec<_>>();
    let failed = batch.get(applied.len()).copied();
    let rest = batch.iter().skip(applied.len() + 1).copied().collect();
    (applied, failed, rest)
}

/// The verdicts as a refusal's or a report's text: the differing files, each with its first difference.
pub fn describe_differences(target: &str, verdicts: &[(&Migration, Verdict)]) -> Option<String> {
    let differing: Vec<String> = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Differs { .. }))
        .map(|(m, v)| format!("{} differs from what {target} ran ({})", m.file_name, statements::describe(v)))
        .collect();
    (!differing.is_empty()).then(|| differing.join("; "))
}

/// The files applied before the CLI stored statements, by name.
pub fn unverifiable(verdicts: &[(&Migration, Verdict)]) -> Vec<String> {
    verdicts.iter().filter(|(_, v)| *v == Verdict::Unverifiable).map(|(m, _)| m.file_name.clone()).collect()
}
