//! Why a command said no (exit 1): one variant per refusal, its message the sentence users and tests read, and a
//! stable `kind()` the json documents carry as `"refusal"`. Commands added later add their variants here.

use crate::domain::history::live::Mismatch;

/// A refusal. The message names the fix; `kind()` groups the variants a script tells apart (design.md, "Refusals").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    // --- stale_file: a committed file no longer matches what it is generated from.
    #[error("{doc} is stale; regenerate it with `cargo xtask docs-refresh --target {target}`")]
    StaleDoc { doc: String, target: String },
    #[error(
        "{file} is missing: nothing was captured from {target} yet. Capture it with `cargo xtask platform-baseline --target {target}`"
    )]
    BaselineMissing { file: String, target: String },
    #[error(
        "{file} is stale: {target} changed its platform schemas. Review the change, then `cargo xtask platform-baseline --target {target}`"
    )]
    StaleBaseline { file: String, target: String },

    // --- blocking_findings: `check` found what must be fixed first.
    #[error("check: {count} blocking finding(s); fix them and run `cargo xtask check` again")]
    CheckFindings { count: usize },
    #[error(
        "review: {count} blocking finding(s); fix them (the safe rewrites above; `cargo xtask fix` writes the mechanical ones) and run `cargo xtask review --base {base}` again"
    )]
    ReviewFindings { count: usize, base: String },
    #[error(
        "status: {count} finding(s) break the push ({codes}), so {target}'s live history was not compared: fix them (`cargo xtask check` names each fix), then run `cargo xtask status --target {target} --live` again"
    )]
    StatusFindings { count: usize, codes: String, target: String },
    #[error(
        "status: {count} file(s) sort before {target}'s head but were never applied; run `cargo xtask check` for the fix"
    )]
    UnappliedBeforeHead { count: usize, target: String },
    #[error(
        "promote: `cargo xtask check` has {count} finding(s) above that would make the push itself fail (a duplicate version, a file out of order, a file the CLI skips, a file that does not parse); nothing was pushed. Fix them, then re-run"
    )]
    PushBreakingFindings { count: usize },
    #[error(
        "promote: `cargo xtask check` has {count} blocking finding(s) in what this promotion pushes (listed above); nothing was pushed. Fix them, or promote the files before them with --until"
    )]
    PromoteFindings { count: usize },

    // --- exposure: the batch makes something reachable through the Data API that no file acknowledges.
    #[error(
        "{command}: the batch exposes {count} object(s) through {target}'s Data API ({objects}) that no file acknowledges{nothing}. Fix each as its finding says, or, where it is meant, write `-- xtask: ack exposure: <reason>` in the file named"
    )]
    Exposure { command: String, count: usize, objects: String, target: String, nothing: String },
    #[error(
        "promote: what the batch exposes through {target}'s Data API could not be computed ({error}); nothing was pushed. Fix the cause (set `exposed_schemas` in [targets.{target}] when the Management API cannot be asked), then re-run"
    )]
    ExposureUnknown { target: String, error: String },

    // --- rehearsal_failed: the batch (or a cutover's rollback) fails on a local shadow.
    #[error(
        "review: the batch fails on a shadow at {target}'s recorded head (above); `promote` would refuse it. Fix the file and run `cargo xtask review --base {base}` again"
    )]
    ReviewBatchFails { target: String, base: String },
    #[error("promote: rehearsal of the {part} failed on a local shadow; nothing was pushed to {target}:\n{error}")]
    RehearsalFailed { part: String, target: String, error: String },
    #[error(
        "promote: the rollback of {file} fails after the cutover on a local shadow; nothing was pushed to {target}: {error}"
    )]
    RollbackFailsOnShadow { file: String, target: String, error: String },
    #[error(
        "promote: the rollback of {file} does not restore the schema from before the cutover ({count} difference(s), rehearsed on a local shadow); nothing was pushed to {target}. Fix the rollback so it undoes every change:{shown}"
    )]
    RollbackDoesNotRestore { file: String, count: usize, target: String, shown: String },

    // --- not_rehearsed: the rehearse_on target has not applied this batch.
    #[error(
        "promote: the batch is not rehearsed on {other} (rehearse_on): {problems}; nothing was pushed. Promote it there first: `cargo xtask promote --target {other}`"
    )]
    NotRehearsed { other: String, problems: String },

    // --- history_mismatch: the target's history is not what this checkout and the lock account for.
    #[error("status: {target}'s live history does not match the recorded head: {verdict}")]
    LiveHistoryMismatch { target: String, verdict: String },
    /// Step 2: `explained` is the mismatch worded for whose history it is (the embedded database's, or a kept one).
    #[error("promote: refused, nothing pushed: {explained}")]
    HistoryMismatch { mismatch: Mismatch, explained: String },
    #[error("promote: refused, nothing pushed: {why}: {fix}")]
    HistoryDiffers { why: String, fix: String },
    #[error(
        "promote: the push ended, but {why}: another push reached {target} meanwhile? Inspect with `cargo xtask status --target {target} --live`"
    )]
    HistoryChangedDuringPush { why: String, target: String },

    // --- history_applied: a change to what a target's history holds (a file's version) is refused.
    #[error("fix --renumber: nothing renamed:\n  - {}", refused.join("\n  - "))]
    RenumberRefused { refused: Vec<String> },

    // --- preconditions: tools, credentials, the pinned target, a clean checkout (every problem listed).
    #[error("promote: preconditions not met; nothing was pushed:\n  - {}", problems.join("\n  - "))]
    Preconditions { problems: Vec<String> },

    // --- lock_held: another promotion (or a CLI session) is at work on the target.
    #[error(
        "promote: another promotion of {target} held its lock for longer than --wait {wait} ({holder}); nothing was pushed. Re-run when it has ended, or with a longer --wait"
    )]
    LockWaitExpired { target: String, wait: String, holder: String },
    #[error(
        "promote: this machine's login role on {target} was removed by another promotion's cleanup (another promotion of {target} is running or just ended); nothing was pushed. Re-run when it is done"
    )]
    LoginRoleRemoved { target: String },
    #[error(
        "promote: a Supabase CLI session that no running promotion owns is still running on {target} (backend pid {pids:?}: a push an interrupted or killed run left behind, or a CLI run by hand); nothing was pushed. Wait for it to end (or end it with `select pg_terminate_backend(pid)`), then re-run"
    )]
    LeftoverCliSession { target: String, pids: Vec<i32> },
    #[error("partition rollback: a promotion of {target} holds its lock; nothing was run. Wait for it, then re-run")]
    RollbackLockHeld { target: String },

    // --- no_terminal / not_confirmed: the confirmation a push or rollback asks for.
    #[error(
        "promote: confirmation required and there is no terminal: re-run with --yes (CI) or interactively. Nothing was pushed"
    )]
    PromoteNoTerminal,
    #[error("promote: not confirmed; nothing was pushed")]
    PromoteNotConfirmed,
    #[error(
        "partition rollback: confirmation required and there is no terminal: re-run with --yes or interactively; nothing was run"
    )]
    RollbackNoTerminal,
    #[error("partition rollback: not confirmed; nothing was run")]
    RollbackNotConfirmed,

    // --- dry_run_failed / dry_run_mismatch: the CLI's own dry-run.
    #[error("promote: the CLI's dry-run failed; nothing was pushed: {explained}")]
    DryRunFailed { explained: String },
    #[error("promote: {why}; nothing was pushed")]
    DryRunList { why: String },
    #[error("promote: the CLI's dry-run targets {mismatch}; nothing was pushed")]
    DryRunTarget { mismatch: String },

    // --- missing_extension, partition_phase_mix, cutover_not_ready, not_owner: the batch cannot run there yet.
    #[error(
        "promote: the target server cannot provide extension(s) {}; nothing was pushed. Install them on the server first",
        missing.join(", ")
    )]
    MissingExtensions { missing: Vec<String> },
    #[error("promote: {what}; nothing was pushed. Promote phase 1 alone first: {until}")]
    PhaseMix { what: String, until: String },
    #[error(
        "promote: the partition cutover may not reach {target} yet (runbook: parity evidence before any swap, a maintenance window, rollback criteria); nothing was pushed:{list}"
    )]
    CutoverNotReady { target: String, list: String },
    /// The ownership preflight's sentence (one offender) or list (several).
    #[error("{explained}")]
    NotOwner { explained: String },

    // --- file_changed: bytes differ from what was checked, rehearsed or reviewed.
    #[error("promote: {error}; nothing was pushed")]
    StageChanged { error: String },
    #[error(
        "partition rollback: the rollback of {file} changed since the cutover's promotion rehearsed it; nothing was run. Restore the rehearsed version from git (the record's commit)"
    )]
    RollbackChanged { file: String },
    #[error(
        "prune: {} no longer exist(s) with the reviewed bound under {table}; nothing was detached or dropped. Write and review a new plan (`--dry-run`)",
        partitions.join(", ")
    )]
    PlanChanged { partitions: Vec<String>, table: String },

    // --- push_failed / push_unverified: the push ran and stopped.
    #[error(
        "promote: {what}\n{applied} file(s) before it are applied and recorded (head {head}); {not_attempted} not attempted.\n{advice} Record: {record}{note}"
    )]
    PushFailed {
        what: String,
        applied: usize,
        head: String,
        not_attempted: usize,
        advice: String,
        record: String,
        note: String,
    },
    #[error(
        "promote: the push did not finish cleanly ({cli_error}) and the target could not be read afterwards: {error}\n\
         Nothing new is recorded. When the target is reachable again, re-run `cargo xtask promote --target {target}`: it reconciles what was applied"
    )]
    PushUnverified { cli_error: String, error: String, target: String },

    // --- wrong_target / no_cutover / rollback_failed: `partition rollback`'s record and run.
    #[error("partition rollback: {record} records no promoted cutover; nothing to roll back")]
    NoCutover { record: String },
    #[error(
        "partition rollback: {record} is a promotion to {recorded}, not to {target}; nothing was run. Use --target {recorded}"
    )]
    RecordOfAnotherTarget { record: String, recorded: String, target: String },
    #[error("partition rollback: {target} is now {now}, but the cutover was promoted to {then}; nothing was run")]
    TargetMoved { target: String, now: String, then: String },
    #[error("partition rollback: failed on {target}, and nothing of it was kept (one transaction): {error}")]
    RollbackFailed { target: String, error: String },

    // --- the comparisons: drift, unexpected_deltas, parity_failed.
    #[error(
        "drift: {target} has {count} change(s) no migration made. Capture each in a forward-fix migration (`cargo xtask new fix_drift_<what>`) \
         or revert it on the target; never leave manual DDL in place"
    )]
    Drift { target: String, count: usize },
    #[error(
        "diff: {count} unexpected delta(s) between {a} and {b}: fix the schema with a migration, or list them with a reason in {listed_in}"
    )]
    UnexpectedDeltas { count: usize, a: String, b: String, listed_in: String },
    #[error("parity: {failed} window(s) failed; do not cut over. Evidence: {evidence}")]
    ParityFailed { failed: usize, evidence: String },

    // --- no_safe_repair / history_moved / not_confirmed: `reconcile`.
    #[error(
        "reconcile: {count} disagreement(s) between {target} and the files have no safe repair; nothing was written:\n{listed}"
    )]
    NoSafeRepair { count: usize, target: String, listed: String },
    #[error(
        "reconcile: {target}'s history moved while reconcile waited for its lock (now applied: {appeared}); nothing was written: run `cargo xtask reconcile --target {target}` again"
    )]
    ReconcileMoved { target: String, appeared: String },
    #[error(
        "reconcile: confirmation required and there is no terminal: re-run with --yes (CI) or interactively. Nothing was written"
    )]
    ReconcileNoTerminal,
    #[error("reconcile: not confirmed; nothing was written")]
    ReconcileNotConfirmed,

    // --- not_running: `db url` does not start a stopped database.
    #[error(
        "db url: the embedded database (PostgreSQL {major}) is not running; start it with `cargo xtask db start{flag}`"
    )]
    NotRunning { major: String, flag: String },
}

impl Refusal {
    /// The stable name a json document carries as `"refusal"`; several variants share one where a script would
    /// react alike (design.md lists them).
    pub fn kind(&self) -> &'static str {
        use Refusal::*;
        match self {
            StaleDoc { .. } | BaselineMissing { .. } | StaleBaseline { .. } => "stale_file",
            CheckFindings { .. }
            | ReviewFindings { .. }
            | StatusFindings { .. }
            | UnappliedBeforeHead { .. }
            | PushBreakingFindings { .. }
            | PromoteFindings { .. } => "blocking_findings",
            Exposure { .. } | ExposureUnknown { .. } => "exposure",
            ReviewBatchFails { .. }
            | RehearsalFailed { .. }
            | RollbackFailsOnShadow { .. }
            | RollbackDoesNotRestore { .. } => "rehearsal_failed",
            NotRehearsed { .. } => "not_rehearsed",
            LiveHistoryMismatch { .. }
            | HistoryMismatch { .. }
            | HistoryDiffers { .. }
            | HistoryChangedDuringPush { .. } => "history_mismatch",
            RenumberRefused { .. } => "history_applied",
            Preconditions { .. } => "preconditions",
            LockWaitExpired { .. } | LoginRoleRemoved { .. } | LeftoverCliSession { .. } | RollbackLockHeld { .. } => {
                "lock_held"
            }
            PromoteNoTerminal | RollbackNoTerminal | ReconcileNoTerminal => "no_terminal",
            PromoteNotConfirmed | RollbackNotConfirmed | ReconcileNotConfirmed => "not_confirmed",
            NoSafeRepair { .. } => "no_safe_repair",
            ReconcileMoved { .. } => "history_moved",
            DryRunFailed { .. } => "dry_run_failed",
            DryRunList { .. } | DryRunTarget { .. } => "dry_run_mismatch",
            MissingExtensions { .. } => "missing_extension",
            PhaseMix { .. } => "partition_phase_mix",
            CutoverNotReady { .. } => "cutover_not_ready",
            NotOwner { .. } => "not_owner",
            StageChanged { .. } | RollbackChanged { .. } | PlanChanged { .. } => "file_changed",
            PushFailed { .. } => "push_failed",
            PushUnverified { .. } => "push_unverified",
            NoCutover { .. } => "no_cutover",
            RecordOfAnotherTarget { .. } | TargetMoved { .. } => "wrong_target",
            RollbackFailed { .. } => "rollback_failed",
            Drift { .. } => "drift",
            UnexpectedDeltas { .. } => "unexpected_deltas",
            ParityFailed { .. } => "parity_failed",
            NotRunning { .. } => "not_running",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_todays_text_and_the_kind_groups() {
        let r = Refusal::Preconditions { problems: vec!["a".into(), "b".into()] };
        assert_eq!(r.to_string(), "promote: preconditions not met; nothing was pushed:\n  - a\n  - b");
        assert_eq!(r.kind(), "preconditions");
        let r = Refusal::Drift { target: "prod".into(), count: 2 };
        assert_eq!(
            r.to_string(),
            "drift: prod has 2 change(s) no migration made. Capture each in a forward-fix migration (`cargo xtask new fix_drift_<what>`) or revert it on the target; never leave manual DDL in place"
        );
        assert_eq!(Refusal::PromoteNotConfirmed.kind(), "not_confirmed");
        assert_eq!(Refusal::RollbackNoTerminal.kind(), "no_terminal");
    }
}
