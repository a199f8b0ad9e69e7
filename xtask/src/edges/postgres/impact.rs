//! What each batch file does to the tables that already exist: the locks it holds in ACCESS EXCLUSIVE, EXCLUSIVE
//! or SHARE modes, the tables it rewrites (their `relfilenode` changes), and the indexes it builds without
//! CONCURRENTLY. Measured by applying each file in its own transaction on a shadow at the target's head and
//! reading the backend's own locks before the commit; joined with the target's sizes, so the review reads
//! "rewrites public.events (2.1 GB, 40M rows on prod) under ACCESS EXCLUSIVE". `render` is pure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Context;
use serde::Serialize;

use crate::domain::history::migrations::Migration;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Size {
    pub rows: f64,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Held {
    pub relation: String,
    /// `ACCESS EXCLUSIVE`, `EXCLUSIVE`, `SHARE ROW EXCLUSIVE` or `SHARE`.
    pub mode: String,
    pub rewritten: bool,
    pub size: Option<Size>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexBuild {
    pub index: String,
    pub table: String,
    pub size: Option<Size>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileImpact {
    pub file: String,
    pub locks: Vec<Held>,
    pub index_builds: Vec<IndexBuild>,
    /// Why the file was not measured (it runs outside a transaction), if it was not.
    pub not_measured: Option<String>,
}

const RELATIONS: &str = "select c.oid::int8, n.nspname || '.' || c.relname, c.relfilenode::int8, c.relkind::text \
     from pg_class c join pg_namespace n on n.oid = c.relnamespace \
     where c.relkind in ('r', 'p', 'm', 'i', 'I') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'";

const LOCKS: &str = "select distinct l.relation::int8, l.mode from pg_locks l \
     where l.pid = pg_backend_pid() and l.locktype = 'relation' and l.granted \
     and l.mode in ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock')";

/// Applies `batch` to the shadow at `url` (at the target's head), one file per transaction, measuring each.
pub fn measure(url: &str, batch: &[&Migration]) -> anyhow::Result<Vec<FileImpact>> {
    let mut client = crate::edges::postgres::connect(url)?;
    batch.iter().map(|m| measure_file(&mut client, m)).collect()
}

fn measure_file(client: &mut postgres::Client, m: &Migration) -> anyhow::Result<FileImpact> {
    let text = m.text()?;
    let mut impact = FileImpact { file: m.file_name.clone(), locks: vec![], index_builds: vec![], not_measured: None };
    let lower = text.to_ascii_lowercase();
    if lower.contains("concurrently") || lower.contains("commit;") {
        // CONCURRENTLY cannot run in a transaction block, and a file's own COMMIT ends the measured one.
        impact.not_measured = Some("runs outside a single transaction (CONCURRENTLY or its own COMMIT)".into());
        client.batch_execute(&text).with_context(|| format!("applying {} to the lock-report shadow", m.file_name))?;
        return Ok(impact);
    }
    let mut tx = client.transaction()?;
    let before = relations(&mut tx)?;
    tx.batch_execute(&text).with_context(|| format!("applying {} to the lock-report shadow", m.file_name))?;
    let held: Vec<(i64, String)> = tx.query(LOCKS, &[])?.iter().map(|r| (r.get(0), r.get(1))).collect();
    let after = relations(&mut tx)?;
    let new_indexes: Vec<(String, String)> = tx
        .query(
            "select n.nspname || '.' || ic.relname, tn.nspname || '.' || t.relname, t.oid::int8 from pg_index i \
             join pg_class ic on ic.oid = i.indexrelid join pg_namespace n on n.oid = ic.relnamespace \
             join pg_class t on t.oid = i.indrelid join pg_namespace tn on tn.oid = t.relnamespace",
            &[],
        )?
        .iter()
        .filter(|r| {
            let (index, table): (String, i64) = (r.get(0), r.get(2));
            !before.values().any(|b| b.0 == index) && before.contains_key(&table)
        })
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    tx.commit()?;
    let mut seen = BTreeSet::new();
    for (oid, mode) in held {
        let Some((name, filenode, kind)) = before.get(&oid) else { continue };
        if kind == "i" || kind == "I" || !seen.insert(name.clone()) {
            continue;
        }
        let rewritten = *filenode != 0 && after.get(&oid).is_some_and(|a| a.1 != *filenode);
        impact.locks.push(Held { relation: name.clone(), mode: mode_name(&mode), rewritten, size: None });
    }
    impact.locks.sort_by(|a, b| a.relation.cmp(&b.relation));
    impact.index_builds =
        new_indexes.into_iter().map(|(index, table)| IndexBuild { index, table, size: None }).collect();
    Ok(impact)
}

/// oid -> (schema.name, relfilenode, relkind)
fn relations(tx: &mut postgres::Transaction) -> anyhow::Result<BTreeMap<i64, (String, i64, String)>> {
    Ok(tx.query(RELATIONS, &[])?.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3)))).collect())
}

fn mode_name(mode: &str) -> String {
    match mode {
        "AccessExclusiveLock" => "ACCESS EXCLUSIVE",
        "ExclusiveLock" => "EXCLUSIVE",
        "ShareRowExclusiveLock" => "SHARE ROW EXCLUSIVE",
        _ => "SHARE",
    }
    .to_string()
}

/// The target's tables and their sizes now: `schema.name` -> rows (estimate) and total bytes.
pub fn target_sizes(client: &mut postgres::Client) -> anyhow::Result<BTreeMap<String, Size>> {
    let rows = client.query(
        "select n.nspname || '.' || c.relname, greatest(c.reltuples, 0)::float8, pg_total_relation_size(c.oid) \
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p', 'm')",
        &[],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), Size { rows: r.get(1), bytes: r.get(2) })).collect())
}

/// Each entry with its table's size on the target, where the target has it.
pub fn with_sizes(mut impacts: Vec<FileImpact>, sizes: &BTreeMap<String, Size>) -> Vec<FileImpact> {
    for impact in &mut impacts {
        for held in &mut impact.locks {
            held.size = sizes.get(&held.relation).cloned();
        }
        for build in &mut impact.index_builds {
            build.size = sizes.get(&build.table).cloned();
        }
    }
    impacts
}

/// The review's section: a line per lock, rewrite and index build, per file. `sizes_on` names the target the
/// sizes were read from; `None` when they could not be read (then no size is shown).
pub fn render(impacts: &[FileImpact], sizes_on: Option<&str>) -> String {
    let mut out = String::new();
    for (i, f) in impacts.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, f.file);
        if let Some(why) = &f.not_measured {
            let _ = writeln!(out, "     not measured: {why}");
            continue;
        }
        for held in &f.locks {
            let verb = if held.rewritten { "rewrites" } else { "locks" };
            let _ =
                writeln!(out, "     {verb} {}{} under {}", held.relation, size_text(&held.size, sizes_on), held.mode);
        }
        for build in &f.index_builds {
            let _ = writeln!(
                out,
                "     builds index {} on {}{} without CONCURRENTLY (writes wait)",
                build.index,
                build.table,
                size_text(&build.size, sizes_on)
            );
        }
        if f.locks.is_empty() && f.index_builds.is_empty() {
            let _ = writeln!(out, "     no blocking lock on an existing table, no rewrite");
        }
    }
    out
}

fn size_text(size: &Option<Size>, sizes_on: Option<&str>) -> String {
    match (size, sizes_on) {
        (Some(s), Some(target)) => format!(" ({}, {} rows on {target})", bytes(s.bytes), count(s.rows)),
        (None, Some(target)) => format!(" (not on {target})"),
        (_, None) => String::new(),
    }
}

fn bytes(n: i64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.0} kB", n / 1e3),
        n => format!("{n:.0} B"),
    }
}

fn count(n: f64) -> String {
    match n {
        n if n >= 1e6 => format!("{:.0}M", n / 1e6),
        n if n >= 1e3 => format!("{:.0}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_reads_what_each_file_locks_and_rewrites() {
        let size = |rows: f64, bytes: i64| Some(Size { rows, bytes });
        let impacts = vec![
            FileImpact {
                file: "20260601000000_events_id_bigint.sql".into(),
                locks: vec![Held {
                    relation: "public.events".into(),
                    mode: "ACCESS EXCLUSIVE".into(),
                    rewritten: true,
                    size: size(40e6, 2_100_000_000),
                }],
                index_builds: vec![],
                not_measured: None,
            },
            FileImpact {
                file: "20260601000001_events_tag.sql".into(),
                locks: vec![Held {
                    relation: "public.events".into(),
                    mode: "ACCESS EXCLUSIVE".into(),
                    rewritten: false,
                    size: size(40e6, 2_100_000_000),
                }],
                index_builds: vec![IndexBuild {
                    index: "public.events_note".into(),
                    table: "public.events".into(),
                    size: size(40e6, 2_100_000_000),
                }],
                not_measured: None,
            },
            FileImpact {
                file: "20260601000002_other.sql".into(),
                locks: vec![],
                index_builds: vec![],
                not_measured: None,
            },
            FileImpact {
                file: "20260601000003_idx.sql".into(),
                locks: vec![],
                index_builds: vec![],
                not_measured: Some("runs outside a single transaction (CONCURRENTLY or its own COMMIT)".into()),
            },
        ];
        expect_test::expect![[r#"
            Locks and rewrites:
              1. 20260601000000_events_id_bigint.sql
                 rewrites public.events (2.1 GB, 40M rows on prod) under ACCESS EXCLUSIVE
              2. 20260601000001_events_tag.sql
                 locks public.events (2.1 GB, 40M rows on prod) under ACCESS EXCLUSIVE
                 builds index public.events_note on public.events (2.1 GB, 40M rows on prod) without CONCURRENTLY (writes wait)
              3. 20260601000002_other.sql
                 no blocking lock on an existing table, no rewrite
              4. 20260601000003_idx.sql
                 not measured: runs outside a single transaction (CONCURRENTLY or its own COMMIT)
        "#]]
        // The heading line keeps expect-test from trimming the section's own indentation.
        .assert_eq(&format!("Locks and rewrites:\n{}", render(&impacts, Some("prod"))));
    }
}
