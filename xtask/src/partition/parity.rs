//! `partition parity`: counts and seeded SHA-256 row samples of a live table against its partitioned shadow, per
//! partition and for the recent and overlap windows, read in one snapshot. The steps: inspect the tables, lay
//! out the windows, scan them (two sessions sharing the snapshot), and write the evidence.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, bail};
use serde::Serialize;
use xshell::Shell;

use crate::blocked::blocked;
use crate::flags;
use crate::progress::Spinner;
use crate::redact::Redactor;
use crate::repo::Repo;
use crate::report::{self, Annotation, Level, Report};
use crate::target::Resolved;
use crate::{clock, evidence, git, pg};

use super::windows::{LISTED, Scan, Thresholds, Window, WindowKind, WindowResult, compare, partition_windows};
use super::{TableRef, direct_url, ident, parse_duration};

/// The evidence of one parity run: what the cutover checklist keeps (json + md), and the report.
#[derive(Debug, Serialize)]
pub struct ParityEvidence {
    kind: &'static str,
    started_at: String,
    snapshot_time: String,
    target: String,
    database: String,
    git_commit: Option<String>,
    source: String,
    shadow: String,
    time_column: String,
    key: Vec<String>,
    columns: Vec<String>,
    columns_missing_in_shadow: Vec<String>,
    seed: i64,
    sample_pct: f64,
    sample_cap: usize,
    max_variance_pct: f64,
    max_variance_rows: i64,
    recent: String,
    overlap: String,
    windows: Vec<WindowResult>,
    passed: bool,
}

struct Column {
    name: String,
    ty: String,
}

/// What parity needs to know of a table: its kind (`p` partitioned), columns and primary key.
struct TableInfo {
    kind: char,
    columns: Vec<Column>,
    pk: Vec<String>,
}

/// The table's columns and primary key, or `None` when it does not exist.
fn inspect_table<C: postgres::GenericClient>(client: &mut C, table: &TableRef) -> anyhow::Result<Option<TableInfo>> {
    let row = client.query_opt("select c.oid, c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2", &[&table.schema, &table.name])?;
    let Some(row) = row else { return Ok(None) };
    let oid: u32 = row.get(0);
    let relkind: String = row.get(1);
    let columns = client
        .query("select attname::text, format_type(atttypid, atttypmod) from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped order by attnum", &[&oid])?
        .iter()
        .map(|r| Column { name: r.get(0), ty: r.get(1) })
        .collect();
    let pk = client
        .query(
            "select a.attname::text from pg_index i cross join lateral unnest(i.indkey) with ordinality k(attnum, ord) \
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum where i.indrelid = $1 and i.indisprimary order by k.ord",
            &[&oid],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Some(TableInfo { kind: relkind.chars().next().unwrap_or('?'), columns, pk }))
}

impl flags::Parity {
    pub(super) fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let mut redactor = Redactor::from_env();
        let target = Resolved::resolve(sh, repo, &self.target, &mut redactor)?;
        let url = direct_url(&target, "partition parity")?;
        let (recent, overlap) = (parse_duration(&self.recent)?, parse_duration(&self.overlap)?);
        if !(self.sample_pct > 0.0 && self.sample_pct <= 100.0) {
            bail!("--sample-pct {} must be within (0, 100]", self.sample_pct);
        }
        let started_at = clock::utc_now();
        let mut evidence = self
            .measure(&url, (recent, overlap), &started_at, &target)
            .map_err(|e| anyhow::anyhow!(redactor.redact(&format!("{e:#}"))))?;
        evidence.git_commit = git::head_commit(sh);
        let stem = format!("{}-parity-{}", clock::file_stamp(&started_at), self.source);
        let md = render_parity(&evidence);
        let written = evidence::write(&repo.evidence_dir(), &stem, &evidence, &md, &redactor)?;
        let md = repo.rel(&written.md);
        report::emit(&evidence, self.output.format)?;
        if evidence.passed {
            eprintln!("parity: every window passed. Evidence: {md}");
            return Ok(());
        }
        let failed = evidence.windows.iter().filter(|w| !w.passed).count();
        Err(blocked(format!("parity: {failed} window(s) failed; do not cut over. Evidence: {md}")))
    }

    /// Inspect, lay out the windows, scan them, all in one REPEATABLE READ READ ONLY snapshot.
    fn measure(
        &self,
        url: &str,
        durations: (chrono::Duration, chrono::Duration),
        started_at: &str,
        target: &Resolved,
    ) -> anyhow::Result<ParityEvidence> {
        let mut client = pg::connect(url)?;
        let mut tx = snapshot_transaction(&mut client, None)?;
        let tables = self.inspect(&mut tx)?;
        let (snapshot_time, windows) = self.windows(&mut tx, &tables.shadow, durations)?;
        let results = self.scan(url, &mut tx, &tables, windows)?;
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
        Ok(Tables { source, shadow, ty, key, key_types, columns: names(both), missing: names(missing) })
    }

    /// One window per partition of the shadow (bounds from `pg_inherits`), then the recent and overlap windows,
    /// measured back from the snapshot's own `now()`.
    fn windows(
        &self,
        tx: &mut postgres::Transaction,
        shadow: &TableRef,
        (recent, overlap): (chrono::Duration, chrono::Duration),
    ) -> anyhow::Result<(String, Vec<Window>)> {
        let snapshot_time: String = tx.query_one("select now()::text", &[])?.get(0);
        let parts: Vec<(String, String)> = tx
            .query(
                "select c.relname::text, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::text::regclass",
                &[&shadow.sql()],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut windows = partition_windows(&parts)?;
        let at =
            |d: chrono::Duration| format!("(timestamptz '{snapshot_time}' - interval '{} seconds')", d.num_seconds());
        let window = |name: String, kind, from, to| Window { name, kind, from, to, excluded: vec![] };
        windows.push(window(format!("recent {}", self.recent), WindowKind::Recent, Some(at(recent)), None));
        windows.push(window(
            format!("overlap {}", self.overlap),
            WindowKind::Overlap,
            Some(at(recent + overlap)),
            Some(at(recent)),
        ));
        Ok((snapshot_time, windows))
    }

    /// Every window scanned on both tables. A second session imports this transaction's snapshot (as
    /// `pg_dump -j` does) and takes every other window: the same consistent view, on two cores.
    fn scan(
        &self,
        url: &str,
        tx: &mut postgres::Transaction,
        tables: &Tables,
        windows: Vec<Window>,
    ) -> anyhow::Result<Vec<WindowResult>> {
        let exprs = ScanExprs::new(&tables.key, &tables.key_types, &tables.columns, self.seed, self.sample_pct);
        let thresholds = Thresholds { pct: self.max_variance_pct, rows: self.max_variance_rows, cap: self.sample_cap };
        let column = ident(&self.time_column);
        let job = WindowJob {
            source: &tables.source,
            shadow: &tables.shadow,
            column: &column,
            ty: &tables.ty,
            exprs: &exprs,
            thresholds: &thresholds,
            timeout: parse_duration(&self.window_timeout)?.num_milliseconds(),
        };
        let _spinner = Spinner::start(&format!("scanning {} window(s)", windows.len()), self.output.format);
        let snapshot: String = tx.query_one("select pg_export_snapshot()", &[])?.get(0);
        let (mine, theirs): (Vec<_>, Vec<_>) = windows.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let (mine, other) = std::thread::scope(|scope| {
            let helper = scope.spawn(|| -> anyhow::Result<Vec<(usize, WindowResult)>> {
                let mut client = pg::connect(url)?;
                let mut tx2 = snapshot_transaction(&mut client, Some(&snapshot))?;
                let out = job.run(&mut tx2, theirs)?;
                tx2.commit()?;
                Ok(out)
            });
            let mine = job.run(tx, mine);
            (mine, helper.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the second parity session panicked"))))
        });
        let mut results = mine?;
        results.extend(other?);
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
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
            recent: self.recent.clone(),
            overlap: self.overlap.clone(),
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
    key: Vec<String>,
    key_types: Vec<String>,
    /// The columns both tables have, in the source's order: what a row hash covers.
    columns: Vec<String>,
    missing: Vec<String>,
}

/// A REPEATABLE READ READ ONLY transaction whose row text does not depend on the session's settings; with
/// `import`, it sees the snapshot another session exported (imported first, as Postgres requires).
fn snapshot_transaction<'c>(
    client: &'c mut postgres::Client,
    import: Option<&str>,
) -> anyhow::Result<postgres::Transaction<'c>> {
    let mut tx =
        client.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).read_only(true).start()?;
    if let Some(snapshot) = import {
        tx.batch_execute(&format!("set transaction snapshot '{}'", snapshot.replace('\'', "")))?;
    }
    tx.batch_execute(SESSION_SETTINGS)?;
    Ok(tx)
}

const SESSION_SETTINGS: &str = "set local timezone = 'UTC'; set local datestyle = 'ISO, YMD'; set local intervalstyle = 'postgres'; \
     set local extra_float_digits = 3; set local bytea_output = 'hex'";

/// What every window's scan needs, shared by the two sessions.
struct WindowJob<'a> {
    source: &'a TableRef,
    shadow: &'a TableRef,
    column: &'a str,
    ty: &'a str,
    exprs: &'a ScanExprs,
    thresholds: &'a Thresholds,
    timeout: i64,
}

impl WindowJob<'_> {
    fn run(
        &self,
        tx: &mut postgres::Transaction,
        windows: Vec<(usize, Window)>,
    ) -> anyhow::Result<Vec<(usize, WindowResult)>> {
        let mut out = Vec::new();
        for (i, w) in windows {
            tx.batch_execute(&format!("set local statement_timeout = {}", self.timeout))?;
            let pred = w.predicate(self.column, self.ty);
            let s = scan(tx, self.source, &pred, self.exprs)
                .with_context(|| format!("window {}: reading {}", w.name, self.source))?;
            let h = scan(tx, self.shadow, &pred, self.exprs)
                .with_context(|| format!("window {}: reading {}", w.name, self.shadow))?;
            let mut r = compare(&s, &h, self.thresholds);
            r.window = Some(w);
            out.push((i, r));
        }
        Ok(out)
    }
}

fn inspect_or_fail(tx: &mut postgres::Transaction, table: &TableRef) -> anyhow::Result<TableInfo> {
    inspect_table(tx, table)?.with_context(|| {
        format!("table {table} does not exist in the target; check the --source/--shadow name (schema.table)")
    })
}

fn column_type(columns: &[Column], name: &str, table: &TableRef) -> anyhow::Result<String> {
    columns
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.ty.clone())
        .with_context(|| format!("{table} has no column `{name}`"))
}

/// The SQL expressions of a scan: the key's text, its seeded hash, the sample test and the row hash.
pub struct ScanExprs {
    key_text: String,
    key_hash: String,
    sampled: String,
    row_hash: String,
}

impl ScanExprs {
    pub fn new(key: &[String], key_types: &[String], columns: &[String], seed: i64, pct: f64) -> ScanExprs {
        let key_cols: Vec<String> = key.iter().map(|k| ident(k)).collect();
        let key_text = format!("row({})::text", key_cols.join(", "));
        let integer = key.len() == 1 && ["bigint", "integer", "smallint"].contains(&key_types[0].as_str());
        // An integer key hashes as an integer (cheap); any other key by its text. Masked to be non-negative.
        let key_hash = if integer {
            format!("(hashint8extended({}::bigint, {seed}) & 9223372036854775807)", key_cols[0])
        } else {
            format!("(hashtextextended({key_text}, {seed}) & 9223372036854775807)")
        };
        let threshold = (pct * 10_000.0).round() as i64;
        let sampled = format!("{key_hash} % 1000000 < {threshold}");
        // A record's text keeps NULL (nothing) apart from '' (""), in the columns' fixed order.
        let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let row_hash = format!("encode(sha256(convert_to(row({})::text, 'UTF8')), 'hex')", cols.join(", "));
        ScanExprs { key_text, key_hash, sampled, row_hash }
    }
}

/// One pass over a window of one table: its count and its sampled rows.
fn scan(tx: &mut postgres::Transaction, table: &TableRef, predicate: &str, e: &ScanExprs) -> anyhow::Result<Scan> {
    let sql = format!(
        "select count(*), coalesce(array_agg({kt} || chr(9) || {kh}::text || chr(9) || {rh}) filter (where {s}), '{{}}') from {t} where {predicate}",
        kt = e.key_text,
        kh = e.key_hash,
        rh = e.row_hash,
        s = e.sampled,
        t = table.sql()
    );
    let row = tx.query_one(&sql, &[])?;
    let mut scan = Scan { count: row.get(0), sample: BTreeMap::new() };
    for item in row.get::<_, Vec<String>>(1) {
        let mut parts = item.rsplitn(3, '\t');
        let (hash, hk, key) =
            (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        scan.sample.insert(key.to_string(), (hk.parse().unwrap_or(0), hash.to_string()));
    }
    Ok(scan)
}

fn render_parity(e: &ParityEvidence) -> String {
    let mut out = String::new();
    let verdict = if e.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(out, "# Partition parity: {} vs {}: {verdict}\n", e.source, e.shadow);
    let _ = writeln!(
        out,
        "Generated by `cargo xtask partition parity`; evidence for the runbook's cutover checklist (ADR-020).\n"
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    for (k, v) in [
        ("target", format!("{} ({})", e.target, e.database)),
        ("snapshot", format!("{} (one REPEATABLE READ READ ONLY transaction)", e.snapshot_time)),
        ("git commit", e.git_commit.clone().unwrap_or_else(|| "(not a git checkout)".into())),
        ("time column / key", format!("{} / {}", e.time_column, e.key.join(", "))),
        (
            "sample",
            format!(
                "{}% of each window by seeded key hash (seed {}), at most {} rows per direction",
                e.sample_pct, e.seed, e.sample_cap
            ),
        ),
        (
            "count threshold",
            format!("|shadow - source| <= max({}% of source, {} rows)", e.max_variance_pct, e.max_variance_rows),
        ),
        (
            "row hash",
            format!("SHA-256 of the row's text over {} column(s), TimeZone UTC, DateStyle ISO", e.columns.len()),
        ),
    ] {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    if !e.columns_missing_in_shadow.is_empty() {
        let _ = writeln!(out, "\n**Columns missing in the shadow:** {}", e.columns_missing_in_shadow.join(", "));
    }
    let _ = writeln!(
        out,
        "\n| window | from | to | source rows | shadow rows | variance | allowed | sampled | mismatches | result |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &e.windows {
        let w = r.window.as_ref();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:+} | {:.0} | {} | {} | {} |",
            w.map_or("", |w| w.name.as_str()),
            w.and_then(|w| w.from.as_deref()).unwrap_or("").replace('|', "\\|"),
            w.and_then(|w| w.to.as_deref()).unwrap_or("").replace('|', "\\|"),
            r.source_rows,
            r.shadow_rows,
            r.variance,
            r.allowed_variance,
            r.sampled_source,
            r.mismatches,
            if r.passed { "pass" } else { "**FAIL**" }
        );
    }
    for r in e.windows.iter().filter(|r| r.mismatches > 0) {
        let name = r.window.as_ref().map_or("", |w| w.name.as_str());
        let _ = writeln!(out, "\nMismatches in {name} (first {LISTED} of each kind):");
        for (what, keys) in [
            ("only in source", &r.only_in_source),
            ("only in shadow", &r.only_in_shadow),
            ("row differs", &r.differing),
        ] {
            if !keys.is_empty() {
                let _ = writeln!(out, "- {what}: {}", keys.join(", "));
            }
        }
    }
    out
}

impl Report for ParityEvidence {
    fn human(&self) -> String {
        render_parity(self)
    }

    fn annotations(&self) -> Vec<Annotation> {
        self.windows
            .iter()
            .filter(|w| !w.passed)
            .map(|w| {
                let name = w.window.as_ref().map_or("", |w| w.name.as_str());
                Annotation::run(
                    Level::Error,
                    "xtask partition parity",
                    format!(
                        "{} vs {}: window {name} failed (source {}, shadow {}, {} sample mismatch(es))",
                        self.source, self.shadow, w.source_rows, w.shadow_rows, w.mismatches
                    ),
                )
            })
            .collect()
    }

    fn summary_md(&self) -> String {
        render_parity(self)
    }
}
