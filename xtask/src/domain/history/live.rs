//! The live history against the record, decided over data: whether a target's history matches what the lock
//! says (`reconcile`, and why not: `Mismatch`), what a push applied (`outcome`), how the statements a database
//! ran compare with the files, and what fixes a disagreement (`Owner`: the embedded database is disposable, but
//! for what protected targets applied). Reading the history is `edges::target::history`'s.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::findings::{Code, Finding, Severity};
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::{Migration, parse_file_name, snake_case};
use crate::domain::history::statements::{self, Verdict};

/// One row of `supabase_migrations.schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub version: String,
    pub name: String,
    /// The fingerprint of the statements the database ran (`domain::history::statements`); `None` when none are stored.
    #[serde(skip)]
    pub fingerprint: Option<String>,
}

/// A live history this checkout cannot account for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Versions the target has that no file here has.
    Unknown { versions: Vec<String> },
    /// Files that sort before the head but were never applied (`cargo xtask fix --renumber` moves them).
    OutOfOrder { files: Vec<String>, head: String },
    /// Files the lock records as applied that the target lacks.
    Missing { files: Vec<String>, head: String },
    /// Versions after the head that are not the next pending files.
    Ahead { head: Option<String>, versions: Vec<String> },
    /// The next pending files are on the target, but no promotion of ours recorded pushing them: another tool
    /// applied them (the dashboard, the SQL editor, an assistant's `apply_migration`, the platform's GitHub
    /// integration). Named, never absorbed: `cargo xtask reconcile` proves and records them.
    Unrecorded { target: String, applied: Vec<(String, String)> },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Unknown { versions } => write!(
                f,
                "the target has migration(s) {} that no file here has (pushed from another branch, or by hand): merge them into this branch first, or let `cargo xtask reconcile` compare what ran with the files",
                versions.join(", ")
            ),
            Mismatch::OutOfOrder { files, head } if files.len() == 1 => write!(
                f,
                "{} sorts before the target's head {head} but was never applied (out-of-order, as `cargo xtask check` says): the CLI refuses to push a file there. Give it a version after the head, keeping its name and SQL: `cargo xtask fix --renumber`",
                files.join(", ")
            ),
            Mismatch::OutOfOrder { files, head, .. } => write!(
                f,
                "{} sort before the target's head {head} but were never applied (out-of-order, as `cargo xtask check` says): the CLI refuses to push a file there. Give each a version after the head, keeping its name and SQL: `cargo xtask fix --renumber`",
                files.join(", ")
            ),
            Mismatch::Missing { files, head } => write!(
                f,
                "{} recorded as applied (at or before head {head}) but missing from the target's history: wrong database, or one restored from a backup?",
                files.join(", ")
            ),
            Mismatch::Ahead { head, versions } => write!(
                f,
                "the target's history is ahead of the recorded head {} by {}, which are not the next pending files: push order was broken; `cargo xtask reconcile` compares what ran with the files and says what repairs it",
                head.as_deref().unwrap_or("(none)"),
                versions.join(", ")
            ),
            Mismatch::Unrecorded { target, applied } => {
                let named: Vec<String> = applied.iter().map(|(v, n)| format!("{v} `{n}`")).collect();
                let (is, them) = if applied.len() == 1 { ("is", "it") } else { ("are", "them") };
                write!(
                    f,
                    "{} {is} on {target} but no promotion recorded {them} (applied by another tool: the dashboard, the SQL editor, an assistant's apply_migration, the platform's GitHub integration?): `cargo xtask reconcile --target {target}` compares what ran with the files and records {them}",
                    named.join(", ")
                )
            }
        }
    }
}

impl Mismatch {
    /// The mismatch as `owner` fixes it: on the embedded database, what no protected target has applied is
    /// rebuilt from the files (`cargo xtask db reset`) instead of merged or moved.
    pub fn explain(&self, owner: &Owner<'_>) -> String {
        let Owner::Embedded(protected) = owner else { return self.to_string() };
        match self {
            Mismatch::Unknown { versions } => protected.unknown_on_embedded(versions),
            Mismatch::OutOfOrder { files, head, .. } if !files.iter().any(|f| protected.out_of_order(f)) => {
                let (sort, them, brought) =
                    if files.len() == 1 { ("sorts", "it", "brought it") } else { ("sort", "them", "brought them") };
                format!(
                    "{} {sort} before the embedded database's head {head} but it never ran {them} (a merge or a branch switch {brought} in), and no protected target has applied the files past {them} without {them}: {DISPOSABLE}",
                    files.join(", ")
                )
            }
            other => other.to_string(),
        }
    }
}

/// The fix for a disagreement no protected target shares: the embedded database is the xtask's own.
const DISPOSABLE: &str = "the embedded database is disposable; rebuild it from the files with `cargo xtask db reset`";

/// Whose history disagrees with the files: that decides the fix.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// The embedded database: disposable (`cargo xtask db reset` rebuilds it from the files), but the files a
    /// protected target applied are kept as they were applied.
    Embedded(&'a Protected),
    /// A protected or URL target: its applied history is never rewritten, only fixed forward.
    Kept,
}

/// What the lock says protected targets have applied: a file recorded in `[files]` whose version is at or before
/// a protected target's recorded head. A target the lock records that `xtask.toml` no longer names counts as
/// protected: nothing says its history may be rewritten.
#[derive(Debug, Default)]
pub struct Protected {
    /// Each protected target's recorded head.
    heads: Vec<(String, String)>,
    /// The lock's applied files by version.
    recorded: BTreeMap<String, String>,
    /// Where the files are, as the repository names them (`migrations`).
    dir: String,
}

impl Protected {
    /// `configured` is every target of `xtask.toml` and whether it is protected; `dir` the migrations directory
    /// as the repository names it.
    pub fn new<'c>(lock: &Lock, configured: impl IntoIterator<Item = (&'c str, bool)>, dir: &str) -> Protected {
        let configured: BTreeMap<&str, bool> = configured.into_iter().collect();
        let protected = |name: &str| configured.get(name).copied().unwrap_or(true);
        Protected {
            heads: lock
                .targets
                .iter()
                .filter(|(name, _)| protected(name))
                .map(|(name, state)| (name.clone(), state.head.clone()))
                .collect(),
            recorded: lock
                .files
                .keys()
                .filter_map(|f| parse_file_name(f).map(|(version, _)| (version.to_string(), f.clone())))
                .collect(),
            dir: dir.to_string(),
        }
    }

    /// The protected targets whose head is at or after `version`.
    fn past(&self, version: &str) -> Vec<&str> {
        self.heads.iter().filter(|(_, head)| version <= head.as_str()).map(|(name, _)| name.as_str()).collect()
    }

    /// The file recorded under `version` and the protected targets that applied it; `None` when none did.
    fn applied(&self, version: &str) -> Option<(&str, Vec<&str>)> {
        let file = self.recorded.get(version)?;
        let targets = self.past(version);
        (!targets.is_empty()).then_some((file.as_str(), targets))
    }

    /// The protected targets that applied the file named `file_name` (not merely one of its version).
    fn holders(&self, file_name: &str) -> Vec<&str> {
        let version = parse_file_name(file_name).map_or("", |(v, _)| v);
        self.applied(version).filter(|(file, _)| *file == file_name).map(|(_, targets)| targets).unwrap_or_default()
    }

    /// Whether `file_name`, never applied, sorts before a protected target's head: out of order there too.
    fn out_of_order(&self, file_name: &str) -> bool {
        let version = parse_file_name(file_name).map_or("", |(v, _)| v);
        self.recorded.get(version).is_none_or(|f| f != file_name) && !self.past(version).is_empty()
    }

    /// Versions the embedded database ran that no file here has: its own (a branch switch) or a protected
    /// target's too (a file deleted here that must come back).
    fn unknown_on_embedded(&self, versions: &[String]) -> String {
        let (kept, own): (Vec<&String>, Vec<&String>) = versions.iter().partition(|v| self.applied(v).is_some());
        let mut out = Vec::new();
        if !own.is_empty() {
            out.push(format!(
                "the embedded database ran migration(s) {} that no file here has, and no protected target has applied them (a branch switch, or a file renamed or deleted since): {DISPOSABLE}",
                join(&own)
            ));
        }
        for (file, targets) in kept.iter().filter_map(|v| self.applied(v)) {
            out.push(format!(
                "the embedded database ran {file}, which no file here has but {} applied (migrations/promotion.lock): restore it with `git checkout -- {}/{file}`, then rebuild the embedded database with `cargo xtask db reset`",
                targets.join(", "),
                self.dir
            ));
        }
        out.join("; ")
    }
}

fn join(items: &[impl AsRef<str>]) -> String {
    items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

/// What the live history says about the recorded head.
#[derive(Debug, PartialEq, Eq)]
pub enum Reconcile {
    InSync,
    /// The first `n` pending files are already applied: an earlier promotion of ours was interrupted after them
    /// (its record says it pushed them).
    Interrupted(usize),
}

/// What the lock and the records say about the files, for `reconcile`.
pub struct Known<R, E> {
    /// Whether the lock records a file as applied somewhere: a file at or before the head that the target lacks
    /// is then missing from it (a wrong database?); one never recorded was never applied (out of order, as
    /// `check` says), and gets that diagnosis and its fix.
    pub recorded: R,
    /// Whether a record of ours says a promotion pushed the file (its `batch`): only then is a pending file found
    /// applied taken for an interrupted promotion's work.
    pub pushed_by_us: E,
}

/// Compares the target's live history (of `target`) with what the lock (or, for an embedded target, the
/// history itself) says is applied. `Err` is a history this checkout cannot account for.
pub fn reconcile<R: Fn(&Migration) -> bool, E: Fn(&Migration) -> bool>(
    target: &str,
    (files, head): (&[Migration], Option<&str>),
    live: &[Applied],
    pending: &[&Migration],
    said: Known<R, E>,
) -> Result<Reconcile, Mismatch> {
    let recorded = &said.recorded;
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
    if !out_of_order.is_empty() {
        return Err(Mismatch::OutOfOrder {
            files: out_of_order.iter().map(|m| m.file_name.clone()).collect(),
            head: head.unwrap_or_default().to_string(),
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
    let unrecorded: Vec<(String, String)> = pending
        .iter()
        .take(ahead.len())
        .filter(|m| !(said.pushed_by_us)(m))
        .map(|m| (m.version.clone(), m.name.clone()))
        .collect();
    match (ahead.is_empty(), ahead == prefix) {
        (true, _) => Ok(Reconcile::InSync),
        (false, true) if unrecorded.is_empty() => Ok(Reconcile::Interrupted(ahead.len())),
        (false, true) => Err(Mismatch::Unrecorded { target: target.to_string(), applied: unrecorded }),
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
        .map(|(m, v)| format!("{} differs from what {target} ran: {}", m.file_name, statements::describe(v)))
        .collect();
    (!differing.is_empty()).then(|| differing.join("; "))
}

/// How the differing files among `verdicts` are fixed on `owner`'s database: a kept history is fixed forward; the
/// embedded database is rebuilt (`cargo xtask db reset`), after a file a protected target applied is restored.
pub fn fix_differences(verdicts: &[(&Migration, Verdict)], owner: &Owner<'_>) -> String {
    const FORWARD: &str = "restore the file as it was applied (`git log -p -- <file>`); a change belongs in a new migration (`cargo xtask new fix_<name>`)";
    let Owner::Embedded(protected) = owner else { return FORWARD.to_string() };
    let differing = verdicts.iter().filter(|(_, v)| matches!(v, Verdict::Differs { .. })).map(|(m, _)| *m);
    let (kept, own): (Vec<&Migration>, Vec<&Migration>) =
        differing.partition(|m| !protected.holders(&m.file_name).is_empty());
    let mut out = Vec::new();
    if !own.is_empty() {
        let names: Vec<&str> = own.iter().map(|m| m.file_name.as_str()).collect();
        out.push(format!(
            "no protected target has applied {}, so only the embedded database ran the earlier text (after a `fix`, a comment or a branch switch): {DISPOSABLE}",
            join(&names)
        ));
    }
    for m in kept {
        out.push(format!(
            "{} is applied on {} (migrations/promotion.lock): keep it as it was applied there (`git log -p -- {}`; a change belongs in a new migration, `cargo xtask new fix_{}`), then rebuild the embedded database with `cargo xtask db reset`",
            m.file_name,
            protected.holders(&m.file_name).join(", "),
            m.rel_path,
            snake_case(&m.name)
        ));
    }
    out.join("; ")
}

/// The findings that break the push whatever a database holds (two files of one version, a file out of order, a
/// file the CLI skips, SQL that does not parse): reported before any comparison with a database, which they would
/// only mislead (the second file of a version "differs from what the database ran").
pub fn before_comparison(findings: &[Finding]) -> Vec<Finding> {
    let breaks = |code| matches!(code, Code::DuplicateVersion | Code::OutOfOrder | Code::FileName | Code::ParseError);
    findings.iter().filter(|f| f.severity == Severity::Error && breaks(f.code)).cloned().collect()
}

/// The files applied before the CLI stored statements, by name.
pub fn unverifiable(verdicts: &[(&Migration, Verdict)]) -> Vec<String> {
    verdicts.iter().filter(|(_, v)| *v == Verdict::Unverifiable).map(|(m, _)| m.file_name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::domain::history::lock::TargetState;
    use crate::domain::history::migrations::MigrationFile;

    fn m(file_name: &str) -> Migration {
        Migration::new(MigrationFile::named(file_name), Vec::new())
    }

    /// prod (protected) has applied up to 2; dev (not protected) up to 3.
    fn protected() -> Protected {
        let mut lock = Lock::default();
        for file in ["1_a.sql", "2_b.sql", "3_c.sql"] {
            lock.files.insert(file.into(), "00".into());
        }
        let state = |head: &str| TargetState::at(head, "promote");
        lock.targets.insert("prod".into(), state("2"));
        lock.targets.insert("dev".into(), state("3"));
        Protected::new(&lock, [("local", false), ("prod", true), ("dev", false)], "migrations")
    }

    fn differs() -> Verdict {
        Verdict::Differs { statement: 0, live: None, file: None }
    }

    #[test]
    fn the_embedded_database_differing_only_in_files_no_protected_target_applied_is_a_db_reset() {
        let protected = protected();
        let (c, d) = (m("3_c.sql"), m("4_d.sql"));
        let verdicts = [(&c, differs()), (&d, differs())];
        expect![[r#"no protected target has applied 3_c.sql, 4_d.sql, so only the embedded database ran the earlier text (after a `fix`, a comment or a branch switch): the embedded database is disposable; rebuild it from the files with `cargo xtask db reset`"#]]
            .assert_eq(&fix_differences(&verdicts, &Owner::Embedded(&protected)));
        expect![[r#"restore the file as it was applied (`git log -p -- <file>`); a change belongs in a new migration (`cargo xtask new fix_<name>`)"#]]
            .assert_eq(&fix_differences(&verdicts, &Owner::Kept));
    }

    #[test]
    fn a_file_a_protected_target_applied_is_named_with_it() {
        let protected = protected();
        let b = m("2_b.sql");
        expect![[r#"2_b.sql is applied on prod (migrations/promotion.lock): keep it as it was applied there (`git log -p -- migrations/2_b.sql`; a change belongs in a new migration, `cargo xtask new fix_b`), then rebuild the embedded database with `cargo xtask db reset`"#]]
            .assert_eq(&fix_differences(&[(&b, differs())], &Owner::Embedded(&protected)));
        // Another file of an applied version is not the applied file.
        assert!(protected.holders("2_other.sql").is_empty());
    }

    #[test]
    fn versions_only_the_embedded_database_ran_are_a_db_reset_and_never_a_merge() {
        let protected = protected();
        let unknown = Mismatch::Unknown { versions: vec!["5".into()] };
        expect![[r#"the embedded database ran migration(s) 5 that no file here has, and no protected target has applied them (a branch switch, or a file renamed or deleted since): the embedded database is disposable; rebuild it from the files with `cargo xtask db reset`"#]]
            .assert_eq(&unknown.explain(&Owner::Embedded(&protected)));
        assert!(unknown.explain(&Owner::Kept).contains("merge them into this branch first"));
        let gone = Mismatch::Unknown { versions: vec!["1".into(), "3".into()] };
        expect![[r#"the embedded database ran migration(s) 3 that no file here has, and no protected target has applied them (a branch switch, or a file renamed or deleted since): the embedded database is disposable; rebuild it from the files with `cargo xtask db reset`; the embedded database ran 1_a.sql, which no file here has but prod applied (migrations/promotion.lock): restore it with `git checkout -- migrations/1_a.sql`, then rebuild the embedded database with `cargo xtask db reset`"#]]
            .assert_eq(&gone.explain(&Owner::Embedded(&protected)));
    }

    #[test]
    fn out_of_order_only_on_the_embedded_database_is_a_db_reset() {
        let protected = protected();
        let own = Mismatch::OutOfOrder { files: vec!["4_d.sql".into()], head: "5".into() };
        expect![[r#"4_d.sql sorts before the embedded database's head 5 but it never ran it (a merge or a branch switch brought it in), and no protected target has applied the files past it without it: the embedded database is disposable; rebuild it from the files with `cargo xtask db reset`"#]]
            .assert_eq(&own.explain(&Owner::Embedded(&protected)));
        // Before prod's head and never applied: out of order for prod too, so the file must move.
        let prods = Mismatch::OutOfOrder { files: vec!["1_x.sql".into()], head: "5".into() };
        assert_eq!(prods.explain(&Owner::Embedded(&protected)), prods.to_string());
    }

    #[test]
    fn only_findings_that_break_the_push_come_before_a_comparison() {
        let finding = |code, severity| Finding::new(code, severity, "migrations/1_a.sql", "m");
        let findings = [
            finding(Code::DuplicateVersion, Severity::Error),
            finding(Code::Destructive, Severity::Error),
            finding(Code::FileName, Severity::Warning),
            finding(Code::ParseError, Severity::Error),
        ];
        let codes: Vec<Code> = before_comparison(&findings).iter().map(|f| f.code).collect();
        assert_eq!(codes, [Code::DuplicateVersion, Code::ParseError]);
    }
}
