//! The embedded Postgres: a cluster of one major from its server tree (`tree`), data under
//! `target/xtask/pg/<major>/`, a free port on 127.0.0.1, its socket in its own directory, and the Supabase
//! baseline in its `postgres` database. As root it runs the server as an unprivileged user, because Postgres
//! refuses to run as root.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use super::baseline::PlatformSchema;
use super::prepared::{self, PREPARED_PASSWORD};
use super::tree::ServerTree;
use crate::domain::major::Major;
use crate::domain::platform::{BOOTSTRAP_SUPERUSER, PRIVILEGED_ROLE};
use crate::edges::os::fsutil;

/// Written when a cluster is made under the platform's role model (bootstrap superuser `supabase_admin`,
/// `postgres` an ordinary role); a cluster without it was made by an older xtask, with `postgres` a superuser.
const ROLE_MODEL_MARK: &str = "role-model";
const ROLE_MODEL_VERSION: &str = "supabase_admin bootstraps; postgres is not a superuser (1)\n";

/// The attributes the platform gives `postgres` (docs/design.md names the source).
const POSTGRES_ATTRIBUTES: &str = "login nosuperuser createdb createrole replication bypassrls inherit";

pub struct Cluster {
    dir: PathBuf,
    major: Major,
    baseline: PlatformSchema,
    /// Its server tree, once located.
    tree: std::sync::OnceLock<ServerTree>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum State {
    Absent,
    Stopped,
    Running,
}

/// The OS user the server runs as when we are root.
struct RunAs {
    uid: u32,
    gid: u32,
}

impl Cluster {
    /// The cluster of `major` kept in `dir` (`Repo::cluster_dir`).
    pub fn new(dir: &Path, major: Major) -> Cluster {
        Cluster::with_baseline(dir, major, PlatformSchema::Builtin)
    }

    /// The cluster of `major` in `dir`, its `postgres` database starting from `baseline`.
    pub fn with_baseline(dir: &Path, major: Major, baseline: PlatformSchema) -> Cluster {
        Cluster { dir: dir.to_path_buf(), major, baseline, tree: std::sync::OnceLock::new() }
    }

    pub fn major(&self) -> Major {
        self.major
    }

    /// Where its data directory is.
    pub fn data_dir(&self) -> PathBuf {
        self.data()
    }

    /// The libpq password file for its `postgres` user.
    pub fn pgpass(&self) -> PathBuf {
        self.dir.join("pgpass")
    }

    fn data(&self) -> PathBuf {
        self.server_dir().join("data")
    }

    /// Where the server's own files live (data, socket, log): `dir` itself, or, when the server's unprivileged
    /// user cannot enter the checkout (root's 0700 home, say), a directory of its own that `dir/server-dir`
    /// points to. The user's directories are never loosened.
    fn server_dir(&self) -> PathBuf {
        std::fs::read_to_string(self.dir.join(SERVER_DIR_POINTER))
            .map(|s| PathBuf::from(s.trim()))
            .unwrap_or_else(|_| self.dir.clone())
    }

    fn password_file(&self) -> PathBuf {
        self.dir.join("password")
    }

    fn port_file(&self) -> PathBuf {
        self.dir.join("port")
    }

    pub fn log_file(&self) -> PathBuf {
        self.server_dir().join("server.log")
    }

    pub fn state(&self, sh: &Shell) -> anyhow::Result<State> {
        let Ok(version) = std::fs::read_to_string(self.data().join("PG_VERSION")) else { return Ok(State::Absent) };
        if version.trim() != self.major.to_string() {
            bail!(
                "{} holds a PostgreSQL {} cluster, but this one runs PostgreSQL {}; `cargo xtask db reset` recreates it (its data is disposable)",
                self.data().display(),
                version.trim(),
                self.major
            );
        }
        let pg_ctl = self.tree()?.bin("pg_ctl");
        let data = self.data();
        // pg_ctl status: 0 running, 3 not running, 4 no data directory.
        let out = server_cmd(sh, &pg_ctl, &[s("status"), s("-D"), path(&data)])?.quiet().ignore_status().output()?;
        Ok(if out.status.success() { State::Running } else { State::Stopped })
    }

    pub fn port(&self) -> anyhow::Result<u16> {
        let text = std::fs::read_to_string(self.port_file()).context("reading the embedded database's port")?;
        text.trim()
            .parse()
            .with_context(|| format!("{} is corrupt; run `cargo xtask db reset`", self.port_file().display()))
    }

    /// The URL of `database` as `postgres`, the role the CLI and migrations run as (not a superuser, as on the
    /// platform), password included: for connections and the CLI, never for printing.
    pub fn url(&self, database: &str) -> anyhow::Result<String> {
        self.url_as(PRIVILEGED_ROLE, database)
    }

    /// The URL of `database` as the bootstrap superuser `supabase_admin`: for the xtask's own administration
    /// (creating, copying and dropping databases, the role model's history phase), never for migrations.
    pub fn admin_url(&self, database: &str) -> anyhow::Result<String> {
        self.url_as(BOOTSTRAP_SUPERUSER, database)
    }

    fn url_as(&self, role: &str, database: &str) -> anyhow::Result<String> {
        let password =
            std::fs::read_to_string(self.password_file()).context("reading the embedded database's password")?;
        Ok(format!("postgresql://{role}:{}@127.0.0.1:{}/{database}", password.trim(), self.port()?))
    }

    /// The URL without its password, for people; `PGPASSFILE=target/xtask/pg/pgpass` supplies it.
    pub fn display_url(&self, database: &str) -> anyhow::Result<String> {
        Ok(format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port()?))
    }

    /// Creates the cluster if needed, starts it if stopped, and returns the `postgres` database's URL as the
    /// `postgres` role (`admin_url` has the superuser's).
    pub fn start(&self, sh: &Shell) -> anyhow::Result<String> {
        // Even when it runs: a shadow made from a baseline captured since needs its stand-ins.
        if let Some(dir) = &self.tree()?.owned_extensions {
            super::standins::install(dir)?;
            super::standins::install_captured(dir, &self.baseline.stand_ins())?;
            super::standins::trust_privileged(dir)?;
        }
        let state = self.state(sh)?;
        if state != State::Absent {
            self.check_role_model()?;
        }
        match state {
            State::Running => return self.url("postgres"),
            State::Absent => self.create(sh)?,
            State::Stopped => {}
        }
        self.launch(sh)?;
        // After every launch, not only the first: a run interrupted between initdb and this is completed.
        self.bootstrap_roles()?;
        let url = self.admin_url("postgres")?;
        // Re-applied when the baseline changes (every statement in it is idempotent), so an older local database
        // gains what the platform has since added.
        let digest = self.baseline.digest();
        if std::fs::read_to_string(self.dir.join("baseline-applied")).ok().as_deref() != Some(digest.as_str()) {
            let mut client = super::connect(&url)?;
            self.baseline.apply(&mut client).context("applying the baseline to the embedded database")?;
            fsutil::write_atomic(&self.dir.join("baseline-applied"), digest.as_bytes())?;
        }
        self.url("postgres")
    }

    /// A cluster an older xtask made has `postgres` as its bootstrap superuser: what passed on it proves nothing
    /// about a hosted project.
    fn check_role_model(&self) -> anyhow::Result<()> {
        if std::fs::read_to_string(self.dir.join(ROLE_MODEL_MARK)).ok().as_deref() == Some(ROLE_MODEL_VERSION) {
            return Ok(());
        }
        bail!(
            "the embedded PostgreSQL {} cluster in {} was made by an older xtask, where `postgres` is a superuser (on the platform it is not); `cargo xtask db reset{}` recreates it under the platform's role model (its data is disposable)",
            self.major,
            self.dir.display(),
            if self.major == crate::domain::major::DEFAULT {
                String::new()
            } else {
                format!(" --major {}", self.major)
            }
        )
    }

    /// The platform's roles on a new cluster: `postgres` with the platform's attributes (not a superuser), its
    /// password the same as the superuser's. Idempotent.
    fn bootstrap_roles(&self) -> anyhow::Result<()> {
        let password =
            std::fs::read_to_string(self.password_file()).context("reading the embedded database's password")?;
        // Hashed here, so the password itself never reaches the server's statement log.
        let verifier = postgres_protocol::password::scram_sha_256(password.trim().as_bytes());
        let mut admin = self.first_admin_session()?;
        admin.batch_execute(&format!(
            "do $$ begin \
               if not exists (select 1 from pg_roles where rolname = 'postgres') then create role postgres; end if; \
             end $$; \
             alter role postgres with {POSTGRES_ATTRIBUTES} password '{verifier}'; \
             alter role {BOOTSTRAP_SUPERUSER} password '{verifier}'"
        ))?;
        // From here on the superuser has this cluster's password.
        let _ = std::fs::remove_file(self.dir.join(PREPARED_PASSWORD));
        Ok(())
    }

    /// The superuser's session, with the prepared cluster's password while a copy has not had its own yet.
    fn first_admin_session(&self) -> anyhow::Result<postgres::Client> {
        if let Ok(prepared) = std::fs::read_to_string(self.dir.join(PREPARED_PASSWORD)) {
            let url =
                format!("postgresql://{BOOTSTRAP_SUPERUSER}:{}@127.0.0.1:{}/postgres", prepared.trim(), self.port()?);
            if let Ok(client) = super::connect(&url) {
                return Ok(client);
            }
        }
        super::connect(&self.admin_url("postgres")?)
    }

    /// `start`, returning the superuser's URL of the `postgres` database: for the xtask's own administration.
    pub fn start_admin(&self, sh: &Shell) -> anyhow::Result<String> {
        self.start(sh)?;
        self.admin_url("postgres")
    }

    pub fn stop(&self, sh: &Shell) -> anyhow::Result<bool> {
        if self.state(sh)? != State::Running {
            return Ok(false);
        }
        let pg_ctl = self.tree()?.bin("pg_ctl");
        let data = self.data();
        server_cmd(sh, &pg_ctl, &[s("stop"), s("-D"), path(&data), s("-m"), s("fast"), s("-w")])?
            .quiet()
            .ignore_stdout()
            .run()?;
        Ok(true)
    }

    pub fn remove(&self, sh: &Shell) -> anyhow::Result<()> {
        self.stop(sh)?;
        let server_dir = self.server_dir();
        if server_dir != self.dir && server_dir.exists() {
            std::fs::remove_dir_all(&server_dir).with_context(|| format!("removing {}", server_dir.display()))?;
        }
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))?;
        }
        Ok(())
    }

    /// The server tree of this cluster's major, located once per value: an override's major is read by running its `postgres --version`.
    fn tree(&self) -> anyhow::Result<ServerTree> {
        if let Some(tree) = self.tree.get() {
            return Ok(tree.clone());
        }
        let tree = ServerTree::locate(self.major)?;
        Ok(self.tree.get_or_init(|| tree).clone())
    }

    fn create(&self, sh: &Shell) -> anyhow::Result<()> {
        let tree = self.tree()?;
        let run_as = run_as(sh)?;
        if self.dir.exists() {
            self.remove(sh)?; // a half-created cluster from an interrupted run
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let server_dir = match &run_as {
            Some(user) if reachable_by(&self.dir, user).is_err() => {
                let server_dir = private_server_dir(&self.dir, user)?;
                fsutil::write_atomic(&self.dir.join(SERVER_DIR_POINTER), server_dir.display().to_string().as_bytes())?;
                server_dir
            }
            Some(user) => {
                std::os::unix::fs::chown(&self.dir, Some(user.uid), Some(user.gid))?;
                self.dir.clone()
            }
            None => self.dir.clone(),
        };
        let password = random_password()?;
        fsutil::write_atomic(&self.password_file(), password.as_bytes())?;
        std::fs::set_permissions(self.password_file(), std::fs::Permissions::from_mode(0o600))?;
        match prepared::dir(self.major) {
            None => initdb(sh, &tree, run_as.as_ref(), &self.data(), &password)?,
            Some(prepared) => self.copy_prepared(sh, &tree, run_as.as_ref(), &prepared)?,
        }
        // The bootstrap superuser is `supabase_admin` from here on; `postgres` is made at the first launch.
        fsutil::write_atomic(&self.dir.join(ROLE_MODEL_MARK), ROLE_MODEL_VERSION.as_bytes())?;
        let sock = server_dir.join("sock");
        std::fs::create_dir_all(&sock)?;
        if let Some(user) = &run_as {
            std::os::unix::fs::chown(&sock, Some(user.uid), Some(user.gid))?;
        }
        let preload = if tree.preloads_pg_cron() {
            "shared_preload_libraries = 'pg_cron'\ncron.database_name = 'postgres'\n"
        } else {
            ""
        };
        let conf = format!(
            "\n# Written by cargo xtask: a throwaway local database, so durability is traded for speed.\n\
             listen_addresses = '127.0.0.1'\ninclude_if_exists = 'xtask-port.conf'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nwal_level = logical\nmax_connections = 60\n{preload}",
            sock.display()
        );
        let mut text = std::fs::read_to_string(self.data().join("postgresql.conf"))?;
        text.push_str(&conf);
        std::fs::write(self.data().join("postgresql.conf"), text)?;
        let pgpass = format!("127.0.0.1:*:*:postgres:{password}\n127.0.0.1:*:*:{BOOTSTRAP_SUPERUSER}:{password}\n");
        std::fs::write(self.dir.join("pgpass"), pgpass)?;
        std::fs::set_permissions(self.dir.join("pgpass"), std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    }

    /// The data directory as a copy of the run's prepared one (`prepared.rs`), made another server; its
    /// superuser keeps the prepared password until `bootstrap_roles` gives it this cluster's.
    fn copy_prepared(&self, sh: &Shell, tree: &ServerTree, run_as: Option<&RunAs>, dir: &Path) -> anyhow::Result<()> {
        let prepared = prepared::ensure(dir, random_password()?, |data, password| {
            if let Some(user) = run_as {
                std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))?;
            }
            initdb(sh, tree, run_as, data, password)
        })?;
        let (from, to) = (&prepared.data, self.data());
        cmd!(sh, "cp -a {from} {to}").quiet().run()?;
        prepared::make_another_server(&to)?;
        fsutil::write_atomic(&self.dir.join(PREPARED_PASSWORD), prepared.password.as_bytes())?;
        std::fs::set_permissions(self.dir.join(PREPARED_PASSWORD), std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    }

    fn launch(&self, sh: &Shell) -> anyhow::Result<()> {
        let tree = self.tree()?;
        // Keep the port of the last run while it is free, so URLs people copied stay valid.
        let port = match self.port() {
            Ok(port) if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() => port,
            _ => free_port()?,
        };
        fsutil::write_atomic(&self.port_file(), port.to_string().as_bytes())?;
        let port_conf = self.data().join("xtask-port.conf");
        std::fs::write(&port_conf, format!("port = {port}\n"))?;
        let (pg_ctl, data, log) = (tree.bin("pg_ctl"), self.data(), self.log_file());
        if let Some(user) = run_as(sh)? {
            if !log.exists() {
                std::fs::write(&log, "")?;
            }
            std::os::unix::fs::chown(&log, Some(user.uid), Some(user.gid))?;
            std::os::unix::fs::chown(&port_conf, Some(user.uid), Some(user.gid))?;
        }
        let args = [s("start"), s("-D"), path(&data), s("-l"), path(&log), s("-w"), s("-t"), s("60")];
        let out = server_cmd(sh, &pg_ctl, &args)?.quiet().ignore_stdout().ignore_status().output()?;
        if !out.status.success() {
            let log_text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log_text.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
            bail!(
                "the embedded Postgres did not start:\n{}\n  (log: {}); `cargo xtask db reset` recreates it",
                tail.join("\n"),
                self.log_file().display()
            );
        }
        Ok(())
    }
}

/// `initdb` of `data` with `supabase_admin` as its bootstrap superuser, whose password is `password`.
fn initdb(sh: &Shell, tree: &ServerTree, run_as: Option<&RunAs>, data: &Path, password: &str) -> anyhow::Result<()> {
    let parent = data.parent().context("a data directory has a parent")?;
    let pwfile = parent.join("initdb-pw");
    std::fs::write(&pwfile, password)?;
    if let Some(user) = run_as {
        std::os::unix::fs::chown(&pwfile, Some(user.uid), Some(user.gid))?;
    }
    let args = [
        s("-D"),
        path(data),
        s("-U"),
        s(BOOTSTRAP_SUPERUSER),
        s("--auth-local=trust"),
        s("--auth-host=scram-sha-256"),
        format!("--pwfile={}", pwfile.display()),
        s("-E"),
        s("UTF8"),
        s("--no-locale"),
        s("--no-sync"),
    ];
    let result = server_cmd(sh, &tree.bin("initdb"), &args)?.quiet().ignore_stdout().ignore_status().output();
    let _ = std::fs::remove_file(&pwfile);
    let out = result.context("running initdb")?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// A server-side binary, run as the unprivileged user when we are root.
fn server_cmd<'a>(sh: &'a Shell, program: &Path, args: &[String]) -> anyhow::Result<xshell::Cmd<'a>> {
    Ok(match run_as(sh)? {
        Some(user) => {
            let (uid, gid) = (format!("--reuid={}", user.uid), format!("--regid={}", user.gid));
            cmd!(sh, "setpriv {uid} {gid} --clear-groups -- {program} {args...}")
        }
        None => cmd!(sh, "{program} {args...}"),
    })
}

fn s(text: &str) -> String {
    text.to_string()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The directory of `major`'s Postgres binaries (pg_dump, ...).
pub fn bindir(major: Major) -> anyhow::Result<PathBuf> {
    Ok(ServerTree::locate(major)?.bindir)
}

/// Whether the server tree the embedded database and rehearsals of `major` need is there.
pub fn check_binaries(major: Major) -> anyhow::Result<()> {
    ServerTree::locate(major).map(|_| ())
}

fn run_as(sh: &Shell) -> anyhow::Result<Option<RunAs>> {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if uid != 0 {
        return Ok(None);
    }
    // Debian's postgresql package creates `postgres`; otherwise fall back to `nobody`.
    for user in ["postgres", "nobody"] {
        let ids = (
            cmd!(sh, "id -u {user}").quiet().ignore_stderr().read(),
            cmd!(sh, "id -g {user}").quiet().ignore_stderr().read(),
        );
        if let (Ok(uid), Ok(gid)) = ids {
            return Ok(Some(RunAs { uid: uid.trim().parse()?, gid: gid.trim().parse()? }));
        }
    }
    bail!("running as root, and neither a `postgres` nor a `nobody` user exists to run the server as; create one")
}

/// Names the server directory kept outside the checkout.
const SERVER_DIR_POINTER: &str = "server-dir";

/// Where the server's files go when its user cannot enter the checkout: `/var/lib/xtask/pg-<hash of dir>`,
/// owned by that user, mode 0700.
fn private_server_dir(dir: &Path, user: &RunAs) -> anyhow::Result<PathBuf> {
    use sha2::Digest;
    let base = PathBuf::from("/var/lib/xtask");
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755))?;
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let hash =
        crate::domain::history::migrations::hex(&sha2::Sha256::digest(canonical.display().to_string().as_bytes()));
    let server_dir = base.join(format!("pg-{}", &hash[..16]));
    if server_dir.exists() {
        std::fs::remove_dir_all(&server_dir)?;
    }
    std::fs::create_dir(&server_dir).with_context(|| format!("creating {}", server_dir.display()))?;
    std::os::unix::fs::chown(&server_dir, Some(user.uid), Some(user.gid))?;
    std::fs::set_permissions(&server_dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(server_dir)
}

/// Postgres refuses a data directory its user cannot reach.
fn reachable_by(dir: &Path, user: &RunAs) -> anyhow::Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(ancestor) else { continue };
        let mode = meta.permissions().mode();
        let traversable = mode & 0o001 != 0
            || (meta.uid() == user.uid && mode & 0o100 != 0)
            || (meta.gid() == user.gid && mode & 0o010 != 0);
        if !traversable {
            bail!(
                "the database server runs as uid {} (Postgres refuses root), which cannot enter {}; run `chmod o+x {}` or use a checkout outside it",
                user.uid,
                ancestor.display(),
                ancestor.display()
            );
        }
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn random_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("reading the OS's random source: {e}"))?;
    Ok(crate::domain::history::migrations::hex(&bytes))
}
