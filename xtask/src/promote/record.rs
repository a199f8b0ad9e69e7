//! The record of a promotion: `docs/database/promotions/<utc>-<target>.{json,md}`. Rendering is pure.

use std::fmt::Write;

use serde::Serialize;

use crate::domain::findings::Finding;
use crate::edges::output::report::{Annotation, Level, Report};

#[derive(Debug, Default, Serialize)]
pub struct Record {
    pub target: String,
    /// How the target was reached, never with a password.
    pub endpoint: String,
    /// `direct` or `pooler (session)`, once known.
    pub connection: Option<crate::edges::postgres::pooler::Connection>,
    /// The database the target is (`project <ref>` or `database host:port/db (server <id>)`), pinned in the lock.
    pub identity: Option<String>,
    /// `--repin`: from which database to which, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repinned: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When the record was written.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub cli_version: String,
    pub git_commit: Option<String>,
    pub head_before: Option<String>,
    pub head_after: Option<String>,
    /// `None` until the promotion ends (every report is made after that).
    pub outcome: Option<Outcome>,
    /// Why a `blocked` or `error` promotion stopped (redacted); records on disk never hold one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The refusal's kind when `error` is one (`blocked`); absent otherwise, and on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'static str>,
    pub batch: Vec<RecordFile>,
    /// Applied by an earlier, interrupted promotion and recorded now.
    pub reconciled: Vec<String>,
    pub applied: Vec<String>,
    pub failed: Option<Failure>,
    pub not_attempted: Vec<String>,
    /// Applied files whose statements the target did not store (pushed before the CLI did): not verified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unverifiable: Vec<String>,
    pub rehearsal: Option<String>,
    /// The PostgreSQL major the target runs, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres: Option<u32>,
    /// Under which role model the batch ran (and was rehearsed): a Supabase project's or a plain PostgreSQL's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_model: Option<crate::domain::platform::RoleModel>,
    /// The applied history's statements today's platform refuses to `postgres` (replayed under the rules of
    /// their day): a fresh project or a preview branch replaying the history fails on them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_note: Option<String>,
    /// The stand-in extensions the database the batch ran on holds (the embedded database, or the rehearsal's
    /// shadow): their objects exist, their calls are not made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stand_ins: Vec<String>,
    /// Another promotion of the target held its lock when this one reached step 5: who, and how long it waited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited: Option<super::lock::Waited>,
    /// The lock budget and every push attempt under it: when, how long it waited, who blocked it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_budget: Option<super::budget::LockBudget>,
    /// INVALID indexes a failed CONCURRENTLY build of the batch left on the target, to be dropped before a re-run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_indexes: Vec<String>,
    /// Phase-2 partition work: the window, the parity evidence, each cutover file's rollback and its rehearsal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutover: Option<super::cutover::Cutover>,
    /// Per batch file: the locks it holds on existing tables, the rewrites, the index builds (protected targets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub impact: Vec<crate::edges::postgres::impact::FileImpact>,
    /// What the batch makes reachable through the Data API (`exposure`, `exposure_inputs`,
    /// `exposure_preexisting`), computed where a local shadow is built.
    #[serde(flatten)]
    pub exposure: Option<crate::domain::exposure::ExposureReview>,
    /// Why it was not computed (rehearsed on another target, or a target that is not protected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure_not_computed: Option<String>,
    pub findings: Vec<Finding>,
    pub dry_run: Vec<String>,
    pub dry_run_transcript: String,
    pub push_transcript: String,
    pub timings_ms: Vec<(String, u128)>,
    /// Where the Markdown record was written, as the repository shows it.
    #[serde(skip)]
    pub written: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordFile {
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub file: String,
    pub error: String,
    /// What to do about it, as the output said it.
    pub advice: String,
}

/// One line per stand-in extension, for people: what ran against it did not reach a real one.
pub fn stand_in_lines(stand_ins: &[String]) -> String {
    stand_ins.iter().map(|s| format!("  {s}\n")).collect::<Vec<_>>().join("")
}

/// `:<line>`, or nothing for a finding about the whole file.
pub fn line_of(f: &Finding) -> String {
    if f.pos.line == 0 { String::new() } else { format!(":{}", f.pos.line) }
}

/// How a promotion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Promoted,
    /// A file failed: the files before it are applied and recorded.
    Failed,
    /// Pushed, but the live history could not be read back.
    Unverified,
    /// Interrupted twice during the push, and what the target holds could not be read within the bound.
    Unknown,
    UpToDate,
    DryRun,
    /// SIGINT, SIGTERM or SIGHUP (exit 130).
    Interrupted,
    /// Refused (exit 1): `error` says why.
    Blocked,
    Error,
    /// Written just before the push begins and replaced when the promotion ends: a record that still says so
    /// is a run killed during its push (SIGKILL, a lost runner). It says the batch was ours to push.
    Pushing,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::Failed => "failed",
            Outcome::Unverified => "unverified",
            Outcome::Unknown => "unknown",
            Outcome::UpToDate => "up-to-date",
            Outcome::DryRun => "dry-run",
            Outcome::Interrupted => "interrupted",
            Outcome::Blocked => "blocked",
            Outcome::Error => "error",
            Outcome::Pushing => "pushing",
        }
    }

    /// Whether anything reached the target.
    pub fn pushed(self) -> bool {
        matches!(
            self,
            Outcome::Interrupted
                | Outcome::Promoted
                | Outcome::Failed
                | Outcome::Unverified
                | Outcome::Unknown
                | Outcome::Pushing
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Record {
    fn outcome_text(&self) -> &'static str {
        self.outcome.map_or("(undecided)", Outcome::as_str)
    }

    /// The record's Markdown file.
    pub fn render_md(&self) -> String {
        self.render_md_about("the JSON beside this file holds the same and the full transcripts")
    }

    /// `render_md` with `source` saying where the whole record is: a job summary has no file beside it.
    fn render_md_about(&self, source: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Promotion to {}: {}\n", self.target, self.outcome_text());
        let _ = writeln!(out, "Generated by `cargo xtask promote`; {source}.\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        let rows = [
            ("target", format!("{} ({})", self.target, self.endpoint)),
            ("connection", self.connection.map_or_else(|| "(not reached)".into(), |c| c.to_string())),
            ("database", self.identity.clone().unwrap_or_else(|| "(the embedded database)".into())),
            ("started", crate::edges::os::clock::utc(self.started_at)),
            ("git commit", self.git_commit.clone().unwrap_or_else(|| "(not a git checkout)".into())),
            ("Supabase CLI", self.cli_version.clone()),
            ("head before", self.head_before.clone().unwrap_or_else(|| "(none)".into())),
            ("head after", self.head_after.clone().unwrap_or_else(|| "(none)".into())),
            ("rehearsal", self.rehearsal.clone().unwrap_or_else(|| "not required".into())),
            ("PostgreSQL", self.postgres.map_or_else(|| "(not read)".into(), |m| m.to_string())),
            ("roles", self.role_model.map_or_else(|| "(not read)".into(), |m| m.describe().to_string())),
        ];
        let rows = rows.into_iter().chain(self.history_note.clone().map(|n| ("history", n)));
        for (k, v) in rows {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        for s in &self.stand_ins {
            let _ = writeln!(out, "| stand-in | {s} |");
        }
        let _ = writeln!(out, "\n## Batch\n");
        for (i, f) in self.batch.iter().enumerate() {
            let state = if self.applied.contains(&f.file) {
                "applied"
            } else if self.failed.as_ref().is_some_and(|x| x.file == f.file) {
                "FAILED"
            } else {
                "not attempted"
            };
            let _ =
                writeln!(out, "{}. `{}` ({state}, sha256 `{}`)", i + 1, f.file, &f.sha256[..12.min(f.sha256.len())]);
        }
        if !self.reconciled.is_empty() {
            let _ = writeln!(
                out,
                "\nRecorded now, applied by an interrupted earlier promotion: {}",
                self.reconciled.join(", ")
            );
        }
        if let Some(failed) = &self.failed {
            let _ = writeln!(
                out,
                "\n## Failure\n\n`{}` failed; the files before it stay applied.\n\n```text\n{}\n```",
                failed.file,
                failed.error.trim()
            );
            let _ = writeln!(out, "\n{}", failed.advice);
            if !self.invalid_indexes.is_empty() {
                let _ = writeln!(
                    out,
                    "\nINVALID index(es) the CONCURRENTLY build left: {}; drop each with `DROP INDEX CONCURRENTLY IF EXISTS` before re-running.",
                    self.invalid_indexes.join(", ")
                );
            }
        }
        if let Some(cutover) = &self.cutover {
            cutover.render_md(&mut out);
        }
        if let Some(budget) = &self.lock_budget {
            budget.render_md(&mut out);
        }
        if !self.impact.is_empty() {
            let _ = writeln!(
                out,
                "\n## Locks and rewrites\n\n```text\n{}```",
                crate::edges::postgres::impact::render(&self.impact, Some(&self.target))
            );
        }
        if let Some(exposure) = &self.exposure {
            let _ = write!(out, "\n{}", crate::domain::exposure::markdown(exposure).replacen("#### ", "## ", 1));
        }
        if let Some(why) = &self.exposure_not_computed {
            let _ = writeln!(out, "\nExposure through the Data API: {why}.");
        }
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\n## Findings reviewed\n");
            for f in &self.findings {
                let _ =
                    writeln!(out, "- {}[{}] `{}`{}: {}", f.severity.as_str(), f.code, f.file, line_of(f), f.message);
            }
        }
        let _ = writeln!(out, "\n## Dry-run\n\nThe CLI listed {} file(s), equal to the batch.", self.dry_run.len());
        let _ = writeln!(out, "\n## Timings\n");
        for (step, ms) in &self.timings_ms {
            let _ = writeln!(out, "- {step}: {ms} ms");
        }
        out
    }
}

/// `promote`'s report: the record (as JSON: the record itself, plus `error` when it stopped early).
#[derive(Serialize)]
#[serde(transparent)]
pub struct PromoteReport<'a>(pub &'a Record);

impl Report for PromoteReport<'_> {
    /// The outcome line; the review came before the confirmation, and a refusal goes to stderr.
    fn human(&self) -> String {
        let r = self.0;
        let head = r.head_after.as_deref().unwrap_or("(empty)");
        match r.outcome {
            Some(Outcome::Promoted) => format!(
                "\nPromoted {} migration(s) to {}; head is now {head}. Record: {}\n{}",
                r.applied.len(),
                r.target,
                r.written.as_deref().unwrap_or("(not written)"),
                stand_in_lines(&r.stand_ins)
            ),
            Some(Outcome::UpToDate) => match &r.waited {
                Some(w) if !w.appeared.is_empty() => format!(
                    "{} is up to date at {head}: another promotion ({}) applied {} while this one waited; nothing to push.\n",
                    r.target,
                    w.holder,
                    w.appeared.join(", ")
                ),
                _ => format!("{} is up to date at {head}: nothing to push.\n", r.target),
            },
            _ => String::new(),
        }
    }

    /// The batch's findings where they are, and the outcome.
    fn annotations(&self) -> Vec<Annotation> {
        let r = self.0;
        let mut out: Vec<Annotation> = r.findings.iter().map(crate::check::report::annotation).collect();
        let outcome = r.outcome_text();
        let (level, message) = match r.outcome {
            Some(Outcome::Promoted | Outcome::UpToDate | Outcome::DryRun) => {
                (Level::Notice, format!("{}: {outcome}", r.target))
            }
            _ => (Level::Error, format!("{}: {outcome}: {}", r.target, r.error.as_deref().unwrap_or("see the record"))),
        };
        out.push(Annotation::run(level, "xtask promote", message));
        out
    }

    fn summary_md(&self) -> String {
        let source = match &self.0.written {
            Some(md) => format!("the record is `{md}`, with the full transcripts in the JSON beside it"),
            None => "no record was written; `--format json` prints the whole document".to_string(),
        };
        self.0.render_md_about(&source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_about_a_whole_file_has_no_line() {
        use crate::domain::findings::{Code, Pos, Severity};
        let whole = Finding::new(Code::FileName, Severity::Warning, "migrations/x.sql", "name");
        assert_eq!(line_of(&whole), "");
        assert_eq!(line_of(&whole.at(Pos { line: 5, col: 1 })), ":5");
    }

    #[test]
    fn renders_a_failed_promotion() {
        let record = Record {
            target: "prod".into(),
            endpoint: "project srcaoozjkrughebmbvfb".into(),
            connection: Some(crate::edges::postgres::pooler::Connection::Direct),
            identity: Some("project srcaoozjkrughebmbvfb".into()),
            started_at: "2026-05-13T18:00:00Z".parse().unwrap(),
            cli_version: "3.1.0".into(),
            git_commit: Some("abc123".into()),
            head_before: Some("20260512220528".into()),
            head_after: Some("20260512231500".into()),
            outcome: Some(Outcome::Failed),
            postgres: Some(17),
            role_model: Some(crate::domain::platform::RoleModel::Platform),
            history_note: None,
            stand_ins: vec!["pg_net 0.19.5: stand-in, schema only; calls are not made".into()],
            batch: vec![
                RecordFile { file: "20260512231500_a.sql".into(), sha256: "0123456789abcdef".into() },
                RecordFile { file: "20260513041000_b.sql".into(), sha256: "fedcba9876543210".into() },
                RecordFile { file: "20260513042000_c.sql".into(), sha256: "00112233445566778899".into() },
            ],
            applied: vec!["20260512231500_a.sql".into()],
            failed: Some(Failure {
                file: "20260513041000_b.sql".into(),
                error: "ERROR: boom (SQLSTATE 42704)".into(),
                advice: "20260513041000_b.sql was rolled back and is applied nowhere: correct it, then re-run `cargo xtask promote --target prod`.".into(),
            }),
            not_attempted: vec!["20260513042000_c.sql".into()],
            rehearsal: Some("passed on a local shadow".into()),
            dry_run: vec!["20260512231500_a.sql".into(), "20260513041000_b.sql".into(), "20260513042000_c.sql".into()],
            timings_ms: vec![("push".into(), 812)],
            ..Default::default()
        };
        expect_test::expect![[r#"
            # Promotion to prod: failed

            Generated by `cargo xtask promote`; the JSON beside this file holds the same and the full transcripts.

            | | |
            |---|---|
            | target | prod (project srcaoozjkrughebmbvfb) |
            | connection | direct |
            | database | project srcaoozjkrughebmbvfb |
            | started | 2026-05-13T18:00:00Z |
            | git commit | abc123 |
            | Supabase CLI | 3.1.0 |
            | head before | 20260512220528 |
            | head after | 20260512231500 |
            | rehearsal | passed on a local shadow |
            | PostgreSQL | 17 |
            | roles | applied as the platform's `postgres` (not a superuser; supautils' grants) |
            | stand-in | pg_net 0.19.5: stand-in, schema only; calls are not made |

            ## Batch

            1. `20260512231500_a.sql` (applied, sha256 `0123456789ab`)
            2. `20260513041000_b.sql` (FAILED, sha256 `fedcba987654`)
            3. `20260513042000_c.sql` (not attempted, sha256 `001122334455`)

            ## Failure

            `20260513041000_b.sql` failed; the files before it stay applied.

            ```text
            ERROR: boom (SQLSTATE 42704)
            ```

            20260513041000_b.sql was rolled back and is applied nowhere: correct it, then re-run `cargo xtask promote --target prod`.

            ## Dry-run

            The CLI listed 3 file(s), equal to the batch.

            ## Timings

            - push: 812 ms
        "#]]
        .assert_eq(&record.render_md());
    }

    #[test]
    fn the_job_summary_names_the_record_instead_of_a_file_beside_it() {
        let line = |r: &Record| Report::summary_md(&PromoteReport(r)).lines().nth(2).unwrap_or_default().to_string();
        let mut record = Record { target: "prod".into(), outcome: Some(Outcome::DryRun), ..Default::default() };
        assert_eq!(
            line(&record),
            "Generated by `cargo xtask promote`; no record was written; `--format json` prints the whole document."
        );
        record.written = Some("docs/database/promotions/2026-05-13T180000Z-prod.md".into());
        assert_eq!(
            line(&record),
            "Generated by `cargo xtask promote`; the record is `docs/database/promotions/2026-05-13T180000Z-prod.md`, with the full transcripts in the JSON beside it."
        );
    }
}
