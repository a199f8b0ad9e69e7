//! Step 7's lock budget, the edge of it (the budgets, pauses and segments are `crate::domain::promotion::budget`;
//! docs/design.md, "The lock budget"): every statement the CLI runs for the batch waits at most `lock_timeout` for a lock (`PGOPTIONS`, which the CLI's session honours), so production's traffic never queues
//! behind a blocked DDL for longer. A file that fails on it (SQLSTATE 55P03) is pushed again after a pause with a
//! growing budget (1x, 2x, 4x: the cap), up to `lock_retries` times. While the CLI pushes, the xtask's own
//! session watches the CLI's backends: one waiting on a lock for over a second has its blockers named, and one
//! waiting past the budget (a path that dropped `PGOPTIONS`) is cancelled by the xtask itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use anyhow::Context;

use crate::domain::history::migrations::Migration;
use crate::domain::promotion::budget::{Budget, segments};
use crate::edges::output::progress::say;
use crate::edges::supabase::cli;
use crate::edges::supabase::cli::PushOutput;
use crate::edges::supabase::stage::Stage;
use crate::edges::target::Resolved;

/// `PGOPTIONS` for the CLI: the caller's own options kept, the budget added. Written `--name=value`, which
/// Postgres takes like `-c name=value` and Supavisor (the pooler) has parsed from its first releases on; a
/// pooler that drops it leaves the budget to `watch`, which cancels the wait itself.
pub fn pgoptions(budget: Duration) -> String {
    let ours = format!("--lock_timeout={}ms", budget.as_millis());
    match std::env::var("PGOPTIONS") {
        Ok(theirs) if !theirs.trim().is_empty() => format!("{theirs} {ours}"),
        _ => ours,
    }
}

/// What the record keeps of the budget and each attempt.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LockBudget {
    pub lock_timeout_ms: u128,
    pub retries: u32,
    pub attempts: Vec<Attempt>,
}

/// How one attempt of a segment ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptOutcome {
    #[default]
    Applied,
    /// A statement waited past its lock budget and was cancelled: nothing of the segment stayed.
    LockTimeout,
    Failed,
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AttemptOutcome::Applied => "applied",
            AttemptOutcome::LockTimeout => "lock-timeout",
            AttemptOutcome::Failed => "failed",
        })
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Attempt {
    pub attempt: u32,
    /// The files this attempt pushed (a CONCURRENTLY file is pushed on its own).
    pub files: Vec<String>,
    /// `None`: a CONCURRENTLY file, which runs without a budget.
    pub budget_ms: Option<u128>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: u128,
    pub outcome: AttemptOutcome,
    /// The longest a CLI statement was seen waiting for a lock.
    pub waited_ms: u128,
    pub blockers: Vec<Blocker>,
    /// Per file of this attempt that the watcher saw running: how long from its first statement to what came
    /// next (a file done within one look, 100 ms, is not seen: `null`).
    pub file_ms: Vec<(String, Option<u128>)>,
    /// Set when the xtask cancelled a statement waiting past the budget (the server did not apply it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_pid: Option<i32>,
}

impl LockBudget {
    pub fn render_md(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "\n## Lock budget\n\nlock_timeout {} ms for every statement, up to {} retries (budget doubling, at most 4x).\n",
            self.lock_timeout_ms, self.retries
        );
        for a in &self.attempts {
            let _ = writeln!(
                out,
                "- attempt {} at {} ({}): {} after {} ms ({}, longest lock wait {} ms)",
                a.attempt,
                crate::edges::os::clock::utc(a.started_at),
                a.files.join(", "),
                a.outcome,
                a.duration_ms,
                a.budget_ms.map_or("no budget: CONCURRENTLY".to_string(), |b| format!("budget {b} ms")),
                a.waited_ms
            );
            for b in &a.blockers {
                let _ = writeln!(out, "  - blocked by {b}");
            }
            for (file, ms) in a.file_ms.iter().filter_map(|(f, ms)| Some((f, (*ms)?))) {
                let _ = writeln!(out, "  - `{file}`: {ms} ms");
            }
        }
    }

    /// The blockers of the last attempt, for the failure message.
    pub fn last_blockers(&self) -> Vec<String> {
        self.attempts.last().map(|a| a.blockers.iter().map(ToString::to_string).collect()).unwrap_or_default()
    }

    /// How many attempts the last segment (the files that failed) had.
    pub fn last_tries(&self) -> usize {
        let Some(last) = self.attempts.last() else { return 0 };
        self.attempts.iter().filter(|a| a.files == last.files).count()
    }
}

/// A session the CLI's statement waited for (`pg_blocking_pids`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocker {
    pub pid: i32,
    pub user: Option<String>,
    pub application_name: Option<String>,
    pub state: Option<String>,
    /// Seconds since its transaction began.
    pub transaction_age_s: Option<i64>,
    /// The start of its current or last query.
    pub query: Option<String>,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        write!(
            f,
            "pid {} ({}, user {}, {}{}): {}",
            self.pid,
            or(&self.application_name),
            or(&self.user),
            self.state.as_deref().map_or("?".to_string(), |s| s.to_uppercase()),
            self.transaction_age_s.map(|s| format!(", transaction open {s} s")).unwrap_or_default(),
            or(&self.query)
        )
    }
}

/// SQLSTATE `lock_not_available`: the statement's `lock_timeout` ran out.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// A push failed on the budget: the CLI's error is SQLSTATE 55P03, or the xtask cancelled the wait.
pub fn lock_timed_out(output: &PushOutput, attempt: &Attempt) -> bool {
    let text = output.error.as_ref().map_or(output.transcript.as_str(), |e| e.message.as_str());
    !output.success && (cli::sqlstate(text) == Some(LOCK_NOT_AVAILABLE) || attempt.cancelled_pid.is_some())
}

/// One push of the CLI with these variables added to its environment.
pub(super) type PushWith<'a> = dyn Fn(&[(&'static str, String)]) -> anyhow::Result<PushOutput> + 'a;

/// Where one push runs: the staged workdir, refilled per segment, and what it is filled with.
pub(super) struct Staged<'a> {
    pub stage: &'a Stage,
    pub applied: &'a [&'a Migration],
    pub batch: &'a [&'a Migration],
    /// Per batch file: it runs CONCURRENTLY statements (no budget, below).
    pub concurrent: Vec<bool>,
}

/// The push under the target's budget, segment by segment (`segments`): a budgeted segment is attempted until
/// it applies, fails for another reason, its retries are spent or `interrupted`; a CONCURRENTLY file runs
/// without a budget. Each attempt is recorded. Without a budget (the embedded database), one plain push.
pub(super) fn push_within_budget(
    target: &Resolved,
    staged: &Staged,
    (cli_role, session): (Option<&str>, &mut postgres::Client),
    interrupted: &dyn Fn() -> bool,
    push: &PushWith,
) -> anyhow::Result<(PushOutput, Option<LockBudget>)> {
    let Some(budget) = target.config.budget()? else { return Ok((push(&[])?, None)) };
    let mut record =
        LockBudget { lock_timeout_ms: budget.lock_timeout.as_millis(), retries: budget.retries, attempts: vec![] };
    let mut transcript = String::new();
    let segments = segments(&staged.concurrent);
    let mut output = None;
    for (range, budgeted) in &segments {
        if segments.len() > 1 {
            staged.stage.fill(staged.applied, &staged.batch[..range.end])?;
        }
        let budget = budgeted.then_some(budget);
        let files = &staged.batch[range.clone()];
        let out = attempts(budget, files, (cli_role, &mut *session), interrupted, push, &mut record, &mut transcript)?;
        let success = out.success;
        output = Some(out);
        if !success || interrupted() {
            break;
        }
    }
    let output = output.context("no batch to push")?;
    Ok((PushOutput { transcript, ..output }, Some(record)))
}

/// One segment: attempts under a growing budget (`None`: one attempt, no budget, still watched).
fn attempts(
    budget: Option<Budget>,
    files: &[&Migration],
    (cli_role, session): (Option<&str>, &mut postgres::Client),
    interrupted: &dyn Fn() -> bool,
    push: &PushWith,
    record: &mut LockBudget,
    transcript: &mut String,
) -> anyhow::Result<PushOutput> {
    let mut n = 0;
    loop {
        let wait = budget.map(|b| b.for_attempt(n));
        let mut attempt = Attempt {
            attempt: record.attempts.len() as u32 + 1,
            files: files.iter().map(|m| m.file_name.clone()).collect(),
            budget_ms: wait.map(|w| w.as_millis()),
            started_at: crate::edges::os::clock::now(),
            ..Default::default()
        };
        let started = Instant::now();
        let done = AtomicBool::new(false);
        let mut seen = Seen::default();
        let env: Vec<(&'static str, String)> = wait.map(|w| ("PGOPTIONS", pgoptions(w))).into_iter().collect();
        let output = std::thread::scope(|scope| {
            scope.spawn(|| watch(session, cli_role, wait, &done, (&mut attempt, &mut seen)));
            // The watcher ends with the push, even if the push panics.
            let _ends = Ends(&done);
            push(&env)
        })?;
        let texts: Vec<(String, String)> =
            files.iter().map(|m| Ok((m.file_name.clone(), m.text()?.to_string()))).collect::<anyhow::Result<_>>()?;
        let now: Option<i64> =
            session.query_one("select (extract(epoch from now()) * 1000)::int8", &[]).ok().map(|r| r.get(0));
        attempt.file_ms = seen.durations(&texts, now.unwrap_or_else(|| chrono::Utc::now().timestamp_millis()));
        attempt.duration_ms = started.elapsed().as_millis();
        let timed_out = lock_timed_out(&output, &attempt);
        attempt.outcome = match (output.success, timed_out) {
            (true, _) => AttemptOutcome::Applied,
            (false, true) => AttemptOutcome::LockTimeout,
            (false, false) => AttemptOutcome::Failed,
        };
        let said =
            wait.map_or("no lock budget: CONCURRENTLY".to_string(), |w| format!("lock_timeout {} ms", w.as_millis()));
        transcript.push_str(&format!("[xtask] attempt {} ({said})\n{}", attempt.attempt, output.transcript));
        record.attempts.push(attempt);
        let Some(b) = budget.filter(|b| timed_out && n < b.retries && !interrupted()) else { return Ok(output) };
        n += 1;
        let pause = b.pause_before(n);
        say(&format!(
            "       lock budget spent; try {} of {} in {} s with lock_timeout {} ms",
            n + 1,
            b.retries + 1,
            pause.as_secs(),
            b.for_attempt(n).as_millis()
        ));
        std::thread::sleep(pause);
    }
}

/// What the CLI's backends run now: the start of the statement (epoch ms) and its first characters.
const RUNNING: &str = "select (extract(epoch from query_start) * 1000)::int8, left(query, 200) from pg_stat_activity \
     where (application_name = $1 or usename = $2) and datname = current_database() and pid <> pg_backend_pid() \
     and state = 'active'";

/// Statements seen running, in order of their start (epoch ms), each once.
#[derive(Default)]
pub struct Seen(Vec<(i64, String)>);

impl Seen {
    fn look(&mut self, session: &mut postgres::Client, cli_role: Option<&str>) {
        let Ok(rows) = session.query(RUNNING, &[&crate::edges::supabase::cli::APPLICATION_NAME, &cli_role]) else {
            return;
        };
        for row in rows {
            let (start, query): (Option<i64>, Option<String>) = (row.get(0), row.get(1));
            if let (Some(start), Some(query)) = (start, query)
                && !self.0.iter().any(|(s, q)| *s == start && *q == query)
            {
                self.0.push((start, query));
            }
        }
        self.0.sort();
    }

    /// Each file's time: from the first statement seen that it holds to the next statement seen that it does
    /// not (the history insert after it, or the next file); the last one to `end_ms`.
    pub fn durations(&self, files: &[(String, String)], end_ms: i64) -> Vec<(String, Option<u128>)> {
        let squash = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let texts: Vec<String> = files.iter().map(|(_, t)| squash(t)).collect();
        let owner = |query: &str| {
            let q = squash(query);
            let probe: String = q.chars().take(60).collect();
            (!probe.is_empty()).then(|| texts.iter().position(|t| t.contains(&probe))).flatten()
        };
        let owners: Vec<Option<usize>> = self.0.iter().map(|(_, q)| owner(q)).collect();
        files
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let first = owners.iter().position(|o| *o == Some(i));
                let ms = first.map(|f| {
                    let next = (f + 1..self.0.len()).find(|&j| owners[j] != Some(i)).map_or(end_ms, |j| self.0[j].0);
                    (next - self.0[f].0).max(0) as u128
                });
                (name.clone(), ms)
            })
            .collect()
    }
}

/// Sets its flag when dropped.
struct Ends<'a>(&'a AtomicBool);

impl Drop for Ends<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The CLI's backends waiting on a lock, with how long, and who blocks them.
/// (`waitstart` can be null for a moment after a wait starts: then the query's start stands in.)
const WAITING: &str = "select a.pid, (extract(epoch from now() - coalesce(min(l.waitstart), a.query_start)) * 1000)::int8, \
     array(select b.pid from unnest(pg_blocking_pids(a.pid)) as b(pid)) \
     from pg_stat_activity a join pg_locks l on l.pid = a.pid and not l.granted \
     where (a.application_name = $1 or a.usename = $2) and a.datname = current_database() and a.pid <> pg_backend_pid() \
     group by a.pid, a.query_start";

const BLOCKERS: &str = "select pid, usename::text, application_name, state, \
     extract(epoch from now() - xact_start)::int8, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) \
     from pg_stat_activity where pid = any($1)";

/// Watches until `done`: fills `attempt` with the longest wait and the blockers seen; cancels a wait that
/// outlives the budget by 2 s.
pub fn watch(
    session: &mut postgres::Client,
    cli_role: Option<&str>,
    budget: Option<Duration>,
    done: &AtomicBool,
    (attempt, seen): (&mut Attempt, &mut Seen),
) {
    let mut named = false;
    while !done.load(Ordering::Relaxed) {
        let started = Instant::now();
        seen.look(session, cli_role);
        let rows = session.query(WAITING, &[&crate::edges::supabase::cli::APPLICATION_NAME, &cli_role]);
        for row in rows.into_iter().flatten() {
            let (pid, waited, blocking): (i32, Option<i64>, Vec<i32>) = (row.get(0), row.get(1), row.get(2));
            let waited = waited.unwrap_or(0).max(0) as u128;
            attempt.waited_ms = attempt.waited_ms.max(waited);
            // Named after a second, or half the budget when that is shorter (the wait ends at the budget).
            let limit = budget.map_or(u128::MAX, |b| b.as_millis());
            if waited >= (limit / 2).min(1000) && !blocking.is_empty() {
                let found = blockers(session, &blocking);
                if !named && !found.is_empty() {
                    named = true;
                    for b in &found {
                        say(&format!("       waiting {:.1} s for a lock held by {b}", waited as f64 / 1000.0));
                    }
                }
                for b in found {
                    if !attempt.blockers.iter().any(|x| x.pid == b.pid) {
                        attempt.blockers.push(b);
                    }
                }
            }
            if waited > limit.saturating_add(2000) && attempt.cancelled_pid.is_none() {
                let _ = session.query("select pg_cancel_backend($1)", &[&pid]);
                attempt.cancelled_pid = Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(100).saturating_sub(started.elapsed()));
    }
}

fn blockers(session: &mut postgres::Client, pids: &[i32]) -> Vec<Blocker> {
    let Ok(rows) = session.query(BLOCKERS, &[&pids]) else { return Vec::new() };
    rows.iter()
        .map(|r| Blocker {
            pid: r.get(0),
            user: r.get(1),
            application_name: r.get(2),
            state: r.get(3),
            transaction_age_s: r.get(4),
            query: r.get(5),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_time_runs_from_its_first_statement_seen_to_the_next_statement() {
        let seen = Seen(vec![
            (1_000, "alter table public.a add column b int".into()),
            (1_400, "insert into supabase_migrations.schema_migrations(version) values ($1)".into()),
            (1_500, "create   index concurrently if not exists c_idx on public.c (x)".into()),
        ]);
        let files = [
            ("1_a.sql".to_string(), "-- why\nalter table public.a add column b int;\n".to_string()),
            ("2_quick.sql".to_string(), "select 1;\n".to_string()),
            ("3_c.sql".to_string(), "create index concurrently if not exists c_idx on public.c (x);\n".to_string()),
        ];
        assert_eq!(
            seen.durations(&files, 4_000),
            [
                ("1_a.sql".to_string(), Some(400)),
                ("2_quick.sql".to_string(), None),
                ("3_c.sql".to_string(), Some(2_500))
            ]
        );
    }

    #[test]
    fn a_blocker_reads_as_who_and_what() {
        let b = Blocker {
            pid: 42,
            user: Some("postgres".into()),
            application_name: Some("report-job".into()),
            state: Some("idle in transaction".into()),
            transaction_age_s: Some(93),
            query: Some("select count(*) from public.problems".into()),
        };
        assert_eq!(
            b.to_string(),
            "pid 42 (report-job, user postgres, IDLE IN TRANSACTION, transaction open 93 s): select count(*) from public.problems"
        );
    }
}
