//! Steps 6 to 8: the promotion lock, the push, verification against the live history, and the outcome written
//! down (the lock file, the record, the catalog and docs).

use crate::domain::major::Major;
use crate::domain::refusal::Refusal;
use std::collections::BTreeSet;

use anyhow::bail;

use crate::blocked::blocked;
use crate::domain::history::lock::{Lock, TargetState};
use crate::domain::history::migrations::Migration;
use crate::domain::history::statements;
use crate::edges::os::clock;
use crate::edges::os::interrupt::{Interrupted, SECOND_SIGNAL_BOUND};
use crate::edges::output::evidence;
use crate::edges::output::progress::{Spinner, say};
use crate::edges::supabase::cli::{self, Cli, Push, PushOutput};
use crate::edges::target::{CliTarget, Resolved};

use super::budget::AttemptOutcome;
use super::lock::TargetLock;
use super::record::{Failure, Outcome};
use super::{AfterPush, Batch, Promotion};
use crate::edges::supabase::stage::Stage;
use crate::edges::target::history::{self, Applied};

/// How long the CLI's orphaned sessions are waited for when they cannot be ended.
const ORPHAN_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// What the push did, and what the target's history says afterwards.
pub(super) struct Pushed {
    output: PushOutput,
    verified: anyhow::Result<Vec<Applied>>,
}

impl Promotion<'_> {
    /// Step 7: the push through the CLI, then the live history read again. A push that did not end cleanly
    /// may have left the CLI's session running on the server (a killed CLI's backend goes on with what it had
    /// sent, the history insert and COMMIT included): those sessions end before the history is read.
    pub(super) fn push(
        &mut self,
        cli: &Cli,
        target: &Resolved,
        cli_target: &CliTarget,
        stage: &Stage,
        plan: &Batch,
        lock: &mut TargetLock,
    ) -> anyhow::Result<Pushed> {
        // What the CLI is about to read is what was checked, rehearsed and reviewed, byte for byte.
        stage
            .verify(&plan.applied(), &plan.batch())
            .map_err(|e| blocked(Refusal::StageChanged { error: format!("{e:#}") }))?;
        let edited: Vec<&str> = crate::edges::migration_files::changed_since_read(&plan.batch())
            .into_iter()
            .map(|m| m.file_name.as_str())
            .collect();
        if !edited.is_empty() {
            eprintln!(
                "note: {} changed on disk during this promotion; the bytes read in step 1 (checked, rehearsed, reviewed) are what is pushed and recorded",
                edited.join(", ")
            );
        }
        self.options.interrupt.pushing(&target.name);
        let names: Vec<&str> = plan.batch.iter().map(|m| m.file_name.as_str()).collect();
        let spinner =
            Spinner::start(&format!("pushing {} migration(s) to {}", names.len(), target.name), self.options.format);
        // The CLI says which file it applies as it starts it: every file is seen, however quick.
        let line = |line: &str| {
            if let Some(file) = cli::applying(line) {
                let at = names.iter().position(|n| *n == file).map_or_else(|| "?".to_string(), |i| (i + 1).to_string());
                spinner.step(format!("applying {at}/{} {file}", names.len()));
            }
        };
        let announced = std::cell::Cell::new(false);
        let stop = || {
            let now = self.options.interrupt.requested();
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
        let output = {
            let push = |extra: &[(&'static str, String)]| {
                let watch = cli::Watch { stop: &stop, line: &line };
                cli.push_until(self.sh, (stage.path(), &cli_target.remote, extra), Push::Apply, watch)
            };
            let interrupted = || self.options.interrupt.requested();
            let staged = super::budget::Staged {
                stage,
                applied: plan.applied(),
                batch: plan.batch(),
                concurrent: plan
                    .analyses
                    .iter()
                    .map(|a| {
                        a.facts.iter().any(|(_, f)| matches!(f, crate::domain::lint::sql::Fact::Concurrently { .. }))
                    })
                    .collect(),
            };
            // The watcher signs in as the CLI does where it can: a role may cancel its own backends (the
            // fallback when a pooler drops PGOPTIONS); otherwise the lock's session watches.
            let mut as_cli = match &cli_target.remote {
                crate::edges::supabase::cli::Remote::Url(url) => crate::edges::postgres::connect(url).ok(),
                crate::edges::supabase::cli::Remote::Project(_) => None,
            };
            let session = as_cli.as_mut().unwrap_or(&mut lock.session);
            let (output, budget) = super::budget::push_within_budget(
                target,
                &staged,
                (cli_target.session_role(), session),
                &interrupted,
                &push,
            )?;
            self.record.lock_budget = budget;
            output
        };
        spinner.clear();
        if !output.success {
            self.record.invalid_indexes = super::notes::invalid_indexes(&mut lock.session, plan);
        }
        // A signal to the whole group can end the CLI before the loop above looks at the flag: say it now.
        stop();
        self.record.push_transcript = output.transcript.clone();
        // Whatever happens here, the history is read next: an unreachable target is reported there.
        let wait = if self.options.interrupt.abandoned() { SECOND_SIGNAL_BOUND / 2 } else { ORPHAN_WAIT };
        let settled =
            if output.success { Ok(0) } else { settle_orphans(&mut lock.session, cli_target.session_role(), wait) };
        match &settled {
            Ok(0) => {}
            Ok(ended) => {
                say(&format!("ended {ended} session(s) the CLI left running on {}", target.name));
                self.record.push_transcript.push_str(&format!("\n[xtask] ended {ended} orphaned CLI session(s)\n"));
            }
            Err(err) => say(&format!("warning: {}", crate::edges::output::redact::redact(&format!("{err:#}")))),
        }
        // Read over the session that holds the lock: a new login role now would be removed while our own lock
        // is held, and the note about a running promotion would be about this one.
        let verified = if self.options.interrupt.abandoned() {
            // Bounded: a second signal came. Unread is unknown, not "rolled back".
            settled.and_then(|_| bounded_read(&mut lock.session))
        } else {
            history::read_client(&mut lock.session).or_else(|_| history::read(self.sh, target, Some(cli), stage.path()))
        };
        Ok(Pushed { output, verified })
    }

    /// Step 8: the outcome, from the live history: the lock, the record, then the catalog and docs.
    pub(super) fn finish(&mut self, target: &Resolved, plan: &Batch, pushed: Pushed) -> anyhow::Result<()> {
        let Pushed { output, verified } = pushed;
        let history = match verified {
            Ok(history) => history,
            Err(err) => return self.unverified(target, plan, &output, &err),
        };
        let live = history.iter().map(|a| a.version.clone()).collect::<BTreeSet<_>>();
        let batch = plan.batch();
        let (applied, failed, rest) = history::outcome(&batch, &live);
        let ran = self.verify_ran(target, &applied, &history, super::ran::When::AfterPush);
        let new_head = applied.last().map(|m| m.version.clone()).or(self.record.head_before.clone());
        if !target.config.embedded && (!applied.is_empty() || !self.record.reconciled.is_empty()) {
            let mut lock = plan.lock.clone();
            self.record_head(&mut lock, target, &plan.files, new_head.as_deref(), "promote")?;
            self.repo.write_lock(&lock)?;
        }
        self.record.applied = applied.iter().map(|m| m.file_name.clone()).collect();
        self.record.not_attempted = rest.iter().map(|m| m.file_name.clone()).collect();
        self.record.head_after = new_head.clone();
        let interrupted = self.options.interrupt.requested();
        let error = match (interrupted, output.error.as_ref()) {
            (true, _) => "interrupted while it ran: rolled back, not applied".to_string(),
            (false, Some(err)) => cli::explain(err),
            (false, None) => output.transcript.clone(),
        };
        let advice = failed.map(|m| self.failure_advice(target, plan, m)).unwrap_or_default();
        self.record.failed =
            failed.map(|m| Failure { file: m.file_name.clone(), error: error.clone(), advice: advice.clone() });
        self.record.outcome = Some(match (interrupted, failed.is_some()) {
            (true, _) => Outcome::Interrupted,
            (false, true) => Outcome::Failed,
            (false, false) => Outcome::Promoted,
        });
        if target.config.embedded
            && let crate::edges::supabase::cli::Remote::Url(url) = &target.remote
        {
            self.note_stand_ins(url);
        }
        let md = self.write_record(target)?;
        if interrupted || failed.is_some() {
            self.options.interrupt.ending();
        } else {
            self.options.interrupt.recorded(&target.name);
        }
        let head = new_head.unwrap_or_else(|| "(none)".into());
        if interrupted {
            return Err(Interrupted(format!(
                "promote: interrupted during the push to {}: {} file(s) applied and recorded (head {head}){}; {} not attempted. \
                 Re-run `cargo xtask promote --target {}` to push the rest. Record: {md}",
                target.name,
                applied.len(),
                failed.map(|m| format!("; {} was rolled back", m.file_name)).unwrap_or_default(),
                rest.len(),
                target.name
            ))
            .into());
        }
        // The applied prefix changed the schema even when a later file failed; a push that applied nothing left
        // the catalog as it was.
        if self.options.after_push == AfterPush::RefreshCatalog && !applied.is_empty() {
            self.refresh_catalog(target);
        }
        ran?;
        let Some(m) = failed else { return Ok(()) };
        let what = if self.spent_budget() {
            format!("{} could not take its locks on {} within the lock budget", m.file_name, target.name)
        } else {
            let line = m.text().ok().and_then(|t| statements::failed_line(t, &error));
            let at = line.map_or(String::new(), |l| format!("\n    at {}:{l}", m.rel_path));
            format!("{} failed on {}:\n{}{at}", m.file_name, target.name, indent(&error))
        };
        Err(blocked(Refusal::PushFailed {
            what,
            applied: applied.len(),
            head,
            not_attempted: rest.len(),
            advice: advice.to_string(),
            record: md.to_string(),
            note: self.invalid_index_note(),
        }))
    }

    /// Whether the failed file ran out of its lock budget (rather than failing on its own).
    fn spent_budget(&self) -> bool {
        let last = self.record.lock_budget.as_ref().and_then(|b| b.attempts.last());
        last.is_some_and(|a| a.outcome == AttemptOutcome::LockTimeout)
    }

    /// The one thing to do about the file that failed, the same in the output and the record: nothing is wrong
    /// with it when it ran out of its lock budget; it must stay as it is when another target ran it (this target
    /// lacks something that one had); otherwise it ran nowhere, and it is corrected.
    fn failure_advice(&self, target: &Resolved, plan: &Batch, m: &Migration) -> String {
        let rerun = format!("`cargo xtask promote --target {}`", target.name);
        if let Some(budget) = self.record.lock_budget.as_ref().filter(|_| self.spent_budget()) {
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
        let elsewhere: Vec<&str> =
            plan.lock.recorded_on(&m.version).into_iter().filter(|n| *n != target.name).collect();
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
    fn invalid_index_note(&self) -> String {
        if self.record.invalid_indexes.is_empty() {
            return String::new();
        }
        let drops: Vec<String> =
            self.record.invalid_indexes.iter().map(|i| format!("DROP INDEX CONCURRENTLY IF EXISTS {i};")).collect();
        format!(
            "\nINVALID index(es) left by the CONCURRENTLY build: {}. Drop them before re-running (`{}`): `if not exists` would keep them as they are.",
            self.record.invalid_indexes.join(", "),
            drops.join(" ")
        )
    }

    /// The push did not finish cleanly and the target cannot be read: record nothing new, say how to recover.
    fn unverified(
        &mut self,
        target: &Resolved,
        plan: &Batch,
        output: &PushOutput,
        err: &anyhow::Error,
    ) -> anyhow::Result<()> {
        self.record.not_attempted = plan.batch.iter().map(|m| m.file_name.clone()).collect();
        if self.options.interrupt.abandoned() {
            self.record.outcome = Some(Outcome::Unknown);
            let md = self.write_record(target)?;
            self.options.interrupt.ending();
            return Err(Interrupted(format!(
                "promote: interrupted twice during the push to {0}: the CLI was ended, but what {0} holds could not be read within the bound ({1}): the state of {0} is unknown: run `cargo xtask status --live --target {0}`; the next `cargo xtask promote --target {0}` reconciles it. Record: {md}",
                target.name,
                crate::edges::output::redact::redact(&format!("{err:#}"))
            ))
            .into());
        }
        self.record.outcome = Some(Outcome::Unverified);
        self.write_record(target)?;
        self.options.interrupt.ending();
        let cli_error = output.error.as_ref().map(cli::explain).unwrap_or_default();
        Err(blocked(Refusal::PushUnverified {
            cli_error,
            error: crate::edges::output::redact::redact(&format!("{err:#}")),
            target: target.name.clone(),
        }))
    }

    /// Nothing to push. Files an interrupted promotion applied are recorded now ("reconciled").
    pub(super) fn up_to_date(
        &mut self,
        target: &Resolved,
        plan: &mut Batch,
        head: Option<String>,
    ) -> anyhow::Result<()> {
        let repin = self.options.repin.is_some();
        // What the promotion this one waited for applied is recorded by that promotion, in its own checkout.
        if let Some(waited) = &self.record.waited {
            self.record.reconciled.retain(|f| !waited.appeared.iter().any(|v| f.starts_with(&format!("{v}_"))));
        }
        if (!self.record.reconciled.is_empty() || repin) && !target.config.embedded {
            let by = if repin { "promote --repin" } else { "promote (reconciled)" };
            self.record_head(&mut plan.lock, target, &plan.files, head.as_deref(), by)?;
            self.repo.write_lock(&plan.lock)?;
            if !self.record.reconciled.is_empty() {
                eprintln!(
                    "reconciled: recorded {} applied by an interrupted promotion",
                    self.record.reconciled.join(", ")
                );
            }
        }
        self.record.head_after = head;
        self.record.outcome = Some(Outcome::UpToDate);
        if !self.record.reconciled.is_empty() || repin {
            self.write_record(target)?;
        }
        Ok(())
    }

    /// The runbook's post-promotion refresh: snapshot and SCHEMA_CATALOG.<TARGET>.md. The push already
    /// happened, so a failure here is reported, not fatal.
    fn refresh_catalog(&self, target: &Resolved) {
        let result = {
            let _spinner = Spinner::start("reading the catalog", self.options.format);
            crate::edges::target::catalog::read(self.sh, self.repo, target)
        }
        .and_then(|snapshot| {
            let path = crate::catalog::write(self.repo, &target.name, &snapshot)?;
            crate::docs::refresh(self.repo, &target.name, crate::edges::os::fsutil::Mode::Write)?;
            Ok(path)
        });
        match result {
            Ok(path) => eprintln!("catalog: refreshed {path} and {}", self.repo.rel(&self.repo.doc_path(&target.name))),
            Err(err) => eprintln!(
                "warning: the catalog refresh failed ({}); run `cargo xtask catalog --target {1}` and `cargo xtask docs-refresh --target {1}`",
                crate::edges::output::redact::redact(&format!("{err:#}")),
                target.name
            ),
        }
    }

    /// `<utc>-<target>.{md,json}`; returns the Markdown file's path as people see it.
    fn write_record(&mut self, target: &Resolved) -> anyhow::Result<String> {
        if let Some(last) = self.record.timings_ms.last_mut() {
            last.1 = self.step_started.elapsed().as_millis();
        }
        let finished = clock::now();
        if let Some(window) = self.record.cutover.as_mut().and_then(|c| c.window.as_mut()) {
            window.end = Some(clock::utc(finished));
        }
        self.record.finished_at = Some(finished);
        let dir = self.repo.promotions_dir(target.record_place());
        let stem = format!("{}-{}", clock::file_stamp(self.record.started_at), target.name);
        let md = self.record.render_md();
        let written = evidence::write(&dir, &stem, &self.record, &md)?;
        let md = self.repo.rel(&written.md);
        self.record.written = Some(md.clone());
        Ok(md)
    }
}

/// The history over the lock's session, within what is left of a second signal's bound.
fn bounded_read(session: &mut postgres::Client) -> anyhow::Result<Vec<Applied>> {
    let ms = (SECOND_SIGNAL_BOUND / 4).as_millis() as i64;
    session.execute(&format!("set statement_timeout = {ms}"), &[])?;
    history::read_client(session)
}

/// Each line of the CLI's message on a line of its own, indented under the file it is about.
fn indent(text: &str) -> String {
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

impl Promotion<'_> {
    /// Moves the target's head to `head` (and the heads of its other names for the same database, which must
    /// share it), records the checksum of every file up to it, and pins the database seen in step 2.
    fn record_head(
        &mut self,
        lock: &mut Lock,
        target: &Resolved,
        files: &[Migration],
        head: Option<&str>,
        by: &str,
    ) -> anyhow::Result<()> {
        self.note_major(target);
        let Some(head) = head else { return Ok(()) };
        for m in files.iter().filter(|m| m.version.as_str() <= head) {
            if !lock.files.contains_key(&m.file_name) {
                lock.files.insert(m.file_name.clone(), m.checksum().to_string());
            }
        }
        let names = std::iter::once(target.name.as_str())
            .chain(crate::edges::target::same_database(&self.repo.config, &target.name));
        for name in names.collect::<Vec<_>>() {
            let previous = lock.targets.get(name);
            let (identity, server) = match &self.identity_seen {
                Some(seen) => (Some(seen.place.clone()), seen.live.clone()),
                None => (previous.and_then(|p| p.identity.clone()), previous.and_then(|p| p.server.clone())),
            };
            let major = self.record.postgres.and_then(|n| Major::try_from(n).ok()).or(previous.and_then(|p| p.major));
            let state = TargetState {
                head: head.to_string(),
                recorded_at: clock::now(),
                recorded_by: by.to_string(),
                identity,
                server,
                major,
                role_model: self.record.role_model.or(previous.and_then(|p| p.role_model)),
            };
            lock.targets.insert(name.to_string(), state);
        }
        Ok(())
    }
}
