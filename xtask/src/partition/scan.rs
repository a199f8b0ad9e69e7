//! Parity's reads: one table's shape; one aggregate pass per partition window and table (count, sampled count,
//! sum of sampled row hashes, and the recent/overlap windows' share), with plain aggregates Postgres runs in
//! parallel; and, only for a window whose sums differ, its sampled rows. All inside a snapshot transaction whose
//! row text does not depend on the session.

use anyhow::Context;

use super::TableRef;
use super::ident;
use super::windows::{Sample, Summary, Window, WindowKind, sample_threshold};

pub(super) struct Column {
    pub(super) name: String,
    pub(super) ty: String,
}

/// What parity needs to know of a table: its kind (`p` partitioned), columns and primary key.
pub(super) struct TableInfo {
    pub(super) kind: char,
    pub(super) columns: Vec<Column>,
    pub(super) pk: Vec<String>,
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

/// A REPEATABLE READ READ ONLY transaction whose row text does not depend on the session's settings; with
/// `import`, it sees the snapshot another session exported (imported first, as Postgres requires).
pub(super) fn snapshot_transaction<'c>(
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

// JIT off: compiling these expressions costs more than it saves on a window. No parallel workers: the two
// sessions already use two cores, and parity runs against production, whose other cores are not ours to take
// (measured: with workers, the bench is slower on two cores, not faster).
const SESSION_SETTINGS: &str = "set local timezone = 'UTC'; set local datestyle = 'ISO, YMD'; set local intervalstyle = 'postgres'; \
     set local extra_float_digits = 3; set local bytea_output = 'hex'; set local jit = off; set local max_parallel_workers_per_gather = 0";

pub(super) fn inspect_or_fail(tx: &mut postgres::Transaction, table: &TableRef) -> anyhow::Result<TableInfo> {
    inspect_table(tx, table)?.with_context(|| {
        format!("table {table} does not exist in the target; check the --source/--shadow name (schema.table)")
    })
}

pub(super) fn column_type(columns: &[Column], name: &str, table: &TableRef) -> anyhow::Result<String> {
    columns
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.ty.clone())
        .with_context(|| format!("{table} has no column `{name}`"))
}

/// One aggregate pass: a partition window (on the shadow, its partition read whole), carrying the recent and
/// overlap windows' share of it so no row is read twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unit {
    pub(super) window: usize,
    pub(super) extras: Vec<usize>,
}

/// What a unit's pass yields on each table: the window's summary, then each extra's.
pub(super) struct UnitResult {
    pub(super) unit: Unit,
    pub(super) source: Vec<Summary>,
    pub(super) shadow: Vec<Summary>,
}

/// What every unit's passes need, shared by the two sessions.
pub(super) struct WindowJob<'a> {
    pub(super) source: &'a TableRef,
    pub(super) shadow: &'a TableRef,
    pub(super) column: &'a str,
    pub(super) ty: &'a str,
    pub(super) exprs: &'a ScanExprs,
    pub(super) windows: &'a [Window],
    pub(super) timeout: i64,
}

impl WindowJob<'_> {
    pub(super) fn run(&self, tx: &mut postgres::Transaction, units: Vec<Unit>) -> anyhow::Result<Vec<UnitResult>> {
        let mut out = Vec::new();
        for unit in units {
            tx.batch_execute(&format!("set local statement_timeout = {}", self.timeout))?;
            let w = &self.windows[unit.window];
            let extras: Vec<String> =
                unit.extras.iter().map(|&i| self.windows[i].predicate(self.column, self.ty)).collect();
            let source_sql =
                summary_sql(&self.source.sql(), Some(&w.predicate(self.column, self.ty)), &extras, self.exprs);
            let source = summaries(tx, &source_sql, extras.len())
                .with_context(|| format!("window {}: reading {}", w.name, self.source))?;
            // The shadow's partition holds exactly the window; outside every partition it holds nothing.
            let shadow = match &w.relation {
                Some(relation) => summaries(tx, &summary_sql(relation, None, &extras, self.exprs), extras.len())
                    .with_context(|| format!("window {}: reading {relation}", w.name))?,
                None => vec![Summary::default(); extras.len() + 1],
            };
            out.push(UnitResult { unit, source, shadow });
        }
        Ok(out)
    }

    /// The sampled rows of window `w` on both tables, to name the keys of a window whose sums differ.
    pub(super) fn detail(&self, tx: &mut postgres::Transaction, w: &Window) -> anyhow::Result<(Sample, Sample)> {
        tx.batch_execute(&format!("set local statement_timeout = {}", self.timeout))?;
        let pred = w.predicate(self.column, self.ty);
        let source = sample(tx, &self.source.sql(), &pred, self.exprs)
            .with_context(|| format!("window {}: listing {}", w.name, self.source))?;
        let shadow = match (&w.relation, &w.kind) {
            (Some(relation), _) => sample(tx, relation, "true", self.exprs),
            (None, WindowKind::Outside) => Ok(Sample::default()),
            (None, _) => sample(tx, &self.shadow.sql(), &pred, self.exprs),
        }
        .with_context(|| format!("window {}: listing {}", w.name, self.shadow))?;
        Ok((source, shadow))
    }
}

/// Which of `extras` (recent, overlap) overlap each partition window, decided by Postgres on the column's type.
/// The default partition and the rows outside every partition may hold any time, so they carry every extra.
pub(super) fn plan_units(
    tx: &mut postgres::Transaction,
    windows: &[Window],
    extras: &[usize],
    ty: &str,
) -> anyhow::Result<Vec<Unit>> {
    let parts: Vec<usize> = (0..windows.len()).filter(|i| !extras.contains(i)).collect();
    let mut tests = Vec::new();
    for &p in &parts {
        for &e in extras {
            tests.push(overlaps(&windows[p], &windows[e], ty));
        }
    }
    let verdicts: Vec<bool> = if tests.is_empty() {
        Vec::new()
    } else {
        tx.query_one(&format!("select array[{}]::bool[]", tests.join(", ")), &[])?.get(0)
    };
    let mut verdicts = verdicts.into_iter();
    Ok(parts
        .into_iter()
        .map(|window| {
            let extras = extras.iter().copied().filter(|_| verdicts.next().unwrap_or(true)).collect();
            Unit { window, extras }
        })
        .collect())
}

/// SQL that is true when the two windows' ranges share a moment (an open end always may).
fn overlaps(part: &Window, extra: &Window, ty: &str) -> String {
    if !matches!(part.kind, WindowKind::Partition) {
        return "true".to_string();
    }
    let before = |from: &Option<String>, to: &Option<String>| match (from, to) {
        (Some(f), Some(t)) => format!("{f}::{ty} < {t}::{ty}"),
        _ => "true".to_string(),
    };
    format!("({} and {})", before(&extra.from, &part.to), before(&part.from, &extra.to))
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
        // An integer key hashes as an integer (cheap); any other key by its text. One comparison picks the
        // sample: the test runs on every row, so it is kept to two function calls.
        let key_hash = if integer {
            format!("hashint8extended({}::bigint, {seed})", key_cols[0])
        } else {
            format!("hashtextextended({key_text}, {seed})")
        };
        let sampled = match sample_threshold(pct) {
            Some(t) => format!("{key_hash} < {t}"),
            None => "true".to_string(),
        };
        // A record's text keeps NULL (nothing) apart from '' (""), in the columns' fixed order.
        let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let row_hash = format!("hashtextextended(row({})::text, {seed})", cols.join(", "));
        ScanExprs { key_text, key_hash, sampled, row_hash }
    }
}

/// Each sampled row adds 2^128 + (its row hash + 2^63) to a window's `numeric` sum, so one aggregate (one
/// sample test per row) carries both the sampled count (the sum div 2^128) and the hash sum (the remainder).
const PACK: &str = "340282366920938463463374607431768211456";
const HASH_OFFSET: &str = "9223372036854775808";

/// One aggregate pass over `from` (filtered by `predicate`): count, sampled count and the sum of sampled row
/// hashes for the whole, then for each extra predicate. Plain aggregates only, so Postgres may run it in parallel.
pub fn summary_sql(from: &str, predicate: Option<&str>, extras: &[String], e: &ScanExprs) -> String {
    let packed = format!("{}::numeric + {HASH_OFFSET} + {PACK}", e.row_hash);
    let mut inner = vec!["count(*)".to_string(), format!("sum({packed}) filter (where {})", e.sampled)];
    for p in extras {
        inner.push(format!("count(*) filter (where {p})"));
        inner.push(format!("sum({packed}) filter (where {p} and {})", e.sampled));
    }
    let outer: Vec<String> = (0..inner.len() / 2)
        .map(|i| {
            let (n, sum) = (format!("c{}", 2 * i), format!("coalesce(c{}, 0)", 2 * i + 1));
            format!("{n}, div({sum}, {PACK})::bigint, mod({sum}, {PACK})::text")
        })
        .collect();
    let inner: Vec<String> = inner.iter().enumerate().map(|(i, c)| format!("{c} as c{i}")).collect();
    let filter = predicate.map(|p| format!(" where {p}")).unwrap_or_default();
    format!("select {} from (select {} from {from}{filter}) q", outer.join(", "), inner.join(", "))
}

fn summaries(tx: &mut postgres::Transaction, sql: &str, extras: usize) -> anyhow::Result<Vec<Summary>> {
    let row = tx.query_one(sql, &[])?;
    (0..=extras)
        .map(|i| {
            let sum: String = row.get(3 * i + 2);
            let fingerprint = sum.parse().with_context(|| format!("a sum of row hashes `{sum}`"))?;
            Ok(Summary { count: row.get(3 * i), sampled: row.get(3 * i + 1), fingerprint })
        })
        .collect()
}

/// The sampled rows of `from` within `predicate`: key text -> (key hash, row hash).
fn sample(tx: &mut postgres::Transaction, from: &str, predicate: &str, e: &ScanExprs) -> anyhow::Result<Sample> {
    let sql = format!(
        "select {kt}, {kh}, {rh}::text from {from} where {predicate} and {s}",
        kt = e.key_text,
        kh = e.key_hash,
        rh = e.row_hash,
        s = e.sampled
    );
    let rows = tx.query(&sql, &[])?.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    Ok(Sample { rows })
}
