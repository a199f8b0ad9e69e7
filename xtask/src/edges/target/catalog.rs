//! Reading a target's catalog: one pg_catalog statement (`xtask/sql/catalog.sql`), over the target's URL (split
//! by table oid across sessions) or through `supabase db query` (same text), into a `Snapshot`.

use std::path::Path;

use anyhow::{Context, bail};
use xshell::Shell;

use crate::domain::schema::catalog::{Snapshot, parse};
use crate::edges::postgres as pg;
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::{Cli, Remote};
use crate::edges::supabase::stage::Stage;
use crate::edges::target::Resolved;

const CATALOG_SQL: &str = include_str!("../../../sql/catalog.sql");

/// The catalog query with the configured exclusions filled in, reading the whole document in one statement.
pub fn query(excluded: &[String]) -> String {
    query_part(excluded, (0, u32::MAX), Rest::Included)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rest {
    Included,
    Excluded,
}

/// The tables whose oid lies in `range`; functions too when `rest` says so.
fn query_part(excluded: &[String], range: (u32, u32), rest: Rest) -> String {
    // LIKE patterns (`_` escaped, `*` as `%`), quoted by postgres-protocol: an `E'...'` literal once a backslash is
    // in it, as every escaped `_` puts there.
    let like = |p: &String| p.replace('_', "\\_").replace('*', "%");
    let quoted = |p: &String| postgres_protocol::escape::escape_literal(&like(p)).trim_start().to_string();
    let patterns: Vec<String> = excluded.iter().map(quoted).collect();
    // Comment lines dropped: the CLI would read a leading `--` as a flag.
    let sql: Vec<&str> = CATALOG_SQL.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    sql.join("\n")
        .replace(":excluded", &format!("array[{}]::text[]", patterns.join(", ")))
        .replace(":lo", &range.0.to_string())
        .replace(":hi", &range.1.to_string())
        .replace(":rest", if rest == Rest::Included { "true" } else { "false" })
}

/// Reads the live snapshot: directly when the target has a URL, else through `supabase db query`.
pub fn read(sh: &Shell, repo: &Repo, target: &Resolved) -> anyhow::Result<Snapshot> {
    let excluded = repo.config.catalog_excluded();
    match &target.remote {
        Remote::Url(url) => read_parallel(url, &excluded)
            .map_err(|e| anyhow::anyhow!(crate::edges::output::redact::redact(&format!("{e:#}")))),
        Remote::Project(_) => {
            // The CLI's own answer without a token names no variable: say which one is missing first.
            crate::edges::supabase::management_api::token()?;
            let cli = target.cli(&Cli::locate(sh, &repo.root)?);
            let workdir = Stage::empty(repo.stage_dir("catalog"))?;
            let json = read_via_cli(sh, &cli, workdir.path(), &target.remote, &query(&excluded))?;
            parse(&json).context("the catalog query returned an unexpected document")
        }
    }
}

/// The statement split by table across two connections (the server's pg_get_*def calls dominate), merged
/// into exactly the document the single statement gives: tables are ordered by (schema, name), both of type
/// `name`, which sorts bytewise as Rust strings do.
pub fn read_parallel(url: &str, excluded: &[String]) -> anyhow::Result<Snapshot> {
    // Split the relations' oids at their median, so both halves carry about the same work.
    let oids: Vec<u32> = pg::connect(url)?
        .query("select oid from pg_class where relkind in ('r', 'p', 'v', 'm', 'f') order by oid", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mid = oids.get(oids.len() / 2).copied().unwrap_or(u32::MAX).max(1);
    let ranges = [((0, mid - 1), Rest::Included), ((mid, u32::MAX), Rest::Excluded)];
    let parts: Vec<anyhow::Result<Snapshot>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ranges
            .into_iter()
            .map(|(range, rest)| scope.spawn(move || parse(&read_direct(url, &query_part(excluded, range, rest))?)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("catalog reader panicked"))))
            .collect()
    });
    let mut parts = parts.into_iter();
    let mut snapshot = parts.next().context("no catalog part")??;
    for part in parts {
        snapshot.tables.extend(part?.tables);
    }
    snapshot.tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    Ok(snapshot)
}

pub fn read_direct(url: &str, sql: &str) -> anyhow::Result<String> {
    let mut client = pg::connect(url)?;
    let row = client.query_one(sql, &[]).context("running the catalog query")?;
    Ok(row.get(0))
}

pub fn read_via_cli(sh: &Shell, cli: &Cli, workdir: &Path, remote: &Remote, sql: &str) -> anyhow::Result<String> {
    std::fs::create_dir_all(workdir)?;
    let rows = cli.query(sh, workdir, remote, sql)?;
    match rows.first().map(|r| &r["snapshot"]) {
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(value) if !value.is_null() => Ok(value.to_string()),
        _ => bail!("`supabase db query` returned no snapshot"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusion_patterns_become_like_patterns() {
        let sql = query(&["auth".into(), "supabase_*".into(), "o'brien".into()]);
        assert!(
            sql.contains("not n.nspname like any (array['auth', E'supabase\\\\_%', 'o''brien']::text[])"),
            "{}",
            &sql[..600]
        );
    }
}

#[cfg(test)]
mod db_tests {
    use super::*;
    use crate::domain::schema::catalog::render;

    #[test]
    fn direct_and_cli_reads_give_the_same_snapshot() {
        let (tmp, admin) = pg::TempCluster::start();
        let sh = &tmp.sh;
        let url = pg::create_database(&admin, "paths").unwrap();
        let cli = Cli::locate(sh, pg::TempCluster::repo_root()).unwrap();
        let wd = tmp.dir.path().join("wd");
        let remote = Remote::Url(url.clone());
        crate::edges::output::redact::add_url(&url);
        // Some schema of every kind the snapshot holds.
        pg::connect(&url)
            .unwrap()
            .batch_execute(
                "create type public.mood as enum ('calm', 'busy');
                 create table public.t (id bigint generated always as identity primary key, m public.mood, note text default 'x' check (note <> ''));
                 alter table public.t enable row level security;
                 create policy \"read | all\" on public.t for select to authenticated using (m = 'calm');
                 create function public.f(a int) returns int language sql immutable set search_path = '' as $$ select a $$;
                 create view public.v as select id from public.t;
                 grant select on public.t to anon;",
            )
            .unwrap();
        let excluded: Vec<String> = crate::domain::config::DEFAULT_EXCLUDED.iter().map(|s| s.to_string()).collect();
        let sql = query(&excluded);
        let direct = parse(&read_direct(&url, &sql).unwrap()).unwrap();
        assert_eq!(
            read_parallel(&url, &excluded).unwrap(),
            direct,
            "the split read merges to the single statement's document"
        );
        let via_cli = parse(&read_via_cli(sh, &cli, &wd, &remote, &sql).unwrap()).unwrap();
        assert_eq!(direct, via_cli);
        assert_eq!(render(&direct), render(&via_cli));
        assert_eq!(direct.tables.len(), 2);
        assert_eq!(direct.enums[0].values, ["calm", "busy"]);
    }
}
