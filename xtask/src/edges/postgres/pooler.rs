//! How a hosted project's database is reached: its direct host (`db.<ref>.<project_host>`, IPv6 only on the
//! platform) or the project's pooler in session mode (IPv4, `<user>.<ref>` routes the tenant). Pure decisions
//! over data, plus one TCP probe; the sessions themselves are opened elsewhere.
//!
//! The pooler listens in transaction mode on 6543 and in session mode on 5432 of the same host. Transaction mode
//! returns the server connection after each transaction, so a session-level advisory lock, a prepared statement
//! or `SET` silently stop applying: the xtask's own sessions and the CLI's push only ever use session mode.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;

/// The pooler's session-mode port.
pub const SESSION_PORT: u16 = 5432;
/// The pooler's transaction-mode port: never used by the xtask.
pub const TRANSACTION_PORT: u16 = 6543;

/// How long the direct host gets to accept a TCP connection before the pooler is tried.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub use crate::domain::config::Setting;

/// How a target was reached, as the review, the record and json say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Connection {
    #[serde(rename = "direct")]
    Direct,
    #[serde(rename = "pooler (session)")]
    PoolerSession,
}

impl std::fmt::Display for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Connection::Direct => "direct",
            Connection::PoolerSession => "pooler (session)",
        })
    }
}

/// Where the project's pooler is, from `GET /v1/projects/{ref}/config/database/pooler`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pooler {
    pub host: String,
    pub dbname: String,
}

/// A hosted project's database as one route: the host and port sessions go to, and how a login role's name is
/// written there (the pooler needs `<role>.<ref>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Direct { host: String },
    Pooler(Pooler),
}

impl Route {
    pub fn connection(&self) -> Connection {
        match self {
            Route::Direct { .. } => Connection::Direct,
            Route::Pooler(_) => Connection::PoolerSession,
        }
    }

    /// Host, port, user and database for `role` on `project_ref`.
    pub fn session(&self, role: &str, project_ref: &str) -> (String, u16, String, String) {
        match self {
            Route::Direct { host } => (host.clone(), 5432, role.to_string(), "postgres".to_string()),
            Route::Pooler(p) => (p.host.clone(), SESSION_PORT, format!("{role}.{project_ref}"), p.dbname.clone()),
        }
    }

    /// `host:port` as people read it.
    pub fn describe(&self) -> String {
        let (host, port, _, _) = self.session("", "");
        format!("{host}:{port}")
    }
}

/// The primary database's pooler from the API's answer (an array of entries; older platforms answer one object).
/// Its host must be the profile's `pooler_host` or under it, as the CLI checks, so an answer cannot send a login
/// role's password anywhere else. The port in the answer (usually transaction mode) is not used.
pub fn parse_config(answer: &serde_json::Value, pooler_host: &str) -> anyhow::Result<Pooler> {
    let entries = match answer {
        serde_json::Value::Array(entries) => entries.iter().collect::<Vec<_>>(),
        other => vec![other],
    };
    let primary = entries
        .iter()
        .find(|e| e["database_type"].as_str().is_none_or(|t| t == "PRIMARY"))
        .context("the platform's pooler configuration lists no PRIMARY database")?;
    let from_string = primary["connection_string"].as_str().map(connection_string_parts).transpose()?;
    let host = primary["db_host"]
        .as_str()
        .map(str::to_string)
        .or_else(|| from_string.as_ref().map(|(h, _)| h.clone()))
        .filter(|h| !h.is_empty())
        .context("the platform's pooler configuration names no host")?;
    let dbname = primary["db_name"]
        .as_str()
        .map(str::to_string)
        .or_else(|| from_string.map(|(_, d)| d))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "postgres".to_string());
    let host = host.to_ascii_lowercase();
    if host != pooler_host && !host.ends_with(&format!(".{pooler_host}")) {
        bail!(
            "the platform names pooler host `{host}`, which is not under the profile's pooler_host `{pooler_host}`; refusing to send credentials there. Check the target's profile"
        );
    }
    Ok(Pooler { host, dbname })
}

/// Host and database of a `postgresql://user:[YOUR-PASSWORD]@host:6543/db` string (the dashboard's placeholder
/// password is no valid URL userinfo, so the authority is split by hand after the last `@`).
fn connection_string_parts(text: &str) -> anyhow::Result<(String, String)> {
    let rest = text.split_once("://").map(|(_, r)| r).context("the pooler connection string is not a URL")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host_port,
    };
    let dbname = path.split('?').next().unwrap_or("").to_string();
    Ok((host.trim_matches(['[', ']']).to_string(), dbname))
}

/// Whether a database URL names a pooler in transaction mode (port 6543, or `pgbouncer=true`): `Some` with the
/// same URL in session mode (port 5432, `pgbouncer` dropped), to be used instead.
pub fn transaction_mode(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let bouncer = parsed.query_pairs().any(|(k, v)| k == "pgbouncer" && v.eq_ignore_ascii_case("true"));
    if parsed.port() != Some(TRANSACTION_PORT) && !bouncer {
        return None;
    }
    let mut session = parsed.clone();
    let _ = session.set_port(Some(SESSION_PORT));
    let kept: Vec<(String, String)> =
        parsed.query_pairs().filter(|(k, _)| k != "pgbouncer").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if kept.is_empty() {
        session.set_query(None);
    } else {
        session.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(session.to_string())
}

/// How a URL target is reached: a user of the form `<name>.<project ref>` is the pooler's tenant routing.
pub fn url_connection(url: &str) -> Connection {
    let user = url::Url::parse(url).map(|u| u.username().to_string()).unwrap_or_default();
    let tenant = user.rsplit_once('.').map(|(_, r)| r).unwrap_or("");
    if tenant.len() == 20 && tenant.bytes().all(|b| b.is_ascii_lowercase()) {
        Connection::PoolerSession
    } else {
        Connection::Direct
    }
}

/// Whether `host:port` accepts a TCP connection within `timeout`; `ipv6_only` looks at IPv6 addresses alone (the
/// platform's direct hosts publish only AAAA records, and the CLI insists on one). `Err` says why not.
pub fn probe(host: &str, port: u16, ipv6_only: bool, timeout: Duration) -> Result<(), String> {
    let addrs: Vec<SocketAddr> =
        (host, port).to_socket_addrs().map_err(|e| format!("{host} does not resolve ({e})"))?.collect();
    let addrs: Vec<SocketAddr> = addrs.into_iter().filter(|a| !ipv6_only || a.is_ipv6()).collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no {}address", if ipv6_only { "IPv6 " } else { "" }));
    }
    let mut why = Vec::new();
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => why.push(format!("{addr}: {e}")),
        }
    }
    Err(why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF: &str = "srcaoozjkrughebmbvfb";

    #[test]
    fn the_primary_pooler_comes_from_the_platforms_answer() {
        let answer = serde_json::json!([
            {"database_type": "READ_REPLICA", "db_host": "aws-0-eu-west-1.pooler.supabase.com", "db_name": "replica"},
            {"database_type": "PRIMARY", "db_port": 6543, "pool_mode": "transaction",
             "connection_string": format!("postgresql://postgres.{REF}:[YOUR-PASSWORD]@aws-0-eu-west-1.pooler.supabase.com:6543/postgres")}
        ]);
        let pooler = parse_config(&answer, "supabase.com").unwrap();
        assert_eq!(pooler, Pooler { host: "aws-0-eu-west-1.pooler.supabase.com".into(), dbname: "postgres".into() });
        let route = Route::Pooler(pooler);
        assert_eq!(
            route.session("cli_login_postgres", REF),
            (
                "aws-0-eu-west-1.pooler.supabase.com".into(),
                5432,
                format!("cli_login_postgres.{REF}"),
                "postgres".into()
            ),
            "session mode, the tenant in the user"
        );
        assert_eq!(route.connection().to_string(), "pooler (session)");
    }

    #[test]
    fn a_pooler_outside_the_profiles_pooler_host_is_refused() {
        let answer =
            serde_json::json!([{"database_type": "PRIMARY", "db_host": "evil.example.com", "db_name": "postgres"}]);
        let err = parse_config(&answer, "supabase.com").unwrap_err().to_string();
        assert!(
            err.contains("pooler host `evil.example.com`, which is not under the profile's pooler_host `supabase.com`"),
            "{err}"
        );
        let lookalike = serde_json::json!({"db_host": "notsupabase.com"});
        assert!(parse_config(&lookalike, "supabase.com").is_err(), "a suffix is only a suffix after a dot");
        assert!(parse_config(&serde_json::json!([]), "supabase.com").unwrap_err().to_string().contains("no PRIMARY"));
    }

    #[test]
    fn transaction_mode_urls_get_their_session_mode_twin() {
        let url = format!("postgresql://postgres.{REF}:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres");
        assert_eq!(
            transaction_mode(&url).unwrap(),
            format!("postgresql://postgres.{REF}:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres")
        );
        let bouncer = "postgresql://u:pw@pooler.example.com:5432/postgres?pgbouncer=true&sslmode=require";
        assert_eq!(
            transaction_mode(bouncer).unwrap(),
            "postgresql://u:pw@pooler.example.com:5432/postgres?sslmode=require"
        );
        assert_eq!(transaction_mode("postgresql://u:pw@db.example.com:5432/postgres?sslmode=require"), None);
    }

    #[test]
    fn a_url_with_a_tenant_user_is_the_pooler() {
        let pooled = format!("postgresql://postgres.{REF}:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres");
        assert_eq!(url_connection(&pooled), Connection::PoolerSession);
        assert_eq!(url_connection("postgresql://postgres:pw@db.x.supabase.co:5432/postgres"), Connection::Direct);
        assert_eq!(url_connection("postgresql://first.last:pw@127.0.0.1:5432/postgres"), Connection::Direct);
    }

    #[test]
    fn a_probe_names_why_it_failed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(probe("127.0.0.1", port, false, PROBE_TIMEOUT), Ok(()));
        assert_eq!(probe("127.0.0.1", port, true, PROBE_TIMEOUT), Err("127.0.0.1 has no IPv6 address".into()));
        // Port 1: nothing listens there (a freed ephemeral port may be taken again by a parallel test).
        let refused = probe("127.0.0.1", 1, false, PROBE_TIMEOUT).unwrap_err();
        assert!(refused.starts_with("127.0.0.1:1: "), "{refused}");
    }
}
