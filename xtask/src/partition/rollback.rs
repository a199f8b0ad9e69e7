//! `partition rollback`: undo a promoted cutover by hand, with exactly the rollback its promotion rehearsed and
//! recorded. `--dry-run RECORD` shows it; `--execute RECORD` runs it on the target the record is about, in one
//! transaction under the promotion lock, and leaves a record beside the promotion's. Never run by `promote`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use xshell::Shell;

use crate::blocked::blocked;
use crate::domain::promotion::cutover::Rollback;
use crate::domain::refusal::Refusal;
use crate::edges::os::clock;
use crate::edges::output::confirm::{self, Answer};
use crate::edges::output::evidence;
use crate::edges::output::report::{self, Report};
use crate::edges::repo::Repo;
use crate::edges::supabase::management_api::{Access, PROMOTION_LOCK_KEY};
use crate::edges::target::Resolved;
use crate::flags;

/// What `partition rollback` did: showed the plan (`--dry-run`) or ran it (`--execute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum RollbackOutcome {
    Planned,
    RolledBack,
}

/// What `rollback` reads of a promotion record.
#[derive(Debug, Deserialize)]
struct CutoverRecord {
    target: String,
    outcome: Option<crate::promote::record::Outcome>,
    identity: Option<String>,
    cutover: Option<Cutover>,
}

#[derive(Debug, Deserialize)]
struct Cutover {
    files: Vec<CutoverFile>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct CutoverFile {
    file: String,
    criteria: String,
    rollback: Rollback,
    rollback_sha256: Option<String>,
}

/// The rollback's own record (`<utc>-<target>-rollback.{json,md}`), and the report.
#[derive(Debug, Serialize)]
pub struct RollbackReport {
    kind: &'static str,
    /// `planned` (`--dry-run`) or `rolled-back`.
    outcome: RollbackOutcome,
    target: String,
    identity: Option<String>,
    cutover_record: String,
    started_at: String,
    finished_at: Option<String>,
    files: Vec<CutoverFile>,
    /// The SQL run (or to be run), in order.
    sql: Vec<String>,
    #[serde(skip)]
    written: Option<String>,
}

impl flags::Rollback {
    pub(super) fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let (path, execute) = match (&self.execute, &self.dry_run) {
            (Some(p), _) => (p.clone(), true),
            (None, Some(p)) => (p.clone(), false),
            (None, None) => anyhow::bail!("name the cutover's record with --dry-run RECORD or --execute RECORD"),
        };
        let target = Resolved::resolve(sh, repo, &self.target)?;
        let mut report = plan(repo, &target, &path)?;
        if execute {
            self.confirm(&target)?;
            run_on(&target, &report.sql)?;
            report.outcome = RollbackOutcome::RolledBack;
            report.finished_at = Some(clock::utc_now());
            let stem = format!("{}-{}-rollback", clock::file_stamp(&report.started_at), target.name);
            let dir = repo.promotions_dir(target.record_place());
            let written = evidence::write(&dir, &stem, &report, &render(&report))?;
            report.written = Some(repo.rel(&written.md));
        }
        report::emit(&report, self.output.format)
    }

    fn confirm(&self, target: &Resolved) -> anyhow::Result<()> {
        if self.confirm.yes || !target.config.protected {
            return Ok(());
        }
        let prompt = format!("Type `{}` to roll the cutover back on it: ", target.name);
        match confirm::ask(&prompt, &target.name)? {
            Answer::Confirmed => {}
            Answer::NoTerminal => {
                return Err(blocked(Refusal::RollbackNoTerminal));
            }
            Answer::Refused => return Err(blocked(Refusal::RollbackNotConfirmed)),
        }
        Ok(())
    }
}

/// The record read and checked: a promoted cutover of this very target, whose rollback files are the bytes
/// that were rehearsed.
fn plan(repo: &Repo, target: &Resolved, path: &Path) -> anyhow::Result<RollbackReport> {
    let rel = repo.rel(&repo.root.join(path));
    let text = std::fs::read_to_string(repo.root.join(path)).with_context(|| format!("reading {rel}"))?;
    let record: CutoverRecord = serde_json::from_str(&text)
        .with_context(|| format!("{rel} is not a promotion record (docs/database/promotions/<utc>-<target>.json)"))?;
    let Some(cutover) = record
        .cutover
        .filter(|c| !c.files.is_empty() && record.outcome == Some(crate::promote::record::Outcome::Promoted))
    else {
        return Err(blocked(Refusal::NoCutover { record: rel }));
    };
    if record.target != target.name {
        return Err(blocked(Refusal::RecordOfAnotherTarget {
            record: rel,
            recorded: record.target,
            target: target.name.clone(),
        }));
    }
    let now = target.identity().map(|i| i.to_string());
    if record.identity.is_some() && now != record.identity {
        return Err(blocked(Refusal::TargetMoved {
            target: target.name.clone(),
            now: now.unwrap_or_else(|| "(unknown)".into()),
            then: record.identity.unwrap_or_default(),
        }));
    }
    let mut sql = Vec::new();
    // The last cutover is undone first.
    for f in cutover.files.iter().rev() {
        sql.push(rollback_sql(repo, f)?);
    }
    Ok(RollbackReport {
        kind: "partition-rollback",
        outcome: RollbackOutcome::Planned,
        target: target.name.clone(),
        identity: record.identity,
        cutover_record: rel,
        started_at: clock::utc_now(),
        finished_at: None,
        files: cutover.files,
        sql,
        written: None,
    })
}

fn rollback_sql(repo: &Repo, f: &CutoverFile) -> anyhow::Result<String> {
    let (sql, digest) = repo.read_rollback(&f.rollback)?;
    if digest != f.rollback_sha256 {
        return Err(blocked(Refusal::RollbackChanged { file: f.file.clone() }));
    }
    Ok(sql)
}

/// One transaction under the promotion lock, waiting at most 5 s for each table lock so live traffic never
/// queues behind the rollback for longer.
fn run_on(target: &Resolved, sql: &[String]) -> anyhow::Result<()> {
    let direct = target.direct(Access::ReadWrite)?;
    let mut client = direct.connect()?;
    let got: bool = client.query_one("select pg_try_advisory_lock($1)", &[&PROMOTION_LOCK_KEY])?.get(0);
    if !got {
        return Err(blocked(Refusal::RollbackLockHeld { target: target.name.clone() }));
    }
    let mut tx = client.transaction()?;
    tx.batch_execute("set local lock_timeout = '5s'")?;
    for statement in sql {
        tx.batch_execute(statement).map_err(|e| {
            blocked(Refusal::RollbackFailed {
                target: target.name.clone(),
                error: format!("{:#}", anyhow::Error::from(e)),
            })
        })?;
    }
    tx.commit().context("committing the rollback")?;
    client.execute("select pg_advisory_unlock($1)", &[&PROMOTION_LOCK_KEY])?;
    Ok(())
}

fn render(r: &RollbackReport) -> String {
    let mut out = String::new();
    let (title, outcome) = match r.outcome {
        RollbackOutcome::Planned => ("Rollback plan", "planned"),
        RollbackOutcome::RolledBack => ("Rollback", "rolled-back"),
    };
    let _ = writeln!(out, "# {title} of a partition cutover on {}: {outcome}\n", r.target);
    let _ = writeln!(
        out,
        "Cutover record: `{}`; database: {}.\n",
        r.cutover_record,
        r.identity.as_deref().unwrap_or("(embedded)")
    );
    for f in &r.files {
        let _ = writeln!(out, "- `{}`: roll back when {}", f.file, f.criteria);
    }
    for sql in &r.sql {
        let _ = writeln!(out, "\n```sql\n{}\n```", sql.trim_end());
    }
    let _ = writeln!(
        out,
        "\nThe applied history keeps the cutover file: the schema now differs from the files. Next: a forward-fix migration (`cargo xtask new redo_<table>_cutover`), then `cargo xtask catalog --target {}` and `cargo xtask docs-refresh`.",
        r.target
    );
    out
}

impl Report for RollbackReport {
    fn human(&self) -> String {
        let mut out = render(self);
        if let Some(written) = &self.written {
            let _ = writeln!(out, "\nRecord: {written}");
        } else {
            let _ = writeln!(
                out,
                "\nNothing was run. To run it: cargo xtask partition rollback --target {} --execute {}",
                self.target, self.cutover_record
            );
        }
        out
    }

    fn summary_md(&self) -> String {
        render(self)
    }
}
