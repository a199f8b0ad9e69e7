//! A target's live migration history read (directly, or through `supabase db query`), and the statements it ran
//! compared with the files; what is decided over it is `domain::history::live`'s.

use std::path::Path;

use anyhow::Context;
use xshell::Shell;

use crate::domain::config::Target;
pub use crate::domain::history::live::{
    Applied, Known, Mismatch, Reconcile, describe_differences, outcome, reconcile, unverifiable,
};
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::history::statements::{self, Verdict};
use crate::edges::postgres as pg;
use crate::edges::supabase::cli::{Cli, Remote};
use crate::edges::supabase::management_api::Access;
use crate::edges::target::Resolved;

/// The history, with each row's statements fingerprinted on the server (no statement travels).
fn history_sql() -> String {
    format!(
        "select version, coalesce(name, '') as name, {} as fingerprint from supabase_migrations.schema_migrations order by version",
        statements::FINGERPRINT_SQL
    )
}

/// The head a target is at. The embedded database is the xtask's own and has no record: its live history's
/// last version is its head. Every other target's head is what the lock recorded.
pub fn head(name: &str, config: &Target, lock: &Lock, live_head: Option<&str>) -> Option<String> {
    if config.embedded { live_head.map(str::to_string) } else { lock.head(name).map(str::to_string) }
}

/// The target's applied migrations, oldest first, over the xtask's own session: the URL, or with a token only a
/// read-only login role. When that session cannot be had (no IPv6 to the project's database, say), through
/// `supabase db query` instead, saying so.
pub fn read(sh: &Shell, target: &Resolved, cli: Option<&Cli>, workdir: &Path) -> anyhow::Result<Vec<Applied>> {
    if let Remote::Project(_) = &target.remote {
        // Unreachable both directly and through the pooler: an error, not a reason to read another way.
        target.route()?;
    }
    let direct = target.direct(Access::ReadOnly).and_then(|d| read_client(&mut d.connect()?));
    match (&target.remote, direct) {
        (_, Ok(history)) => Ok(history),
        (Remote::Url(_), Err(e)) => Err(anyhow::anyhow!(crate::edges::output::redact::redact(&format!("{e:#}")))),
        (Remote::Project(_), Err(e)) => {
            eprintln!(
                "note: no session of its own on {} ({}); reading its history through `supabase db query`",
                target.name,
                crate::edges::output::redact::redact(&format!("{e:#}"))
            );
            let cli = target.cli(cli.context(crate::edges::supabase::cli::NOT_FOUND)?);
            read_via_cli(sh, &cli, workdir, &target.remote)
        }
    }
}

pub fn read_direct(url: &str) -> anyhow::Result<Vec<Applied>> {
    read_client(&mut pg::connect(url)?)
}

pub fn read_client(client: &mut postgres::Client) -> anyhow::Result<Vec<Applied>> {
    let exists: Option<String> =
        client.query_one("select to_regclass('supabase_migrations.schema_migrations')::text", &[])?.get(0);
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let rows = client.query(&history_sql(), &[]).context("reading supabase_migrations.schema_migrations")?;
    Ok(rows.iter().map(|r| Applied { version: r.get(0), name: r.get(1), fingerprint: r.get(2) }).collect())
}

pub fn read_via_cli(sh: &Shell, cli: &Cli, workdir: &Path, remote: &Remote) -> anyhow::Result<Vec<Applied>> {
    std::fs::create_dir_all(workdir)?;
    let rows =
        cli.query(sh, workdir, remote, &history_sql_anyway()).context("reading the target's migration history")?;
    Ok(rows
        .iter()
        .map(|r| Applied {
            version: r["version"].as_str().unwrap_or_default().to_string(),
            name: r["name"].as_str().unwrap_or_default().to_string(),
            fingerprint: r["fingerprint"].as_str().map(str::to_string),
        })
        .collect())
}

/// The history in one read-only statement that also answers on a database never pushed to, which has no
/// history table yet: the table is named only inside `query_to_xml`'s text, run when it exists. (The error a
/// missing table gives comes back through the CLI and the Management API in several wrappings; matching its
/// text is how a fresh project used to fail here.)
fn history_sql_anyway() -> String {
    let inner = format!(
        "select version, name, {} as fingerprint from supabase_migrations.schema_migrations",
        statements::FINGERPRINT_SQL
    );
    let inner = postgres_protocol::escape::escape_literal(&inner);
    format!(
        "select x.version, coalesce(x.name, '') as name, x.fingerprint from xmltable('/table/row' passing \
         query_to_xml(case when to_regclass('supabase_migrations.schema_migrations') is null \
           then 'select null::text as version, null::text as name, null::text as fingerprint where false' \
           else {inner} end, false, false, '') \
         columns version text, name text, fingerprint text) x order by x.version"
    )
}

/// Each applied version's statements as the CLI stored them (none on a database never pushed to).
pub fn read_statements(
    client: &mut postgres::Client,
) -> anyhow::Result<std::collections::BTreeMap<String, Vec<String>>> {
    let exists: Option<String> =
        client.query_one("select to_regclass('supabase_migrations.schema_migrations')::text", &[])?.get(0);
    if exists.is_none() {
        return Ok(Default::default());
    }
    let rows = client
        .query("select version, coalesce(statements, '{}') from supabase_migrations.schema_migrations", &[])
        .context("reading supabase_migrations.schema_migrations")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// What the database ran for each of `files` it has applied, against the file's bytes: only the differing and
/// the unverifiable are returned. A file whose fingerprint differs has its statements fetched by `statements_of`
/// (a session of the xtask's own) and compared comments aside: an edited comment is no difference, a real one is
/// named by its first statement. Without a session it is named by file only.
pub fn verify<'m>(
    files: &[&'m Migration],
    live: &[Applied],
    mut statements_of: impl FnMut(&str) -> Option<Vec<String>>,
) -> anyhow::Result<Vec<(&'m Migration, Verdict)>> {
    let by_version: std::collections::BTreeMap<&str, &Applied> = live.iter().map(|a| (a.version.as_str(), a)).collect();
    let mut out = Vec::new();
    for m in files {
        let Some(applied) = by_version.get(m.version.as_str()) else { continue };
        let text = String::from_utf8_lossy(m.bytes()).into_owned();
        let verdict = match statements::judge(&text, applied.fingerprint.as_deref()) {
            Verdict::Differs { .. } => match statements_of(&m.version) {
                Some(stored) => statements::first_difference(&text, &stored),
                None => Verdict::Differs { statement: 0, live: None, file: None },
            },
            other => other,
        };
        if verdict != Verdict::Same {
            out.push((*m, verdict));
        }
    }
    Ok(out)
}

/// `verify` against `target`, a differing file's statements fetched over one read-only session of the xtask's
/// own, opened only when a fingerprint differs.
pub fn verify_on<'m>(
    target: &Resolved,
    files: &[&'m Migration],
    live: &[Applied],
) -> anyhow::Result<Vec<(&'m Migration, Verdict)>> {
    // One connection for every differing file: a comment edited in many applied files fetches many versions.
    let mut session = None;
    let mut client = None;
    verify(files, live, |version| {
        if client.is_none() {
            if session.is_none() {
                session = target.direct(Access::ReadOnly).ok();
            }
            client = session.as_ref()?.connect().ok();
        }
        statements_of(client.as_mut()?, version)
    })
}

/// One version's statements, over a session of the xtask's own.
pub fn statements_of(client: &mut postgres::Client, version: &str) -> Option<Vec<String>> {
    let sql = "select coalesce(statements, '{}') from supabase_migrations.schema_migrations where version = $1";
    client.query_opt(sql, &[&version]).ok().flatten().map(|r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_and_cli_reads_of_the_history_agree() {
        let (tmp, admin) = pg::TempCluster::start();
        let sh = &tmp.sh;
        let url = pg::create_database(&admin, "reads").unwrap();
        let cli = Cli::locate(sh, pg::TempCluster::repo_root()).unwrap();
        crate::edges::output::redact::add_url(&url);
        let workdir = tmp.dir.path().join("wd");
        let remote = Remote::Url(url.clone());

        assert_eq!(read_direct(&url).unwrap(), []);
        assert_eq!(read_via_cli(sh, &cli, &workdir, &remote).unwrap(), [], "no history table yet");

        pg::connect(&url)
            .unwrap()
            .batch_execute(
                "create schema supabase_migrations;
                 create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
                 insert into supabase_migrations.schema_migrations (version, name) values
                   ('20260105090000', 'core'), ('20260118103000', 'permissions'), ('20260202141500', null);",
            )
            .unwrap();
        let direct = read_direct(&url).unwrap();
        assert_eq!(
            direct.iter().map(|a| a.version.as_str()).collect::<Vec<_>>(),
            ["20260105090000", "20260118103000", "20260202141500"]
        );
        assert_eq!(read_via_cli(sh, &cli, &workdir, &remote).unwrap(), direct);
    }
}
