//! A configured target resolved to how it is reached: the embedded database, a direct URL, or a hosted project
//! through the CLI; and its live migration history.

use std::path::Path;

use anyhow::{Context, bail};
use xshell::Shell;

use crate::config::Target;
use crate::pg;
use crate::redact::Redactor;
use crate::supabase::{Cli, Remote};
use crate::tree::Repo;

pub const TOKEN_ENV: &str = "SUPABASE_ACCESS_TOKEN";

pub struct Resolved<'a> {
    pub name: String,
    pub config: &'a Target,
    pub remote: Remote,
}

/// One row of `supabase_migrations.schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub version: String,
    pub name: String,
}

const HISTORY_SQL: &str =
    "select version, coalesce(name, '') as name from supabase_migrations.schema_migrations order by version";

impl<'a> Resolved<'a> {
    /// Resolves `name`, starting the embedded database when the target is embedded. Remembers the URL's password.
    pub fn resolve(sh: &Shell, repo: &'a Repo, name: &str, redactor: &mut Redactor) -> anyhow::Result<Resolved<'a>> {
        let config = repo.config.target(name)?;
        let remote = if config.embedded {
            Remote::Url(pg::Cluster::new(&repo.root).start(sh)?)
        } else if let Some(url) =
            config.db_url_env.as_deref().and_then(|var| std::env::var(var).ok()).filter(|u| !u.is_empty())
        {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!(
                    "{} is not a postgres:// URL; fix the environment variable",
                    config.db_url_env.as_deref().unwrap_or_default()
                );
            }
            Remote::Url(url)
        } else if let Some(project_ref) = &config.project_ref {
            Remote::Project(project_ref.clone())
        } else {
            bail!(
                "target `{name}` is reached through ${}, which is not set; export it (a postgres:// URL)",
                config.db_url_env.as_deref().unwrap_or("?")
            );
        };
        if let Remote::Url(url) = &remote {
            redactor.add_url(url);
        }
        Ok(Resolved { name: name.to_string(), config, remote })
    }

    /// How people see the target: never with a password.
    pub fn describe(&self) -> String {
        match &self.remote {
            Remote::Url(url) if self.config.embedded => {
                format!("embedded database {}", crate::redact::mask_url_passwords(url))
            }
            Remote::Url(url) => format!("database {}", crate::redact::mask_url_passwords(url)),
            Remote::Project(r) => format!("project {r}"),
        }
    }

    /// The target's applied migrations, oldest first: a direct query when we have a URL, else `supabase db query`.
    pub fn history(
        &self,
        sh: &Shell,
        cli: Option<&Cli>,
        workdir: &Path,
        redactor: &Redactor,
    ) -> anyhow::Result<Vec<Applied>> {
        match &self.remote {
            Remote::Url(url) => history_direct(url).map_err(|e| anyhow::anyhow!(redactor.redact(&format!("{e:#}")))),
            Remote::Project(_) => {
                let cli = cli.context(crate::supabase::NOT_FOUND)?;
                history_via_cli(sh, cli, workdir, &self.remote, redactor)
            }
        }
    }
}

pub fn history_direct(url: &str) -> anyhow::Result<Vec<Applied>> {
    let mut client = pg::connect(url)?;
    let exists: Option<String> =
        client.query_one("select to_regclass('supabase_migrations.schema_migrations')::text", &[])?.get(0);
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let rows = client.query(HISTORY_SQL, &[]).context("reading supabase_migrations.schema_migrations")?;
    Ok(rows.iter().map(|r| Applied { version: r.get(0), name: r.get(1) }).collect())
}

pub fn history_via_cli(
    sh: &Shell,
    cli: &Cli,
    workdir: &Path,
    remote: &Remote,
    redactor: &Redactor,
) -> anyhow::Result<Vec<Applied>> {
    std::fs::create_dir_all(workdir)?;
    match cli.query(sh, workdir, remote, HISTORY_SQL, redactor) {
        Ok(rows) => Ok(rows
            .iter()
            .map(|r| Applied {
                version: r["version"].as_str().unwrap_or_default().to_string(),
                name: r["name"].as_str().unwrap_or_default().to_string(),
            })
            .collect()),
        // A database never pushed to has no history table yet.
        Err(err) if format!("{err:#}").contains("supabase_migrations.schema_migrations\" does not exist") => {
            Ok(Vec::new())
        }
        Err(err) => Err(err.context("reading the target's migration history")),
    }
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
        let mut redactor = Redactor::default();
        redactor.add_url(&url);
        let workdir = tmp.dir.path().join("wd");
        let remote = Remote::Url(url.clone());

        assert_eq!(history_direct(&url).unwrap(), []);
        assert_eq!(history_via_cli(sh, &cli, &workdir, &remote, &redactor).unwrap(), [], "no history table yet");

        pg::connect(&url)
            .unwrap()
            .batch_execute(
                "create schema supabase_migrations;
                 create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
                 insert into supabase_migrations.schema_migrations (version, name) values
                   ('20260105090000', 'core'), ('20260118103000', 'permissions'), ('20260202141500', null);",
            )
            .unwrap();
        let direct = history_direct(&url).unwrap();
        assert_eq!(
            direct.iter().map(|a| a.version.as_str()).collect::<Vec<_>>(),
            ["20260105090000", "20260118103000", "20260202141500"]
        );
        assert_eq!(history_via_cli(sh, &cli, &workdir, &remote, &redactor).unwrap(), direct);
    }
}
