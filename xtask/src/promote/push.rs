//! Step 7: the push through the CLI under the lock budget (`super::budget`), the CLI's leftover sessions ended,
//! and the target's history read back: what the push did, as a value for step 8 (`super::finish`).

use anyhow::bail;

use crate::blocked::blocked;
use crate::domain::refusal::Refusal;
use crate::edges::os::interrupt::SECOND_SIGNAL_BOUND;
use crate::edges::output::progress::{Spinner, say};
use crate::edges::supabase::cli::{self, Cli, Push, PushOutput};
use crate::edges::target::history::{self, Applied};
use crate::edges::target::{CliTarget, Resolved};

use super::Ctx;
use super::budget::LockBudget;
use super::lock::TargetLock;
use super::plan::Plan;
use crate::edges::supabase::stage::Stage;

/// How long the CLI's orphaned sessions are waited for when they cannot be ended.
const ORPHAN_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// What the push did, and what the target's history says afterwards.
pub(super) struct Pushed {
    pub output: PushOutput,
    pub verified: anyhow::Result<Vec<Applied>>,
    pub facts: Facts,
}

/// What the record keeps of the push.
pub(super) struct Facts {
    /// The lock budget and every attempt under it (none for the embedded database).
    pub lock_budget: Option<LockBudget>,
    /// INVALID indexes a failed CONCURRENTLY build left.
    pub invalid_indexes: Vec<String>,
    pub transcript: String,
}

/// Step 7: the push through the CLI, then the live history read again. A push that did not end cleanly may have
/// left the CLI's session running on the server (a killed CLI's backend goes on with what it had sent, the
/// history insert and COMMIT included): those sessions end before the history is read.
pub(super) fn push(
    ctx: &Ctx,
    (cli, target, cli_target): (&Cli, &Resolved, &CliTarget),
    stage: &Stage,
    plan: &Plan,
    lock: &mut TargetLock,
) -> anyhow::Result<Pushed> {
    // What the CLI is about to read is what was checked, rehearsed and reviewed, byte for byte.
    stage
        .verify(&plan.applied, plan.batch())
        .map_err(|e| blocked(Refusal::StageChanged { error: format!("{e:#}") }))?;
    note_edited(plan);
    let interrupt = &ctx.options.interrupt;
    interrupt.pushing(&target.name);
    let names: Vec<&str> = plan.batch().iter().map(|m| m.file_name.as_str()).collect();
    let spinner =
        Spinner::start(&format!("pushing {} migration(s) to {}", names.len(), target.name), ctx.options.format);
    // The CLI says which file it applies as it starts it: every file is seen, however quick.
    let line = |line: &str| {
        if let Some(file) = cli::applying(line) {
            let at = names.iter().position(|n| *n == file).map_or_else(|| "?".to_string(), |i| (i + 1).to_string());
            spinner.step(format!("applying {at}/{} {file}", names.len()));
        }
    };
    let announced = std::cell::Cell::new(false);
    let stop = || {
        let now = interrupt.requested();
        if now && !announced.replace(true) {
            spinner.clear();
            say(&format!(
                "interrupted: a push to {} is in progress; ending the CLI and its session, then reading what {} holds (a second signal bounds that to {} s)",
                target.name,
                target.name,
                SECOND_SIGNAL_BOUND.as_secs()
            ));
        }
        now
    };
    let (output, lock_budget) = {
        let push = |extra: &[(&'static str, String)]| {
            let watch = cli::Watch { stop: &stop, line: &line };
            cli.push_until(ctx.sh, (stage.path(), &cli_target.remote, extra), Push::Apply, watch)
        };
        let interrupted = || interrupt.requested();
        let staged =
            super::budget::Staged { stage, applied: &plan.applied, batch: plan.batch(), concurrent: plan.concurrent() };
        // The watcher signs in as the CLI does where it can: a role may cancel its own backends (the fallback
        // when a pooler drops PGOPTIONS); otherwise the lock's session watches.
        let mut as_cli = match &cli_target.remote {
            crate::edges::supabase::cli::Remote::Url(url) => crate::edges::postgres::connect(url).ok(),
            crate::edges::supabase::cli::Remote::Project(_) => None,
        };
        let session = as_cli.as_mut().unwrap_or(&mut lock.session);
        super::budget::push_within_budget(
            target,
            &staged,
            (cli_target.session_role().as_deref(), session),
            &interrupted,
            &push,
        )?
    };
    spinner.clear();
    let invalid_indexes =
        if output.success { Vec::new() } else { super::notes::invalid_indexes(&mut lock.session, plan.batch()) };
    // A signal to the whole group can end the CLI before the loop above looks at the flag: say it now.
    stop();
    let mut transcript = output.transcript.clone();
    // Whatever happens here, the history is read next: an unreachable target is reported there.
    let wait = if interrupt.abandoned() { SECOND_SIGNAL_BOUND / 2 } else { ORPHAN_WAIT };
    let settled = if output.success {
        Ok(0)
    } else {
        settle_orphans(&mut lock.session, cli_target.session_role().as_deref(), wait)
    };
    match &settled {
        Ok(0) => {}
        Ok(ended) => {
            say(&format!("ended {ended} session(s) the CLI left running on {}", target.name));
            transcript.push_str(&format!("\n[xtask] ended {ended} orphaned CLI session(s)\n"));
        }
        Err(err) => say(&format!("warning: {}", crate::edges::output::redact::redact(&format!("{err:#}")))),
    }
    // Read over the session that holds the lock: a new login role now would be removed while our own lock is
    // held, and the note about a running promotion would be about this one.
    let verified = if interrupt.abandoned() {
        // Bounded: a second signal came. Unread is unknown, not "rolled back".
        settled.and_then(|_| bounded_read(&mut lock.session))
    } else {
        history::read_client(&mut lock.session).or_else(|_| history::read(ctx.sh, target, Some(cli), stage.path()))
    };
    Ok(Pushed { output, verified, facts: Facts { lock_budget, invalid_indexes, transcript } })
}

/// A batch file edited on disk since step 1 is named: the bytes read then are what is pushed and recorded.
fn note_edited(plan: &Plan) {
    let edited: Vec<&str> = crate::edges::migration_files::changed_since_read(plan.batch())
        .into_iter()
        .map(|m| m.file_name.as_str())
        .collect();
    if !edited.is_empty() {
        eprintln!(
            "note: {} changed on disk during this promotion; the bytes read in step 1 (checked, rehearsed, reviewed) are what is pushed and recorded",
            edited.join(", ")
        );
    }
}

/// The history over the lock's session, within what is left of a second signal's bound.
fn bounded_read(session: &mut postgres::Client) -> anyhow::Result<Vec<Applied>> {
    let ms = (SECOND_SIGNAL_BOUND / 4).as_millis() as i64;
    session.execute(&format!("set statement_timeout = {ms}"), &[])?;
    history::read_client(session)
}

/// Each line of the CLI's message on a line of its own, indented under the file it is about.
pub(super) fn indent(text: &str) -> String {
    text.trim_end().lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// Ends the CLI's sessions still running on the target (`pg_terminate_backend`, allowed for the same role), or
/// waits for them where that is not allowed; returns how many there were. They are known by the CLI's
/// `application_name`, or by `role` when the CLI ran as a login role of ours (a pooler need not pass the
/// application name on).
fn settle_orphans(
    session: &mut postgres::Client,
    role: Option<&str>,
    wait: std::time::Duration,
) -> anyhow::Result<usize> {
    let deadline = std::time::Instant::now() + wait;
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let pids: Vec<i32> = session
            .query(
                "select pid from pg_stat_activity where (application_name = $1 or usename = $2) \
                 and datname = current_database() and pid <> pg_backend_pid()",
                &[&cli::APPLICATION_NAME, &role],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if pids.is_empty() {
            return Ok(seen.len());
        }
        for pid in &pids {
            seen.insert(*pid);
            // Refused without the right (another role's session): then it is waited for.
            let _ = session.query("select pg_terminate_backend($1)", &[pid]);
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the CLI's session(s) {pids:?} still run on the target {} s after the push ended; wait for them to end, then re-run promote (it reconciles what was applied)",
                wait.as_secs()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
