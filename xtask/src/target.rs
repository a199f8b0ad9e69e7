//! A configured target resolved to how it is reached: the embedded database, a direct URL, or a hosted project
//! through the CLI.

use anyhow::bail;
use xshell::Shell;

use crate::config::Target;
use crate::pg;
use crate::redact::Redactor;
use crate::repo::Repo;
use crate::supabase::Remote;

pub const TOKEN_ENV: &str = "SUPABASE_ACCESS_TOKEN";

pub struct Resolved<'a> {
    pub name: String,
    pub config: &'a Target,
    pub remote: Remote,
}

impl<'a> Resolved<'a> {
    /// Resolves `name`, starting the embedded database when the target is embedded. Remembers the URL's password.
    pub fn resolve(sh: &Shell, repo: &'a Repo, name: &str, redactor: &mut Redactor) -> anyhow::Result<Resolved<'a>> {
        let config = repo.config.target(name)?;
        let remote = if config.embedded {
            Remote::Url(pg::Cluster::new(&repo.cluster_dir()).start(sh)?)
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
}
