//! Parity's reads: one table's shape, and one scan of one window (count and sampled row hashes), inside a
//! snapshot transaction whose row text does not depend on the session.

use std::collections::BTreeMap;

use anyhow::Context;

use super::TableRef;
use super::ident;
use super::windows::{Scan, Thresholds, Window, WindowResult, compare};

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

const SESSION_SETTINGS: &str = "set local timezone = 'UTC'; set local datestyle = 'ISO, YMD'; set local intervalstyle = 'postgres'; \
     set local extra_float_digits = 3; set local bytea_output = 'hex'";

/// What every window's scan needs, shared by the two sessions.
pub(super) struct WindowJob<'a> {
    pub(super) source: &'a TableRef,
    pub(super) shadow: &'a TableRef,
    pub(super) column: &'a str,
    pub(super) ty: &'a str,
    pub(super) exprs: &'a ScanExprs,
    pub(super) thresholds: &'a Thresholds,
    pub(super) timeout: i64,
}

impl WindowJob<'_> {
    pub(super) fn run(
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
