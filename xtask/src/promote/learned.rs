//! What the steps of a promotion returned, kept as values, and the record folded from them (`Learned::fold`):
//! the same fold for the record written in step 8, the review shown in step 6 and the report of a promotion
//! stopped anywhere (refinery's `Report`, carried to the end whatever the outcome).

use std::time::Instant;

use crate::domain::findings::Finding;
use crate::domain::history::identity::Identity;
use crate::edges::os::clock;
use crate::edges::os::interrupt::{Interrupt, Interrupted};
use crate::edges::output::evidence;
use crate::edges::target::Resolved;

use super::cutover::Cutover;
use super::finish::{Ended, Known};
use super::gates::{Connected, DryRun, Pinned, Tools};
use super::lock::Waited;
use super::notes::Noted;
use super::push::Facts;
use super::record::{Outcome, Record, RecordFile};
use super::rehearse::Rehearsal;
use super::{BEFORE_THE_PUSH, Ctx};

/// Each field is what one step returned (`None` or empty: the step did not get that far).
pub(super) struct Learned {
    target: String,
    started_at: chrono::DateTime<chrono::Utc>,
    started: Instant,
    step_started: Instant,
    timings: Vec<(String, u128)>,
    /// Step 1: the target as people see it (once resolved), the tools, the pin and the connection.
    pub endpoint: String,
    pub tools: Option<Tools>,
    pub pinned: Option<Pinned>,
    pub connected: Option<Connected>,
    /// Step 2: the prefix an interrupted promotion applied, the unverifiable applied files, the head, the
    /// batch and its findings; the cutover gate's findings.
    pub reconciled: Vec<String>,
    pub unverifiable: Vec<String>,
    pub head_before: Option<String>,
    pub batch: Vec<RecordFile>,
    pub findings: Vec<Finding>,
    pub cutover: Option<Cutover>,
    /// Step 4 (protected targets).
    pub rehearsal: Option<Rehearsal>,
    /// Why the exposure review was not computed, where no local shadow is built.
    pub exposure_not_computed: Option<String>,
    /// Step 5: the other promotion this one waited for.
    pub waited: Option<Waited>,
    /// Step 6: what the CLI's dry-run listed.
    pub dry_run: Option<DryRun>,
    /// Step 7: the push's attempts and transcript.
    pub pushed: Option<Facts>,
    /// Step 8 (or step 2 when up to date): what the target holds now.
    pub ended: Option<Ended>,
    pub outcome: Option<Outcome>,
    /// Set when the record is written.
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    written: Option<String>,
}

impl Learned {
    pub(super) fn new(target: &str) -> Learned {
        let now = Instant::now();
        Learned {
            target: target.to_string(),
            started_at: clock::now(),
            started: now,
            step_started: now,
            timings: Vec::new(),
            endpoint: String::new(),
            tools: None,
            pinned: None,
            connected: None,
            reconciled: Vec::new(),
            unverifiable: Vec::new(),
            head_before: None,
            batch: Vec::new(),
            findings: Vec::new(),
            cutover: None,
            rehearsal: None,
            exposure_not_computed: None,
            waited: None,
            dry_run: None,
            pushed: None,
            ended: None,
            outcome: None,
            finished_at: None,
            written: None,
        }
    }

    /// Starts step `n`, unless an interruption came: then nothing more is done (the locks and the stage go with
    /// the values that hold them) and nothing was pushed yet.
    pub(super) fn step(&mut self, interrupt: &Interrupt, n: usize, what: &str) -> anyhow::Result<()> {
        if n <= 7 && interrupt.requested() {
            return Err(Interrupted(BEFORE_THE_PUSH.into()).into());
        }
        let now = Instant::now();
        if let Some(last) = self.timings.last_mut() {
            last.1 = (now - self.step_started).as_millis();
        }
        self.step_started = now;
        self.timings.push((what.to_string(), 0));
        // Never a panic for a terminal that hung up: the push may be under way, its record still to write.
        crate::edges::output::progress::say(&format!("[{n}/8] {what}  (+{:.1}s)", (now - self.started).as_secs_f64()));
        Ok(())
    }

    /// The database the target is (step 1), pinned in the lock when the head is recorded.
    pub(super) fn identity(&self) -> Option<&Identity> {
        self.pinned.as_ref().and_then(|p| p.seen.as_ref())
    }

    /// The target's major and role model as known so far: the rehearsal's shadow says it, else step 1 did.
    fn noted(&self) -> Noted {
        let rehearsed = self.rehearsal.as_ref().and_then(|r| r.shadow).map(Noted::from);
        let known = rehearsed.unwrap_or_else(|| self.connected.as_ref().map(|c| c.noted).unwrap_or_default());
        self.ended.as_ref().map_or(known, |e| known.or(e.noted))
    }

    /// What recording the head needs from the earlier steps.
    pub(super) fn known(&self) -> Known<'_> {
        Known { identity: self.identity(), noted: self.noted() }
    }

    /// `<utc>-<target>.{md,json}`; returns the Markdown file's path as people see it.
    pub(super) fn write(&mut self, ctx: &Ctx, target: &Resolved) -> anyhow::Result<String> {
        if let Some(last) = self.timings.last_mut() {
            last.1 = self.step_started.elapsed().as_millis();
        }
        self.finished_at = Some(clock::now());
        let record = self.fold();
        let dir = ctx.repo.promotions_dir(target.record_place());
        let stem = format!("{}-{}", clock::file_stamp(self.started_at), target.name);
        let written = evidence::write(&dir, &stem, &record, &record.render_md())?;
        let md = ctx.repo.rel(&written.md);
        self.written = Some(md.clone());
        Ok(md)
    }

    /// The record, from what every step that ran returned.
    pub(super) fn fold(&self) -> Record {
        let noted = self.noted();
        let (tools, pinned) = (self.tools.as_ref(), self.pinned.as_ref());
        let (rehearsal, pushed, ended) = (self.rehearsal.as_ref(), self.pushed.as_ref(), self.ended.as_ref());
        let mut cutover = self.cutover.clone();
        if let Some(c) = cutover.as_mut() {
            c.rollback_rehearsal = rehearsal.and_then(|r| r.rollback.clone());
            if let Some(window) = c.window.as_mut() {
                window.end = self.finished_at;
            }
        }
        let mut unverifiable = self.unverifiable.clone();
        unverifiable.extend(ended.iter().flat_map(|e| e.unverifiable.iter().cloned()));
        let stand_ins = ended.and_then(|e| e.stand_ins.clone()).or_else(|| rehearsal.and_then(|r| r.stand_ins.clone()));
        Record {
            target: self.target.clone(),
            endpoint: self.endpoint.clone(),
            connection: self.connected.as_ref().and_then(|c| c.connection),
            identity: self.identity().map(ToString::to_string),
            repinned: pinned.and_then(|p| p.repinned.clone()),
            started_at: self.started_at,
            finished_at: self.finished_at,
            cli_version: tools.map(|t| t.cli_version.clone()).unwrap_or_default(),
            git_commit: tools.and_then(|t| t.git_commit.clone()),
            head_before: self.head_before.clone(),
            head_after: ended.and_then(|e| e.head_after.clone()),
            outcome: self.outcome,
            error: None,
            refusal: None,
            batch: self.batch.clone(),
            reconciled: self.reconciled.clone(),
            applied: ended.map(|e| e.applied.clone()).unwrap_or_default(),
            failed: ended.and_then(|e| e.failed.clone()),
            not_attempted: ended.map(|e| e.not_attempted.clone()).unwrap_or_default(),
            unverifiable,
            rehearsal: rehearsal.and_then(|r| r.summary.clone()),
            postgres: noted.postgres,
            role_model: noted.role_model,
            history_note: rehearsal.and_then(|r| r.history_note.clone()),
            stand_ins: stand_ins.unwrap_or_default(),
            waited: self.waited.clone(),
            lock_budget: pushed.and_then(|p| p.lock_budget.clone()),
            invalid_indexes: pushed.map(|p| p.invalid_indexes.clone()).unwrap_or_default(),
            cutover,
            impact: rehearsal.map(|r| r.impact.clone()).unwrap_or_default(),
            exposure: rehearsal.and_then(|r| r.exposure.clone()),
            exposure_not_computed: self.exposure_not_computed.clone(),
            findings: self.findings.clone(),
            dry_run: self.dry_run.as_ref().map(|d| d.listed.clone()).unwrap_or_default(),
            dry_run_transcript: self.dry_run.as_ref().map(|d| d.transcript.clone()).unwrap_or_default(),
            push_transcript: pushed.map(|p| p.transcript.clone()).unwrap_or_default(),
            timings_ms: self.timings.clone(),
            written: self.written.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::platform::RoleModel;

    #[test]
    fn a_stopped_promotion_keeps_what_its_steps_learned_and_the_rehearsal_says_the_major() {
        let mut learned = Learned::new("prod");
        learned.connected = Some(Connected {
            connection: None,
            noted: Noted { postgres: Some(15), role_model: Some(RoleModel::PlainOwner) },
        });
        learned.dry_run = Some(DryRun { listed: vec!["1_a.sql".into()], transcript: "listed 1_a.sql".into() });
        let record = learned.fold();
        assert_eq!((record.target.as_str(), record.postgres, record.outcome), ("prod", Some(15), None));
        assert_eq!(
            (record.dry_run, record.dry_run_transcript.as_str()),
            (vec!["1_a.sql".to_string()], "listed 1_a.sql")
        );

        let major = crate::domain::major::Major::try_from(17).unwrap();
        learned.rehearsal = Some(Rehearsal { shadow: Some((major, RoleModel::Platform)), ..Default::default() });
        let record = learned.fold();
        assert_eq!((record.postgres, record.role_model), (Some(17), Some(RoleModel::Platform)));
        assert!(record.finished_at.is_none() && record.written.is_none(), "nothing was written");
    }
}
