//! `cargo xtask catalog`: a snapshot of a target's live schema, read from pg_catalog in one statement
//! (`xtask/sql/catalog.sql`), written to `docs/database/catalog/<target>.json`, sorted and stable: an unchanged
//! schema gives a byte-identical file.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use xshell::Shell;

use crate::flags;
use crate::fsutil;
use crate::pg;
use crate::progress::Spinner;
use crate::repo::Repo;
use crate::report::{self, Report};
use crate::stage::Stage;
use crate::supabase::{Cli, Remote};
use crate::target::Resolved;

const CATALOG_SQL: &str = include_str!("../sql/catalog.sql");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The last version in `supabase_migrations.schema_migrations`.
    pub head: Option<String>,
    pub schemas: Vec<String>,
    pub extensions: Vec<Extension>,
    pub tables: Vec<Table>,
    pub functions: Vec<Function>,
    pub sequences: Vec<Sequence>,
    pub enums: Vec<Enum>,
    pub publications: Vec<Publication>,
    /// `None` when the database has no pg_cron.
    pub cron_jobs: Option<Vec<CronJob>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub name: String,
    pub schema: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub kind: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub definition: Option<String>,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    pub policies: Vec<Policy>,
    pub triggers: Vec<Trigger>,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub identity: Option<String>,
    pub generated: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub name: String,
    pub kind: String,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: String,
    pub definition: String,
    pub valid: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub command: String,
    pub permissive: bool,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub name: String,
    pub definition: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub grantee: String,
    pub privileges: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub schema: String,
    pub name: String,
    pub arguments: String,
    pub kind: String,
    pub returns: Option<String>,
    pub language: String,
    pub volatility: String,
    pub security_definer: bool,
    pub config: Vec<String>,
    pub body_md5: String,
    /// Supabase roles (and `public`) that may execute it.
    pub execute: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub start: i64,
    pub increment: i64,
    pub owned_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enum {
    pub schema: String,
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    pub name: String,
    pub all_tables: bool,
    pub tables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronJob {
    pub name: Option<String>,
    pub schedule: String,
    pub command: String,
    pub database: Option<String>,
    pub active: Option<bool>,
}

impl flags::Catalog {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let target = Resolved::resolve(sh, repo, &self.target.target)?;
        let snapshot = {
            let _spinner = Spinner::start(&format!("reading the catalog of {}", target.name), self.output.format);
            read(sh, repo, &target)?
        };
        let path = write(repo, &target.name, &snapshot)?;
        let report = CatalogReport {
            target: target.name.clone(),
            endpoint: target.describe(),
            snapshot: path,
            tables: snapshot.tables.len(),
            functions: snapshot.functions.len(),
            policies: snapshot.tables.iter().map(|t| t.policies.len()).sum(),
        };
        report::emit(&report, self.output.format)
    }
}

/// What `catalog` reports: where the snapshot went and what it holds.
#[derive(Debug, Serialize)]
pub struct CatalogReport {
    pub target: String,
    pub endpoint: String,
    pub snapshot: String,
    pub tables: usize,
    pub functions: usize,
    pub policies: usize,
}

impl Report for CatalogReport {
    fn human(&self) -> String {
        format!(
            "catalog: {} table(s), {} function(s), {} policy(ies) of {} -> {}\n",
            self.tables, self.functions, self.policies, self.endpoint, self.snapshot
        )
    }

    fn summary_md(&self) -> String {
        format!(
            "### Catalog of {}\n\n`{}`: {} table(s), {} function(s), {} policy(ies)\n",
            self.target, self.snapshot, self.tables, self.functions, self.policies
        )
    }
}

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
    let patterns: Vec<String> =
        excluded.iter().map(|p| format!("'{}'", p.replace('\'', "''").replace('_', "\\_").replace('*', "%"))).collect();
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
        Remote::Url(url) => {
            read_parallel(url, &excluded).map_err(|e| anyhow::anyhow!(crate::redact::redact(&format!("{e:#}"))))
        }
        Remote::Project(_) => {
            // The CLI's own answer without a token names no variable: say which one is missing first.
            crate::platform::token()?;
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

pub fn parse(json: &str) -> anyhow::Result<Snapshot> {
    Ok(serde_json::from_str(json)?)
}

/// Canonical text: pretty JSON in the struct's field order, arrays in the query's (sorted) order.
pub fn render(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap_or_default() + "\n"
}

pub fn write(repo: &Repo, target: &str, snapshot: &Snapshot) -> anyhow::Result<String> {
    let path = repo.catalog_path(target);
    std::fs::create_dir_all(path.parent().context("catalog path")?)?;
    fsutil::write_atomic(&path, render(snapshot).as_bytes())?;
    Ok(repo.rel(&path))
}

/// A committed snapshot, with the file and the fix named when it is missing or malformed.
pub fn load(path: &Path, rel: &str, target_hint: &str) -> anyhow::Result<Snapshot> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{rel} is missing; create it with `cargo xtask catalog --target {target_hint}`"))?;
    parse(&text).with_context(|| {
        format!("{rel} is not a catalog snapshot; regenerate it with `cargo xtask catalog --target {target_hint}`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_report_in_every_format() {
        use crate::report::Format;
        use crate::report::render;
        let report = CatalogReport {
            target: "prod".into(),
            endpoint: "project srcaoozjkrughebmbvfb".into(),
            snapshot: "docs/database/catalog/prod.json".into(),
            tables: 22,
            functions: 31,
            policies: 40,
        };
        let all = [Format::Human, Format::Github, Format::Json].map(|f| render(&report, f)).join("---\n");
        expect_test::expect![[r#"
            catalog: 22 table(s), 31 function(s), 40 policy(ies) of project srcaoozjkrughebmbvfb -> docs/database/catalog/prod.json
            ---
            catalog: 22 table(s), 31 function(s), 40 policy(ies) of project srcaoozjkrughebmbvfb -> docs/database/catalog/prod.json
            ---
            {
              "target": "prod",
              "endpoint": "project srcaoozjkrughebmbvfb",
              "snapshot": "docs/database/catalog/prod.json",
              "tables": 22,
              "functions": 31,
              "policies": 40
            }
        "#]]
        .assert_eq(&all);
    }

    #[test]
    fn exclusion_patterns_become_like_patterns() {
        let sql = query(&["auth".into(), "supabase_*".into(), "o'brien".into()]);
        assert!(
            sql.contains("not n.nspname like any (array['auth', 'supabase\\_%', 'o''brien']::text[])"),
            "{}",
            &sql[..600]
        );
    }

    #[test]
    fn malformed_snapshots_are_rejected_with_the_place() {
        let err = parse("{\"head\": null, \"schemas\": []}").unwrap_err().to_string();
        assert!(err.contains("missing field `extensions`"), "{err}");
        let err = parse("{\"head\": 5}").unwrap_err().to_string();
        assert!(err.contains("line 1 column"), "{err}");
    }
}

#[cfg(test)]
mod db_tests {
    use super::*;

    #[test]
    fn direct_and_cli_reads_give_the_same_snapshot() {
        let (tmp, admin) = pg::TempCluster::start();
        let sh = &tmp.sh;
        let url = pg::create_database(&admin, "paths").unwrap();
        let cli = Cli::locate(sh, pg::TempCluster::repo_root()).unwrap();
        let wd = tmp.dir.path().join("wd");
        let remote = Remote::Url(url.clone());
        crate::redact::add_url(&url);
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
        let excluded: Vec<String> = crate::config::DEFAULT_EXCLUDED.iter().map(|s| s.to_string()).collect();
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
