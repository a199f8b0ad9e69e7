//! Step 4 on protected targets: the batch rehearsed on a throwaway local shadow (`crate::edges::shadow`), or found
//! applied with the same statements on the target `rehearse_on` names; a cutover's rollback rehearsed after it
//! (`super::cutover::rehearse_rollbacks`); the lock report measured. Returns what it learned, refused or not.

use crate::blocked::blocked;
use crate::domain::exposure::ExposureReview;
use crate::domain::major::Major;
use crate::domain::platform::RoleModel;
use crate::domain::refusal::Refusal;
use crate::edges::postgres as pg;
use crate::edges::shadow::{Shadow, Template};
use crate::edges::supabase::cli::Cli;
use crate::edges::supabase::management_api::Access;
use crate::edges::target::Resolved;
use crate::edges::target::{exposure, history};

use super::Ctx;
use super::cutover::{CutoverFile, rehearse_rollbacks};
use super::plan::Plan;

/// What the rehearsal learned, as far as it got.
#[derive(Default)]
pub(super) struct Rehearsal {
    /// How the batch was rehearsed, once it passed.
    pub summary: Option<String>,
    /// The major and role model the local shadow ran.
    pub shadow: Option<(Major, RoleModel)>,
    /// The applied history's statements today's platform refuses.
    pub history_note: Option<String>,
    /// The stand-in extensions the shadow holds.
    pub stand_ins: Option<Vec<String>>,
    /// How the cutover's rollback was rehearsed.
    pub rollback: Option<String>,
    /// The lock and rewrite report.
    pub impact: Vec<pg::impact::FileImpact>,
    /// What the batch makes reachable through the Data API, measured on the same copy.
    pub exposure: Option<ExposureReview>,
}

/// On the target named by `rehearse_on` (the batch must already be applied there, statement for statement), or
/// by default on a throwaway local database. `rollbacks`: the cutover files whose rollback is rehearsed too.
pub(super) fn rehearse(
    ctx: &Ctx,
    (cli, target): (&Cli, &Resolved),
    plan: &Plan,
    rollbacks: &[CutoverFile],
) -> (Rehearsal, anyhow::Result<()>) {
    let mut learned = Rehearsal::default();
    // Ctrl-C during the rehearsal ends the work on its shadows now, not when a slow file has run to its end there.
    let cluster = target.shadow_of().ok().and_then(|(major, _)| ctx.repo.cluster(major).ok());
    let interrupt = ctx.options.interrupt.clone();
    let result = crate::edges::shadow::ended_when(
        cluster,
        move || interrupt.requested(),
        || match target.config.rehearse_on.as_deref() {
            None | Some("local") => locally(ctx, (cli, target), plan, rollbacks, &mut learned),
            Some(other) => rehearsed_on(ctx, other, plan).and_then(|summary| {
                learned.summary = Some(summary);
                learned.rollback = rollbacks_locally(ctx, (cli, target), plan, rollbacks)?;
                Ok(())
            }),
        },
    );
    (learned, result)
}

/// A cutover rehearsed on `rehearse_on` still has its rollback rehearsed here, on a local shadow at the head.
fn rollbacks_locally(
    ctx: &Ctx,
    (cli, target): (&Cli, &Resolved),
    plan: &Plan,
    rollbacks: &[CutoverFile],
) -> anyhow::Result<Option<String>> {
    if rollbacks.is_empty() {
        return Ok(None);
    }
    let (at_head, _) = Shadow::at_history(ctx.sh, ctx.repo, cli, target.shadow_of()?, &plan.applied, "rollback")?;
    rehearse_rollbacks(ctx, &at_head, plan, rollbacks)
}

/// The batch as applied on `other`: every file in its history, with the statements this checkout holds.
fn rehearsed_on(ctx: &Ctx, other: &str, plan: &Plan) -> anyhow::Result<String> {
    let evidence = Resolved::resolve(ctx.sh, ctx.repo, other)?;
    let direct = evidence.direct(Access::ReadOnly)?;
    let applied = history::read_statements(&mut direct.connect()?)?;
    let mut problems = Vec::new();
    for m in plan.batch() {
        let text = m.text()?;
        match applied.get(&m.version) {
            None => problems.push(format!("{} is not applied on {other}", m.file_name)),
            // Compared as the live history is: a comment edited since is no difference.
            Some(statements)
                if crate::domain::history::statements::first_difference(text, statements)
                    != crate::domain::history::statements::Verdict::Same =>
            {
                problems.push(format!("{} differs on {other} from this checkout", m.file_name))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(blocked(Refusal::NotRehearsed { other: other.to_string(), problems: problems.join("; ") }));
    }
    Ok(format!(
        "applied on {other} ({}) with identical statements: {} file(s)",
        evidence.describe(),
        plan.batch().len()
    ))
}

/// What the target has, then the batch, replayed on a throwaway local database, so a failure names the part.
/// Then, on a copy taken at the head, each batch file applied in its own transaction: the lock report.
fn locally(
    ctx: &Ctx,
    (cli, target): (&Cli, &Resolved),
    plan: &Plan,
    rollbacks: &[CutoverFile],
    learned: &mut Rehearsal,
) -> anyhow::Result<()> {
    let (major, model) = target.shadow_of()?;
    learned.shadow = Some((major, model));
    learned.history_note = super::notes::history_note(ctx.repo, model, &plan.applied);
    let refused = |part: &str, err: anyhow::Error| {
        blocked(Refusal::RehearsalFailed {
            part: part.to_string(),
            target: ctx.name.to_string(),
            error: format!("{err:#}"),
        })
    };
    let (shadow, template) = {
        let _spinner =
            crate::edges::output::progress::Spinner::start("rehearsing the applied history", ctx.options.format);
        Shadow::at_history(ctx.sh, ctx.repo, cli, (major, model), &plan.applied, "rehearsal")
            .map_err(|e| refused("applied history", e))?
    };
    eprintln!(
        "       history: {}",
        match template {
            Template::Copied => "copied from the template kept at this head",
            Template::Built => "replayed, and kept as a template for the next rehearsal at this head",
        }
    );
    let at_head = shadow.twin("impact")?;
    {
        let _spinner = crate::edges::output::progress::Spinner::start("rehearsing the batch", ctx.options.format);
        shadow.replay(ctx.sh, cli, &plan.applied, plan.batch()).map_err(|e| refused("batch", e))?;
    }
    super::ownership::check(ctx, target, plan)?;
    learned.summary = Some(format!("passed on a local PostgreSQL {major} shadow (history + batch)"));
    learned.stand_ins = super::notes::stand_ins(shadow.url());
    learned.rollback = rehearse_rollbacks(ctx, &at_head, plan, rollbacks)?;
    let exposure = measure(ctx, target, &at_head, plan, learned);
    let review = exposure.map_err(|err| {
        blocked(Refusal::ExposureUnknown {
            target: ctx.name.to_string(),
            error: crate::edges::output::redact::redact(&format!("{err:#}")),
        })
    })?;
    let refused = crate::domain::exposure::refusal(&review, "promote", ctx.name, "; nothing was pushed");
    learned.exposure = Some(review);
    match refused {
        Some(refusal) => Err(blocked(refusal)),
        None => Ok(()),
    }
}

/// On the copy at the head given the target's grants: the lock and rewrite report (it informs the review, so a
/// failure to join the target's sizes is said, not fatal) and the exposure review, which a protected target
/// cannot go without.
fn measure(
    ctx: &Ctx,
    target: &Resolved,
    at_head: &Shadow,
    plan: &Plan,
    learned: &mut Rehearsal,
) -> anyhow::Result<ExposureReview> {
    let _spinner =
        crate::edges::output::progress::Spinner::start("measuring locks, rewrites and exposure", ctx.options.format);
    let setup = exposure::setup(ctx.repo, ctx.name, Some(target))?;
    let inputs = (&setup.inputs.schemas[..], &setup.grants[..]);
    let measured = pg::exposure::measure(at_head.url(), plan.batch(), inputs, pg::exposure::ReadAfter::Each)?;
    let sized = || -> anyhow::Result<Vec<pg::impact::FileImpact>> {
        let sizes = pg::impact::target_sizes(&mut target.direct(Access::ReadOnly)?.connect()?)?;
        let supautils = ctx.repo.baseline()?.supautils();
        let on = (target.role_model()?, &supautils);
        let impacts = pg::impact::with_sizes(measured.impacts.clone(), &sizes);
        Ok(pg::impact::for_target(impacts, on, plan.analysed()))
    };
    let sized = sized();
    learned.impact = sized.unwrap_or_else(|err| {
        eprintln!(
            "warning: the lock report could not be made: {}",
            crate::edges::output::redact::redact(&format!("{err:#}"))
        );
        Vec::new()
    });
    let acks = crate::domain::exposure::acks(plan.analysed().map(|(m, a)| (m.rel_path.as_str(), &a.directives)));
    let lock = ctx.repo.lock()?;
    let applied = plan.batch().iter().filter(|m| lock.files.contains_key(&m.file_name)).map(|m| m.rel_path.as_str());
    let review = crate::domain::exposure::judge(setup.inputs, &measured.before, &measured.after);
    Ok(review.in_applied_history(&applied.collect()).acknowledge(&acks))
}
