//! Parity's reads: one table's shape; the plan (the buckets every window bound makes, the source cut into page
//! slices, one read per shadow partition); one aggregate per read, packed per bucket
//! (`domain::partition::buckets`); and, only for a window whose sums differ, its sampled rows. All inside a snapshot transaction whose row text does not
//! depend on the session.

use anyhow::Context;

use super::TableRef;
use crate::domain::partition::buckets::{
    Exprs, GROUP, Layout, Queue, Span, Sums, page_filter, page_slices, window_buckets,
};
use crate::domain::partition::compare::{Sample, Summary, sample_threshold};
use crate::domain::partition::windows::{Window, WindowKind};
use crate::edges::postgres::ident;

pub(super) struct Column {
    pub(super) name: String,
    pub(super) ty: String,
    pub(super) not_null: bool,
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
        .query("select attname::text, format_type(atttypid, atttypmod), attnotnull from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped order by attnum", &[&oid])?
        .iter()
        .map(|r| Column { name: r.get(0), ty: r.get(1), not_null: r.get(2) })
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

/// Which table a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Source,
    Shadow,
}

/// One aggregate read: a slice of the source's pages, or one partition of the shadow, and the buckets its rows
/// can fall in (a range partition's rows lie in its range, so most of its rows add a constant).
pub(super) struct Scan {
    side: Side,
    relation: String,
    filter: Option<String>,
    span: Span,
    pages: u64,
}

impl Scan {
    /// About what the read costs: its pages, the source's by half again (every row walks the bucket tree).
    pub(super) fn weight(&self) -> u64 {
        match self.side {
            Side::Source => self.pages + self.pages / 2,
            Side::Shadow => self.pages,
        }
    }
}

/// The buckets, which buckets each window covers, and the reads that fill them.
pub(super) struct ScanPlan {
    pub(super) layout: Layout,
    pub(super) covers: Vec<Vec<usize>>,
    pub(super) scans: Vec<Scan>,
}

/// Whether each table's time column may hold NULL (a NOT NULL column's rows skip that test).
#[derive(Debug, Clone, Copy)]
pub(super) struct NullTimes {
    pub(super) source: bool,
    pub(super) shadow: bool,
}

/// Reads of the source no longer than this: one statement over a bigger table would outlast its timeout.
/// Below it the table is one read, since a TID range scan costs about half again per row (measured).
const SLICE_PAGES: u64 = 131_072;

/// The buckets from every window's bounds, sorted by Postgres on the column's type; the source in one read, or
/// in slices of at most 1 GiB; one read per partition of the shadow.
pub(super) fn plan(
    tx: &mut postgres::Transaction,
    windows: &[Window],
    source: &TableRef,
    ty: &str,
    nulls: NullTimes,
) -> anyhow::Result<ScanPlan> {
    let (layout, ranks) = bounds(tx, windows, ty)?;
    let covers = window_buckets(&layout, windows, &ranks);
    let mut scans = shadow_scans(tx, windows, &layout, &ranks, nulls.shadow)?;
    scans.extend(source_scans(tx, source, Span { nulls: nulls.source, ..layout.everything() })?);
    Ok(ScanPlan { layout, covers, scans })
}

/// One read per partition of the shadow: a range partition's rows can only be in its own buckets.
fn shadow_scans(
    tx: &mut postgres::Transaction,
    windows: &[Window],
    layout: &Layout,
    ranks: &Ranks,
    nullable: bool,
) -> anyhow::Result<Vec<Scan>> {
    let parts: Vec<(usize, &String)> =
        windows.iter().enumerate().filter_map(|(i, w)| w.relation.as_ref().map(|r| (i, r))).collect();
    let names: Vec<&str> = parts.iter().map(|(_, r)| r.as_str()).collect();
    let pages: Vec<i64> = tx
        .query_one(
            "select array(select pg_relation_size(r::regclass) / current_setting('block_size')::bigint from unnest($1::text[]) with ordinality u(r, i) order by i)",
            &[&names],
        )?
        .get(0);
    let scan = |&(i, relation): &(usize, &String), pages: i64| Scan {
        side: Side::Shadow,
        relation: relation.clone(),
        filter: None,
        span: match windows[i].kind {
            WindowKind::Partition => Span { range: layout.between(ranks[i].0, ranks[i].1), nulls: false },
            _ => Span { nulls: nullable, ..layout.everything() },
        },
        pages: pages as u64,
    };
    Ok(parts.iter().zip(pages).map(|(part, pages)| scan(part, pages)).collect())
}

/// The source in one read, or a plain table over 1 GiB in page slices; any other kind is read whole.
fn source_scans(tx: &mut postgres::Transaction, source: &TableRef, span: Span) -> anyhow::Result<Vec<Scan>> {
    let row = tx.query_one(
        "select c.relkind::text, pg_relation_size(c.oid) / current_setting('block_size')::bigint from pg_class c where c.oid = $1::text::regclass",
        &[&source.sql()],
    )?;
    let (kind, pages): (String, i64) = (row.get(0), row.get(1));
    let slices = match kind.as_str() {
        "r" => page_slices(pages as u64, SLICE_PAGES),
        _ => vec![(None, None)],
    };
    let per_slice = pages as u64 / slices.len() as u64;
    let scan = |range| Scan {
        side: Side::Source,
        relation: source.sql(),
        filter: page_filter(range),
        span: span.clone(),
        pages: per_slice,
    };
    Ok(slices.into_iter().map(scan).collect())
}

/// Each window's bounds (from, to) as 1-based ranks among the sorted bounds; `None` is an open end.
type Ranks = Vec<(Option<usize>, Option<usize>)>;

/// Every window bound evaluated and sorted by Postgres (so `date`, `timestamp` and `timestamptz` compare as
/// Postgres compares them), distinct, and each window's bounds as ranks among them.
fn bounds(tx: &mut postgres::Transaction, windows: &[Window], ty: &str) -> anyhow::Result<(Layout, Ranks)> {
    let mut exprs = Vec::new();
    let mut index = |e: &Option<String>| {
        e.as_ref().map(|e| {
            exprs.push(format!("({e})::{ty}"));
            exprs.len() - 1
        })
    };
    let at: Vec<(Option<usize>, Option<usize>)> = windows.iter().map(|w| (index(&w.from), index(&w.to))).collect();
    let (sorted, positions): (Vec<String>, Vec<i32>) = if exprs.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let list = exprs.join(", ");
        let positions: Vec<String> = exprs.iter().map(|e| format!("array_position(a, {e})")).collect();
        let row = tx.query_one(
            &format!(
                "with b as (select array(select distinct v from unnest(array[{list}]) v order by v) a) select a::text[], array[{}]::int[] from b",
                positions.join(", ")
            ),
            &[],
        )?;
        (row.get(0), row.get(1))
    };
    let rank = |i: Option<usize>| i.map(|i| positions[i] as usize);
    let ranks = at.into_iter().map(|(f, t)| (rank(f), rank(t))).collect();
    Ok((Layout { bounds: sorted, ty: ty.to_string(), group: GROUP }, ranks))
}

/// What every scan needs, shared by the two sessions.
pub(super) struct WindowJob<'a> {
    pub(super) source: &'a TableRef,
    pub(super) shadow: &'a TableRef,
    pub(super) column: &'a str,
    pub(super) ty: &'a str,
    pub(super) exprs: &'a ScanExprs,
    pub(super) windows: &'a [Window],
    pub(super) plan: &'a ScanPlan,
    pub(super) timeout: i64,
}

impl WindowJob<'_> {
    /// Scans taken from `queue` until none is left, each one aggregate, added up per bucket and table.
    pub(super) fn run(&self, tx: &mut postgres::Transaction, queue: &Queue) -> anyhow::Result<Sums> {
        let layout = &self.plan.layout;
        let mut sums = Sums {
            source: vec![Summary::default(); layout.buckets()],
            shadow: vec![Summary::default(); layout.buckets()],
        };
        let e = Exprs { column: self.column, sampled: &self.exprs.sampled, row_hash: &self.exprs.row_hash };
        while let Some(i) = queue.take() {
            let scan = &self.plan.scans[i];
            tx.batch_execute(&format!("set local statement_timeout = {}", self.timeout))?;
            let (sql, groups) = layout.packed_sql(&scan.span, &e, &scan.relation, scan.filter.as_deref());
            let row = tx.query_one(&sql, &[]).with_context(|| match &scan.filter {
                Some(f) => format!("reading {} where {f}", scan.relation),
                None => format!("reading {}", scan.relation),
            })?;
            let texts: Vec<String> = (0..groups.len()).map(|c| row.get(c)).collect();
            let into = match scan.side {
                Side::Source => &mut sums.source,
                Side::Shadow => &mut sums.shadow,
            };
            layout.decode(&groups, &texts, into)?;
        }
        Ok(sums)
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

/// The SQL expressions of a scan: the key's text, its seeded hash, the sample test, and the row's SHA-256 (the
/// runbook's record hash): its first 64 bits as a `bigint` for the window sums, the whole digest in hex where a
/// window's rows are listed.
pub struct ScanExprs {
    key_text: String,
    key_hash: String,
    pub(super) sampled: String,
    pub(super) row_hash: String,
    row_digest: String,
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
        // A record's text keeps NULL (nothing) apart from '' (""), in the columns' fixed order; hashed as UTF-8
        // whatever the database's encoding.
        let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let digest = format!("sha256(convert_to(row({})::text, 'UTF8'))", cols.join(", "));
        let row_hash = format!("('x' || encode(substr({digest}, 1, 8), 'hex'))::bit(64)::bigint");
        let row_digest = format!("encode({digest}, 'hex')");
        ScanExprs { key_text, key_hash, sampled, row_hash, row_digest }
    }
}

/// The sampled rows of `from` within `predicate`: key text -> (key hash, the row's SHA-256 in hex).
fn sample(tx: &mut postgres::Transaction, from: &str, predicate: &str, e: &ScanExprs) -> anyhow::Result<Sample> {
    let sql = format!(
        "select {kt}, {kh}, {rd} from {from} where {predicate} and {s}",
        kt = e.key_text,
        kh = e.key_hash,
        rd = e.row_digest,
        s = e.sampled
    );
    let rows = tx.query(&sql, &[])?.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    Ok(Sample { rows })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// The record hash is the runbook's SHA-256 of the row's text: what a reviewer gets from `sha256()` by hand.
    #[test]
    fn the_row_hash_is_the_sha256_of_the_rows_text() {
        let (_tmp, admin) = crate::edges::postgres::TempCluster::start();
        let mut client = crate::edges::postgres::connect(&admin).unwrap();
        client
            .batch_execute(
                "create table e (id bigint primary key, at timestamptz, v text, n text);
                 insert into e values (1, '2026-03-01 12:00:00+02', 'ä ''x''', null), (2, null, '', '');",
            )
            .unwrap();
        let cols = ["id", "at", "v", "n"].map(String::from);
        let e = ScanExprs::new(&["id".into()], &["bigint".into()], &cols, 7, 100.0);
        let mut tx = snapshot_transaction(&mut client, None).unwrap();
        let sql = format!("select row(id, at, v, n)::text, {}, {} from e order by id", e.row_hash, e.row_digest);
        let rows = tx.query(&sql, &[]).unwrap();
        let texts: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(texts, [r#"(1,"2026-03-01 10:00:00+00","ä 'x'",)"#, r#"(2,,"","")"#], "UTC, NULL apart from ''");
        for row in &rows {
            let digest = Sha256::digest(row.get::<_, String>(0).as_bytes());
            let first = i64::from_be_bytes(digest[..8].try_into().unwrap());
            assert_eq!(row.get::<_, i64>(1), first, "the sums take the digest's first 64 bits");
            assert_eq!(
                row.get::<_, String>(2),
                crate::domain::history::migrations::hex(&digest),
                "listings show the whole digest"
            );
        }
    }

    /// The packed sums against a plain GROUP BY of the same rows, with sums of two buckets each (so rows spread over
    /// several sums) and of the usual size, whole and in page slices.
    #[test]
    fn packed_sums_equal_a_group_by_on_a_real_server() {
        let (_tmp, admin) = crate::edges::postgres::TempCluster::start();
        let mut client = crate::edges::postgres::connect(&admin).unwrap();
        client
            .batch_execute(
                "create table e (id bigint primary key, t date, v text);
                 insert into e select i, case when i % 97 = 0 then null else date '2025-12-20' + (i % 120) end, md5(i::text)
                 from generate_series(1, 20000) i;",
            )
            .unwrap();
        let bounds = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-03-15"];
        let (sampled, row_hash) = ("hashint8extended(id, 7) < -8000000000000000000", "hashtextextended(e::text, 7)");
        let array = format!("array['{}']::date[]", bounds.join("','"));
        let expected: Vec<Summary> = {
            let sql = format!(
                "select coalesce(width_bucket(t, {array}), {null}), count(*), count(*) filter (where {sampled}),
                        mod(coalesce(sum({row_hash}::numeric + 9223372036854775808) filter (where {sampled}), 0), 340282366920938463463374607431768211456)::text
                 from e group by 1",
                null = bounds.len() + 1
            );
            let mut out = vec![Summary::default(); bounds.len() + 2];
            for row in client.query(&sql, &[]).unwrap() {
                let k: i32 = row.get(0);
                let hashes: String = row.get(3);
                out[k as usize] =
                    Summary { count: row.get(1), sampled: row.get(2), fingerprint: hashes.parse().unwrap() };
            }
            out
        };
        assert!(expected.iter().all(|s| s.count > 0 && s.sampled > 0), "every bucket has rows: {expected:?}");
        let pages: i64 = client.query_one("select pg_relation_size('e') / 8192", &[]).unwrap().get(0);
        for group in [2, GROUP] {
            let l = Layout { bounds: bounds.map(String::from).to_vec(), ty: "date".to_string(), group };
            for slice in [pages as u64 + 1, 7] {
                let mut got = vec![Summary::default(); l.buckets()];
                for range in page_slices(pages as u64, slice) {
                    let filter = page_filter(range);
                    let e = Exprs { column: "t", sampled, row_hash };
                    let (sql, groups) = l.packed_sql(&l.everything(), &e, "e", filter.as_deref());
                    let row = client.query_one(&sql, &[]).unwrap();
                    let texts: Vec<String> = (0..groups.len()).map(|i| row.get(i)).collect();
                    l.decode(&groups, &texts, &mut got).unwrap();
                }
                assert_eq!(got, expected, "sums of {group} buckets, slices of {slice} pages");
            }
        }
    }
}
