//! What `reconcile` found and did: the record `<utc>-<target>-reconcile.{md,json}` beside the promotions (written
//! when something was written), and the same document as the command's output in every format.

use serde::Serialize;

use crate::domain::history::repair::{Applier, Found, Repair};
use crate::edges::os::clock;
use crate::edges::output::evidence;
use crate::edges::output::report::{self as output, Annotation, Level, Report};

use super::super::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The history matches the files and the lock: nothing to repair.
    InSync,
    Reconciled,
    DryRun,
    /// A disagreement has no safe repair (exit 1): nothing was written.
    Refused,
    Interrupted,
    Error,
}

#[derive(Debug, Serialize)]
pub struct ReconcileRecord {
    pub kind: &'static str,
    pub target: String,
    pub endpoint: String,
    pub identity: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Who reconciled: `GITHUB_ACTOR` in Actions, else git's user, else the OS user.
    pub by: String,
    pub cli_version: String,
    pub git_commit: Option<String>,
    pub adopt: Vec<String>,
    pub head_before: Option<String>,
    pub head_after: Option<String>,
    pub outcome: Outcome,
    /// Each disagreement, its evidence and its repair (or why none is safe).
    pub found: Vec<Found>,
    /// History rows written (versions), and how.
    pub history_written: Vec<String>,
    pub history_through: Option<String>,
    /// Files renamed (from, to) and adopted.
    pub renamed: Vec<(String, String)>,
    pub adopted: Vec<String>,
    /// Files the lock now records as applied on the target because of this reconcile.
    pub recorded: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited: Option<super::super::lock::Waited>,
    /// Why it stopped (redacted); absent from the record on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'static str>,
    #[serde(skip)]
    pub written: Option<String>,
}

/// Where the record went.
pub struct Written {
    pub md: String,
}

impl ReconcileRecord {
    pub fn new(target: &str, adopt: Vec<String>) -> ReconcileRecord {
        ReconcileRecord {
            kind: "reconcile",
            target: target.to_string(),
            endpoint: String::new(),
            identity: None,
            started_at: clock::now(),
            finished_at: None,
            by: String::new(),
            cli_version: String::new(),
            git_commit: None,
            adopt,
            head_before: None,
            head_after: None,
            outcome: Outcome::Error,
            found: Vec::new(),
            history_written: Vec::new(),
            history_through: None,
            renamed: Vec::new(),
            adopted: Vec::new(),
            recorded: Vec::new(),
            waited: None,
            error: None,
            refusal: None,
            written: None,
        }
    }

    fn wrote_something(&self) -> bool {
        !self.history_written.is_empty()
            || !self.renamed.is_empty()
            || !self.adopted.is_empty()
            || !self.recorded.is_empty()
    }

    pub fn render_md(&self) -> String {
        let mut out = format!(
            "# Reconcile {}: {}\n\n- started: {}\n- by: {}\n- identity: {}\n- CLI: {}, commit: {}\n- head: {} -> {}\n",
            self.target,
            outcome_text(self.outcome),
            clock::utc(self.started_at),
            self.by,
            self.identity.as_deref().unwrap_or("(none)"),
            self.cli_version,
            self.git_commit.as_deref().unwrap_or("(none)"),
            self.head_before.as_deref().unwrap_or("(none)"),
            self.head_after.as_deref().unwrap_or("(none)"),
        );
        out += "\n## Found\n\n";
        out += &render_found(&self.target, &self.found);
        out += "\n## Written\n\n";
        if !self.history_written.is_empty() {
            out += &format!(
                "- history rows {} through `{}` (no DDL)\n",
                self.history_written.join(", "),
                self.history_through.as_deref().unwrap_or("")
            );
        }
        for (from, to) in &self.renamed {
            out += &format!("- renamed `{from}` to `{to}`\n");
        }
        for file in &self.adopted {
            out += &format!("- adopted `{file}` from the stored statements\n");
        }
        if !self.recorded.is_empty() {
            out += &format!("- migrations/promotion.lock records {} on {}\n", self.recorded.join(", "), self.target);
        }
        if !self.wrote_something() {
            out += "- nothing\n";
        }
        out
    }
}

fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::InSync => "in sync",
        Outcome::Reconciled => "reconciled",
        Outcome::DryRun => "dry run",
        Outcome::Refused => "refused",
        Outcome::Interrupted => "interrupted",
        Outcome::Error => "error",
    }
}

/// Each disagreement with its evidence and repair, as people read it.
pub fn render_found(target: &str, found: &[Found]) -> String {
    if found.is_empty() {
        return format!("{target}'s history matches the files and the lock: nothing to reconcile.\n");
    }
    let mut out = String::new();
    for f in found {
        out += &format!("{}\n", f.what);
        for e in &f.evidence {
            out += &format!("  evidence: {e}\n");
        }
        out += &format!("  {}\n", repair_text(&f.repair));
    }
    out
}

fn repair_text(repair: &Repair) -> String {
    match repair {
        Repair::Rename { from, to } => {
            format!("repair: rename {from} to {to} (history only: the target keeps its row)")
        }
        Repair::Renumber { from, to } => {
            format!("repair: renumber {from} to {to}, keeping its name and SQL (no target applied it)")
        }
        Repair::Record { file, by: Applier::AnotherTool } => {
            format!("repair: record {file} as applied in migrations/promotion.lock (applied by another tool)")
        }
        Repair::Record { file, by: Applier::InterruptedPromotion } => format!(
            "repair: record {file} as applied in migrations/promotion.lock (an interrupted promotion of ours pushed it: its record lists it)"
        ),
        Repair::WriteHistory { file } => {
            format!(
                "repair: write {file}'s history row as the CLI writes it, and record it (no DDL: its effect is there)"
            )
        }
        Repair::Adopt { file, .. } => {
            format!("repair: write {file} from the stored statements (review it), and record it")
        }
        Repair::Refused { refusal, fix } => format!("refused ({refusal}): {fix}"),
    }
}

/// One refused disagreement on a line, for the refusal's message.
pub fn one_line(f: &Found) -> String {
    format!("  - {}: {}", f.what, repair_text(&f.repair))
}

impl Report for ReconcileRecord {
    fn human(&self) -> String {
        match self.outcome {
            Outcome::Reconciled => format!(
                "Reconciled {}: head is now {}. Record: {}\n",
                self.target,
                self.head_after.as_deref().unwrap_or("(none)"),
                self.written.as_deref().unwrap_or("(not written)")
            ),
            _ => String::new(),
        }
    }

    fn annotations(&self) -> Vec<Annotation> {
        let level = if self.outcome == Outcome::Refused { Level::Error } else { Level::Notice };
        let mut out: Vec<Annotation> =
            self.found.iter().map(|f| Annotation::run(level, "xtask reconcile", one_line(f))).collect();
        out.push(Annotation::run(level, "xtask reconcile", format!("{}: {}", self.target, outcome_text(self.outcome))));
        out
    }

    fn summary_md(&self) -> String {
        self.render_md()
    }
}

/// The outcome in the chosen format, the record written when something was; the error passed on.
pub fn emit(ctx: &Ctx, record: &mut ReconcileRecord, result: anyhow::Result<()>) -> anyhow::Result<()> {
    record.by = actor(ctx.sh);
    let mut result = result;
    if let Err(err) = &result {
        let refused = crate::blocked::refusal(err).is_some();
        record.outcome = match (err.downcast_ref::<crate::edges::os::interrupt::Interrupted>(), refused) {
            (Some(_), _) => Outcome::Interrupted,
            (None, true) => Outcome::Refused,
            (None, false) => Outcome::Error,
        };
    }
    // Written before `error` and `refusal` are set: records on disk never hold an error.
    if record.wrote_something() {
        record.finished_at = Some(clock::now());
        match write(ctx, record) {
            Ok(w) => record.written = Some(w.md),
            Err(e) if result.is_ok() => result = Err(e),
            Err(e) => eprintln!("warning: the record could not be written: {e:#}"),
        }
    }
    if let Err(err) = &result {
        record.refusal = crate::blocked::refusal(err).map(crate::domain::refusal::Refusal::kind);
        record.error = Some(crate::edges::output::redact::redact(&format!("{err:#}")));
    }
    output::emit(record, ctx.options.format)?;
    result
}

/// Beside the promotions: reconcile refuses the embedded database, so this is always a committed place.
fn write(ctx: &Ctx, record: &ReconcileRecord) -> anyhow::Result<Written> {
    let dir = ctx.repo.promotions_dir(crate::edges::repo::RecordPlace::Committed);
    let stem = format!("{}-{}-reconcile", clock::file_stamp(record.started_at), record.target);
    let written = evidence::write(&dir, &stem, record, &record.render_md())?;
    Ok(Written { md: ctx.repo.rel(&written.md) })
}

/// Who reconciles: `GITHUB_ACTOR` in Actions, else git's `user.name <user.email>`, else the OS user.
fn actor(sh: &xshell::Shell) -> String {
    if let Ok(actor) = std::env::var("GITHUB_ACTOR").map(|a| a.trim().to_string())
        && !actor.is_empty()
    {
        return format!("{actor} (GITHUB_ACTOR)");
    }
    let git = |key: &str| {
        xshell::cmd!(sh, "git config {key}").quiet().ignore_stderr().read().ok().filter(|v| !v.trim().is_empty())
    };
    match (git("user.name"), git("user.email")) {
        (Some(name), Some(email)) => format!("{name} <{email}> (git)"),
        (Some(name), None) => format!("{name} (git)"),
        _ => format!("{} (OS user)", std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
    }
}
