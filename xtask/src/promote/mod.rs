//! `cargo xtask promote`: the runbook's standard path as eight steps (docs/design.md, "promote").
//!
//! `Promotion::run` reads as the runbook; each step lives in its own room: `gates` (what must hold before a
//! push), `push` (lock, push, verify, outcome), `review` (what people read before they confirm), `history` (the
//! target's live history) and `record` (what is left behind). The staged workdir is `crate::edges::supabase::stage`, which the
//! shadow databases share.

mod budget;
mod cutover;
mod gates;
mod history_phase;
mod lock;
mod notes;
mod ownership;
mod push;
mod ran;
pub mod record;
mod review;

use std::time::Instant;

use xshell::Shell;

use crate::domain::findings::Finding;
use crate::domain::history::batch;
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::sql::{self, LintSettings};
use crate::domain::refusal::Refusal;
use crate::edges::os::clock;
use crate::edges::os::fsutil::Mode;
use crate::edges::os::interrupt::{Interrupt, Interrupted};
use crate::edges::output::report;
use crate::edges::output::report::Format;
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::Cli;
use crate::edges::target::Resolved;
use crate::flags;

use crate::edges::supabase::stage::Stage;
use crate::edges::target::history::{self, Applied, Reconcile};
use record::{Outcome, Record, RecordFile};

impl flags::Promote {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let options = Options {
            until: self.until,
            mode: if self.dry_run { Mode::DryRun } else { Mode::Write },
            yes: self.confirm.yes,
            after_push: if self.skip_catalog { AfterPush::Nothing } else { AfterPush::RefreshCatalog },
            format: self.output.format,
            repin: self.repin,
            maintenance_window: self.maintenance_window,
            wait: self.wait,
            interrupt: Interrupt::install()?,
        };
        crate::edges::supabase::stage::remove_orphans(&repo.scratch_dir().join("stage"));
        let mut promotion = Promotion::new(sh, repo, &self.target.target, options);
        let result = promotion.run();
        promotion.report(result)
    }
}

struct Options {
    until: Option<String>,
    /// `DryRun` stops after the review; `Write` pushes.
    mode: Mode,
    yes: bool,
    after_push: AfterPush,
    format: Format,
    /// `--repin REASON`: the target moved; pin the database it is now.
    repin: Option<String>,
    /// `--maintenance-window WHY`: phase-2 partition work is declared to run in a window now.
    maintenance_window: Option<String>,
    /// `--wait SPAN`: how long to wait for another promotion of the target to release its lock.
    wait: crate::domain::promotion::duration::Span,
    /// Set by SIGINT, SIGTERM or SIGHUP: looked at between steps and while the CLI pushes.
    interrupt: Interrupt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterPush {
    RefreshCatalog,
    Nothing,
}

/// What step 2 learned: every file, the live history, what is applied and what this promotion pushes.
struct Batch {
    files: Vec<Migration>,
    lock: Lock,
    live: Vec<Applied>,
    applied: Vec<Migration>,
    batch: Vec<Migration>,
    /// Pending files after `--until`: shown, not promoted now.
    beyond: Vec<Migration>,
    /// The batch's statements, parsed once for the phase gate and the extension preflight.
    analyses: Vec<sql::Analysis>,
}

impl Batch {
    fn applied(&self) -> Vec<&Migration> {
        self.applied.iter().collect()
    }

    fn batch(&self) -> Vec<&Migration> {
        self.batch.iter().collect()
    }
}

struct Promotion<'a> {
    sh: &'a Shell,
    repo: &'a Repo,
    name: String,
    options: Options,
    started: Instant,
    step_started: Instant,
    record: Record,
    /// The findings of the `check` run in step 1: judged in step 2 on the batch, and shown in the review.
    checked: Vec<Finding>,
    /// What that check looked at.
    check_counts: crate::check::Counts,
    /// Every migration file, read once in step 1 (their bytes travel with them).
    files: Vec<Migration>,
    /// The database the target is (step 1), pinned in the lock when the head is recorded.
    identity_seen: Option<crate::domain::history::identity::Identity>,
}

impl<'a> Promotion<'a> {
    fn new(sh: &'a Shell, repo: &'a Repo, name: &str, options: Options) -> Promotion<'a> {
        let now = Instant::now();
        let record = Record { target: name.to_string(), started_at: clock::now(), ..Default::default() };
        Promotion {
            sh,
            repo,
            name: name.to_string(),
            options,
            started: now,
            step_started: now,
            record,
            checked: Vec::new(),
            check_counts: Default::default(),
            files: Vec::new(),
            identity_seen: None,
        }
    }

    /// The runbook, one call per step. Any failure before step 7 pushes nothing.
    fn run(&mut self) -> anyhow::Result<()> {
        self.step(1, "preconditions")?;
        let (cli, target) = self.preconditions()?;
        self.connect(&target)?;

        let Some((mut plan, mut stage)) = self.prepare(&cli, &target)? else { return Ok(()) };

        self.step(5, "promotion lock")?;
        let (mut guard, taken) = self.lock_target(&target, &plan)?;
        if let lock::Taken::Moved { appeared } = taken {
            // What was planned, rehearsed and checked is no longer what would be pushed: all of it again, under
            // the lock now, so nothing moves any more.
            eprintln!(
                "       {}'s history moved while this promotion waited (now applied: {}): planning again",
                self.name,
                if appeared.is_empty() { "(versions removed)".to_string() } else { appeared.join(", ") }
            );
            // The stage's folder is the same: the old one goes first.
            drop(stage);
            let Some(again) = self.prepare(&cli, &target)? else { return Ok(()) };
            (plan, stage) = again;
        }

        self.step(6, "dry-run through the CLI, review, confirmation")?;
        let cli_target = target.cli_target()?;
        self.dry_run(&cli, &target, &cli_target.remote, &stage, &plan)?;
        self.show_review(&target, &plan);
        if self.options.mode == Mode::DryRun {
            self.record.outcome = Some(Outcome::DryRun);
            eprintln!("dry run: nothing pushed, nothing recorded");
            return Ok(());
        }
        self.confirm(&target, plan.batch.len())?;

        self.step(7, "push and verify")?;
        self.push_history(&cli, &target, &cli_target, &plan)?;
        let pushed = self.push(&cli, &target, &cli_target, &stage, &plan, &mut guard)?;
        // The lock first: a login role is removed only when no promotion holds it.
        drop(guard);
        drop(cli_target);

        self.step(8, "record, catalog and docs")?;
        self.finish(&target, &plan, pushed)
    }

    /// Steps 2 to 4: the batch and its gates, the stage, the rehearsal. `None` when there is nothing to push
    /// (then the outcome is already reported).
    fn prepare(&mut self, cli: &Cli, target: &Resolved) -> anyhow::Result<Option<(Batch, Stage)>> {
        self.step(2, "batch: recorded head vs live history")?;
        self.push_breaking_gate()?;
        let Some(plan) = self.plan(cli, target)? else { return Ok(None) };
        self.check_gate(target, &plan)?;
        self.phase_gate(target, &plan)?;
        self.cutover_gate(target, &plan)?;

        self.step(3, "staging the applied files and the batch")?;
        let stage = Stage::new(self.repo.stage_dir(&self.name), &plan.applied(), &plan.batch())?;

        self.step(4, rehearsal_step(target))?;
        if target.config.protected {
            self.rehearse(cli, target, &plan)?;
        }
        self.preflight_extensions(target, &plan)?;
        Ok(Some((plan, stage)))
    }

    /// Before anything reads the target: it must be the database pinned in the lock, and no other name for it may
    /// disagree. Then how it is reached is decided (a hosted project: its direct host, else its pooler in session
    /// mode) and recorded; unreachable both ways is an error naming each attempt.
    fn connect(&mut self, target: &Resolved) -> anyhow::Result<()> {
        let lock = self.repo.lock()?;
        self.identity_seen = target.check_pin(&lock, self.options.repin.is_some())?;
        self.record.identity = self.identity_seen.as_ref().map(ToString::to_string);
        if let Some(reason) = &self.options.repin {
            let before = lock.targets.get(&self.name).and_then(|s| s.pinned());
            self.record.repinned = Some(format!(
                "from {} to {}: {reason}",
                before.map_or_else(|| "(nothing pinned)".to_string(), |p| p.to_string()),
                self.record.identity.as_deref().unwrap_or("(no identity)")
            ));
            eprintln!("re-pinning {}: {}", self.name, self.record.repinned.as_deref().unwrap_or_default());
        }
        match &target.remote {
            crate::edges::supabase::cli::Remote::Project(_) => {
                target.route()?;
            }
            crate::edges::supabase::cli::Remote::Url(_) => self.note_major(target),
        }
        self.record.connection = target.connection();
        Ok(())
    }

    /// Starts step `n`, unless an interruption came: then nothing more is done (the locks and the stage go with
    /// the values that hold them) and nothing was pushed yet.
    fn step(&mut self, n: usize, what: &str) -> anyhow::Result<()> {
        if n <= 7 && self.options.interrupt.requested() {
            return Err(Interrupted(BEFORE_THE_PUSH.into()).into());
        }
        let now = Instant::now();
        if let Some(last) = self.record.timings_ms.last_mut() {
            last.1 = (now - self.step_started).as_millis();
        }
        self.step_started = now;
        self.record.timings_ms.push((what.to_string(), 0));
        // Never a panic for a terminal that hung up: the push may be under way, its record still to write.
        crate::edges::output::progress::say(&format!("[{n}/8] {what}  (+{:.1}s)", (now - self.started).as_secs_f64()));
        Ok(())
    }

    /// Step 2: the recorded head, the live history reconciled with it, and the batch after it.
    /// `None` when there is nothing to push (then the outcome is already reported).
    fn plan(&mut self, cli: &Cli, target: &Resolved) -> anyhow::Result<Option<Batch>> {
        let files = self.files.clone();
        let lock = self.repo.lock()?;
        let live = {
            let workdir = Stage::empty(self.repo.stage_dir(&format!("{}-history", self.name)))?;
            history::read(self.sh, target, Some(cli), workdir.path())?
        };
        let head = history::head(&self.name, target.config, &lock, live.last().map(|a| a.version.as_str()));
        let pending = batch::pending(&files, head.as_deref(), None)?;
        let recorded = |m: &Migration| !target.config.embedded && lock.files.contains_key(&m.file_name);
        let reconciled = match history::reconcile(&files, head.as_deref(), &live, &pending, recorded) {
            Ok(Reconcile::InSync) => 0,
            Ok(Reconcile::Interrupted(n)) => n,
            Err(why) => return Err(self.refuse_mismatch(target, &lock, &why)),
        };
        self.record.reconciled = pending[..reconciled].iter().map(|m| m.file_name.clone()).collect();
        let head = pending[..reconciled].last().map(|m| m.version.clone()).or(head);
        let applied_files: Vec<&Migration> =
            files.iter().filter(|m| head.as_deref().is_some_and(|h| m.version.as_str() <= h)).collect();
        self.verify_ran(target, &applied_files, &live, ran::When::BeforePush)?;
        self.record.head_before = head.clone();
        let todo = batch::pending(&files, head.as_deref(), self.options.until.as_deref())?;
        let rest = batch::pending(&files, head.as_deref(), None)?;
        let (batch, beyond): (Vec<Migration>, Vec<Migration>) =
            (todo.iter().map(|m| (*m).clone()).collect(), rest[todo.len()..].iter().map(|m| (*m).clone()).collect());
        let applied =
            files.iter().filter(|m| head.as_deref().is_some_and(|h| m.version.as_str() <= h)).cloned().collect();
        let mut plan = Batch { files, lock, live, applied, batch, beyond, analyses: Vec::new() };
        if plan.batch.is_empty() {
            self.up_to_date(target, &mut plan, head)?;
            return Ok(None);
        }
        plan.analyses = analyze(&plan.batch)?;
        self.record.batch = plan
            .batch
            .iter()
            .map(|m| Ok(RecordFile { file: m.file_name.clone(), sha256: m.checksum().to_string() }))
            .collect::<anyhow::Result<_>>()?;
        Ok(Some(plan))
    }

    /// The review people read before they confirm (human and github formats; json waits for the record).
    fn show_review(&self, target: &Resolved, plan: &Batch) {
        if self.options.format != Format::Json {
            print!("{}", review::render(&self.record, &target.describe(), &plan.beyond));
        }
    }

    /// The outcome in the chosen format: the record as JSON, or the review's annotations and the step summary.
    fn report(mut self, result: anyhow::Result<()>) -> anyhow::Result<()> {
        // A step that failed because the signal also reached its child (the CLI, Postgres) was interrupted.
        let pushed = self.record.outcome.is_some_and(Outcome::pushed);
        let result = match result {
            Err(err)
                if self.options.interrupt.requested() && !pushed && err.downcast_ref::<Interrupted>().is_none() =>
            {
                Err(Interrupted(BEFORE_THE_PUSH.into()).into())
            }
            other => other,
        };
        if let Err(err) = &result
            && err.downcast_ref::<Interrupted>().is_some()
            && self.record.outcome != Some(Outcome::Unknown)
        {
            self.record.outcome = Some(Outcome::Interrupted);
        }
        if let Err(err) = &result {
            let refusal = crate::blocked::refusal(err);
            if matches!(self.record.outcome, None | Some(Outcome::DryRun)) {
                self.record.outcome = Some(if refusal.is_some() { Outcome::Blocked } else { Outcome::Error });
            }
            self.record.error = Some(crate::edges::output::redact::redact(&format!("{err:#}")));
            self.record.refusal = refusal.map(Refusal::kind);
        }
        report::emit(&record::PromoteReport(&self.record), self.options.format)?;
        result
    }
}

/// What an interruption before step 7's push leaves: nothing on the target, nothing held, nothing staged.
const BEFORE_THE_PUSH: &str =
    "promote: interrupted before the push: nothing was pushed; the locks are released and the stage is removed";

fn rehearsal_step(target: &Resolved) -> &'static str {
    match (target.config.protected, target.config.rehearse_on.as_deref()) {
        (false, _) => "rehearsal: not required (target not protected); extension preflight",
        (true, None | Some("local")) => "rehearsal on a local shadow",
        (true, Some(_)) => "rehearsal: the batch as applied on the rehearse_on target",
    }
}

/// The batch's statements, parsed once.
fn analyze(batch: &[Migration]) -> anyhow::Result<Vec<sql::Analysis>> {
    batch
        .iter()
        .map(|m| {
            let text = m.text()?;
            Ok(sql::analyze(text, &LintSettings { squawk_rules: &[] }))
        })
        .collect()
}

#[cfg(test)]
mod tests;
