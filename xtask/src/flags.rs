//! The whole command line of `cargo xtask`, declared in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::domain::lint::sql::LintScope;
use crate::domain::promotion::duration::Span;
use crate::edges::output::report::Format;

mod bench;
pub use bench::*;

/// Checked promotion of the Supabase migrations in `migrations/`.
///
/// Exit codes: 0 success, 1 blocked (findings, stale output, mismatch), 2 error (bad input, tool failure).
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, max_term_width = 110)]
pub struct Xtask {
    /// Repository to work on. Default: the nearest directory at or above the current one holding `xtask.toml`.
    #[arg(long, global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    Check(Check),
    Review(Review),
    Fix(Fix),
    Status(Status),
    New(New),
    Baseline(Baseline),
    Db(Db),
    Promote(Promote),
    Reconcile(Reconcile),
    Catalog(Catalog),
    DocsRefresh(DocsRefresh),
    Diff(Diff),
    Drift(Drift),
    Partition(Partition),
    PlatformBaseline(PlatformBaseline),
    Bench(Bench),
}

/// Every local check on the migration tree; no database needed.
///
/// Exits 0 when clean (warnings allowed), 1 on blocking findings, 2 on an error.
#[derive(Debug, Args)]
pub struct Check {
    #[command(flatten)]
    pub output: OutputArgs,

    /// Which files to lint. Applied files are always hashed against `migrations/promotion.lock`.
    #[arg(long, value_enum, default_value_t = LintScope::Pending)]
    pub lint: LintScope,

    /// Lint every file afresh: neither read nor write the lint cache (`target/xtask/check-cache.json`).
    #[arg(long)]
    pub no_cache: bool,
}

/// What a branch's migrations will do to a target, for the pull request's reviewer: `check`'s findings for the
/// files it adds or changes, the locks and rewrites of the batch (measured on a local shadow at the target's
/// recorded head, joined with the target's table sizes when its credentials are present) and a safe rewrite
/// for every flagged statement. With `--format github`, also the job summary and one pull-request comment.
///
/// Exits 0 when clean (warnings allowed), 1 on blocking findings, 2 on an error.
#[derive(Debug, Args)]
pub struct Review {
    /// The branch's base (e.g. `origin/main`): files changed since the merge base with it are reviewed.
    #[arg(long, value_name = "REF")]
    pub base: String,

    /// The target whose recorded head the batch follows, and whose table sizes are shown.
    #[arg(long, default_value = "prod", value_name = "TARGET")]
    pub target: String,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Write the mechanical safe rewrites into pending migrations: `CONCURRENTLY` statements into files of their
/// own, `NOT VALID` constraints validated in a later file, `SET NOT NULL` through a validated check. Split files
/// get versions right after the original's, so the order holds. Never touches an applied file.
#[derive(Debug, Args)]
pub struct Fix {
    /// Migration files to fix. Default: every pending one.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Show the diff of what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Only this: give each out-of-order file (pending, but at or before a recorded head, so the CLI refuses the
    /// push) a new version after every version and head, keeping its name. A file the lock or a promotion record
    /// says a target applied is refused. Default: every out-of-order file.
    #[arg(long)]
    pub renumber: bool,
}

/// The recorded head of a target and the pending batch after it, as the runbook lists it.
#[derive(Debug, Args)]
pub struct Status {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Also read the target's live history and compare it with the recorded head (exit 1 on a mismatch).
    #[arg(long)]
    pub live: bool,
}

/// Create a new, empty migration whose version sorts after every file and every recorded head.
#[derive(Debug, Args)]
pub struct New {
    /// Lower-case words joined by `_`, e.g. `fix_problem_permission_helper`.
    pub name: String,
}

/// Record the head of a target that was migrated before this tool managed it.
///
/// Writes `migrations/promotion.lock`: the head and the checksum of every file up to it. Refuses a target that
/// already has a recorded head: from then on only `promote` moves it.
#[derive(Debug, Args)]
pub struct Baseline {
    #[command(flatten)]
    pub target: TargetArgs,

    /// The version the target's `supabase_migrations.schema_migrations` ends at.
    #[arg(long, value_name = "VERSION")]
    pub head: String,
}

/// The embedded Postgres, one cluster per major on the owned server trees: data under `target/xtask/pg/<major>/`,
/// the Supabase baseline (and the stand-in extensions) applied at creation.
#[derive(Debug, Args)]
pub struct Db {
    #[command(subcommand)]
    pub cmd: DbCmd,

    /// The cluster of this PostgreSQL major (15 or 17); by default the embedded target's. `status` shows every
    /// major's.
    #[arg(long, global = true, value_parser = crate::domain::major::parse_arg)]
    pub major: Option<crate::domain::major::Major>,
}

#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Create (first time) and start the embedded database.
    Start,
    /// Stop it; the data stays.
    Stop,
    /// Whether it exists and runs, and where.
    Status,
    /// Its URL, without the password (use `PGPASSFILE=target/xtask/pg/<major>/pgpass`).
    Url,
    /// Throw it away and start a fresh one with only the baseline.
    Reset,
}

/// The runbook's standard promotion path, end to end: check, batch, stage, rehearse, dry-run, confirm, push,
/// verify, record.
///
/// Exits 0 when promoted or already up to date, 1 when blocked or a migration failed, 2 on an error.
#[derive(Debug, Args)]
pub struct Promote {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Push the pending files up to and including this version only.
    #[arg(long, value_name = "VERSION")]
    pub until: Option<String>,

    /// Stop after the CLI's dry-run and the review: nothing is pushed, nothing recorded.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not refresh the catalog snapshot and SCHEMA_CATALOG.<TARGET>.md after the push (run
    /// `cargo xtask catalog` and `cargo xtask docs-refresh` later).
    #[arg(long)]
    pub skip_catalog: bool,

    /// Accept that the target is now another database than the one pinned in migrations/promotion.lock (after a
    /// real move), and pin the new one; the reason goes into the record.
    #[arg(long, value_name = "REASON")]
    pub repin: Option<String>,

    /// Declare a maintenance window for phase-2 partition work (a cutover, retention) on a protected target,
    /// with why or the ticket: recorded with its start and end. Not needed inside a window `xtask.toml`
    /// declares for the target (`maintenance_windows`).
    #[arg(long, value_name = "WHY")]
    pub maintenance_window: Option<String>,

    #[command(flatten)]
    pub wait: WaitArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// When a target's history and the files disagree, find out why and repair the history only: a version the
/// target ran under its own timestamp is matched to its file by its statements (the file is renamed to it), a
/// version after the recorded head whose statements equal its file's is recorded (the lock), a pending file
/// whose effect is already on the target (DDL run by hand) is proven on a shadow and its history row written;
/// anything else is refused with what was found. Never any DDL on the target.
///
/// Exits 0 when in sync or repaired (or, with `--dry-run`, repairable), 1 when a disagreement has no safe
/// repair, 2 on an error.
#[derive(Debug, Args)]
pub struct Reconcile {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Show what was found and the repairs; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Write `migrations/<VERSION>_<name>.sql` from the statements the target stored for this version (one no
    /// file has), for review, and record it. Repeat it for several versions.
    #[arg(long, value_name = "VERSION")]
    pub adopt: Vec<String>,

    #[command(flatten)]
    pub wait: WaitArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// How long to wait for another promotion of the same target to finish (it holds the target's lock from its
    /// CLI dry-run to its record); then this one reads the target's history again (`promote` plans anew from it;
    /// `reconcile`, finding it moved, stops and says so).
    #[arg(long, value_name = "SPAN", default_value = "10m")]
    pub wait: Span,
}

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation (CI). Protected targets otherwise ask for the project ref to be typed.
    #[arg(long)]
    pub yes: bool,
}

/// Snapshot a target's live schema (from pg_catalog) to `docs/database/catalog/<target>.json`.
#[derive(Debug, Args)]
pub struct Catalog {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Render `docs/database/SCHEMA_CATALOG.<TARGET>.md` from the target's catalog snapshot.
///
/// With `--check`, exits 1 (showing the difference) when the committed file is stale.
#[derive(Debug, Args)]
pub struct DocsRefresh {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Do not write: fail if the committed file differs from what would be written.
    #[arg(long)]
    pub check: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Table, column, policy, function, index, trigger, grant and cron deltas between two snapshots, minus the
/// entries of `docs/database/expected-deltas.toml`. Exits 1 on an unexpected delta.
#[derive(Debug, Args)]
pub struct Diff {
    /// A target name (its committed snapshot) or a snapshot file.
    pub a: String,
    /// A target name (its committed snapshot) or a snapshot file.
    pub b: String,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Replay the migrations up to the target's recorded head on a local shadow and compare its schema with the
/// target's live schema: every difference is drift (manual DDL). Exits 1 on drift.
#[derive(Debug, Args)]
pub struct Drift {
    /// The target to inspect.
    #[arg(long, value_name = "TARGET")]
    pub target: String,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Capture the platform-managed schemas of a target (roles, auth, storage, realtime, vault, supabase_functions,
/// extensions and the installed extensions) into `docs/database/platform/baseline.sql`; local databases then start
/// from it. With `--check`, exits 1 when the committed file no longer matches the target.
#[derive(Debug, Args)]
pub struct PlatformBaseline {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Do not write: fail if the committed file differs from what the target has now.
    #[arg(long)]
    pub check: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// The runbook's two-phase partition procedure: parity evidence before a cutover, reviewed retention drops, and
/// the rollback of a promoted cutover.
#[derive(Debug, Args)]
pub struct Partition {
    #[command(subcommand)]
    pub cmd: PartitionCmd,
}

#[derive(Debug, Subcommand)]
pub enum PartitionCmd {
    Parity(Parity),
    Prune(Prune),
    Rollback(Rollback),
}

/// Undo a promoted cutover with the rollback its file declared (`-- xtask: rollback:`) and `promote` rehearsed:
/// `--dry-run RECORD` shows what would run, `--execute RECORD` runs it in one transaction and records it. Never
/// run by `promote`. The applied history is left as it is: the next step is a forward fix.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("record").required(true).args(["dry_run", "execute"])))]
pub struct Rollback {
    #[arg(long, value_name = "TARGET")]
    pub target: String,
    /// The cutover's promotion record (`docs/database/promotions/<utc>-<target>.json`): show what would run.
    #[arg(long, value_name = "RECORD")]
    pub dry_run: Option<std::path::PathBuf>,
    /// The same record: run its rollback on the target.
    #[arg(long, value_name = "RECORD")]
    pub execute: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Row counts and sampled row hashes, source vs partitioned shadow, per partition and for the recent and
/// overlap windows, in one REPEATABLE READ READ ONLY transaction. Writes evidence to `docs/database/evidence/`;
/// exits 1 when a window fails.
#[derive(Debug, Args)]
pub struct Parity {
    /// A target reached by a direct URL (parity needs one session).
    #[arg(long, value_name = "TARGET")]
    pub target: String,
    /// The live table, `schema.table`.
    #[arg(long)]
    pub source: String,
    /// Its partitioned shadow, `schema.table`.
    #[arg(long)]
    pub shadow: String,
    /// The column both are partitioned / windowed by (timestamp, timestamptz or date).
    #[arg(long)]
    pub time_column: String,
    /// Key columns, comma separated. Default: the source's primary key.
    #[arg(long, value_delimiter = ',')]
    pub key: Vec<String>,
    /// The recent window: this long up to now.
    #[arg(long, default_value = "30d")]
    pub recent: Span,
    /// The overlap window: this long before the recent one.
    #[arg(long, default_value = "7d")]
    pub overlap: Span,
    /// Sampled share of each window's rows, in percent.
    #[arg(long, default_value_t = 1.0)]
    pub sample_pct: f64,
    /// Where a window's samples differ, list the keys of at most this many sampled rows per direction.
    #[arg(long, default_value_t = 10_000)]
    pub sample_cap: usize,
    /// Seed of the key hash that picks the sample (the same seed picks the same rows).
    #[arg(long, default_value_t = 20_200_513)]
    pub seed: i64,
    /// A window's counts may differ by this share of the source's count, in percent ...
    #[arg(long, default_value_t = 0.1)]
    pub max_variance_pct: f64,
    /// ... or by this many rows, whichever is larger.
    #[arg(long, default_value_t = 100)]
    pub max_variance_rows: i64,
    /// statement_timeout of each read (a shadow partition, or a slice of the source about a partition's size).
    #[arg(long, default_value = "120s")]
    pub window_timeout: Span,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Retention: list the partitions older than a cutoff into a plan (`--dry-run`), then run exactly that reviewed
/// plan (`--execute PLAN`). Never the newest partition, never the default one, never without a plan.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["dry_run", "execute"])))]
pub struct Prune {
    #[arg(long, value_name = "TARGET")]
    pub target: String,
    /// The partitioned table, `schema.table`.
    #[arg(long)]
    pub table: String,
    /// Partitions whose upper bound is at least this old (e.g. 90d) are listed.
    #[arg(long, required_unless_present = "execute")]
    pub older_than: Option<Span>,
    /// Write the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run the plan written by `--dry-run`, after checking it and the partitions.
    #[arg(long, value_name = "PLAN")]
    pub execute: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Which target in `xtask.toml` a command acts on.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A target from `xtask.toml`. Protected targets are never the default.
    #[arg(long, default_value = "local", value_name = "TARGET")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// `json` for programs; `github` prints workflow annotations (`::error file=..,line=..::`) and appends
    /// Markdown to `$GITHUB_STEP_SUMMARY` when it is set.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}
