//! `cargo xtask partition parity|prune`: the runbook's partition steps 2 (parity evidence before a cutover) and 4
//! (retention drops from a reviewed plan), on a real database through one direct session.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xshell::Shell;

use crate::flags::{self, Format, PartitionCmd};
use crate::redact::Redactor;
use crate::report::Blocked;
use crate::supabase::Remote;
use crate::target::Resolved;
use crate::tree::Repo;
use crate::{fsutil, git, migrations, pg};

const EVIDENCE_DIR: &str = "docs/database/evidence";
/// Mismatching keys listed per window and kind; the totals are always complete.
const LISTED: usize = 20;

impl flags::Partition {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        match self.cmd {
            PartitionCmd::Parity(cmd) => cmd.run(sh),
            PartitionCmd::Prune(cmd) => cmd.run(sh),
        }
    }
}

/// `30d`, `7d`, `12h`, `90m`, `45s`, `2w`.
pub fn parse_duration(text: &str) -> anyhow::Result<chrono::Duration> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = digits.parse().with_context(|| format!("`{text}` is not a duration like 30d, 12h or 90m"))?;
    Ok(match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        "w" => chrono::Duration::weeks(n),
        _ => bail!("`{text}` is not a duration like 30d, 12h or 90m (units: s, m, h, d, w)"),
    })
}

/// `schema.table` (or `table` in public), quoted for SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub schema: String,
    pub name: String,
}

impl TableRef {
    pub fn parse(text: &str) -> anyhow::Result<TableRef> {
        let (schema, name) = text.split_once('.').unwrap_or(("public", text));
        if schema.is_empty() || name.is_empty() || name.contains('.') {
            bail!("`{text}` is not a table name; write schema.table");
        }
        Ok(TableRef { schema: schema.to_string(), name: name.to_string() })
    }

    pub fn sql(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A range partition's bound: a literal as Postgres prints it (`'2026-01-01 00:00:00+00'`), or open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bound {
    Min,
    Max,
    Literal(String),
}

/// `FOR VALUES FROM ('a') TO ('b')` -> (from, to); `DEFAULT` -> None; other strategies are refused.
pub fn parse_range_bound(expr: &str) -> anyhow::Result<Option<(Bound, Bound)>> {
    if expr.trim() == "DEFAULT" {
        return Ok(None);
    }
    let inner = expr.strip_prefix("FOR VALUES FROM (").and_then(|rest| rest.strip_suffix(')'));
    let Some((from, to)) = inner.and_then(|i| i.split_once(") TO (")) else {
        bail!("partition bound `{expr}`: only range partitions on one time column are supported");
    };
    let bound = |text: &str| -> anyhow::Result<Bound> {
        match text.trim() {
            "MINVALUE" => Ok(Bound::Min),
            "MAXVALUE" => Ok(Bound::Max),
            lit if lit.starts_with('\'') && lit.ends_with('\'') && !lit[1..lit.len() - 1].contains(',') => {
                Ok(Bound::Literal(lit.to_string()))
            }
            other => bail!("partition bound `{other}`: only range partitions on one time column are supported"),
        }
    };
    Ok(Some((bound(from)?, bound(to)?)))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    Partition,
    Default,
    Recent,
    Overlap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub name: String,
    pub kind: WindowKind,
    pub from: Option<String>,
    pub to: Option<String>,
    /// For the default partition: the ranges of the other partitions, which it excludes.
    #[serde(skip)]
    pub excluded: Vec<(Option<String>, Option<String>)>,
}

impl Window {
    /// The SQL predicate; always present, with constants, so the planner prunes partitions.
    pub fn predicate(&self, column: &str, ty: &str) -> String {
        let range = |from: &Option<String>, to: &Option<String>| {
            let mut parts = Vec::new();
            if let Some(f) = from {
                parts.push(format!("{column} >= {f}::{ty}"));
            }
            if let Some(t) = to {
                parts.push(format!("{column} < {t}::{ty}"));
            }
            if parts.is_empty() { "true".to_string() } else { parts.join(" and ") }
        };
        match self.kind {
            WindowKind::Default => {
                let others: Vec<String> = self.excluded.iter().map(|(f, t)| format!("({})", range(f, t))).collect();
                if others.is_empty() {
                    format!("{column} is not null")
                } else {
                    format!("{column} is not null and not ({})", others.join(" or "))
                }
            }
            _ => range(&self.from, &self.to),
        }
    }
}

/// One partition window per partition of the shadow, in bound order, the default partition last.
pub fn partition_windows(partitions: &[(String, String)]) -> anyhow::Result<Vec<Window>> {
    let lit = |b: &Bound| match b {
        Bound::Literal(l) => Some(l.clone()),
        _ => None,
    };
    let mut ranges = Vec::new();
    let mut default = None;
    for (name, expr) in partitions {
        match parse_range_bound(expr)? {
            Some((from, to)) => ranges.push(Window {
                name: name.clone(),
                kind: WindowKind::Partition,
                from: lit(&from),
                to: lit(&to),
                excluded: Vec::new(),
            }),
            None => default = Some(name.clone()),
        }
    }
    ranges.sort_by(|a, b| (a.from.is_some(), &a.from).cmp(&(b.from.is_some(), &b.from)));
    if let Some(name) = default {
        let excluded = ranges.iter().map(|w| (w.from.clone(), w.to.clone())).collect();
        ranges.push(Window { name, kind: WindowKind::Default, from: None, to: None, excluded });
    }
    Ok(ranges)
}

/// What one scan of one table over one window yields: its count, and the sampled rows (key, key hash, row hash).
#[derive(Debug, Default)]
pub struct Scan {
    pub count: i64,
    pub sample: BTreeMap<String, (i64, String)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowResult {
    #[serde(flatten)]
    pub window: Option<Window>,
    pub source_rows: i64,
    pub shadow_rows: i64,
    pub variance: i64,
    pub allowed_variance: f64,
    pub counts_ok: bool,
    pub sampled_source: usize,
    pub sampled_shadow: usize,
    pub compared: usize,
    pub only_in_source: Vec<String>,
    pub only_in_shadow: Vec<String>,
    pub differing: Vec<String>,
    pub mismatches: usize,
    /// SHA-256 of the compared source keys: equal inputs give an equal sample.
    pub sample_digest: String,
    pub passed: bool,
}

/// The sampled rows with the lowest key hashes, at most `cap`: the same keys on every run.
fn capped(scan: &Scan, cap: usize) -> Vec<(&String, &(i64, String))> {
    let mut v: Vec<(&String, &(i64, String))> = scan.sample.iter().collect();
    v.sort_by(|a, b| (a.1.0, a.0).cmp(&(b.1.0, b.0)));
    v.truncate(cap);
    v
}

pub struct Thresholds {
    pub pct: f64,
    pub rows: i64,
    pub cap: usize,
}

/// Counts within max(pct of the source's count, rows), and the capped samples compared in both directions.
pub fn compare(source: &Scan, shadow: &Scan, t: &Thresholds) -> WindowResult {
    let (s, h) = (capped(source, t.cap), capped(shadow, t.cap));
    let mut r = WindowResult {
        source_rows: source.count,
        shadow_rows: shadow.count,
        sampled_source: s.len(),
        sampled_shadow: h.len(),
        ..Default::default()
    };
    r.variance = shadow.count - source.count;
    r.allowed_variance = (source.count as f64 * t.pct / 100.0).max(t.rows as f64);
    r.counts_ok = (r.variance.abs() as f64) <= r.allowed_variance;
    let mut keys = Sha256::new();
    for (key, (_, hash)) in &s {
        keys.update(key.as_bytes());
        keys.update(b"\n");
        match shadow.sample.get(*key) {
            None => r.only_in_source.push((*key).clone()),
            Some((_, other)) if other != hash => r.differing.push((*key).clone()),
            Some(_) => r.compared += 1,
        }
    }
    for (key, _) in &h {
        if !source.sample.contains_key(*key) {
            r.only_in_shadow.push((*key).clone());
        }
    }
    r.compared += r.differing.len();
    r.mismatches = r.only_in_source.len() + r.only_in_shadow.len() + r.differing.len();
    r.sample_digest = migrations::hex(&keys.finalize());
    for list in [&mut r.only_in_source, &mut r.only_in_shadow, &mut r.differing] {
        list.truncate(LISTED);
    }
    r.passed = r.counts_ok && r.mismatches == 0;
    r
}

#[derive(Debug, Serialize)]
struct ParityEvidence {
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
fn inspect<C: postgres::GenericClient>(client: &mut C, table: &TableRef) -> anyhow::Result<Option<TableInfo>> {
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

fn direct_url(target: &Resolved, what: &str) -> anyhow::Result<String> {
    match &target.remote {
        Remote::Url(url) => Ok(url.clone()),
        Remote::Project(_) => bail!(
            "{what} needs one direct session to {}: set ${} to its postgres:// URL (the pooler's session mode works)",
            target.name,
            target.config.db_url_env.as_deref().unwrap_or("<db_url_env>")
        ),
    }
}

impl flags::Parity {
    fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let repo = Repo::open(sh)?;
        let mut redactor = Redactor::from_env();
        let target = Resolved::resolve(sh, &repo, &self.target, &mut redactor)?;
        let url = direct_url(&target, "partition parity")?;
        let (recent, overlap) = (parse_duration(&self.recent)?, parse_duration(&self.overlap)?);
        if !(self.sample_pct > 0.0 && self.sample_pct <= 100.0) {
            bail!("--sample-pct {} must be within (0, 100]", self.sample_pct);
        }
        let started_at = utc_now();
        let mut client = pg::connect(&url)?;
        let mut evidence = self
            .measure(&url, &mut client, (recent, overlap), &started_at, &target)
            .map_err(|e| anyhow::anyhow!(redactor.redact(&format!("{e:#}"))))?;
        evidence.git_commit = git::head_commit(sh);
        let stem = format!("{}-parity-{}", started_at.replace(':', ""), self.source);
        let (md, _) = write_evidence(&repo, &stem, &evidence, &render_parity(&evidence))?;
        match self.output.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&evidence)?),
            _ => print!("{}", render_parity(&evidence)),
        }
        if evidence.passed {
            eprintln!("parity: every window passed. Evidence: {md}");
            return Ok(());
        }
        let failed = evidence.windows.iter().filter(|w| !w.passed).count();
        Err(Blocked(format!("parity: {failed} window(s) failed; do not cut over. Evidence: {md}")).into())
    }

    fn measure(
        &self,
        url: &str,
        client: &mut postgres::Client,
        (recent, overlap): (chrono::Duration, chrono::Duration),
        started_at: &str,
        target: &Resolved,
    ) -> anyhow::Result<ParityEvidence> {
        let (source, shadow) = (TableRef::parse(&self.source)?, TableRef::parse(&self.shadow)?);
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        // Row text must not depend on the session: fixed time zone and formats.
        tx.batch_execute(SESSION_SETTINGS)?;
        let TableInfo { columns: src_cols, pk, .. } = inspect_or_fail(&mut tx, &source)?;
        let TableInfo { kind, columns: shd_cols, .. } = inspect_or_fail(&mut tx, &shadow)?;
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
        for k in &key {
            column_type(&src_cols, k, &source)?;
            column_type(&shd_cols, k, &shadow)?;
        }
        let shd_names: BTreeSet<&str> = shd_cols.iter().map(|c| c.name.as_str()).collect();
        let columns: Vec<String> =
            src_cols.iter().filter(|c| shd_names.contains(c.name.as_str())).map(|c| c.name.clone()).collect();
        let missing: Vec<String> =
            src_cols.iter().filter(|c| !shd_names.contains(c.name.as_str())).map(|c| c.name.clone()).collect();

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
        windows.push(Window {
            name: format!("recent {}", self.recent),
            kind: WindowKind::Recent,
            from: Some(at(recent)),
            to: None,
            excluded: vec![],
        });
        windows.push(Window {
            name: format!("overlap {}", self.overlap),
            kind: WindowKind::Overlap,
            from: Some(at(recent + overlap)),
            to: Some(at(recent)),
            excluded: vec![],
        });

        let key_ty: Vec<String> =
            key.iter().map(|k| column_type(&src_cols, k, &source)).collect::<anyhow::Result<_>>()?;
        let exprs = ScanExprs::new(&key, &key_ty, &columns, self.seed, self.sample_pct);
        let thresholds = Thresholds { pct: self.max_variance_pct, rows: self.max_variance_rows, cap: self.sample_cap };
        let timeout = parse_duration(&self.window_timeout)?.num_milliseconds();
        let column = ident(&self.time_column);
        // A second session imports this transaction's snapshot (as pg_dump -j does) and takes every other
        // window: the same consistent view, on two cores.
        let snapshot: String = tx.query_one("select pg_export_snapshot()", &[])?.get(0);
        let job = WindowJob {
            source: &source,
            shadow: &shadow,
            column: &column,
            ty: &ty,
            exprs: &exprs,
            thresholds: &thresholds,
            timeout,
        };
        let (mine, theirs): (Vec<_>, Vec<_>) = windows.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let (mine, other) = std::thread::scope(|scope| {
            let helper = scope.spawn(|| -> anyhow::Result<Vec<(usize, WindowResult)>> {
                let mut client = pg::connect(url)?;
                let mut tx2 = client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                tx2.batch_execute(&format!("set transaction snapshot '{}'", snapshot.replace('\'', "")))?;
                tx2.batch_execute(SESSION_SETTINGS)?;
                let out = job.run(&mut tx2, theirs)?;
                tx2.commit()?;
                Ok(out)
            });
            let mine = job.run(&mut tx, mine);
            (mine, helper.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the second parity session panicked"))))
        });
        let mut results = mine?;
        results.extend(other?);
        results.sort_by_key(|(i, _)| *i);
        let results: Vec<WindowResult> = results.into_iter().map(|(_, r)| r).collect();
        tx.commit()?;
        let passed = missing.is_empty() && results.iter().all(|r| r.passed);
        Ok(ParityEvidence {
            kind: "parity",
            started_at: started_at.to_string(),
            snapshot_time,
            target: target.name.clone(),
            database: target.describe(),
            git_commit: None,
            source: source.to_string(),
            shadow: shadow.to_string(),
            time_column: self.time_column.clone(),
            key,
            columns,
            columns_missing_in_shadow: missing,
            seed: self.seed,
            sample_pct: self.sample_pct,
            sample_cap: self.sample_cap,
            max_variance_pct: self.max_variance_pct,
            max_variance_rows: self.max_variance_rows,
            recent: self.recent.clone(),
            overlap: self.overlap.clone(),
            windows: results,
            passed,
        })
    }
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
    inspect(tx, table)?.with_context(|| {
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

/// Evidence as `<stem>.json` and `<stem>.md` in docs/database/evidence/; returns their repository paths.
fn write_evidence<T: Serialize>(repo: &Repo, stem: &str, value: &T, md: &str) -> anyhow::Result<(String, String)> {
    let dir = repo.root.join(EVIDENCE_DIR);
    std::fs::create_dir_all(&dir)?;
    let json = serde_json::to_value(value)?;
    let (json_path, md_path) = (dir.join(format!("{stem}.json")), dir.join(format!("{stem}.md")));
    fsutil::write_atomic(&json_path, (serde_json::to_string_pretty(&json)? + "\n").as_bytes())?;
    fsutil::write_atomic(&md_path, md.as_bytes())?;
    Ok((migrations::rel(&repo.root, &md_path), migrations::rel(&repo.root, &json_path)))
}

fn utc_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub target: String,
    pub table: String,
    pub older_than: String,
    pub cutoff: String,
    pub created_at: String,
    pub partitions: Vec<PlannedPartition>,
    pub kept: Vec<KeptPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedPartition {
    pub name: String,
    pub bound: String,
    pub rows: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptPartition {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    digest: String,
    plan: Plan,
}

impl Plan {
    fn digest(&self) -> String {
        migrations::hex(&Sha256::digest(serde_json::to_vec(self).unwrap_or_default()))
    }

    pub fn render_file(&self) -> String {
        serde_json::to_string_pretty(&PlanFile { digest: self.digest(), plan: self.clone() }).unwrap_or_default() + "\n"
    }

    /// A plan file as written by `--dry-run`; an edited one is refused.
    pub fn load(text: &str, rel: &str) -> anyhow::Result<Plan> {
        let file: PlanFile = serde_json::from_str(text).with_context(|| format!("{rel} is not a prune plan"))?;
        if file.plan.digest() != file.digest {
            bail!(
                "{rel} was edited after `--dry-run` wrote it (digest mismatch); write a new plan with `cargo xtask partition prune --dry-run` and review that"
            );
        }
        Ok(file.plan)
    }
}

impl flags::Prune {
    fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let repo = Repo::open(sh)?;
        let mut redactor = Redactor::from_env();
        let target = Resolved::resolve(sh, &repo, &self.target, &mut redactor)?;
        let url = direct_url(&target, "partition prune")?;
        let table = TableRef::parse(&self.table)?;
        let mut client = pg::connect(&url)?;
        match &self.execute {
            None => {
                let older_than = self.older_than.as_deref().context("--dry-run needs --older-than (e.g. 90d)")?;
                let plan = plan(&mut client, &target.name, &table, older_than)?;
                let stem = format!("{}-prune-{table}", plan.created_at.replace(':', ""));
                let dir = repo.root.join(EVIDENCE_DIR);
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(format!("{stem}.plan.json"));
                fsutil::write_atomic(&path, plan.render_file().as_bytes())?;
                fsutil::write_atomic(&dir.join(format!("{stem}.plan.md")), render_plan(&plan).as_bytes())?;
                print!("{}", render_plan(&plan));
                let rel = migrations::rel(&repo.root, &path);
                eprintln!(
                    "prune: plan written to {rel}; nothing changed. After review: cargo xtask partition prune --target {} --table {table} --execute {rel}",
                    target.name
                );
                Ok(())
            }
            Some(plan_path) => execute(&repo, &mut client, &target.name, &table, plan_path),
        }
    }
}

struct LivePartition {
    name: String,
    bound: String,
    upper_older: Option<bool>,
}

fn live_partitions(
    client: &mut postgres::Client,
    table: &TableRef,
    cutoff_sql: &str,
) -> anyhow::Result<Vec<LivePartition>> {
    let kind: Option<String> = client
        .query_opt("select c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2", &[&table.schema, &table.name])?
        .map(|r| r.get(0));
    match kind.as_deref() {
        None => bail!("table {table} does not exist in the target"),
        Some("p") => {}
        Some(_) => bail!("{table} is not a partitioned table"),
    }
    let rows = client.query(
        "select c.relname::text, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::text::regclass order by 1",
        &[&table.sql()],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let (name, bound): (String, String) = (r.get(0), r.get(1));
        let upper_older = match parse_range_bound(&bound)? {
            Some((_, Bound::Literal(upper))) => {
                Some(client.query_one(&format!("select {upper}::timestamptz <= {cutoff_sql}"), &[])?.get(0))
            }
            Some(_) => Some(false),
            None => None,
        };
        out.push(LivePartition { name, bound, upper_older });
    }
    Ok(out)
}

fn plan(client: &mut postgres::Client, target: &str, table: &TableRef, older_than: &str) -> anyhow::Result<Plan> {
    let d = parse_duration(older_than)?;
    let cutoff: String =
        client.query_one(&format!("select (now() - interval '{} seconds')::text", d.num_seconds()), &[])?.get(0);
    let cutoff_sql = format!("timestamptz '{cutoff}'");
    let parts = live_partitions(client, table, &cutoff_sql)?;
    // The newest partition (highest upper bound) always stays: new rows land there.
    let newest = parts
        .iter()
        .filter_map(|p| parse_range_bound(&p.bound).ok().flatten().map(|(_, upper)| (p.name.clone(), upper)))
        .max_by(|a, b| bound_order(&a.1).cmp(&bound_order(&b.1)).then_with(|| upper_cmp(client, &a.1, &b.1)))
        .map(|(n, _)| n);
    let mut plan = Plan {
        target: target.into(),
        table: table.to_string(),
        older_than: older_than.into(),
        cutoff,
        created_at: utc_now(),
        partitions: vec![],
        kept: vec![],
    };
    for p in parts {
        if p.upper_older.is_none() {
            plan.kept.push(KeptPartition { name: p.name, reason: "the default partition is never pruned".into() });
        } else if Some(&p.name) == newest.as_ref() {
            plan.kept.push(KeptPartition { name: p.name, reason: "the newest partition is never pruned".into() });
        } else if p.upper_older == Some(true) {
            let part = TableRef { schema: table.schema.clone(), name: p.name.clone() };
            let row = client.query_one(
                &format!(
                    "select count(*), pg_total_relation_size('{}'::regclass) from {}",
                    part.sql().replace('\'', "''"),
                    part.sql()
                ),
                &[],
            )?;
            plan.partitions.push(PlannedPartition {
                name: p.name,
                bound: p.bound,
                rows: row.get(0),
                bytes: row.get(1),
            });
        }
    }
    Ok(plan)
}

fn bound_order(b: &Bound) -> u8 {
    match b {
        Bound::Min => 0,
        Bound::Literal(_) => 1,
        Bound::Max => 2,
    }
}

fn upper_cmp(client: &mut postgres::Client, a: &Bound, b: &Bound) -> std::cmp::Ordering {
    match (a, b) {
        (Bound::Literal(x), Bound::Literal(y)) => {
            let sql = format!("select sign(extract(epoch from {x}::timestamptz - {y}::timestamptz))::int");
            match client.query_one(&sql, &[]).map(|r| r.get::<_, i32>(0)) {
                Ok(1) => std::cmp::Ordering::Greater,
                Ok(-1) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Equal,
            }
        }
        _ => std::cmp::Ordering::Equal,
    }
}

fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Retention plan: {} on {}\n", plan.table, plan.target);
    let _ = writeln!(
        out,
        "Partitions whose upper bound is at or before {} (now - {}), written {}. Nothing has changed yet.\n",
        plan.cutoff, plan.older_than, plan.created_at
    );
    if plan.partitions.is_empty() {
        let _ = writeln!(out, "No partition is old enough.\n");
    } else {
        let _ = writeln!(out, "| partition | bound | rows | size |\n|---|---|---|---|");
        for p in &plan.partitions {
            let _ = writeln!(out, "| {} | `{}` | {} | {} kB |", p.name, p.bound, p.rows, p.bytes / 1024);
        }
        out.push('\n');
    }
    for k in &plan.kept {
        let _ = writeln!(out, "Kept: {} ({})", k.name, k.reason);
    }
    out
}

#[derive(Debug, Serialize)]
struct Executed {
    plan: String,
    target: String,
    table: String,
    started_at: String,
    steps: Vec<String>,
    finished: bool,
}

fn execute(
    repo: &Repo,
    client: &mut postgres::Client,
    target: &str,
    table: &TableRef,
    plan_path: &Path,
) -> anyhow::Result<()> {
    let rel = plan_path.display().to_string();
    let path = if plan_path.is_absolute() { plan_path.to_path_buf() } else { repo.root.join(plan_path) };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {rel}"))?;
    let plan = Plan::load(&text, &rel)?;
    if plan.target != target || plan.table != table.to_string() {
        bail!("{rel} is a plan for {} on {}, not {table} on {target}", plan.table, plan.target);
    }
    // Every partition must still exist, attached, with the bound that was reviewed; otherwise nothing runs.
    let live = live_partitions(client, table, "now()")?;
    let changed: Vec<String> = plan
        .partitions
        .iter()
        .filter(|p| !live.iter().any(|l| l.name == p.name && l.bound == p.bound))
        .map(|p| p.name.clone())
        .collect();
    if !changed.is_empty() {
        return Err(Blocked(format!(
            "prune: {} no longer exist(s) with the reviewed bound under {table}; nothing was detached or dropped. Write and review a new plan (`--dry-run`)",
            changed.join(", ")
        ))
        .into());
    }
    let has_default = live.iter().any(|l| l.upper_older.is_none());
    let mut done = Executed {
        plan: rel.clone(),
        target: target.into(),
        table: table.to_string(),
        started_at: utc_now(),
        steps: vec![],
        finished: false,
    };
    let result = (|| -> anyhow::Result<()> {
        for p in &plan.partitions {
            let part = TableRef { schema: table.schema.clone(), name: p.name.clone() };
            // CONCURRENTLY keeps writers running; Postgres refuses it while the table has a default partition.
            let how = if has_default { "" } else { " concurrently" };
            client.batch_execute(&format!("alter table {} detach partition {}{how}", table.sql(), part.sql()))?;
            done.steps.push(format!("detached {}{how}", p.name));
            client.batch_execute(&format!("drop table {}", part.sql()))?;
            done.steps.push(format!("dropped {} ({} rows)", p.name, p.rows));
        }
        Ok(())
    })();
    done.finished = result.is_ok();
    let stem = format!("{}-prune-{table}.executed", done.started_at.replace(':', ""));
    let md = format!(
        "# Retention executed: {table} on {target}\n\nPlan: `{rel}`\n\n{}\n",
        done.steps.iter().map(|s| format!("- {s}")).collect::<Vec<_>>().join("\n")
    );
    let (md_path, _) = write_evidence(repo, &stem, &done, &md)?;
    result.with_context(|| format!("prune stopped; what was done is recorded in {md_path}"))?;
    println!("{md}");
    eprintln!("prune: done; recorded in {md_path}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), chrono::Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), chrono::Duration::hours(12));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
    }

    #[test]
    fn range_bounds() {
        assert_eq!(
            parse_range_bound("FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')").unwrap(),
            Some((
                Bound::Literal("'2026-01-01 00:00:00+00'".into()),
                Bound::Literal("'2026-02-01 00:00:00+00'".into())
            ))
        );
        assert_eq!(
            parse_range_bound("FOR VALUES FROM (MINVALUE) TO ('2026-01-01')").unwrap(),
            Some((Bound::Min, Bound::Literal("'2026-01-01'".into())))
        );
        assert_eq!(parse_range_bound("DEFAULT").unwrap(), None);
        assert!(parse_range_bound("FOR VALUES IN ('a')").is_err());
        assert!(parse_range_bound("FOR VALUES FROM ('a', 1) TO ('b', 2)").is_err());
    }

    #[test]
    fn windows_and_predicates() {
        let parts = vec![
            ("p2".to_string(), "FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')".to_string()),
            ("pd".to_string(), "DEFAULT".to_string()),
            ("p1".to_string(), "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')".to_string()),
        ];
        let w = partition_windows(&parts).unwrap();
        assert_eq!(w.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["p1", "p2", "pd"]);
        assert_eq!(
            w[0].predicate("\"at\"", "timestamptz"),
            "\"at\" >= '2026-01-01'::timestamptz and \"at\" < '2026-02-01'::timestamptz"
        );
        assert_eq!(
            w[2].predicate("\"at\"", "date"),
            "\"at\" is not null and not ((\"at\" >= '2026-01-01'::date and \"at\" < '2026-02-01'::date) or (\"at\" >= '2026-02-01'::date and \"at\" < '2026-03-01'::date))"
        );
    }

    fn scan(rows: &[(&str, i64, &str)], count: i64) -> Scan {
        Scan { count, sample: rows.iter().map(|(k, h, r)| (k.to_string(), (*h, r.to_string()))).collect() }
    }

    #[test]
    fn compare_counts_at_and_past_the_threshold() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        assert!(compare(&scan(&[], 1000), &scan(&[], 900), &t).passed, "exactly 100 rows apart");
        assert!(!compare(&scan(&[], 1000), &scan(&[], 899), &t).passed, "101 rows apart");
        let big = compare(&scan(&[], 1_000_000), &scan(&[], 999_000), &t);
        assert!(big.passed && big.allowed_variance == 1000.0, "0.1% of a million is 1000");
    }

    #[test]
    fn compare_samples_both_ways() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        let source = scan(&[("(1)", 5, "a"), ("(2)", 3, "b"), ("(3)", 9, "c")], 3);
        let shadow = scan(&[("(1)", 5, "a"), ("(2)", 3, "B"), ("(4)", 1, "d")], 3);
        let r = compare(&source, &shadow, &t);
        assert_eq!(
            (r.only_in_source.clone(), r.only_in_shadow.clone(), r.differing.clone()),
            (vec!["(3)".to_string()], vec!["(4)".to_string()], vec!["(2)".to_string()])
        );
        assert_eq!(r.mismatches, 3);
        assert!(!r.passed);
        let capped = compare(&source, &shadow, &Thresholds { cap: 1, ..t });
        assert_eq!(capped.sampled_source, 1, "the lowest key hash only: (2)");
        assert_eq!(capped.differing, ["(2)"]);
    }

    #[test]
    fn plans_refuse_hand_edits() {
        let plan = Plan {
            target: "prod".into(),
            table: "public.audit_log".into(),
            older_than: "90d".into(),
            cutoff: "2026-08-26".into(),
            created_at: "2026-11-24T00:00:00Z".into(),
            partitions: vec![PlannedPartition {
                name: "audit_log_2026_01".into(),
                bound: "FOR VALUES ...".into(),
                rows: 5,
                bytes: 8192,
            }],
            kept: vec![],
        };
        let text = plan.render_file();
        assert_eq!(Plan::load(&text, "p.json").unwrap(), plan);
        let edited = text.replace("audit_log_2026_01", "audit_log_2026_02");
        assert!(
            Plan::load(&edited, "p.json").unwrap_err().to_string().contains("was edited after `--dry-run` wrote it")
        );
    }
}
