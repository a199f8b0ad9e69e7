//! `partition parity`: counts and seeded row-hash samples of a live table against its partitioned shadow, per
//! partition and for the recent and overlap windows, read in one snapshot. The steps: inspect the tables, lay
//! out the windows, scan them (two sessions sharing the snapshot), and write the evidence.

use std::collections::BTreeSet;

use anyhow::bail;
use xshell::Shell;

use crate::blocked::blocked;
use crate::domain::refusal::Refusal;
use crate::edges::os::clock;
use crate::edges::os::git;
use crate::edges::output::evidence;
use crate::edges::output::progress::Spinner;
use crate::edges::output::report;
use crate::edges::repo::Repo;
use crate::edges::supabase::management_api::Access;
use crate::edges::target::{Direct, Resolved};
use crate::flags;

use super::TableRef;
use super::buckets::Queue;
use super::evidence::{ParityEvidence, render_parity};
use super::scan::{
    self, Column, NullTimes, Scan, ScanExprs, Sums, TableInfo, WindowJob, column_type, inspect_or_fail,
    snapshot_transaction,
};
use super::windows::{Partition, Summary, Thresholds, Window, WindowKind, WindowResult, judge, partition_windows};
use crate::edges::postgres::ident;

impl flags::Parity {
    pub(super) fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let target = Resolved::resolve(sh, repo, &self.target)?;
        // Read-only: with a token only, a read-only login role for as long as the scans run.
        let direct = target.direct(Access::ReadOnly)?;
        let (recent, overlap) = (self.recent.duration, self.overlap.duration);
        if !(self.sample_pct > 0.0 && self.sample_pct <= 100.0) {
            bail!("--sample-pct {} must be within (0, 100]", self.sample_pct);
        }
        let started_at = clock::utc_now();
        let mut evidence = self
            .measure(&direct, (recent, overlap), &started_at, &target)
            .map_err(|e| anyhow::anyhow!(crate::edges::output::redact::redact(&format!("{e:#}"))))?;
        evidence.git_commit = git::head_commit(sh);
        let stem = format!("{}-parity-{}", clock::file_stamp(&started_at), self.source);
        let md = render_parity(&evidence);
        let written = evidence::write(&repo.evidence_dir(target.record_place()), &stem, &evidence, &md)?;
        let md = repo.rel(&written.md);
        report::emit(&evidence, self.output.format)?;
        if evidence.passed {
            eprintln!("parity: every window passed. Evidence: {md}");
            return Ok(());
        }
        let failed = evidence.windows.iter().filter(|w| !w.passed).count();
        Err(blocked(Refusal::ParityFailed { failed, evidence: md.to_string() }))
    }

    /// Inspect, lay out the windows, scan them, all in one REPEATABLE READ READ ONLY snapshot.
    fn measure(
        &self,
        direct: &Direct,
        durations: (chrono::Duration, chrono::Duration),
        started_at: &str,
        target: &Resolved,
    ) -> anyhow::Result<ParityEvidence> {
        let mut client = direct.connect()?;
        let mut tx = snapshot_transaction(&mut client, None)?;
        let tables = self.inspect(&mut tx)?;
        let (snapshot_time, windows) = self.windows(&mut tx, &tables.shadow, durations)?;
        let results = self.scan(direct, &mut tx, &tables, windows)?;
        tx.commit()?;
        Ok(self.evidence(started_at, snapshot_time, target, tables, results))
    }

    /// Both tables exist, the shadow is partitioned, the time column and the key are usable; the columns both
    /// have are the ones hashed.
    fn inspect(&self, tx: &mut postgres::Transaction) -> anyhow::Result<Tables> {
        let (source, shadow) = (TableRef::parse(&self.source)?, TableRef::parse(&self.shadow)?);
        let TableInfo { columns: src_cols, pk, .. } = inspect_or_fail(tx, &source)?;
        let TableInfo { kind, columns: shd_cols, .. } = inspect_or_fail(tx, &shadow)?;
        if kind != 'p' {
            bail!("{shadow} is not a partitioned table; parity compares a live table with its partitioned shadow");
        }
        let ty = column_type(&src_cols, &self.time_column, &source)?;
        column_type(&shd_cols, &self.time_column, &shadow)?;
        if !["timestamp with time zone", "timestamp without time zone", "date"].contains(&ty.as_str()) {
            bail!(
                "--time-column {} of {source} is {ty}; windows need a timestamp, timestamptz or date column",
                self.time_column
            );
        }
        let key = if self.key.is_empty() { pk } else { self.key.clone() };
        if key.is_empty() {
            bail!("{source} has no primary key; name the columns that identify a row with --key col[,col]");
        }
        let mut key_types = Vec::new();
        for k in &key {
            key_types.push(column_type(&src_cols, k, &source)?);
            column_type(&shd_cols, k, &shadow)?;
        }
        let shd_names: BTreeSet<&str> = shd_cols.iter().map(|c| c.name.as_str()).collect();
        let (both, missing): (Vec<&Column>, Vec<&Column>) =
            src_cols.iter().partition(|c| shd_names.contains(c.name.as_str()));
        let names = |cols: Vec<&Column>| cols.into_iter().map(|c| c.name.clone()).collect();
        let nullable = |cols: &[Column]| !cols.iter().any(|c| c.name == self.time_column && c.not_null);
        let nulls = NullTimes { source: nullable(&src_cols), shadow: nullable(&shd_cols) };
        Ok(Tables { source, shadow, ty, nulls, key, key_types, columns: names(both), missing: names(missing) })
    }

    /// One window per partition of the shadow (bounds from `pg_inherits`), then the recent and overlap windows,
    /// measured back from the snapshot's own `now()`: their bounds are the times themselves (UTC, as the session
    /// prints them), literals like a partition's, so the evidence shows when each window starts and ends.
    fn windows(
        &self,
        tx: &mut postgres::Transaction,
        shadow: &TableRef,
        (recent, overlap): (chrono::Duration, chrono::Duration),
    ) -> anyhow::Result<(String, Vec<Window>)> {
        let back = |d: chrono::Duration| format!("(now() - interval '{} seconds')::text", d.num_seconds());
        let times = tx.query_one(&format!("select now()::text, {}, {}", back(recent), back(recent + overlap)), &[])?;
        let (snapshot_time, recent_from, overlap_from): (String, String, String) =
            (times.get(0), times.get(1), times.get(2));
        let parts: Vec<Partition> = tx
            .query(
                "select c.relname::text, c.oid::regclass::text, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::text::regclass",
                &[&shadow.sql()],
            )?
            .iter()
            .map(|r| Partition { name: r.get(0), relation: r.get(1), bound: r.get(2) })
            .collect();
        let mut windows = partition_windows(&parts)?;
        let literal = |time: &str| Some(format!("'{time}'"));
        let window = |name: String, kind, from, to| Window { name, kind, from, to, excluded: vec![], relation: None };
        windows.push(window(format!("recent {}", self.recent), WindowKind::Recent, literal(&recent_from), None));
        windows.push(window(
            format!("overlap {}", self.overlap),
            WindowKind::Overlap,
            literal(&overlap_from),
            literal(&recent_from),
        ));
        Ok((snapshot_time, windows))
    }

    /// Every row of both tables read once: the source in page slices, the shadow by partition, each read one
    /// aggregate whose sums land in buckets, and each window the sum of its buckets. A second session imports
    /// this transaction's snapshot (as `pg_dump -j` does) and both take reads from one queue: the same
    /// consistent view, on two cores. Only a window whose sums differ is read again, to name its keys.
    fn scan(
        &self,
        direct: &Direct,
        tx: &mut postgres::Transaction,
        tables: &Tables,
        windows: Vec<Window>,
    ) -> anyhow::Result<Vec<WindowResult>> {
        let exprs = ScanExprs::new(&tables.key, &tables.key_types, &tables.columns, self.seed, self.sample_pct);
        let column = ident(&self.time_column);
        let plan = scan::plan(tx, &windows, &tables.source, &tables.ty, tables.nulls)?;
        let job = WindowJob {
            source: &tables.source,
            shadow: &tables.shadow,
            column: &column,
            ty: &tables.ty,
            exprs: &exprs,
            windows: &windows,
            plan: &plan,
            timeout: self.window_timeout.duration.num_milliseconds(),
        };
        let message = format!("scanning {} window(s) in {} read(s)", windows.len(), plan.scans.len());
        let _spinner = Spinner::start(&message, self.output.format);
        let snapshot: String = tx.query_one("select pg_export_snapshot()", &[])?.get(0);
        let queue = Queue::heaviest_first(&plan.scans.iter().map(Scan::weight).collect::<Vec<_>>());
        let (mine, other) = std::thread::scope(|scope| {
            let helper = scope.spawn(|| -> anyhow::Result<Sums> {
                let mut client = direct.connect()?;
                let mut tx2 = snapshot_transaction(&mut client, Some(&snapshot))?;
                let out = job.run(&mut tx2, &queue)?;
                tx2.commit()?;
                Ok(out)
            });
            let mine = job.run(tx, &queue);
            (mine, helper.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the second parity session panicked"))))
        });
        let mut sums = mine?;
        sums.add(other?);
        self.judge_windows(&job, tx, sums.windows(&plan.covers))
    }

    /// Each window judged on its sums; a window whose sums differ is read again (in this session) to list keys.
    fn judge_windows(
        &self,
        job: &WindowJob,
        tx: &mut postgres::Transaction,
        sums: Vec<(Summary, Summary)>,
    ) -> anyhow::Result<Vec<WindowResult>> {
        let thresholds = Thresholds { pct: self.max_variance_pct, rows: self.max_variance_rows, cap: self.sample_cap };
        let mut results = Vec::new();
        for (w, (source, shadow)) in job.windows.iter().zip(sums) {
            let mut r = judge(source, shadow, &thresholds, None);
            if !r.samples_match {
                let (s, h) = job.detail(tx, w)?;
                r = judge(source, shadow, &thresholds, Some((&s, &h)));
            }
            if w.kind == WindowKind::Outside {
                r.allow_no_variance();
            }
            r.window = Some(w.clone());
            results.push(r);
        }
        Ok(results)
    }

    fn evidence(
        &self,
        started_at: &str,
        snapshot_time: String,
        target: &Resolved,
        tables: Tables,
        windows: Vec<WindowResult>,
    ) -> ParityEvidence {
        let passed = tables.missing.is_empty() && windows.iter().all(|r| r.passed);
        ParityEvidence {
            kind: "parity",
            started_at: started_at.to_string(),
            snapshot_time,
            target: target.name.clone(),
            database: target.describe(),
            identity: target.identity(),
            git_commit: None,
            source: tables.source.to_string(),
            shadow: tables.shadow.to_string(),
            time_column: self.time_column.clone(),
            key: tables.key,
            columns: tables.columns,
            columns_missing_in_shadow: tables.missing,
            seed: self.seed,
            sample_pct: self.sample_pct,
            sample_cap: self.sample_cap,
            max_variance_pct: self.max_variance_pct,
            max_variance_rows: self.max_variance_rows,
            recent: self.recent.text.clone(),
            overlap: self.overlap.text.clone(),
            windows,
            passed,
        }
    }
}

/// What `inspect` learned of the two tables.
struct Tables {
    source: TableRef,
    shadow: TableRef,
    /// The time column's type.
    ty: String,
    nulls: NullTimes,
    key: Vec<String>,
    key_types: Vec<String>,
    /// The columns both tables have, in the source's order: what a row hash covers.
    columns: Vec<String>,
    missing: Vec<String>,
}
