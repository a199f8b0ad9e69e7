//! What each batch file does to the tables that already exist: the locks it holds in ACCESS EXCLUSIVE, EXCLUSIVE
//! or SHARE modes, the tables it rewrites (their `relfilenode` changes), and the indexes it builds without
//! CONCURRENTLY. Measured by applying each file in its own transaction on a shadow at the target's head and
//! reading the backend's own locks before the commit; joined with the target's sizes, so the review reads
//! "rewrites public.events (2.1 GB, 40M rows on prod) under ACCESS EXCLUSIVE". On a Supabase target, the managed
//! tables supautils holds for the file's policy statements are joined in too, with how long the file ran on the
//! shadow (`with_policy_locks`; a shadow has no supautils to measure). `render` is pure.

use crate::domain::platform::RoleModel;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Context;
use serde::Serialize;

use crate::domain::history::migrations::Migration;
use crate::domain::lint::sql::Analysis;
use crate::domain::promotion::policy_locks::{self, PolicyLocks};

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
    /// How long the file's statements ran on the shadow. Reported with the policy locks, held that long; kept out
    /// of the JSON otherwise, whose snapshots must not change from run to run.
    #[serde(skip)]
    pub duration_ms: Option<u64>,
    /// On a Supabase target: the managed tables supautils holds for the file's policy statements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_locks: Option<PolicyLocks>,
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

pub fn measure_file(client: &mut postgres::Client, m: &Migration) -> anyhow::Result<FileImpact> {
    let text = m.text()?;
    let mut impact = FileImpact {
        file: m.file_name.clone(),
        locks: vec![],
        index_builds: vec![],
        not_measured: None,
        duration_ms: None,
        policy_locks: None,
    };
    let lower = text.to_ascii_lowercase();
    if lower.contains("concurrently") || lower.contains("commit;") {
        // CONCURRENTLY cannot run in a transaction block, and a file's own COMMIT ends the measured one.
        impact.not_measured = Some("runs outside a single transaction (CONCURRENTLY or its own COMMIT)".into());
        client.batch_execute(text).with_context(|| format!("applying {} to the lock-report shadow", m.file_name))?;
        return Ok(impact);
    }
    let mut tx = client.transaction()?;
    let before = relations(&mut tx)?;
    let started = std::time::Instant::now();
    tx.batch_execute(text).with_context(|| format!("applying {} to the lock-report shadow", m.file_name))?;
    impact.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
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

/// On a Supabase target, each file's locks through supautils for its policy statements, decided from its parse
/// (`analyses`: file name -> analysis) and the target's `policy_grants`, held for the file's measured duration.
pub fn with_policy_locks(
    mut impacts: Vec<FileImpact>,
    analyses: &BTreeMap<&str, &Analysis>,
    grants: &[&str],
) -> Vec<FileImpact> {
    for impact in &mut impacts {
        if let Some(analysis) = analyses.get(impact.file.as_str()) {
            impact.policy_locks = policy_locks::for_file(&analysis.facts, grants, impact.duration_ms);
        }
    }
    impacts
}

/// `with_policy_locks` for a target under the platform's role model, with supautils' `policy_grants` as given
/// (the capture's where there is one); a plain PostgreSQL has no supautils.
pub fn for_target<'a>(
    impacts: Vec<FileImpact>,
    target: (RoleModel, &crate::domain::platform::Supautils),
    files: impl IntoIterator<Item = (&'a Migration, &'a Analysis)>,
) -> Vec<FileImpact> {
    let (model, supautils) = target;
    if model != RoleModel::Platform {
        return impacts;
    }
    let analyses: BTreeMap<&str, &Analysis> = files.into_iter().map(|(m, a)| (m.file_name.as_str(), a)).collect();
    let grants: Vec<&str> = supautils.policy_grants.iter().map(String::as_str).collect();
    with_policy_locks(impacts, &analyses, &grants)
}

/// The review's section: a line per lock, rewrite and index build, per file. `sizes_on` names the target the
/// sizes were read from; `None` when they could not be read (then no size is shown).
pub fn render(impacts: &[FileImpact], sizes_on: Option<&str>) -> String {
    let mut out = String::new();
    for (i, f) in impacts.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, f.file);
        if let Some(why) = &f.not_measured {
            let _ = writeln!(out, "     not measured: {why}");
            out.push_str(&policy_line(&f.policy_locks));
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
        out.push_str(&policy_line(&f.policy_locks));
        if f.locks.is_empty() && f.index_builds.is_empty() && f.policy_locks.is_none() {
            let _ = writeln!(out, "     no blocking lock on an existing table, no rewrite");
        }
    }
    out
}

/// What supautils holds for the file, and for how long: the tables stay locked until the file's transaction
/// ends, so the file's whole duration is the wait.
fn policy_line(locks: &Option<PolicyLocks>) -> String {
    let Some(locks) = locks else { return String::new() };
    let how_long = match locks.held_ms {
        Some(ms) => format!("{} on the shadow", seconds(ms)),
        None => "not measured".to_string(),
    };
    format!(
        "     holds {} on {} (supautils' policy_grants, platform list order) for the file's whole transaction: {how_long} — {}\n",
        locks.mode,
        locks.tables.join(", "),
        policy_locks::who_waits(&locks.tables)
    )
}

fn seconds(ms: u64) -> String {
    match ms {
        ms if ms < 100 => format!("{ms} ms"),
        ms => format!("{:.1} s", ms as f64 / 1000.0),
    }
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
                duration_ms: None,
                policy_locks: None,
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
                duration_ms: None,
                policy_locks: None,
            },
            FileImpact {
                file: "20260601000002_other.sql".into(),
                locks: vec![],
                index_builds: vec![],
                not_measured: None,
                duration_ms: None,
                policy_locks: None,
            },
            FileImpact {
                file: "20260601000003_idx.sql".into(),
                locks: vec![],
                index_builds: vec![],
                not_measured: Some("runs outside a single transaction (CONCURRENTLY or its own COMMIT)".into()),
                duration_ms: None,
                policy_locks: None,
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

    #[test]
    fn the_review_reads_what_supautils_holds_for_a_files_policies_and_for_how_long() {
        let analysis = |sql: &str| {
            crate::domain::lint::sql::analyze(sql, &crate::domain::lint::sql::LintSettings { squawk_rules: &[] })
        };
        let app = analysis("create policy own on public.notes for select using (auth.uid() = owner);\n");
        let auth = analysis("alter policy p on auth.identities using (true);\nselect 1;\n");
        let plain = analysis("create table public.fresh (id bigint);\n");
        let file = |name: &str, ms: u64, locks: Vec<Held>| FileImpact {
            file: name.into(),
            locks,
            index_builds: vec![],
            not_measured: None,
            duration_ms: Some(ms),
            policy_locks: None,
        };
        let notes =
            Held { relation: "public.notes".into(), mode: "ACCESS EXCLUSIVE".into(), rewritten: false, size: None };
        let impacts = vec![
            file("20260601000000_notes_policy.sql", 412, vec![notes]),
            file("20260601000001_identities_policy.sql", 37, vec![]),
            file("20260601000002_fresh.sql", 3, vec![]),
        ];
        let analyses = BTreeMap::from([
            ("20260601000000_notes_policy.sql", &app),
            ("20260601000001_identities_policy.sql", &auth),
            ("20260601000002_fresh.sql", &plain),
        ]);
        let impacts = with_policy_locks(impacts, &analyses, crate::domain::platform::POLICY_GRANTS);
        expect_test::expect![[r#"
            Locks and rewrites:
              1. 20260601000000_notes_policy.sql
                 locks public.notes under ACCESS EXCLUSIVE
                 holds ACCESS EXCLUSIVE on auth.audit_log_entries, auth.identities, auth.refresh_tokens, auth.sessions, auth.users, realtime.messages, storage.buckets, storage.migrations, storage.objects, storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts (supautils' policy_grants, platform list order) for the file's whole transaction: 0.4 s on the shadow — sign-in, token refresh, storage reads and Realtime broadcasts wait
              2. 20260601000001_identities_policy.sql
                 holds ACCESS EXCLUSIVE on auth.audit_log_entries, auth.identities (supautils' policy_grants, platform list order) for the file's whole transaction: 37 ms on the shadow — sign-in and token refresh wait
              3. 20260601000002_fresh.sql
                 no blocking lock on an existing table, no rewrite
        "#]]
        .assert_eq(&format!("Locks and rewrites:\n{}", render(&impacts, None)));
        let json = serde_json::to_value(&impacts[1]).unwrap();
        assert_eq!(
            json["policy_locks"],
            serde_json::json!({"mode": "ACCESS EXCLUSIVE", "tables": ["auth.audit_log_entries", "auth.identities"], "held_ms": 37})
        );
        assert!(serde_json::to_value(&impacts[2]).unwrap().get("policy_locks").is_none(), "absent without policies");
    }
}
