//! `cargo xtask bench ...`: the benchmarks' flags.

use clap::{Args, Subcommand};

use crate::domain::promotion::duration::Span;

/// The benchmarks behind the performance figures in the README.
#[derive(Debug, Args)]
pub struct Bench {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// `check` over a generated tree of N migrations, against `squawk` on the same files when it is installed.
    Check(BenchCheck),
    /// The example's 14-file batch pushed by `promote --yes` vs by a bare `supabase db push`, same run.
    Promote(BenchPromote),
    /// `catalog` + `docs-refresh` of a 2,000-table schema vs `pg_dump --schema-only` of the same database.
    Catalog(BenchCatalog),
    /// `partition parity` of a 2,000,000-row table and its 12-partition shadow vs `count(*)` of both.
    Parity(BenchParity),
    /// The clean-build time of the xtask (a figure to watch, not a target).
    Build,
    /// A protected rehearsal of a 14-file batch on a generated 1,000-file history (warm and cold template) vs the
    /// same batch on nothing.
    Rehearsal(BenchRehearsal),
    /// A reader arriving while `promote`'s ALTER TABLE waits behind a long transaction: its delay with the lock
    /// budget against without one, same run.
    Locks(BenchLocks),
}

#[derive(Debug, Args)]
pub struct BenchLocks {
    /// The lock budget of the budgeted side.
    #[arg(long, default_value = "1s")]
    pub lock_timeout: Span,
    /// How long the blocking transaction stays open, in seconds.
    #[arg(long, default_value_t = 6)]
    pub hold: u64,
    /// Rows in the table the migration alters.
    #[arg(long, default_value_t = 200_000)]
    pub rows: i64,
    /// The PostgreSQL major to run on (15 or 17); by default the embedded target's. `XTASK_PG_BINDIR` runs it
    /// on another tree of that major (Debian's, say).
    #[arg(long, value_parser = crate::domain::major::parse_arg)]
    pub major: Option<crate::domain::major::Major>,
}

#[derive(Debug, Args)]
pub struct BenchRehearsal {
    /// Generated history files before the batch.
    #[arg(long, default_value_t = 1000)]
    pub history: usize,

    /// Timed runs of the warm side and the floor; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The PostgreSQL major to run on (15 or 17); by default the embedded target's. `XTASK_PG_BINDIR` runs it
    /// on another tree of that major (Debian's, say).
    #[arg(long, value_parser = crate::domain::major::parse_arg)]
    pub major: Option<crate::domain::major::Major>,
}

#[derive(Debug, Args)]
pub struct BenchParity {
    /// Rows in the source (and so in the shadow).
    #[arg(long, default_value_t = 2_000_000)]
    pub rows: i64,

    /// Timed runs of each side; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The PostgreSQL major to run on (15 or 17); by default the embedded target's. `XTASK_PG_BINDIR` runs it
    /// on another tree of that major (Debian's, say).
    #[arg(long, value_parser = crate::domain::major::parse_arg)]
    pub major: Option<crate::domain::major::Major>,
}

#[derive(Debug, Args)]
pub struct BenchCatalog {
    /// Tables to generate (each with 10 columns, 2 indexes, 2 policies and 1 function).
    #[arg(long, default_value_t = 2000)]
    pub tables: usize,

    /// Timed runs of each side; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The PostgreSQL major to run on (15 or 17); by default the embedded target's. `XTASK_PG_BINDIR` runs it
    /// on another tree of that major (Debian's, say).
    #[arg(long, value_parser = crate::domain::major::parse_arg)]
    pub major: Option<crate::domain::major::Major>,
}

#[derive(Debug, Args)]
pub struct BenchPromote {
    /// Timed runs of each side, each on a fresh database; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// The PostgreSQL major to run on (15 or 17); by default the embedded target's. `XTASK_PG_BINDIR` runs it
    /// on another tree of that major (Debian's, say).
    #[arg(long, value_parser = crate::domain::major::parse_arg)]
    pub major: Option<crate::domain::major::Major>,
}

#[derive(Debug, Args)]
pub struct BenchCheck {
    /// How many migration files to generate.
    #[arg(long, default_value_t = 5000)]
    pub files: usize,

    /// How many files share each content (real histories repeat grants, seeds and fixes): 1 makes every file
    /// different.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,

    /// Timed runs of each side; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}
