//! A configured target resolved to how it is reached: the embedded database, a direct URL, or a hosted project
//! through the CLI.

use anyhow::bail;
use xshell::Shell;

use crate::config::{BUILTIN_PROFILES, Target};
use crate::pg;
use crate::platform::{Access, LoginRole, Platform};
use crate::redact::Redactor;
use crate::repo::Repo;
use crate::supabase::{Cli, Remote};

pub use crate::platform::TOKEN_ENV;

pub struct Resolved<'a> {
    pub name: String,
    pub config: &'a Target,
    pub remote: Remote,
    /// `--profile` for the CLI: a built-in name, or the profile file's absolute path.
    pub profile: Option<String>,
}

/// The runbook names it as a precondition; exported in a shell it silently retargets the CLI.
pub const PROJECT_ID_ENV: &str = "SUPABASE_PROJECT_ID";

impl<'a> Resolved<'a> {
    /// Resolves `name`, starting the embedded database when the target is embedded. Remembers the URL's password.
    pub fn resolve(sh: &Shell, repo: &'a Repo, name: &str, redactor: &mut Redactor) -> anyhow::Result<Resolved<'a>> {
        let config = repo.config.target(name)?;
        let remote = if config.embedded {
            Remote::Url(repo.cluster()?.start(sh)?)
        } else if let Some(url) =
            config.db_url_env.as_deref().and_then(|var| std::env::var(var).ok()).filter(|u| !u.is_empty())
        {
            let var = config.db_url_env.as_deref().unwrap_or_default();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("{var} is not a postgres:// URL; fix the environment variable");
            }
            if let Err(e) = url::Url::parse(&url) {
                bail!("${var} does not parse as a URL ({e}); the form is postgresql://user:password@host:port/db");
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
        let remote = match remote {
            Remote::Url(url) if !config.embedded => Remote::Url(with_tls_settings(repo, config, &url)?),
            other => other,
        };
        if let Remote::Url(url) = &remote {
            redactor.add_url(url);
        }
        if let (Some(project_ref), Ok(exported)) = (&config.project_ref, std::env::var(PROJECT_ID_ENV))
            && !exported.is_empty()
            && exported != *project_ref
        {
            bail!(
                "${PROJECT_ID_ENV} is {exported}, but target `{name}` is project {project_ref} (xtask.toml): one of them names the wrong project. \
                 Nothing ran; correct ${PROJECT_ID_ENV} (or unset it) or the target's project_ref"
            );
        }
        let profile = config.profile.as_deref().map(|p| profile_arg(repo, name, p)).transpose()?;
        Ok(Resolved { name: name.to_string(), config, remote, profile })
    }

    /// The xtask's own session on the target: its URL, or (token only) a login role the platform hands out for
    /// as long as the returned value lives.
    pub fn direct(&self, access: Access, redactor: &mut Redactor) -> anyhow::Result<Direct> {
        match &self.remote {
            Remote::Url(url) => Ok(Direct::Url(url.clone())),
            Remote::Project(project_ref) => {
                let platform = Platform::from_profile(self.profile.as_deref())?;
                Ok(Direct::Role(Box::new(LoginRole::create(&platform, project_ref, access, redactor)?)))
            }
        }
    }

    /// The CLI as this target needs it called (its `--profile`).
    pub fn cli(&self, cli: &Cli) -> Cli {
        cli.with_profile(self.profile.as_deref())
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

/// A session of the xtask's own on a target.
pub enum Direct {
    Url(String),
    Role(Box<LoginRole>),
}

impl Direct {
    pub fn connect(&self) -> anyhow::Result<postgres::Client> {
        match self {
            Direct::Url(url) => pg::connect(url),
            Direct::Role(role) => role.endpoint.connect(),
        }
    }
}

/// A built-in profile name as it is; a file checked and made absolute, so the CLI finds it from any workdir.
fn profile_arg(repo: &Repo, name: &str, profile: &str) -> anyhow::Result<String> {
    if BUILTIN_PROFILES.contains(&profile) {
        return Ok(profile.to_string());
    }
    let path = repo.root.join(profile);
    if !path.is_file() {
        bail!(
            "[targets.{name}] profile `{profile}`: no such file in the repository; write the profile's YAML there, or use one of {}",
            BUILTIN_PROFILES.join(", ")
        );
    }
    Ok(path.display().to_string())
}

/// The target's `sslmode`/`sslrootcert` added to its URL where the URL names none (the URL wins).
fn with_tls_settings(repo: &Repo, config: &Target, url: &str) -> anyhow::Result<String> {
    if config.sslmode.is_none() && config.sslrootcert.is_none() {
        return Ok(url.to_string());
    }
    let mut parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("the database URL does not parse ({e})"))?;
    let has = |key: &str| parsed.query_pairs().any(|(k, _)| k == key);
    let mut add = Vec::new();
    if let Some(mode) = config.sslmode.as_ref().filter(|_| !has("sslmode")) {
        add.push(("sslmode", mode.clone()));
    }
    if let Some(cert) = config.sslrootcert.as_ref().filter(|_| !has("sslrootcert")) {
        add.push(("sslrootcert", repo.root.join(cert).display().to_string()));
    }
    parsed.query_pairs_mut().extend_pairs(add);
    Ok(parsed.to_string())
}
