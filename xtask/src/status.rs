//! `cargo xtask status`: a target's recorded head and the batch a promotion would push next; with `--live`, the
//! findings that break the push first, then the target's history compared with the record.

use std::fmt::Write;

use serde::Serialize;
use xshell::Shell;

use crate::blocked::blocked;
use crate::check::CheckReport;
use crate::domain::findings::Finding;
use crate::domain::history::batch;
use crate::domain::history::live::{self, Owner};
use crate::domain::history::migrations::{Discovery, Migration};
use crate::domain::lint::sql::{LintCacheUse, LintScope};
use crate::domain::refusal::Refusal;
use crate::edges::output::report::{self, Annotation, Level, Report};
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::Cli;
use crate::edges::supabase::stage::Stage;
use crate::edges::target::Resolved;
use crate::edges::target::history::{self, Reconcile};
use crate::flags;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub target: String,
    pub project_ref: Option<String>,
    pub protected: bool,
    /// The xtask's own database: its head is its live history, never recorded.
    pub embedded: bool,
    pub head: Option<String>,
    pub recorded_at: Option<String>,
    pub pending: Vec<PendingFile>,
    /// Files the lock does not know that sort at or before the head: the CLI would refuse the push.
    pub unapplied_before_head: Vec<String>,
    /// With `--live`: the findings that break the push, whatever the database holds; the history is then not
    /// compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// With `--live`: the target's history against the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
}

#[derive(Debug, Serialize)]
pub struct PendingFile {
    pub version: String,
    pub name: String,
    pub file: String,
}

#[derive(Debug, Serialize)]
pub struct LiveReport {
    /// `direct` or `pooler (session)`.
    pub connection: Option<crate::edges::postgres::pooler::Connection>,
    pub head: Option<String>,
    pub applied: usize,
    pub matches: bool,
    pub verdict: String,
    /// Why the live history could not be read (the command then exits 2); only then present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl flags::Status {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let name = self.target.target;
        let target = repo.config.target(&name)?;
        let lock = repo.lock()?;
        crate::edges::target::check_aliases(&repo.config, &lock, &name)?;
        let discovery = repo.discover()?;
        let state = lock.targets.get(&name);
        // The embedded database is the xtask's own and has no record: its live history is its head.
        let (embedded_history, recorded_at) = match target.embedded {
            true => (Some(embedded_history(sh, repo, &name)?), None),
            false => {
                (None, state.map(|s| format!("{} by {}", crate::edges::os::clock::utc(s.recorded_at), s.recorded_by)))
            }
        };
        let head = match &embedded_history {
            Some(history) => history.last().map(String::as_str),
            None => state.map(|s| s.head.as_str()),
        };
        // Applied is what the lock recorded, or for the embedded database what its history holds.
        let applied = |m: &Migration| match &embedded_history {
            Some(history) => history.contains(&m.version),
            None => lock.files.contains_key(&m.file_name),
        };
        let pending = batch::pending(&discovery.migrations, head, None)?;
        let mut report = StatusReport {
            target: name.clone(),
            project_ref: target.project_ref.clone(),
            protected: target.protected,
            embedded: target.embedded,
            head: head.map(str::to_string),
            recorded_at,
            pending: pending
                .iter()
                .map(|m| PendingFile { version: m.version.clone(), name: m.name.clone(), file: m.file_name.clone() })
                .collect(),
            unapplied_before_head: discovery
                .migrations
                .iter()
                .filter(|m| head.is_some_and(|h| m.version.as_str() <= h) && !applied(m))
                .map(|m| m.file_name.clone())
                .collect(),
            findings: Vec::new(),
            live: None,
        };
        let breaking = if self.live { breaking_findings(repo, &discovery)? } else { CheckReport::default() };
        if !breaking.findings.is_empty() {
            if self.output.format == crate::edges::output::report::Format::Human {
                eprint!("{}", report::render(&breaking, self.output.format));
            }
            report.live = Some(LiveReport::not_compared(breaking.findings.len()));
            report.findings = breaking.findings;
        } else if self.live {
            match live_check(sh, repo, &name, &discovery.migrations, &lock) {
                Ok(live) => report.live = Some(live),
                // A program reading `--format json` still gets a document, saying why there is no live part.
                Err(err) => {
                    let why = crate::edges::output::redact::redact(&format!("{err:#}"));
                    report.live = Some(LiveReport {
                        connection: None,
                        head: None,
                        applied: 0,
                        matches: false,
                        verdict: format!("the live history could not be read: {why}"),
                        error: Some(why),
                    });
                    if self.output.format == crate::edges::output::report::Format::Json {
                        report::emit(&report, self.output.format)?;
                    }
                    return Err(err);
                }
            }
        }
        report::emit(&report, self.output.format)?;
        report.verdict()
    }
}

/// `check`'s findings that break the push (`live::before_comparison`): a comparison with a database would only
/// mislead while they stand.
fn breaking_findings(repo: &Repo, discovery: &Discovery) -> anyhow::Result<CheckReport> {
    let checked = crate::check::check_files(repo, discovery, LintScope::Pending, LintCacheUse::On)?.report;
    Ok(CheckReport::new(live::before_comparison(&checked.findings), checked.summary.counts()))
}

/// The embedded database's applied versions, oldest first: its head is the last (the database is started if it
/// is not running).
fn embedded_history(sh: &Shell, repo: &Repo, name: &str) -> anyhow::Result<Vec<String>> {
    let target = Resolved::resolve(sh, repo, name)?;
    let crate::edges::supabase::cli::Remote::Url(url) = &target.remote else { return Ok(Vec::new()) };
    Ok(history::read_direct(url)?.into_iter().map(|a| a.version).collect())
}

/// Reads the target's history (directly, or through `supabase db query`) and compares it with the record.
fn live_check(
    sh: &Shell,
    repo: &Repo,
    name: &str,
    files: &[Migration],
    lock: &crate::domain::history::lock::Lock,
) -> anyhow::Result<LiveReport> {
    let target = Resolved::resolve(sh, repo, name)?;
    target.check_pin(lock, false)?;
    let cli = Cli::locate(sh, &repo.root).ok();
    let live = {
        let workdir = Stage::empty(repo.stage_dir(&format!("status-{name}")))?;
        history::read(sh, &target, cli.as_ref(), workdir.path())?
    };
    let head = history::head(name, target.config, lock, live.last().map(|a| a.version.as_str()));
    let pending = batch::pending(files, head.as_deref(), None)?;
    let applied: Vec<&Migration> = files.iter().collect();
    let verdicts = history::verify_on(&target, &applied, &live)?;
    let unverifiable = history::unverifiable(&verdicts);
    let differs = history::describe_differences(name, &verdicts);
    let records = crate::edges::records::read_promotions_of(repo, target.record_place(), name)?;
    let pushed = crate::edges::records::pushed_to(&records, name);
    let known = history::Known {
        recorded: |m: &Migration| !target.config.embedded && lock.files.contains_key(&m.file_name),
        pushed_by_us: |m: &Migration| pushed.contains(&m.file_name),
    };
    let protected = crate::edges::target::protected_history(&repo.config, lock);
    let owner = if target.config.embedded { Owner::Embedded(&protected) } else { Owner::Kept };
    let (matches, verdict) = match history::reconcile(name, (files, head.as_deref()), &live, &pending, known) {
        _ if differs.is_some() => {
            (false, format!("{}: {}", differs.unwrap_or_default(), live::fix_differences(&verdicts, &owner)))
        }
        Ok(Reconcile::InSync) if !unverifiable.is_empty() => (
            true,
            format!(
                "It matches the recorded head; {} applied file(s) were pushed before the CLI stored statements and cannot be verified: {}.",
                unverifiable.len(),
                unverifiable.join(", ")
            ),
        ),
        Ok(Reconcile::InSync) => (true, "It matches the recorded head, statement for statement.".to_string()),
        Ok(Reconcile::Interrupted(n)) => (
            false,
            format!(
                "{n} pending file(s) are applied but not recorded (an interrupted promotion): `cargo xtask promote --target {name}` records them"
            ),
        ),
        Err(why) => (false, why.explain(&owner)),
    };
    Ok(LiveReport {
        connection: target.connection(),
        head: live.last().map(|a| a.version.clone()),
        applied: live.len(),
        matches,
        verdict,
        error: None,
    })
}

impl LiveReport {
    /// The history left unread: `findings` findings break the push whatever it holds.
    fn not_compared(findings: usize) -> LiveReport {
        LiveReport {
            connection: None,
            head: None,
            applied: 0,
            matches: false,
            verdict: format!(
                "not compared with the database: {findings} finding(s) break the push whatever it holds; fix them first (`cargo xtask check` names each fix)"
            ),
            error: None,
        }
    }
}

impl StatusReport {
    /// Exit 1 when a finding breaks the push, the live history does not match, or a file sorts before the head
    /// unapplied.
    fn verdict(&self) -> anyhow::Result<()> {
        let name = &self.target;
        if !self.findings.is_empty() {
            let codes: std::collections::BTreeSet<String> = self.findings.iter().map(|f| f.code.to_string()).collect();
            return Err(blocked(Refusal::StatusFindings {
                count: self.findings.len(),
                codes: codes.into_iter().collect::<Vec<_>>().join(", "),
                target: name.clone(),
            }));
        }
        if let Some(live) = self.live.as_ref().filter(|l| !l.matches) {
            return Err(blocked(Refusal::LiveHistoryMismatch { target: name.clone(), verdict: live.verdict.clone() }));
        }
        if !self.unapplied_before_head.is_empty() {
            return Err(blocked(Refusal::UnappliedBeforeHead {
                count: self.unapplied_before_head.len(),
                target: name.clone(),
            }));
        }
        Ok(())
    }
}

impl Report for StatusReport {
    /// The runbook's own layout: "Current catch-up batch (after PROD <head>)" and a numbered list.
    fn human(&self) -> String {
        let mut out = String::new();
        let upper = self.target.to_uppercase();
        let what = match (&self.project_ref, self.protected) {
            (Some(r), true) => format!("project {r}, protected"),
            (Some(r), false) => format!("project {r}"),
            (None, true) => "protected".to_string(),
            (None, false) if self.embedded => "the embedded database".to_string(),
            (None, false) => "reached by URL".to_string(),
        };
        let _ = writeln!(out, "Target: {} ({what})", self.target);
        match (&self.head, &self.recorded_at) {
            (Some(head), _) if self.embedded => {
                let _ = writeln!(out, "Head: {head} (the embedded database's own history)\n");
            }
            (None, _) if self.embedded => {
                let _ = writeln!(out, "Head: none (nothing applied to the embedded database yet)\n");
            }
            (Some(head), Some(at)) => {
                let _ = writeln!(out, "Recorded head: {head} (recorded {at})\n");
            }
            _ => {
                let _ = writeln!(out, "Recorded head: none (never promoted or baselined; every file is pending)\n");
            }
        }
        let mismatch = self.live.as_ref().is_some_and(|l| !l.matches);
        if self.pending.is_empty() && !self.findings.is_empty() {
            let _ =
                writeln!(out, "{upper}: nothing pending after the head; its live history was not compared (below).");
        } else if self.pending.is_empty() && mismatch {
            let _ =
                writeln!(out, "{upper}: nothing pending after the head, but its live history does not match (below).");
        } else if self.pending.is_empty() {
            let _ = writeln!(out, "{upper} is up to date: nothing pending.");
        } else {
            let after =
                self.head.as_deref().map_or_else(|| "from the start".to_string(), |h| format!("after {upper} {h}"));
            let _ = writeln!(out, "Current catch-up batch ({after})\n");
            for (i, file) in self.pending.iter().enumerate() {
                let _ = writeln!(out, "  {}. {}", i + 1, file.file);
            }
        }
        if !self.unapplied_before_head.is_empty() {
            let _ = writeln!(out, "\nNot applied but before the head (the CLI refuses the push):");
            for file in &self.unapplied_before_head {
                let _ = writeln!(out, "  - {file}");
            }
        }
        if let Some(live) = self.live.as_ref().filter(|_| !self.findings.is_empty()) {
            let _ = writeln!(out, "\nLive: {}", live.verdict);
        } else if let Some(live) = &self.live {
            let head = live.head.as_deref().unwrap_or("(empty)");
            let via = live.connection.map(|c| format!(", connection: {c}")).unwrap_or_default();
            let _ = writeln!(out, "\nLive: head {head} ({} applied{via}). {}", live.applied, live.verdict);
        }
        out
    }

    fn annotations(&self) -> Vec<Annotation> {
        let findings = self.findings.iter().map(crate::check::report::annotation);
        let mut out: Vec<Annotation> = findings
            .chain(self.unapplied_before_head.iter().map(|file| {
                Annotation::run(
                    Level::Error,
                    "xtask status",
                    format!("{file} sorts before {}'s head but was never applied", self.target),
                )
            }))
            .collect();
        if let Some(live) = self.live.as_ref().filter(|l| !l.matches) {
            out.push(Annotation::run(Level::Error, "xtask status", format!("{}: {}", self.target, live.verdict)));
        }
        out
    }

    fn summary_md(&self) -> String {
        let mut out = format!("### {} status\n\n", self.target);
        let _ = writeln!(out, "Recorded head: `{}`\n", self.head.as_deref().unwrap_or("none"));
        if self.pending.is_empty() {
            out.push_str("Nothing pending.\n");
        }
        for (i, file) in self.pending.iter().enumerate() {
            let _ = writeln!(out, "{}. `{}`", i + 1, file.file);
        }
        if let Some(live) = &self.live {
            let _ = writeln!(out, "\nLive head `{}`: {}", live.head.as_deref().unwrap_or("(empty)"), live.verdict);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::edges::output::report::Format;
    use crate::edges::output::report::render;

    fn sample() -> StatusReport {
        let file = |v: &str, n: &str| PendingFile { version: v.into(), name: n.into(), file: format!("{v}_{n}.sql") };
        StatusReport {
            target: "prod".into(),
            project_ref: Some("srcaoozjkrughebmbvfb".into()),
            protected: true,
            embedded: false,
            head: Some("20260512220528".into()),
            recorded_at: Some("2026-11-24T18:34:16Z by baseline".into()),
            pending: vec![file("20260512231500", "cl46_fix"), file("20260513041000", "ce13_alignment")],
            unapplied_before_head: vec![],
            findings: vec![],
            live: Some(LiveReport {
                connection: Some(crate::edges::postgres::pooler::Connection::PoolerSession),
                error: None,
                head: Some("20260512231500".into()),
                applied: 24,
                matches: false,
                verdict: "1 pending file(s) are applied but not recorded".into(),
            }),
        }
    }

    #[test]
    fn status_in_every_format() {
        let report = sample();
        expect![[r#"
            Target: prod (project srcaoozjkrughebmbvfb, protected)
            Recorded head: 20260512220528 (recorded 2026-11-24T18:34:16Z by baseline)

            Current catch-up batch (after PROD 20260512220528)

              1. 20260512231500_cl46_fix.sql
              2. 20260513041000_ce13_alignment.sql

            Live: head 20260512231500 (24 applied, connection: pooler (session)). 1 pending file(s) are applied but not recorded
        "#]]
        .assert_eq(&render(&report, Format::Human));
        expect![[r#"
            ::error title=xtask status::prod: 1 pending file(s) are applied but not recorded
            Target: prod (project srcaoozjkrughebmbvfb, protected)
            Recorded head: 20260512220528 (recorded 2026-11-24T18:34:16Z by baseline)

            Current catch-up batch (after PROD 20260512220528)

              1. 20260512231500_cl46_fix.sql
              2. 20260513041000_ce13_alignment.sql

            Live: head 20260512231500 (24 applied, connection: pooler (session)). 1 pending file(s) are applied but not recorded
        "#]]
        .assert_eq(&render(&report, Format::Github));
        expect![[r#"
            {
              "target": "prod",
              "project_ref": "srcaoozjkrughebmbvfb",
              "protected": true,
              "embedded": false,
              "head": "20260512220528",
              "recorded_at": "2026-11-24T18:34:16Z by baseline",
              "pending": [
                {
                  "version": "20260512231500",
                  "name": "cl46_fix",
                  "file": "20260512231500_cl46_fix.sql"
                },
                {
                  "version": "20260513041000",
                  "name": "ce13_alignment",
                  "file": "20260513041000_ce13_alignment.sql"
                }
              ],
              "unapplied_before_head": [],
              "live": {
                "connection": "pooler (session)",
                "head": "20260512231500",
                "applied": 24,
                "matches": false,
                "verdict": "1 pending file(s) are applied but not recorded"
              }
            }
        "#]]
        .assert_eq(&render(&report, Format::Json));
    }
}
