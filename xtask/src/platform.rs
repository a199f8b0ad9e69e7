//! The xtask's own calls to the Supabase Management API, for a target reached with an access token only: a
//! short-lived login role (`POST/DELETE /v1/projects/{ref}/cli/login-role`, as the CLI itself does) so the
//! xtask can hold its advisory lock, read the history and run parity and prune over its own session.
//!
//! The API is reached over HTTPS (plain HTTP only to a loopback API, as a test double is). The token and the
//! role's password are secrets: they are added to the redactor and never printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::pg::{Endpoint, Tls};
use crate::redact::Redactor;

pub const TOKEN_ENV: &str = "SUPABASE_ACCESS_TOKEN";

/// Key of the session-level advisory lock a promotion holds on its target while it pushes ("xtask" + 1).
pub const PROMOTION_LOCK_KEY: i64 = 0x7874_6173_6b00_0001;

/// Access tokens are `sbp_` and 40 hex digits; the CLI refuses anything else before any request.
pub fn check_token(token: &str) -> anyhow::Result<()> {
    let hex = token.strip_prefix("sbp_").filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex.is_none() {
        bail!(
            "{TOKEN_ENV} is malformed: an access token is `sbp_` followed by 40 hex digits; copy it again from the dashboard (Account, Access Tokens)"
        );
    }
    Ok(())
}

/// The platform a project lives on: where its API is and under which domain its databases are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub api_url: String,
    pub project_host: String,
}

impl Platform {
    /// The platform of a `profile` (a built-in name or a YAML file's path); `None` means the CLI's default.
    pub fn from_profile(profile: Option<&str>) -> anyhow::Result<Platform> {
        match profile {
            None | Some("supabase") => {
                Ok(Platform { api_url: "https://api.supabase.com".into(), project_host: "supabase.co".into() })
            }
            Some(name @ ("supabase-staging" | "supabase-local")) => bail!(
                "the built-in profile `{name}` names a platform whose hosts the xtask does not know: write them in a profile file (api_url, project_host) and point the target's `profile` at it"
            ),
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading the profile {path}"))?;
                Platform::parse_profile(&text).with_context(|| format!("the profile {path}"))
            }
        }
    }

    /// The profile's flat `key: value` YAML mapping; `api_url` and `project_host` are required.
    pub fn parse_profile(text: &str) -> anyhow::Result<Platform> {
        let value = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().trim_matches(['"', '\'']).to_string())
                .filter(|v| !v.is_empty())
        };
        let api_url = value("api_url").context("has no `api_url: https://...`")?;
        let project_host = value("project_host").context("has no `project_host: ...`")?;
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            bail!("api_url `{api_url}` is not an http(s) URL");
        }
        Ok(Platform { api_url: api_url.trim_end_matches('/').to_string(), project_host })
    }
}

/// Read-only roles for reads; read-write only where the xtask writes (prune).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// A login role the platform handed out; removed (`DELETE .../cli/login-role`) when dropped, errors included.
pub struct LoginRole {
    platform: Platform,
    project_ref: String,
    token: String,
    pub endpoint: Endpoint,
}

impl LoginRole {
    /// Asks the platform for a role on `project_ref`'s database; its password joins `redactor`'s secrets.
    pub fn create(
        platform: &Platform,
        project_ref: &str,
        access: Access,
        redactor: &mut Redactor,
    ) -> anyhow::Result<LoginRole> {
        let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()).with_context(|| {
            format!("{TOKEN_ENV} is not set: the hosted target is reached through the Management API")
        })?;
        redactor.add(&token);
        check_token(&token)?;
        let body = serde_json::json!({ "read_only": access == Access::ReadOnly }).to_string();
        let path = format!("/v1/projects/{project_ref}/cli/login-role");
        let (status, text) = request(&platform.api_url, "POST", &path, &token, Some(&body))?;
        if status != 200 && status != 201 {
            bail!("{}", api_error("creating a login role", status, &text));
        }
        let answer: serde_json::Value = serde_json::from_str(&text).context("the login-role answer is not JSON")?;
        let (Some(role), Some(password)) = (answer["role"].as_str(), answer["password"].as_str()) else {
            bail!("the login-role answer has no role and password");
        };
        redactor.add(password);
        let host = format!("db.{project_ref}.{}", platform.project_host);
        let endpoint = Endpoint {
            tls: Tls::choose(None, None, &host, 5432),
            host,
            port: 5432,
            user: role.to_string(),
            password: password.to_string(),
            dbname: "postgres".to_string(),
        };
        Ok(LoginRole { platform: platform.clone(), project_ref: project_ref.to_string(), token, endpoint })
    }
}

impl LoginRole {
    /// Whether a promotion (of this or another machine) holds the target's lock now. `DELETE .../cli/login-role`
    /// takes only the project, so it would also end the login role a running push uses.
    fn promotion_running(&self) -> bool {
        let held = |client: &mut postgres::Client| -> anyhow::Result<bool> {
            let sql = "select count(*) > 0 from pg_locks where locktype = 'advisory' and granted \
                       and ((classid::bigint << 32) | objid::bigint) = $1 and pid <> pg_backend_pid()";
            Ok(client.query_one(sql, &[&PROMOTION_LOCK_KEY])?.get(0))
        };
        // When that cannot be told, keep the role: it expires on its own.
        self.endpoint.connect().and_then(|mut c| held(&mut c)).unwrap_or(true)
    }
}

impl Drop for LoginRole {
    fn drop(&mut self) {
        if self.promotion_running() {
            eprintln!(
                "note: a promotion of {} is running, so the temporary login role is left to expire on its own (removing roles would end that push's sessions)",
                self.project_ref
            );
            return;
        }
        let path = format!("/v1/projects/{}/cli/login-role", self.project_ref);
        if let Err(err) = request(&self.platform.api_url, "DELETE", &path, &self.token, None) {
            eprintln!("warning: removing the temporary login role failed ({err:#}); it expires on its own");
        }
    }
}

/// The API's answer as an error: what was being done, the status and the API's message, and what to do.
fn api_error(doing: &str, status: u16, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let advice = match status {
        401 | 403 => "check SUPABASE_ACCESS_TOKEN",
        404 => "check the target's project_ref and profile in xtask.toml",
        500..=599 => "the platform failed; retry later",
        _ => "see the message",
    };
    format!("{doing}: the Management API answered {status} ({message}); {advice}")
}

/// One HTTP/1.1 request (`connection: close`), over TLS for `https://`. Returns the status and the body.
fn request(api_url: &str, method: &str, path: &str, token: &str, body: Option<&str>) -> anyhow::Result<(u16, String)> {
    let (tls, rest) = match api_url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => bail!("api_url `{api_url}` is not an http(s) URL"),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h.trim_matches(['[', ']']), p.parse().context("api_url's port")?)
        }
        _ => (authority, if tls { 443 } else { 80 }),
    };
    if !tls && !crate::pg::is_loopback(host, port) {
        bail!(
            "api_url `{api_url}` is plain HTTP to a non-loopback host: the token would travel in clear; use https://"
        );
    }
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\n\
         accept: application/json\r\nuser-agent: cargo-xtask\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let stream = TcpStream::connect((host, port)).with_context(|| format!("connecting to {api_url}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let response = if tls {
        let connector = native_tls::TlsConnector::new()?;
        let mut stream = connector.connect(host, stream).with_context(|| format!("TLS with {api_url}"))?;
        stream.write_all(head.as_bytes())?;
        read_response(stream)?
    } else {
        let mut stream = stream;
        stream.write_all(head.as_bytes())?;
        read_response(stream)?
    };
    Ok(response)
}

fn read_response(stream: impl Read) -> anyhow::Result<(u16, String)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no HTTP status")?;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_name_the_platform() {
        let p =
            Platform::parse_profile("name: x\napi_url: \"https://api.example.test/\"\nproject_host: example.test\n")
                .unwrap();
        assert_eq!(p, Platform { api_url: "https://api.example.test".into(), project_host: "example.test".into() });
        assert!(Platform::parse_profile("name: x\n").unwrap_err().to_string().contains("api_url"));
        assert_eq!(Platform::from_profile(None).unwrap().project_host, "supabase.co");
        assert!(Platform::from_profile(Some("supabase-local")).is_err());
    }

    #[test]
    fn api_errors_say_what_to_do() {
        assert_eq!(
            api_error("creating a login role", 401, r#"{"message":"Unauthorized"}"#),
            "creating a login role: the Management API answered 401 (Unauthorized); check SUPABASE_ACCESS_TOKEN"
        );
    }
}
