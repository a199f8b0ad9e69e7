//! `cargo xtask promote`: the runbook's standard path as eight steps (docs/design.md, "`promote`, step by step").
//!
//! `runbook` reads as the runbook: each step is a free function in its own module that takes what it needs and
//! returns what it learned; `Learned` keeps those values and the record is folded from them in one place
//! (`Learned::fold`), whatever the outcome. The modules: `gates` (step 1, and what must hold before a push),
//! `plan` (step 2's batch), `rehearse` and `cutover` (step 4), `lock` (step 5), `history_phase` and `push`
//! (step 7), `finish` (step 8), `review` and `record` (what people read, what is left). The target's live
//! history is `crate::edges::target::history`; the staged workdir is `crate::edges::supabase::stage`, which the
//! shadow databases share.

mod budget;
mod cutover;
mod finish;
mod gates;
mod history_phase;
mod learned;
mod lock;
mod notes;
mod ownership;
mod plan;
mod push;
mod ran;
mod reconcile;
pub mod record;
mod rehearse;
mod review;

use xshell::Shell;

use crate::domain::history::migrations::Migration;
use crate::edges::os::fsutil::Mode;
use crate::edges::os::interrupt::{Interrupt, Interrupted};
use crate::edges::output::report;
use crate::edges::output::report::Format;
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::Cli;
use crate::edges::supabase::stage::Stage;
use crate::edges::target::Resolved;
use crate::flags;

use learned::Learned;
use plan::Plan;
use record::Outcome;

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
            wait: self.wait.wait,
            interrupt: Interrupt::install()?,
        };
        crate::edges::supabase::stage::remove_orphans(&repo.scratch_dir().join("stage"));
        let ctx = Ctx { sh, repo, name: &self.target.target, options };
        let mut learned = Learned::new(ctx.name);
        let result = runbook(&ctx, &mut learned);
        report(&ctx, &learned, result)
    }
}

/// What every step may read, and none writes: the shell, the repository, the target's name and the options.
struct Ctx<'a> {
    sh: &'a Shell,
    repo: &'a Repo,
    name: &'a str,
    options: Options,
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

/// The runbook, one call per step; `learned` keeps what each step returned (the partial report when a step
/// stops the promotion). Any failure before step 7 pushes nothing.
fn runbook(ctx: &Ctx, learned: &mut Learned) -> anyhow::Result<()> {
    learned.step(&ctx.options.interrupt, 1, "preconditions")?;
    let (endpoint, ready) = gates::preconditions(ctx);
    learned.endpoint = endpoint;
    let gates::Ready { cli, target, checked, files, tools } = ready?;
    learned.tools = Some(tools);
    let (pinned, connected) = gates::connect(ctx, &target);
    learned.pinned = pinned;
    learned.connected = Some(connected?);

    let Some((mut plan, mut stage)) = prepare(ctx, learned, (&cli, &target), &files, &checked)? else {
        return Ok(());
    };

    learned.step(&ctx.options.interrupt, 5, "promotion lock")?;
    let (waited, taken) = lock::take(ctx, &target, &plan.live);
    learned.waited = waited;
    let (mut guard, taken) = taken?;
    if let lock::Taken::Moved { appeared } = taken {
        // What was planned, rehearsed and checked is no longer what would be pushed: all of it again, under
        // the lock now, so nothing moves any more.
        eprintln!(
            "       {}'s history moved while this promotion waited (now applied: {}): planning again",
            ctx.name,
            if appeared.is_empty() { "(versions removed)".to_string() } else { appeared.join(", ") }
        );
        // The stage's folder is the same: the old one goes first.
        drop(stage);
        let Some(again) = prepare(ctx, learned, (&cli, &target), &files, &checked)? else { return Ok(()) };
        (plan, stage) = again;
    }

    learned.step(&ctx.options.interrupt, 6, "dry-run through the CLI, review, confirmation")?;
    let cli_target = target.cli_target()?;
    let listed = gates::dry_run(ctx, &cli, &target, &cli_target.remote, &stage)?;
    let judged = gates::judge_dry_run(&listed, plan.batch(), &cli_target.remote);
    learned.dry_run = Some(listed.into());
    judged?;
    if ctx.options.format != Format::Json {
        print!("{}", review::render(&learned.fold(), &target.describe(), plan.beyond()));
    }
    if ctx.options.mode == Mode::DryRun {
        learned.outcome = Some(Outcome::DryRun);
        eprintln!("dry run: nothing pushed, nothing recorded");
        return Ok(());
    }
    gates::confirm(ctx, &target, plan.batch().len())?;

    learned.step(&ctx.options.interrupt, 7, "push and verify")?;
    // The record first: a run killed during the push (nothing else is said then) leaves one saying the batch
    // was ours, so the next promotion takes what it finds applied for this run's work, not another tool's.
    learned.outcome = Some(Outcome::Pushing);
    learned.write(ctx, &target)?;
    learned.outcome = None;
    let pushed = history_phase::push(ctx, &cli, &target, &cli_target, &plan)
        .and_then(|()| push::push(ctx, (&cli, &target, &cli_target), &stage, &plan, &mut guard));
    let pushed = match pushed {
        Ok(pushed) => pushed,
        Err(err) => {
            // The record on disk says `pushing` until it says how the push ended.
            learned.outcome = Some(ended_before_a_push(ctx, &err));
            learned.write(ctx, &target)?;
            learned.outcome = None;
            return Err(err);
        }
    };
    // The lock first: a login role is removed only when no promotion holds it.
    drop(guard);
    drop(cli_target);

    learned.step(&ctx.options.interrupt, 8, "record, catalog and docs")?;
    let push::Pushed { output, verified, facts } = pushed;
    let settled = finish::settle(ctx, &target, &plan, (&output, verified, &facts), learned.known());
    learned.pushed = Some(facts);
    let settled = settled?;
    learned.outcome = Some(settled.outcome);
    learned.ended = Some(settled.ended);
    let md = learned.write(ctx, &target)?;
    finish::conclude(ctx, &target, settled.after, &md)
}

/// Steps 2 to 4: the batch and its gates, the stage, the rehearsal. `None` when there is nothing to push
/// (then the outcome is already in `learned`, and the record written when there is something to record).
fn prepare<'f>(
    ctx: &Ctx,
    learned: &mut Learned,
    (cli, target): (&Cli, &Resolved),
    files: &'f [Migration],
    checked: &'f crate::check::Checked,
) -> anyhow::Result<Option<(Plan<'f>, Stage)>> {
    learned.step(&ctx.options.interrupt, 2, "batch: recorded head vs live history")?;
    gates::push_breaking_gate(ctx, checked, files)?;
    // What appeared while this promotion waited for another one's lock is that promotion's work.
    let appeared = learned.waited.as_ref().map_or(&[][..], |w| &w.appeared[..]);
    let plan = plan::read(ctx, cli, target, files, appeared)?;
    learned.reconciled = plan.reconciled().iter().map(|m| m.file_name.clone()).collect();
    let (unverifiable, ran) = ran::verify(ctx, target, &plan.applied, &plan.live, ran::When::BeforePush);
    learned.unverifiable = unverifiable;
    ran?;
    learned.head_before = plan.head.clone();
    let plan = plan.until(ctx.options.until.as_deref(), &checked.analyses)?;
    if plan.batch().is_empty() {
        let done = finish::up_to_date(ctx, target, &plan, learned.waited.as_ref(), learned.known())?;
        learned.reconciled = done.reconciled;
        learned.ended = Some(done.ended);
        learned.outcome = Some(Outcome::UpToDate);
        if done.record {
            learned.write(ctx, target)?;
        }
        return Ok(None);
    }
    learned.batch = plan.record_files();
    learned.findings = gates::batch_findings(checked, &plan);
    gates::check_gate(target, checked, &plan)?;
    gates::phase_gate(target, &plan)?;
    let (cutover, gate) = cutover::gate(ctx, target, &plan, learned.identity());
    learned.cutover = cutover;
    gate?;

    learned.step(&ctx.options.interrupt, 3, "staging the applied files and the batch")?;
    let stage = Stage::new(ctx.repo.stage_dir(ctx.name), &plan.applied, plan.batch())?;

    learned.step(&ctx.options.interrupt, 4, rehearsal_step(target))?;
    if target.config.protected {
        let rollbacks = learned.cutover.as_ref().map_or(&[][..], |c| &c.files[..]);
        let (rehearsal, rehearsed) = rehearse::rehearse(ctx, (cli, target), &plan, rollbacks);
        learned.rehearsal = Some(rehearsal);
        rehearsed?;
    }
    learned.exposure_not_computed = exposure_not_computed(target);
    gates::preflight_extensions(target, &plan)?;
    Ok(Some((plan, stage)))
}

/// The outcome in the chosen format: the record folded from what the steps learned, plus the error, as JSON;
/// or the review's annotations and the step summary.
fn report(ctx: &Ctx, learned: &Learned, result: anyhow::Result<()>) -> anyhow::Result<()> {
    let mut record = learned.fold();
    let interrupt = &ctx.options.interrupt;
    // A step that failed because the signal also reached its child (the CLI, Postgres) was interrupted.
    let pushed = record.outcome.is_some_and(Outcome::pushed);
    let result = match result {
        Err(err) if interrupt.requested() && !pushed && err.downcast_ref::<Interrupted>().is_none() => {
            Err(Interrupted(BEFORE_THE_PUSH.into()).into())
        }
        other => other,
    };
    if let Err(err) = &result
        && err.downcast_ref::<Interrupted>().is_some()
        && record.outcome != Some(Outcome::Unknown)
    {
        record.outcome = Some(Outcome::Interrupted);
    }
    if let Err(err) = &result {
        let refusal = crate::blocked::refusal(err);
        if matches!(record.outcome, None | Some(Outcome::DryRun)) {
            record.outcome = Some(if refusal.is_some() { Outcome::Blocked } else { Outcome::Error });
        }
        record.error = Some(crate::edges::output::redact::redact(&format!("{err:#}")));
        record.refusal = refusal.map(crate::domain::refusal::Refusal::kind);
    }
    report::emit(&record::PromoteReport(&record), ctx.options.format)?;
    result
}

/// How a push that returned an error ended, for the record on disk: interrupted, refused, or an error.
fn ended_before_a_push(ctx: &Ctx, err: &anyhow::Error) -> Outcome {
    if ctx.options.interrupt.requested() || err.downcast_ref::<Interrupted>().is_some() {
        Outcome::Interrupted
    } else if crate::blocked::refusal(err).is_some() {
        Outcome::Blocked
    } else {
        Outcome::Error
    }
}

/// What an interruption before step 7's push leaves: nothing on the target, nothing held, nothing staged.
const BEFORE_THE_PUSH: &str =
    "promote: interrupted before the push: nothing was pushed; the locks are released and the stage is removed";

/// Why a promotion of `target` computes no exposure review: it builds no local shadow.
fn exposure_not_computed(target: &Resolved) -> Option<String> {
    let review = format!("`cargo xtask review --base main --target {}` computes it on a local shadow", target.name);
    match (target.config.protected, target.config.rehearse_on.as_deref()) {
        (true, None | Some("local")) => None,
        (true, Some(other)) => Some(format!("not computed, the batch was rehearsed on {other}; {review}")),
        (false, _) => Some(format!("not computed, {} is not protected (no local shadow); {review}", target.name)),
    }
}

fn rehearsal_step(target: &Resolved) -> &'static str {
    match (target.config.protected, target.config.rehearse_on.as_deref()) {
        (false, _) => "rehearsal: not required (target not protected); extension preflight",
        (true, None | Some("local")) => "rehearsal on a local shadow",
        (true, Some(_)) => "rehearsal: the batch as applied on the rehearse_on target",
    }
}

#[cfg(test)]
mod tests;
