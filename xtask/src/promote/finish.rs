//! Step 8: the outcome, from the history the target holds after the push: the lock moved to the new head, what
//! the record says of the batch (`Ended`), then, once the record is written (`super::learned::Learned::write`),
//! the catalog and docs refreshed and the outcome said (`conclude`). Step 2 ends here too when there is nothing
//! to push (`up_to_date`).

use std::collections::BTreeSet;

use crate::blocked::blocked;
use crate::domain::history::identity::Identity;
use crate::domain::history::lock::{Lock, TargetState};
use crate::domain::history::migrations::Migration;
use crate::domain::history::statements;
use crate::domain::major::Major;
use crate::domain::refusal::Refusal;
use crate::edges::os::clock;
use crate::edges::os::interrupt::Interrupted;
use crate::edges::output::progress::Spinner;
use crate::edges::supabase::cli::{self, PushOutput, Remote};
use crate::edges::target::Resolved;
use crate::edges::target::history::{self, Applied};

use super::budget::{AttemptOutcome, LockBudget};
use super::lock::Waited;
use super::notes::{self, Noted};
use super::plan::Plan;
use super::push::{Facts, indent};
use super::record::{Failure, Outcome};
use super::{AfterPush, Ctx};

/// What recording the head needs from the earlier steps: the database seen in step 1, the major and role model.
pub(super) struct Known<'l> {
    pub identity: Option<&'l Identity>,
    pub noted: Noted,
}

/// What the target holds now, as the record says it.
#[derive(Default)]
pub(super) struct Ended {
    pub head_after: Option<String>,
    pub applied: Vec<String>,
    pub failed: Option<Failure>,
    pub not_attempted: Vec<String>,
    /// Applied batch files whose statements the target did not store.
    pub unverifiable: Vec<String>,
    /// The embedded database's stand-in extensions, read after the push.
    pub stand_ins: Option<Vec<String>>,
    /// The major and role model, as the lock now records them.
    pub noted: Noted,
}

/// Step 8's verdict: the outcome, what the record says, and what follows the record.
pub(super) struct Settled {
    pub outcome: Outcome,
    pub ended: Ended,
    pub after: After,
}

/// What is said and done once the record is written.
pub(super) enum After {
    /// The history could not be read back; `abandoned` after a second signal.
    Unread { abandoned: bool, why: String, cli_error: String },
    Read {
        interrupted: bool,
        applied: usize,
        head: String,
        rest: usize,
        failed: Option<Failed>,
        ran: anyhow::Result<()>,
    },
}

/// The file that failed, as the refusal names it.
pub(super) struct Failed {
    file: String,
    what: String,
    advice: String,
    invalid_indexes: String,
}

/// Step 2 with nothing to push: files an interrupted promotion applied are recorded now ("reconciled"), and a
/// `--repin` pins the database. `record`: whether there is anything to write a record about.
pub(super) struct UpToDate {
    pub reconciled: Vec<String>,
    pub ended: Ended,
    pub record: bool,
}

pub(super) fn up_to_date(
    ctx: &Ctx,
    target: &Resolved,
    plan: &Plan,
    waited: Option<&Waited>,
    known: Known,
) -> anyhow::Result<UpToDate> {
    let repin = ctx.options.repin.is_some();
    let mut reconciled: Vec<String> = plan.reconciled().iter().map(|m| m.file_name.clone()).collect();
    // What the promotion this one waited for applied is recorded by that promotion, in its own checkout.
    if let Some(waited) = waited {
        reconciled.retain(|f| !waited.appeared.iter().any(|v| f.starts_with(&format!("{v}_"))));
    }
    let mut noted = known.noted;
    if (!reconciled.is_empty() || repin) && !target.config.embedded {
        let by = if repin { "promote --repin" } else { "promote (reconciled)" };
        let mut lock = plan.lock.clone();
        noted = record_head(ctx, (&mut lock, target), plan.files, (plan.head.as_deref(), by), &known)?;
        ctx.repo.write_lock(&lock)?;
        if !reconciled.is_empty() {
            eprintln!("reconciled: recorded {} applied by an interrupted promotion", reconciled.join(", "));
        }
    }
    let record = !reconciled.is_empty() || repin;
    Ok(UpToDate { reconciled, ended: Ended { head_after: plan.head.clone(), noted, ..Default::default() }, record })
}

/// The outcome, from the live history read after the push: the lock moved to the new head, the record's account
/// of the batch, and what follows the record.
pub(super) fn settle(
    ctx: &Ctx,
    target: &Resolved,
    plan: &Plan,
    (output, verified, facts): (&PushOutput, anyhow::Result<Vec<Applied>>, &Facts),
    known: Known,
) -> anyhow::Result<Settled> {
    let history = match verified {
        Ok(history) => history,
        Err(err) => return Ok(unread(ctx, plan, output, &err, known.noted)),
    };
    let live = history.iter().map(|a| a.version.clone()).collect::<BTreeSet<_>>();
    let (applied, failed, rest) = history::outcome(plan.batch(), &live);
    let (unverifiable, ran) = super::ran::verify(ctx, target, &applied, &history, super::ran::When::AfterPush);
    let new_head = applied.last().map(|m| m.version.clone()).or(plan.head.clone());
    let mut noted = known.noted;
    if !target.config.embedded && (!applied.is_empty() || !plan.reconciled().is_empty()) {
        let mut lock = plan.lock.clone();
        noted = record_head(ctx, (&mut lock, target), plan.files, (new_head.as_deref(), "promote"), &known)?;
        ctx.repo.write_lock(&lock)?;
    }
    let interrupted = ctx.options.interrupt.requested();
    let error = match (interrupted, output.error.as_ref()) {
        (true, _) => "interrupted while it ran: rolled back, not applied".to_string(),
        (false, Some(err)) => cli::explain(err),
        (false, None) => output.transcript.clone(),
    };
    let spent = facts.lock_budget.as_ref().filter(|b| spent_budget(b));
    let advice = failed.map(|m| failure_advice(target, plan, m, spent)).unwrap_or_default();
    let outcome = match (interrupted, failed.is_some()) {
        (true, _) => Outcome::Interrupted,
        (false, true) => Outcome::Failed,
        (false, false) => Outcome::Promoted,
    };
    let stand_ins = match &target.remote {
        Remote::Url(url) if target.config.embedded => notes::stand_ins(url),
        _ => None,
    };
    let ended = Ended {
        head_after: new_head.clone(),
        applied: applied.iter().map(|m| m.file_name.clone()).collect(),
        failed: failed.map(|m| Failure { file: m.file_name.clone(), error: error.clone(), advice: advice.clone() }),
        not_attempted: rest.iter().map(|m| m.file_name.clone()).collect(),
        unverifiable,
        stand_ins,
        noted,
    };
    let failed = failed.map(|m| Failed {
        file: m.file_name.clone(),
        what: what_failed(target, m, &error, spent.is_some()),
        advice,
        invalid_indexes: invalid_index_note(&facts.invalid_indexes),
    });
    let head = new_head.unwrap_or_else(|| "(none)".into());
    let after = After::Read { interrupted, applied: applied.len(), head, rest: rest.len(), failed, ran };
    Ok(Settled { outcome, ended, after })
}

/// The push did not finish cleanly and the target cannot be read: nothing new is recorded in the lock.
fn unread(ctx: &Ctx, plan: &Plan, output: &PushOutput, err: &anyhow::Error, noted: Noted) -> Settled {
    let abandoned = ctx.options.interrupt.abandoned();
    let not_attempted = plan.batch().iter().map(|m| m.file_name.clone()).collect();
    Settled {
        outcome: if abandoned { Outcome::Unknown } else { Outcome::Unverified },
        ended: Ended { not_attempted, noted, ..Default::default() },
        after: After::Unread {
            abandoned,
            why: crate::edges::output::redact::redact(&format!("{err:#}")),
            cli_error: output.error.as_ref().map(cli::explain).unwrap_or_default(),
        },
    }
}

/// After the record (`md`): the interruption handler told, the catalog refreshed, the outcome said.
pub(super) fn conclude(ctx: &Ctx, target: &Resolved, after: After, md: &str) -> anyhow::Result<()> {
    let interrupt = &ctx.options.interrupt;
    let name = &target.name;
    let (interrupted, applied, head, rest, failed, ran) = match after {
        After::Unread { abandoned: true, why, .. } => {
            interrupt.ending();
            return Err(Interrupted(format!(
                "promote: interrupted twice during the push to {name}: the CLI was ended, but what {name} holds could not be read within the bound ({why}): the state of {name} is unknown: run `cargo xtask status --live --target {name}`; the next `cargo xtask promote --target {name}` reconciles it. Record: {md}"
            ))
            .into());
        }
        After::Unread { abandoned: false, why, cli_error } => {
            interrupt.ending();
            return Err(blocked(Refusal::PushUnverified { cli_error, error: why, target: name.clone() }));
        }
        After::Read { interrupted, applied, head, rest, failed, ran } => {
            (interrupted, applied, head, rest, failed, ran)
        }
    };
    if interrupted || failed.is_some() {
        interrupt.ending();
    } else {
        interrupt.recorded(name);
    }
    if interrupted {
        return Err(Interrupted(format!(
            "promote: interrupted during the push to {name}: {applied} file(s) applied and recorded (head {head}){}; {rest} not attempted. \
             Re-run `cargo xtask promote --target {name}` to push the rest. Record: {md}",
            failed.map(|f| format!("; {} was rolled back", f.file)).unwrap_or_default(),
        ))
        .into());
    }
    // The applied prefix changed the schema even when a later file failed; a push that applied nothing left the
    // catalog as it was.
    if ctx.options.after_push == AfterPush::RefreshCatalog && applied > 0 {
        refresh_catalog(ctx, target);
    }
    ran?;
    let Some(f) = failed else { return Ok(()) };
    Err(blocked(Refusal::PushFailed {
        what: f.what,
        applied,
        head,
        not_attempted: rest,
        advice: f.advice,
        record: md.to_string(),
        note: f.invalid_indexes,
    }))
}

/// The failure's first line: out of lock budget, or the database's error with the file's line.
fn what_failed(target: &Resolved, m: &Migration, error: &str, spent: bool) -> String {
    if spent {
        return format!("{} could not take its locks on {} within the lock budget", m.file_name, target.name);
    }
    let line = m.text().ok().and_then(|t| statements::failed_line(t, error));
    let at = line.map_or(String::new(), |l| format!("\n    at {}:{l}", m.rel_path));
    format!("{} failed on {}:\n{}{at}", m.file_name, target.name, indent(error))
}

/// Whether the failed file ran out of its lock budget (rather than failing on its own).
fn spent_budget(budget: &LockBudget) -> bool {
    budget.attempts.last().is_some_and(|a| a.outcome == AttemptOutcome::LockTimeout)
}

/// The one thing to do about the file that failed, the same in the output and the record: nothing is wrong with
/// it when it ran out of its lock budget (`spent`); it must stay as it is when another target ran it (this target
/// lacks something that one had); otherwise it ran nowhere, and it is corrected.
fn failure_advice(target: &Resolved, plan: &Plan, m: &Migration, spent: Option<&LockBudget>) -> String {
    let rerun = format!("`cargo xtask promote --target {}`", target.name);
    if let Some(budget) = spent {
        let blockers = budget.last_blockers();
        let who = if blockers.is_empty() {
            "no blocker was seen (the wait was shorter than a second)".to_string()
        } else {
            format!("blocked by {}", blockers.join("; "))
        };
        return format!(
            "After {} attempt(s) it was rolled back and is not applied; {who}. Nothing is wrong with the file: re-run {rerun} when the blocker is gone.",
            budget.last_tries()
        );
    }
    let elsewhere: Vec<&str> = plan.lock.recorded_on(&m.version).into_iter().filter(|n| *n != target.name).collect();
    if elsewhere.is_empty() {
        return format!("{} was rolled back and is applied nowhere: correct it, then re-run {rerun}.", m.file_name);
    }
    format!(
        "{} is recorded as applied on {} (migrations/promotion.lock), so it stays as it is: {} lacks something it needs that {} had when the file ran (the error above names it: a schema, role, extension or data). Give {} what it lacks, then re-run {rerun}.",
        m.file_name,
        elsewhere.join(", "),
        target.name,
        if elsewhere.len() == 1 { "that target" } else { "those targets" },
        target.name
    )
}

/// INVALID indexes a CONCURRENTLY build left, with the statements that drop them.
fn invalid_index_note(invalid: &[String]) -> String {
    if invalid.is_empty() {
        return String::new();
    }
    let drops: Vec<String> = invalid.iter().map(|i| format!("DROP INDEX CONCURRENTLY IF EXISTS {i};")).collect();
    format!(
        "\nINVALID index(es) left by the CONCURRENTLY build: {}. Drop them before re-running (`{}`): `if not exists` would keep them as they are.",
        invalid.join(", "),
        drops.join(" ")
    )
}

/// The runbook's post-promotion refresh: snapshot and SCHEMA_CATALOG.<TARGET>.md. The push already happened, so
/// a failure here is reported, not fatal.
fn refresh_catalog(ctx: &Ctx, target: &Resolved) {
    let result = {
        let _spinner = Spinner::start("reading the catalog", ctx.options.format);
        crate::edges::target::catalog::read(ctx.sh, ctx.repo, target)
    }
    .and_then(|snapshot| {
        let path = crate::catalog::write(ctx.repo, &target.name, &snapshot)?;
        crate::docs::refresh(ctx.repo, &target.name, crate::edges::os::fsutil::Mode::Write)?;
        Ok(path)
    });
    match result {
        Ok(path) => eprintln!("catalog: refreshed {path} and {}", ctx.repo.rel(&ctx.repo.doc_path(&target.name))),
        Err(err) => eprintln!(
            "warning: the catalog refresh failed ({}); run `cargo xtask catalog --target {1}` and `cargo xtask docs-refresh --target {1}`",
            crate::edges::output::redact::redact(&format!("{err:#}")),
            target.name
        ),
    }
}

/// Moves the target's head to `head` (and the heads of its other names for the same database, which must share
/// it), records the checksum of every file up to it, and pins the database seen in step 1. Returns the major and
/// role model recorded (read from the target when no earlier step knew them).
pub(super) fn record_head(
    ctx: &Ctx,
    (lock, target): (&mut Lock, &Resolved),
    files: &[Migration],
    (head, by): (Option<&str>, &str),
    known: &Known,
) -> anyhow::Result<Noted> {
    let noted = notes::major(target, known.noted);
    let Some(head) = head else { return Ok(noted) };
    for m in files.iter().filter(|m| m.version.as_str() <= head) {
        if !lock.files.contains_key(&m.file_name) {
            lock.files.insert(m.file_name.clone(), m.checksum().to_string());
        }
    }
    let names = std::iter::once(target.name.as_str())
        .chain(crate::edges::target::same_database(&ctx.repo.config, &target.name));
    for name in names.collect::<Vec<_>>() {
        let previous = lock.targets.get(name);
        let (identity, server) = match known.identity {
            Some(seen) => (Some(seen.place.clone()), seen.live.clone()),
            None => (previous.and_then(|p| p.identity.clone()), previous.and_then(|p| p.server.clone())),
        };
        let major = noted.postgres.and_then(|n| Major::try_from(n).ok()).or(previous.and_then(|p| p.major));
        let state = TargetState {
            head: head.to_string(),
            recorded_at: clock::now(),
            recorded_by: by.to_string(),
            identity,
            server,
            major,
            role_model: noted.role_model.or(previous.and_then(|p| p.role_model)),
        };
        lock.targets.insert(name.to_string(), state);
    }
    Ok(noted)
}
