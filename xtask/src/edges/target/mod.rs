//! A configured target resolved to how it is reached: the embedded database, a direct URL, or a hosted project
//! through the CLI.

use std::cell::OnceCell;

use anyhow::{Context, anyhow, bail};
use xshell::Shell;

use crate::domain::config::{BUILTIN_PROFILES, Config, Target};
use crate::domain::history::identity::{self, Identity, Place};
use crate::domain::history::live::Protected;
use crate::domain::history::lock::Lock;
use crate::domain::major::Major;
use crate::domain::platform::RoleModel;
use crate::edges::postgres::pooler::{self, Connection, Route, Setting};
use crate::edges::postgres::{self as pg, SslMode, Tls};
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::{Cli, Remote};
use crate::edges::supabase::management_api::{self, Access, LoginRole, Platform};

pub mod catalog;
pub mod exposure;
pub mod history;

pub use crate::edges::supabase::management_api::TOKEN_ENV;

pub struct Resolved<'a> {
    pub name: String,
    pub config: &'a Target,
    /// Every target, for the other names of this one's database.
    configured: &'a Config,
    /// The repository root, against which the target's files (`sslrootcert`) are read.
    root: std::path::PathBuf,
    pub remote: Remote,
    /// `--profile` for the CLI: a built-in name, or the profile file's absolute path.
    pub profile: Option<String>,
    /// A hosted project's route (direct or pooler), decided at the first session and kept for the rest.
    route: OnceCell<Route>,
    /// The PostgreSQL major the target runs: configured for the embedded target, read once from any other.
    major: OnceCell<Major>,
    /// Under which role model its migrations run, decided once.
    role_model: OnceCell<RoleModel>,
}

/// The runbook names it as a precondition; exported in a shell it silently retargets the CLI.
pub const PROJECT_ID_ENV: &str = "SUPABASE_PROJECT_ID";

impl<'a> Resolved<'a> {
    /// Resolves `name`, starting the embedded database when the target is embedded. Remembers the URL's password.
    pub fn resolve(sh: &Shell, repo: &'a Repo, name: &str) -> anyhow::Result<Resolved<'a>> {
        let config = repo.config.target(name)?;
        let major = OnceCell::new();
        let remote = if config.embedded {
            let (embedded, _) = repo.embedded_major(name)?;
            let _ = major.set(embedded);
            Remote::Url(repo.cluster(embedded)?.start(sh)?)
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
        if let (Remote::Url(url), Some(var)) = (&remote, config.db_url_env.as_deref())
            && let Some(session) = pooler::transaction_mode(url)
        {
            bail!(
                "${var} names a pooler in transaction mode (port 6543 or pgbouncer=true), where the promotion's advisory lock and session settings are silently lost: use its session mode, {}",
                crate::edges::output::redact::mask_url_passwords(&session)
            );
        }
        let remote = match remote {
            Remote::Url(url) if !config.embedded => Remote::Url(with_tls_settings(repo, config, &url)?),
            other => other,
        };
        if let Remote::Url(url) = &remote {
            crate::edges::output::redact::add_url(url);
        }
        if let (Remote::Url(url), Some(project_ref)) = (&remote, &config.project_ref)
            && let Some(Place::Project(named)) = identity::of_url(url)
            && named != *project_ref
        {
            bail!(
                "${} names project {named}, but target `{name}` is project {project_ref} (xtask.toml): one of them names the wrong database. Nothing ran; correct the URL or the target's project_ref",
                config.db_url_env.as_deref().unwrap_or_default()
            );
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
        Ok(Resolved {
            name: name.to_string(),
            config,
            configured: &repo.config,
            root: repo.root.clone(),
            remote,
            profile,
            route: OnceCell::new(),
            major,
            role_model: OnceCell::new(),
        })
    }

    /// The PostgreSQL major the target runs (`server_version_num`, read once over a read-only session).
    pub fn major(&self) -> anyhow::Result<Major> {
        if let Some(major) = self.major.get() {
            return Ok(*major);
        }
        let direct = self.direct(Access::ReadOnly)?;
        let num: String = direct.connect()?.query_one("show server_version_num", &[])?.get(0);
        let num: u32 = num.trim().parse().with_context(|| format!("server_version_num `{num}` is no number"))?;
        let major = Major::from_version_num(num).map_err(|n| {
            anyhow!(
                "{} runs PostgreSQL {n}, which the xtask cannot rehearse (it runs 15 and 17, what Supabase projects run)",
                self.describe()
            )
        })?;
        Ok(*self.major.get_or_init(|| major))
    }

    /// Under which role model the target's migrations run: a Supabase project's (configured as one,
    /// `Target::is_supabase`; a URL on a project's host; or a database that has the platform's `supabase_admin`
    /// and an `auth` schema), else a plain PostgreSQL's, by whether the URL's user is a superuser. Read once.
    pub fn role_model(&self) -> anyhow::Result<RoleModel> {
        if let Some(model) = self.role_model.get() {
            return Ok(*model);
        }
        let model = match &self.remote {
            Remote::Project(_) => RoleModel::Platform,
            Remote::Url(_) if self.config.is_supabase() => RoleModel::Platform,
            Remote::Url(url) if matches!(identity::of_url(url), Some(Place::Project(_))) => RoleModel::Platform,
            Remote::Url(_) => {
                // A Supabase project's database has the platform's bootstrap superuser and its `auth` schema.
                let row = self.direct(Access::ReadOnly)?.connect()?.query_one(
                    "select exists (select 1 from pg_roles where rolname = $1) and to_regnamespace('auth') is not null, \
                     (select rolsuper from pg_roles where rolname = current_user)",
                    &[&crate::domain::platform::BOOTSTRAP_SUPERUSER],
                )?;
                match (row.get::<_, bool>(0), row.get::<_, Option<bool>>(1)) {
                    (true, _) => RoleModel::Platform,
                    (false, Some(true)) => RoleModel::PlainSuperuser,
                    (false, _) => RoleModel::PlainOwner,
                }
            }
        };
        Ok(*self.role_model.get_or_init(|| model))
    }

    /// The PostgreSQL major and role model a rehearsal of this target runs under.
    pub fn shadow_of(&self) -> anyhow::Result<(Major, RoleModel)> {
        Ok((self.major()?, self.role_model()?))
    }

    /// The xtask's own session on the target: its URL, or (token only) a login role the platform hands out for
    /// as long as the returned value lives, along the target's route.
    pub fn direct(&self, access: Access) -> anyhow::Result<Direct> {
        match &self.remote {
            Remote::Url(url) => Ok(Direct::Url(url.clone())),
            Remote::Project(_) => Ok(Direct::Role(Box::new(self.login_role(access)?))),
        }
    }

    /// Where the CLI's dry-run and push go. Directly, the CLI is given the project ref and makes its own login
    /// role; through the pooler (the CLI has no IPv4 path for `--remote=<ref>`), it is given the pooler's
    /// session-mode URL of a read-write login role of ours, its password in the child's environment only.
    pub fn cli_target(&self) -> anyhow::Result<CliTarget> {
        if let Remote::Project(_) = &self.remote
            && let Route::Pooler(_) = self.route()?
        {
            let role = self.login_role(Access::ReadWrite)?;
            let url = role.endpoint().url()?;
            crate::edges::output::redact::add_url(&url);
            return Ok(CliTarget { remote: Remote::Url(url), role: Some(Box::new(role)) });
        }
        Ok(CliTarget { remote: self.remote.clone(), role: None })
    }

    /// A hosted project's route, decided once: `connection = "direct"` or `"pooler"` as configured; `auto` (the
    /// default) the direct host when it accepts a connection over IPv6 within a few seconds, else the pooler in
    /// session mode. URL targets have none.
    pub fn route(&self) -> anyhow::Result<&Route> {
        let Remote::Project(project_ref) = &self.remote else {
            bail!("target `{}` is reached by URL, not through a route of the platform", self.name)
        };
        if let Some(route) = self.route.get() {
            return Ok(route);
        }
        let platform = Platform::from_profile(self.profile.as_deref())?;
        let route = choose_route(&platform, &self.name, project_ref, self.config.connection.unwrap_or_default())?;
        Ok(self.route.get_or_init(|| route))
    }

    /// Which database the target is, by name (no session); `None` for the embedded database.
    pub fn place(&self) -> Option<Place> {
        if self.config.embedded {
            return None;
        }
        match &self.remote {
            Remote::Url(url) => place_of(url, self.config.project_ref.as_deref()),
            Remote::Project(project_ref) => Some(Place::Project(project_ref.clone())),
        }
    }

    /// Where records and evidence about the target go: committed, or under `target/` for the embedded database.
    pub fn record_place(&self) -> crate::edges::repo::RecordPlace {
        if self.config.embedded {
            crate::edges::repo::RecordPlace::Scratch
        } else {
            crate::edges::repo::RecordPlace::Committed
        }
    }

    /// What points the xtask at the target, as people set it: `$PROD_DB_URL`, or the target's project ref.
    pub fn via(&self) -> String {
        match (&self.remote, self.config.db_url_env.as_deref()) {
            (Remote::Url(_), Some(var)) => format!("${var}"),
            _ => format!("target `{}`", self.name),
        }
    }

    /// The target's identity: its place, and for a server its `system_identifier` and database oid (one short
    /// session; left out when they cannot be read).
    pub fn identity(&self) -> Option<Identity> {
        let place = self.place()?;
        // A URL that names no project (a server's own host) is told apart by the server itself.
        let live = match &self.remote {
            Remote::Url(url) if matches!(identity::of_url(url), Some(Place::Server { .. })) => {
                read_server_identity(url).ok()
            }
            _ => None,
        };
        Some(Identity { place, live })
    }

    /// Refuses a target whose database is not the one pinned in the lock (unless `repin`), or that another
    /// target was pinned at under another host name (`check_aliases` sees only configured places); returns the
    /// identity seen, to be pinned (first promotion) or re-pinned.
    pub fn check_pin(&self, lock: &Lock, repin: bool) -> anyhow::Result<Option<Identity>> {
        let Some(current) = self.identity() else { return Ok(None) };
        let pinned = lock.targets.get(&self.name).and_then(|state| state.pinned());
        if let Some(pinned) = pinned.filter(|_| !repin)
            && let Some(why) = identity::pin_mismatch(&self.name, &self.via(), &current, &pinned)
        {
            bail!("{why}");
        }
        self.check_host_names(lock, &current)?;
        Ok(Some(current))
    }

    /// Two names for one database are refused when the other was pinned at the server this one reaches now
    /// under another place (`localhost` and `127.0.0.1`). Exit 2, as for the other two-names cases.
    fn check_host_names(&self, lock: &Lock, current: &Identity) -> anyhow::Result<()> {
        let pinned: Vec<(&str, Identity, bool, Option<&str>)> = lock
            .targets
            .iter()
            .filter(|(other, _)| **other != self.name)
            .filter_map(|(other, state)| {
                let configured = self.configured.targets.get(other)?;
                Some((other.as_str(), state.pinned()?, configured.protected, Some(state.head.as_str())))
            })
            .collect();
        let pinned: Vec<_> = pinned.iter().map(|(o, i, p, h)| (*o, i, *p, *h)).collect();
        let mine = (self.config.protected, lock.head(&self.name));
        let problems = identity::host_name_conflicts(&self.name, current, mine, &pinned);
        if problems.is_empty() {
            return Ok(());
        }
        bail!("{}; nothing ran", problems.join("; "))
    }

    /// How the target is reached, once known: a URL by what it names, a hosted project by its route.
    pub fn connection(&self) -> Option<Connection> {
        match &self.remote {
            Remote::Url(url) => Some(pooler::url_connection(url)),
            Remote::Project(_) => self.route.get().map(Route::connection),
        }
    }

    fn login_role(&self, access: Access) -> anyhow::Result<LoginRole> {
        let Remote::Project(project_ref) = &self.remote else { bail!("target `{}` has no project_ref", self.name) };
        let platform = Platform::from_profile(self.profile.as_deref())?;
        let route = self.route()?.clone();
        let (mode, rootcert) = self.tls_settings()?;
        let tls = |host: &str, port: u16| Tls::choose(mode, rootcert, host, port);
        LoginRole::create(&platform, project_ref, access, &route, tls)
    }

    /// The target's `sslmode`/`sslrootcert`, for sessions that are not made from a URL.
    fn tls_settings(&self) -> anyhow::Result<(Option<SslMode>, Option<std::path::PathBuf>)> {
        let mode = self.config.sslmode.as_deref().map(SslMode::parse).transpose()?;
        let rootcert = self.config.sslrootcert.as_ref().map(|c| self.root.join(c));
        Ok((mode, rootcert))
    }

    /// The CLI as this target needs it called (its `--profile`).
    pub fn cli(&self, cli: &Cli) -> Cli {
        cli.with_profile(self.profile.as_deref())
    }

    /// How people see the target: never with a password.
    pub fn describe(&self) -> String {
        match &self.remote {
            Remote::Url(url) if self.config.embedded => {
                format!("embedded database {}", crate::edges::output::redact::mask_url_passwords(url))
            }
            Remote::Url(url) => format!("database {}", crate::edges::output::redact::mask_url_passwords(url)),
            Remote::Project(r) => format!("project {r}"),
        }
    }
}

/// `system_identifier/database oid` of the server at `url`.
fn read_server_identity(url: &str) -> anyhow::Result<String> {
    let sql = "select (select system_identifier::text from pg_control_system()) || '/' || \
               (select oid::text from pg_database where datname = current_database())";
    Ok(pg::connect(url)?.query_one(sql, &[])?.get(0))
}

/// The place a URL names for a target: a URL that names no project reaches the target's `project_ref` when it has
/// one (its host is then only the way there), else it is the server it names.
fn place_of(url: &str, project_ref: Option<&str>) -> Option<Place> {
    match (identity::of_url(url)?, project_ref) {
        (Place::Server { .. }, Some(project_ref)) => Some(Place::Project(project_ref.to_string())),
        (place, _) => Some(place),
    }
}

/// The place a configured target names without any session (its URL from the environment, or its project
/// ref); `None` for the embedded database or a URL that is not set.
pub fn static_place(config: &Target) -> Option<Place> {
    if config.embedded {
        return None;
    }
    let url = config.db_url_env.as_deref().and_then(|var| std::env::var(var).ok()).filter(|u| !u.is_empty());
    match (url, &config.project_ref) {
        (Some(url), project_ref) => place_of(&url, project_ref.as_deref()),
        (None, Some(project_ref)) => Some(Place::Project(project_ref.clone())),
        (None, None) => None,
    }
}

/// The other targets of `config` that name the same database as `name`.
pub fn same_database<'c>(config: &'c Config, name: &str) -> Vec<&'c str> {
    let Some(place) = config.targets.get(name).and_then(static_place) else { return Vec::new() };
    config
        .targets
        .iter()
        .filter(|(other, t)| other.as_str() != name && static_place(t).as_ref() == Some(&place))
        .map(|(other, _)| other.as_str())
        .collect()
}

/// What protected targets have applied, by the lock and `xtask.toml`: what a `db reset` of the embedded database
/// does not make go away.
pub fn protected_history(config: &Config, lock: &Lock) -> Protected {
    let migrations_dir = config.migrations_dir.display().to_string();
    Protected::new(lock, config.targets.iter().map(|(name, t)| (name.as_str(), t.protected)), &migrations_dir)
}

/// Two names for one database are refused unless they agree (the same protection, one recorded head), so no
/// name can reach production around its gates. Exit 2: a configuration error.
pub fn check_aliases(config: &Config, lock: &Lock, name: &str) -> anyhow::Result<()> {
    let (Some(target), others) = (config.targets.get(name), same_database(config, name)) else { return Ok(()) };
    let Some(place) = static_place(target) else { return Ok(()) };
    let others: Vec<(&str, bool, Option<&str>)> =
        others.iter().filter_map(|o| config.targets.get(*o).map(|t| (*o, t.protected, lock.head(o)))).collect();
    let problems = identity::alias_conflicts(name, &place, (target.protected, lock.head(name)), &others);
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}; nothing ran", problems.join("; "))
}

/// Where the CLI pushes, and the login role that must outlive the push (removed when this is dropped).
pub struct CliTarget {
    pub remote: Remote,
    role: Option<Box<LoginRole>>,
}

impl CliTarget {
    /// The role the CLI's sessions run as when it is ours (through the pooler): how they are found on the server
    /// whatever `application_name` the pooler passes on.
    pub fn session_role(&self) -> Option<String> {
        self.role.as_ref().map(|r| r.role())
    }
}

/// Decides how `project_ref`'s database is reached; an error names every attempt.
fn choose_route(platform: &Platform, name: &str, project_ref: &str, setting: Setting) -> anyhow::Result<Route> {
    let host = platform.direct_host(project_ref);
    let direct = || pooler::probe(&host, 5432, true, pooler::PROBE_TIMEOUT);
    let through_pooler = || -> anyhow::Result<Route> {
        let token = management_api::token()?;
        let found = platform.pooler(project_ref, &token)?;
        pooler::probe(&found.host, pooler::SESSION_PORT, false, pooler::PROBE_TIMEOUT)
            .map_err(|why| anyhow!("{}:{} (session mode): {why}", found.host, pooler::SESSION_PORT))?;
        Ok(Route::Pooler(found))
    };
    let route = match setting {
        Setting::Direct => match direct() {
            Ok(()) => Route::Direct { host },
            Err(why) => bail!(
                "cannot reach {name}'s database at {host}:5432 ({why}); nothing ran. `connection = \"direct\"` is set in [targets.{name}]: on a network without IPv6 (GitHub-hosted runners) set `connection = \"auto\"` to go through the project's pooler"
            ),
        },
        Setting::Pooler => through_pooler()
            .map_err(|e| anyhow!("cannot reach {name}'s database through the project's pooler: {e:#}; nothing ran"))?,
        Setting::Auto => match direct() {
            Ok(()) => Route::Direct { host },
            Err(why_direct) => through_pooler().map_err(|e| {
                anyhow!(
                    "cannot reach {name}'s database: directly at {host}:5432 ({why_direct}), nor through the project's pooler ({e:#}); nothing ran. Check this machine's network (and HTTPS_PROXY), or the project's state in the dashboard"
                )
            })?,
        },
    };
    eprintln!("       connection: {} ({})", route.connection(), route.describe());
    Ok(route)
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
            Direct::Role(role) => role.connect(),
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
