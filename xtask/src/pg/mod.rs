//! Postgres for the xtask: sessions (by URL, or by parts with TLS chosen by libpq's rules), throwaway databases,
//! and the embedded cluster (`cluster`).

mod cluster;

pub use cluster::{BASELINE_SQL, BINDIR_ENV, Cluster, State, bindir, check_binaries};

use anyhow::Context;

/// How a session to a host is encrypted: libpq's `prefer` (TLS when the server offers it) for a loopback host,
/// `require` (TLS or nothing) for any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Prefer,
    Require,
}

impl TlsMode {
    pub fn for_host(host: &str, port: u16) -> TlsMode {
        if is_loopback(host, port) { TlsMode::Prefer } else { TlsMode::Require }
    }
}

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
    pub tls: TlsMode,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl Endpoint {
    /// `user@host:port/db (tls)`, never with the password.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}/{} (sslmode={:?})", self.user, self.host, self.port, self.dbname, self.tls).to_lowercase()
    }

    pub fn connect(&self) -> anyhow::Result<postgres::Client> {
        let mut config = postgres::Config::new();
        config.host(&self.host).port(self.port).user(&self.user).password(&self.password).dbname(&self.dbname);
        config.ssl_mode(match self.tls {
            TlsMode::Prefer => postgres::config::SslMode::Prefer,
            TlsMode::Require => postgres::config::SslMode::Require,
        });
        // libpq's `require`: encrypted, the certificate not verified (the platform signs with its own CA).
        let tls = native_tls::TlsConnector::builder()
            .danger_accept_invalid_certs(true)
            .danger_accept_invalid_hostnames(true)
            .build()?;
        config
            .connect(postgres_native_tls::MakeTlsConnector::new(tls))
            .map_err(|err| anyhow::anyhow!("{}", error_chain(&err)))
            .with_context(|| format!("connecting to {}", self.describe()))
    }
}

pub fn connect(url: &str) -> anyhow::Result<postgres::Client> {
    postgres::Client::connect(url, postgres::NoTls)
        .map_err(|err| anyhow::anyhow!("{}", crate::redact::mask_url_passwords(&error_chain(&err))))
        .with_context(|| format!("connecting to {}", crate::redact::mask_url_passwords(url)))
}

/// "db error" says little; its sources say "password authentication failed for user ...".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Creates an empty database with the Supabase baseline in the cluster of `url`; returns its URL.
pub fn create_database(url: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = connect(url)?;
    // Two calls: several statements in one batch run as one transaction, which CREATE DATABASE refuses.
    admin.batch_execute(&format!("drop database if exists {name} with (force)"))?;
    admin.batch_execute(&format!("create database {name}"))?;
    let db_url = replace_database(url, name);
    connect(&db_url)?
        .batch_execute(BASELINE_SQL)
        .with_context(|| format!("applying the Supabase baseline to {name}"))?;
    Ok(db_url)
}

pub fn drop_database(url: &str, name: &str) -> anyhow::Result<()> {
    connect(url)?.batch_execute(&format!("drop database if exists {name} with (force)"))?;
    Ok(())
}

/// `postgresql://u:p@h:1/old?x` with database `new`.
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
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
    /// Starts it and returns it with the admin URL of its `postgres` database.
    pub fn start() -> (TempCluster, String) {
        let dir = tempfile::tempdir().unwrap();
        // As root the server runs as `postgres`, which must be able to enter the directory.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let sh = xshell::Shell::new().unwrap();
        let cluster = Cluster::new(&dir.path().join("target/xtask/pg"));
        let admin = cluster.start(&sh).unwrap();
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
