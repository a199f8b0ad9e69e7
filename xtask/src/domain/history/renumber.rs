//! `fix --renumber`, decided over data: a pending file whose version sorts at or before a recorded head (the CLI
//! refuses to push it there: `check`'s `out-of-order`) gets a new version by `new`'s rule, after every version and
//! head, and keeps its name. Only a file no target has applied moves: not one the lock records, nor one a
//! promotion record says a target applied (the lock may have missed it: a full disk, a merge that dropped a line).

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::history::batch::next_version;
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::MigrationFile;

/// One file's move.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Move {
    /// The file as it is, relative to the repository (`migrations/<old>_<name>.sql`).
    pub from: String,
    /// Its new path in the same folder (`migrations/<new>_<name>.sql`).
    pub to: String,
    /// The heads it sorted at or before (`prod (head 20260601000000)`).
    pub behind: Vec<String>,
}

/// Why a named file is not moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The lock records it as applied.
    InLock { file: String },
    /// A promotion record says a target applied it.
    Recorded { file: String, by: Vec<String> },
    /// It sorts after every recorded head: nothing to renumber.
    InOrder { file: String },
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::InLock { file } => write!(
                f,
                "{file}: applied (migrations/promotion.lock records it), so its version is history and never changes"
            ),
            Refused::Recorded { file, by } => write!(
                f,
                "{file}: applied on {} (its promotion record says so) although migrations/promotion.lock does not record it: its version is history there. See `cargo xtask status --target {} --live`",
                by.join(", "),
                by.first().map_or("<target>", String::as_str)
            ),
            Refused::InOrder { file } => {
                write!(f, "{file}: sorts after every recorded head, so it is not out of order: nothing to renumber")
            }
        }
    }
}

/// What the promotion records say was applied where: file name -> targets.
pub type AppliedByRecords = BTreeMap<String, BTreeSet<String>>;

/// The moves for `named` (file names; every out-of-order file when empty), in version order, or every file
/// that cannot move. `files` is every migration file, sorted.
pub fn plan(
    files: &[&MigrationFile],
    lock: &Lock,
    records: &AppliedByRecords,
    named: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Result<Vec<Move>, Vec<Refused>>> {
    let mut refused = Vec::new();
    let mut chosen = Vec::new();
    for m in files.iter().filter(|m| named.is_empty() || named.contains(&m.file_name)) {
        let file = m.rel_path.clone();
        // Unnamed, only the out-of-order files are looked at.
        if lock.files.contains_key(&m.file_name) {
            if !named.is_empty() {
                refused.push(Refused::InLock { file });
            }
        } else if lock.heads_not_before(&m.version).is_empty() {
            if !named.is_empty() {
                refused.push(Refused::InOrder { file });
            }
        } else if let Some(by) = records.get(&m.file_name) {
            refused.push(Refused::Recorded { file, by: by.iter().cloned().collect() });
        } else {
            chosen.push(*m);
        }
    }
    if !refused.is_empty() {
        return Ok(Err(refused));
    }
    let heads = lock.targets.values().map(|t| t.head.clone());
    let mut taken: Vec<String> = files.iter().map(|m| m.version.clone()).chain(heads).collect();
    let mut moves = Vec::new();
    for m in chosen {
        let version = next_version(now, taken.iter().map(String::as_str))?;
        let dir = m.rel_path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let to = format!("{dir}/{version}_{}.sql", m.name).trim_start_matches('/').to_string();
        moves.push(Move { from: m.rel_path.clone(), to, behind: lock.heads_not_before(&m.version) });
        taken.push(version);
    }
    Ok(Ok(moves))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::domain::history::lock::TargetState;

    fn file(file_name: &str) -> MigrationFile {
        MigrationFile::named(file_name)
    }

    fn lock(head: &str, applied: &[&str]) -> Lock {
        let mut lock = Lock::default();
        for f in applied {
            lock.files.insert(f.to_string(), "00".into());
        }
        lock.targets.insert("prod".into(), TargetState::at(head, "promote"));
        lock
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn out_of_order_files_move_after_every_version_and_head_in_their_order_keeping_their_names() {
        let files = [
            file("20260101000000_a.sql"),
            file("20260102000000_late_merge.sql"),
            file("20260103000000_b.sql"),
            file("20260104000000_other.sql"),
            file("20260105000000_pending.sql"),
        ];
        let files: Vec<&MigrationFile> = files.iter().collect();
        let lock = lock("20260103000000", &["20260101000000_a.sql", "20260103000000_b.sql"]);
        let moves = plan(&files, &lock, &AppliedByRecords::new(), &[], now()).unwrap().unwrap();
        expect![[r#"
            [
                Move {
                    from: "migrations/20260102000000_late_merge.sql",
                    to: "migrations/20260105000001_late_merge.sql",
                    behind: [
                        "prod (head 20260103000000)",
                    ],
                },
            ]
        "#]]
        .assert_debug_eq(&moves);
    }

    #[test]
    fn a_file_a_target_applied_or_one_in_order_is_refused_by_name_and_nothing_moves() {
        let files = [file("20260101000000_a.sql"), file("20260102000000_lost.sql"), file("20260109000000_new.sql")];
        let files: Vec<&MigrationFile> = files.iter().collect();
        let lock = lock("20260103000000", &["20260101000000_a.sql"]);
        let mut records = AppliedByRecords::new();
        records.entry("20260102000000_lost.sql".into()).or_default().insert("prod".into());
        let named: Vec<String> =
            ["20260101000000_a.sql", "20260102000000_lost.sql", "20260109000000_new.sql"].map(String::from).to_vec();
        let refused = plan(&files, &lock, &records, &named, now()).unwrap().unwrap_err();
        let text: Vec<String> = refused.iter().map(ToString::to_string).collect();
        expect![[r#"
            [
                "migrations/20260101000000_a.sql: applied (migrations/promotion.lock records it), so its version is history and never changes",
                "migrations/20260102000000_lost.sql: applied on prod (its promotion record says so) although migrations/promotion.lock does not record it: its version is history there. See `cargo xtask status --target prod --live`",
                "migrations/20260109000000_new.sql: sorts after every recorded head, so it is not out of order: nothing to renumber",
            ]
        "#]]
        .assert_debug_eq(&text);
        // Unnamed, a recorded file still refuses: renumbering it would rewrite what a target ran.
        assert_eq!(plan(&files, &lock, &records, &[], now()).unwrap().unwrap_err().len(), 1);
    }
}
