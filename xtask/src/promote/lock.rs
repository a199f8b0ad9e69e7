//! Step 5: the promotion lock. A file lock on this machine and an advisory lock in a session on the target (every
//! machine), taken before the CLI's dry-run and held until the record is written: every CLI session a live
//! promotion opens on its target runs under this lock, so a CLI session found by the lock's holder is one no live
//! promotion owns (a killed run's push, a hand-run `supabase db push`). A promotion that finds the lock taken waits
//! for it (`--wait`, interruptible), naming the holder; when its holder moved the history meanwhile, the caller
//! plans again under the lock: nothing is pushed that was not planned and reviewed under it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::blocked::blocked;
use crate::domain::refusal::Refusal;
use crate::edges::os::interrupt::Interrupted;
use crate::edges::supabase::cli;
use crate::edges::supabase::management_api::{Access, PROMOTION_LOCK_KEY as ADVISORY_KEY};
use crate::edges::target::history;
use crate::edges::target::{Direct, Resolved};

use super::{BEFORE_THE_PUSH, Ctx};
use crate::edges::target::history::Applied;

/// How often a waiting promotion looks at the lock again.
const POLL: Duration = Duration::from_millis(250);

/// The `application_name` of the lock's session: how a waiting promotion names the holder.
const LOCK_APPLICATION_NAME: &str = "cargo-xtask promote";

/// Held from step 5 until the record is written.
pub(super) struct TargetLock {
    _file: std::fs::File,
    /// The session holding the advisory lock, then what it runs over (a login role is removed after it).
    pub(super) session: postgres::Client,
    _direct: Direct,
}

impl Drop for TargetLock {
    /// Unlocked at once (not when the server notices the session closed), so the login role behind it is seen
    /// as free to remove.
    fn drop(&mut self) {
        let _ = self.session.execute("select pg_advisory_unlock($1)", &[&ADVISORY_KEY]);
    }
}

/// What the target's history did between step 2 and the lock.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Taken {
    Unchanged,
    /// Versions another promotion applied (or removed) while this one waited: plan again.
    Moved {
        appeared: Vec<String>,
    },
}

/// Who held the lock this promotion waited for, and for how long it waited.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Waited {
    pub holder: String,
    pub waited_ms: u128,
    /// Versions that appeared on the target while this promotion waited.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub appeared: Vec<String>,
}

/// Step 5: both locks (waiting for another promotion up to `--wait`), no CLI session left on the target, and the
/// history as step 2 read it (`live`) — or `Taken::Moved`. Returns whom it waited for, whatever the outcome.
pub(super) fn take(
    ctx: &Ctx,
    target: &Resolved,
    live: &[Applied],
) -> (Option<Waited>, anyhow::Result<(TargetLock, Taken)>) {
    let mut waited = None;
    let taken = lock_target(ctx, target, live, &mut waited);
    (waited, taken)
}

fn lock_target(
    ctx: &Ctx,
    target: &Resolved,
    live: &[Applied],
    waited: &mut Option<Waited>,
) -> anyhow::Result<(TargetLock, Taken)> {
    let deadline = Instant::now() + ctx.options.wait.duration.to_std().unwrap_or(Duration::ZERO);
    let started = Instant::now();
    let file = file_lock(ctx, target, deadline)?;
    let mut lost = 0;
    let (direct, mut session, now) = loop {
        let (direct, mut session) = advisory_lock(ctx, target, (deadline, started), waited)?;
        match history::read_client(&mut session) {
            Ok(now) => break (direct, session, now),
            // While this promotion waited, the holder's cleanup removed every login role of the project, this
            // one's too (`DELETE .../cli/login-role` names only the project): the session lives on but may read
            // nothing. The lock is let go and taken again over a new role.
            Err(err) if lost < 3 && role_lost(target, &err) => {
                eprintln!(
                    "       the lock's login role was removed by the other promotion's cleanup; taking the lock again over a new one"
                );
                let _ = session.execute("select pg_advisory_unlock($1)", &[&ADVISORY_KEY]);
                lost += 1;
            }
            Err(err) => return Err(err),
        }
    };
    refuse_leftover_cli_sessions(&mut session, &target.name)?;
    let before: BTreeSet<&str> = live.iter().map(|a| a.version.as_str()).collect();
    let after: BTreeSet<&str> = now.iter().map(|a| a.version.as_str()).collect();
    let taken = if after == before {
        Taken::Unchanged
    } else {
        Taken::Moved { appeared: after.difference(&before).map(|v| v.to_string()).collect() }
    };
    if let (Some(waited), Taken::Moved { appeared }) = (waited.as_mut(), &taken) {
        waited.appeared = appeared.clone();
    }
    Ok((TargetLock { _file: file, session, _direct: direct }, taken))
}

/// This machine's lock: one promotion of a target per checkout at a time.
fn file_lock(ctx: &Ctx, target: &Resolved, deadline: Instant) -> anyhow::Result<std::fs::File> {
    let dir = ctx.repo.locks_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}.lock", target.name));
    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut announced = false;
    while file.try_lock().is_err() {
        if !announced {
            eprintln!("       waiting for another promotion of {} from this checkout", target.name);
            announced = true;
        }
        wait_a_little(ctx, target, deadline, "from this checkout")?;
    }
    Ok(file)
}

/// The target's lock, over a session of its own; with a token only, over a login role. A session a waiting
/// promotion loses (another machine's cleanup removed its login role) is opened again. `waited` names the
/// holder, from the first time it is seen.
fn advisory_lock(
    ctx: &Ctx,
    target: &Resolved,
    (deadline, started): (Instant, Instant),
    waited: &mut Option<Waited>,
) -> anyhow::Result<(Direct, postgres::Client)> {
    let (mut direct, mut session) = open_lock_session(target)?;
    loop {
        match session.query_one("select pg_try_advisory_lock($1)", &[&ADVISORY_KEY]) {
            Ok(row) if row.get::<_, bool>(0) => break,
            Ok(_) => {}
            Err(err) if session.is_closed() => {
                eprintln!("       the lock's session was closed ({err}); opening another");
                drop(session);
                (direct, session) = open_lock_session(target)?;
                continue;
            }
            Err(err) => return Err(err).context("taking the promotion lock"),
        }
        if waited.is_none() {
            let holder = holder(&mut session).unwrap_or_else(|| "a session that has since ended".into());
            eprintln!(
                "       waiting for another promotion of {} ({holder}); up to --wait {}",
                target.name, ctx.options.wait.text
            );
            *waited = Some(Waited { holder, waited_ms: 0, appeared: Vec::new() });
        }
        let who = waited.as_ref().map(|w| w.holder.clone()).unwrap_or_default();
        wait_a_little(ctx, target, deadline, &who)?;
    }
    if let Some(waited) = waited.as_mut() {
        waited.waited_ms = started.elapsed().as_millis();
        eprintln!(
            "       the other promotion ended after {:.1} s; the lock is taken",
            waited.waited_ms as f64 / 1000.0
        );
    }
    Ok((direct, session))
}

/// One pause of a wait: refused past the deadline, ended by an interruption.
fn wait_a_little(ctx: &Ctx, target: &Resolved, deadline: Instant, holder: &str) -> anyhow::Result<()> {
    if ctx.options.interrupt.requested() {
        return Err(Interrupted(BEFORE_THE_PUSH.into()).into());
    }
    if Instant::now() >= deadline {
        return Err(blocked(Refusal::LockWaitExpired {
            target: target.name.clone(),
            wait: ctx.options.wait.text.clone(),
            holder: holder.to_string(),
        }));
    }
    std::thread::sleep(POLL);
    Ok(())
}

/// Whether a token target's login role went away under its session (removed, or its grants dropped with it).
fn role_lost(target: &Resolved, err: &anyhow::Error) -> bool {
    let insufficient = err
        .chain()
        .filter_map(|e| e.downcast_ref::<postgres::Error>())
        .any(|e| e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE));
    matches!(target.remote, crate::edges::supabase::cli::Remote::Project(_))
        && (insufficient || crate::edges::supabase::management_api::role_removed(err))
}

/// A session on the target for the lock, named so that a promotion waiting for it can say who holds it.
fn open_lock_session(target: &Resolved) -> anyhow::Result<(Direct, postgres::Client)> {
    let direct = target.direct(Access::ReadOnly)?;
    let mut session = direct.connect().map_err(|err| {
        if crate::edges::supabase::management_api::role_removed(&err) {
            blocked(Refusal::LoginRoleRemoved { target: target.name.clone() })
        } else {
            err
        }
    })?;
    session.execute(&format!("set application_name = '{LOCK_APPLICATION_NAME}'"), &[])?;
    Ok((direct, session))
}

/// The session holding the target's lock: pid, application, user, client address and for how long.
fn holder(session: &mut postgres::Client) -> Option<String> {
    let sql = "select a.pid, a.application_name, a.usename::text, host(a.client_addr), \
               extract(epoch from now() - coalesce(a.backend_start, now()))::int8 \
               from pg_locks l join pg_stat_activity a on a.pid = l.pid \
               where l.locktype = 'advisory' and l.granted and ((l.classid::bigint << 32) | l.objid::bigint) = $1";
    let row = session.query_opt(sql, &[&ADVISORY_KEY]).ok()??;
    let (pid, app, user, addr, age): (i32, Option<String>, Option<String>, Option<String>, Option<i64>) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    let or = |v: Option<String>| v.filter(|s| !s.is_empty()).unwrap_or_else(|| "?".into());
    Some(format!(
        "pid {pid}, {}, user {}, from {}, connected {} s ago",
        or(app),
        or(user),
        addr.unwrap_or_else(|| "a local socket".into()),
        age.unwrap_or(0)
    ))
}

/// A CLI session running on the target while this promotion holds the lock belongs to no live promotion (each
/// runs its CLI under the lock): a push a killed run left behind, or someone's hand-run CLI. It could commit a file
/// while this push runs, and what happened would then not be what is recorded.
fn refuse_leftover_cli_sessions(session: &mut postgres::Client, target: &str) -> anyhow::Result<()> {
    let others: Vec<i32> = session
        .query(
            "select pid from pg_stat_activity where application_name = $1 and datname = current_database()",
            &[&cli::APPLICATION_NAME],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(blocked(Refusal::LeftoverCliSession { target: target.to_string(), pids: others }))
}
