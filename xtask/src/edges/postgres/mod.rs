//! Postgres for the xtask: sessions (by URL, or by parts with TLS chosen by libpq's rules), throwaway databases,
//! and the embedded cluster (`cluster`).

mod baseline;
mod cluster;
pub mod exposure;
pub mod impact;
pub mod pooler;
pub mod prepared;
pub mod standins;
pub mod tls;
pub mod tree;

pub use baseline::{BASELINE_SQL, PlatformSchema};
pub use cluster::{Cluster, State, bindir, check_binaries};
pub use tls::{SslMode, Tls};
pub use tree::BINDIR_ENV;

use anyhow::Context;

/// Whether every address `host` resolves to is a loopback address (127.0.0.0/8, ::1).
pub fn is_loopback(host: &str, port: u16) -> bool {
    use std::net::ToSocketAddrs;
    let addrs: Vec<std::net::SocketAddr> = (host, port).to_socket_addrs().map(Iterator::collect).unwrap_or_default();
    !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
}

/// A database reached by parts, not by URL, so its password is in no string that could be printed.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    pub tls: Tls,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl Endpoint {
    /// `user@host:port/db (tls)`, never with the password.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}/{} (sslmode={})", self.user, self.host, self.port, self.dbname, self.tls.mode.as_str())
    }

    /// The endpoint as a URL, password and TLS settings inside: for a child that takes a URL (the password is
    /// moved to its environment by `Remote::child_env`). Never printed: callers redact it.
    pub fn url(&self) -> anyhow::Result<String> {
        let mut url = url::Url::parse("postgresql://localhost/")?;
        url.set_host(Some(&self.host)).with_context(|| format!("{} is no host name", self.host))?;
        let _ = url.set_port(Some(self.port));
        let _ = url.set_username(&self.user);
        let _ = url.set_password(Some(&self.password));
        url.set_path(&format!("/{}", self.dbname));
        url.query_pairs_mut().append_pair("sslmode", self.tls.mode.as_str());
        if let Some(root) = &self.tls.rootcert {
            url.query_pairs_mut().append_pair("sslrootcert", &root.display().to_string());
        }
        Ok(url.to_string())
    }

    /// A session; the error keeps the server's `postgres::Error` (its SQLSTATE) in its chain.
    pub fn connect(&self) -> anyhow::Result<postgres::Client> {
        let mut config = postgres::Config::new();
        config.host(&self.host).port(self.port).user(&self.user).password(&self.password).dbname(&self.dbname);
        connect_with(config, &self.tls).with_context(|| format!("connecting to {}", self.describe()))
    }
}

/// A session by URL; its `sslmode`/`sslrootcert` (or the default for its host) decide the TLS.
pub fn connect(url: &str) -> anyhow::Result<postgres::Client> {
    let context = || format!("connecting to {}", crate::edges::output::redact::mask_url_passwords(url));
    let split = tls::split_url(url).with_context(context)?;
    let config: postgres::Config = split
        .url
        .parse()
        .map_err(|e| anyhow::anyhow!("the database URL does not parse ({e})"))
        .with_context(context)?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let tls = Tls::choose(split.mode, split.rootcert, &host, port);
    connect_with(config, &tls)
        .map_err(|e| anyhow::anyhow!("{}", crate::edges::output::redact::mask_url_passwords(&format!("{e:#}"))))
        .with_context(context)
}

/// The `application_name` of the xtask's own sessions, so people (and the xtask) can tell them in
/// `pg_stat_activity`, and a pooler's log can show which port they used.
pub const APPLICATION_NAME: &str = "cargo-xtask";

fn connect_with(mut config: postgres::Config, tls: &Tls) -> anyhow::Result<postgres::Client> {
    config.ssl_mode(tls.postgres_mode());
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    // The `postgres::Error` stays in the chain (its SQLSTATE is read by `platform::role_removed`); `{:#}` prints
    // its sources, "db error: FATAL: password authentication failed ...".
    config.connect(tls.connector()).map_err(anyhow::Error::from)
}

/// `name` as an SQL identifier, quoted (and its quotes doubled) whatever it holds.
pub fn ident(name: &str) -> String {
    postgres_protocol::escape::escape_identifier(name)
}

/// Creates an empty database with the Supabase baseline in the cluster of the superuser's `url`; returns its URL
/// as `postgres`, the role migrations run as.
pub fn create_database(url: &str, name: &str) -> anyhow::Result<String> {
    create_database_from(url, name, &PlatformSchema::Builtin)
}

/// Creates an empty database starting from `baseline` in the cluster of the superuser's `url`; returns its URL as
/// `postgres`.
pub fn create_database_from(url: &str, name: &str, baseline: &PlatformSchema) -> anyhow::Result<String> {
    let mut admin = connect(url)?;
    // Two calls: several statements in one batch run as one transaction, which CREATE DATABASE refuses.
    drop_on(&mut admin, name)?;
    admin.batch_execute(&format!("create database {}", ident(name)))?;
    let applied = connect(&replace_database(url, name)).and_then(|mut client| baseline.apply(&mut client));
    if let Err(err) = applied {
        // Half a baseline is no shadow: nothing else would ever drop it.
        let _ = drop_on(&mut admin, name);
        return Err(err).with_context(|| format!("applying the baseline to {name}"));
    }
    Ok(project_url(url, name))
}

/// `url` signed in as `user` (same password: the embedded cluster's roles share one).
pub fn with_user(url: &str, user: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username(user);
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// The URL of database `name` as `postgres` (the role the CLI and migrations use), from the superuser's URL of
/// the same cluster: same password.
pub fn project_url(admin_url: &str, name: &str) -> String {
    with_user(&replace_database(admin_url, name), crate::domain::platform::PRIVILEGED_ROLE)
}

/// `drop database if exists name with (force)` through a session the caller already holds.
pub fn drop_on(admin: &mut postgres::Client, name: &str) -> anyhow::Result<()> {
    admin.batch_execute(&format!("drop database if exists {} with (force)", ident(name)))?;
    Ok(())
}

pub fn drop_database(url: &str, name: &str) -> anyhow::Result<()> {
    drop_on(&mut connect(url)?, name)
}

/// `postgresql://u:p@h:1/old?x` with database `new`.
pub fn replace_database(url: &str, database: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_path(&format!("/{database}"));
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// For unit tests that need a real server: a cluster in a temporary directory, stopped when dropped.
#[cfg(test)]
pub struct TempCluster {
    pub sh: xshell::Shell,
    pub dir: tempfile::TempDir,
    cluster: Cluster,
}

#[cfg(test)]
impl TempCluster {
    /// Starts it and returns it with the superuser's URL of its `postgres` database.
    pub fn start() -> (TempCluster, String) {
        let dir = tempfile::tempdir().unwrap();
        // As root the server runs as `postgres`, which must be able to enter the directory.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let sh = xshell::Shell::new().unwrap();
        let cluster = Cluster::new(&dir.path().join("target/xtask/pg/17"), crate::domain::major::DEFAULT);
        let admin = cluster.start_admin(&sh).unwrap();
        (TempCluster { sh, dir, cluster }, admin)
    }

    /// The repository root, where `node_modules/.bin/supabase` is.
    pub fn repo_root() -> &'static std::path::Path {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }
}

#[cfg(test)]
impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop(&self.sh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA, a server certificate for `localhost` signed by it, and an unrelated CA, in `dir`.
    fn certificates(dir: &std::path::Path) {
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl").current_dir(dir).args(args).output().unwrap();
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
        for ca in ["ca", "other"] {
            let subject = format!("/CN=xtask test {ca}");
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
                "-subj",
                &subject,
                "-days",
                "2",
            ]);
        }
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
    }

    #[test]
    fn tls_follows_sslmode_against_a_server_with_its_own_ca() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (tmp, admin) = TempCluster::start();
        let certs = tmp.dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        certificates(&certs);
        let data = tmp.dir.path().join("target/xtask/pg/17/data");
        let owner = std::fs::metadata(&data).unwrap();
        for file in ["server.crt", "server.key"] {
            std::fs::copy(certs.join(file), data.join(file)).unwrap();
            std::os::unix::fs::chown(data.join(file), Some(owner.uid()), Some(owner.gid())).unwrap();
            std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut client = connect(&admin).unwrap();
        client.batch_execute("alter system set ssl = on").unwrap();
        client.batch_execute("select pg_reload_conf()").unwrap();
        // The postmaster reloads on its own time: wait until a new session sees TLS offered, not for a while.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while connect(&format!("{admin}?sslmode=require")).is_err() {
            assert!(std::time::Instant::now() < deadline, "the server never offered TLS after its reload");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let ssl = |url: &str| -> anyhow::Result<bool> {
            Ok(connect(url)?.query_one("select ssl from pg_stat_ssl where pid = pg_backend_pid()", &[])?.get(0))
        };
        let (ca, other) = (certs.join("ca.crt").display().to_string(), certs.join("other.crt").display().to_string());
        let by_name = admin.replace("127.0.0.1", "localhost");
        assert!(ssl(&format!("{admin}?sslmode=require")).unwrap(), "require encrypts");
        assert!(ssl(&admin).unwrap(), "loopback prefers, and the server offers TLS");
        assert!(!ssl(&format!("{admin}?sslmode=disable")).unwrap(), "disable is plaintext");
        assert!(
            ssl(&format!("{by_name}?sslmode=verify-full&sslrootcert={ca}")).unwrap(),
            "verify-full with the right CA and name"
        );
        assert!(
            ssl(&format!("{admin}?sslmode=verify-ca&sslrootcert={ca}")).unwrap(),
            "verify-ca does not check the name"
        );
        let wrong_host = ssl(&format!("{admin}?sslmode=verify-full&sslrootcert={ca}")).unwrap_err();
        assert!(format!("{wrong_host:#}").contains("certificate verify failed"), "{wrong_host:#}");
        assert!(!format!("{wrong_host:#}").contains(&admin), "the password stays masked: {wrong_host:#}");
        let unknown_ca = ssl(&format!("{by_name}?sslmode=verify-full&sslrootcert={other}")).unwrap_err();
        assert!(format!("{unknown_ca:#}").contains("certificate verify failed"), "{unknown_ca:#}");
        let missing = ssl(&format!("{by_name}?sslmode=verify-full&sslrootcert=/nonexistent.crt")).unwrap_err();
        assert!(format!("{missing:#}").contains("reading sslrootcert /nonexistent.crt"), "{missing:#}");
    }

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(replace_database("postgresql://u:p@h:5432/postgres", "shadow"), "postgresql://u:p@h:5432/shadow");
        assert_eq!(
            replace_database("postgresql://u:p@h:5432/postgres?sslmode=disable", "s"),
            "postgresql://u:p@h:5432/s?sslmode=disable"
        );
        assert_eq!(replace_database("postgresql://h", "s"), "postgresql://h/s");
    }
}
