//! HTTP for the APIs the xtask calls (Supabase's Management API, GitHub's REST API), through `ureq`: native TLS
//! with the system's roots; `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY` honoured; timeouts, bounded
//! redirects (which drop the token), a bounded answer. HTTPS only, except to a loopback host, as a test double
//! is: a token never travels in clear.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};

/// The largest answer read: the answers these APIs give are a few KiB (a page of comments, some more).
const MAX_ANSWER_BYTES: u64 = 8 * 1024 * 1024;

/// One agent per process: it keeps connections alive between calls.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(60)))
            .max_redirects(3)
            .user_agent("cargo-xtask")
            .tls_config(tls)
            .proxy(ureq::Proxy::try_from_env())
            .build()
            .into()
    })
}

/// What an API answered: its status, its body, and whether its headers say to slow down.
pub struct Answer {
    pub status: u16,
    pub text: String,
    /// `retry-after` is set, or `x-ratelimit-remaining` is 0: a rate limit (GitHub's primary and most secondary
    /// ones), whatever the status.
    pub throttled: bool,
}

/// One request with a bearer token: `GET`/`DELETE` without a body, `POST`/`PATCH` with a JSON one. Returns the
/// answer; an error only when no answer came.
pub fn request(base: &str, method: &str, path: &str, token: &str, body: Option<&str>) -> anyhow::Result<Answer> {
    let url = url::Url::parse(&format!("{base}{path}")).with_context(|| format!("API URL `{base}`"))?;
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    match url.scheme() {
        "https" => {}
        "http" if crate::edges::postgres::is_loopback(host, url.port_or_known_default().unwrap_or(80)) => {}
        "http" => bail!(
            "API URL `{base}` is plain HTTP to a non-loopback host: the token would travel in clear; use https://"
        ),
        _ => bail!("API URL `{base}` is not an http(s) URL"),
    }
    let bearer = format!("Bearer {token}");
    let sent = match (method, body) {
        ("GET", _) => {
            agent().get(url.as_str()).header("authorization", &bearer).header("accept", "application/json").call()
        }
        ("DELETE", _) => agent().delete(url.as_str()).header("authorization", &bearer).call(),
        ("PATCH", body) => agent()
            .patch(url.as_str())
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .send(body.unwrap_or("")),
        (_, body) => agent()
            .post(url.as_str())
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .send(body.unwrap_or("")),
    };
    let mut response = sent.map_err(|e| anyhow::anyhow!("{e}")).with_context(|| format!("{method} {base}{path}"))?;
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let throttled = throttled(header("retry-after").as_deref(), header("x-ratelimit-remaining").as_deref());
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .with_context(|| format!("reading the answer to {method} {base}{path}"))?;
    Ok(Answer { status, text, throttled })
}

/// The rate-limit headers GitHub documents: `retry-after` (wait that long), `x-ratelimit-remaining: 0`.
fn throttled(retry_after: Option<&str>, remaining: Option<&str>) -> bool {
    retry_after.is_some() || remaining.is_some_and(|r| r.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_is_read_from_the_headers() {
        assert!(throttled(Some("60"), None), "a secondary limit with retry-after");
        assert!(throttled(None, Some("0")), "the primary limit spent");
        assert!(!throttled(None, Some("4999")), "a plain 403: the token may not");
        assert!(!throttled(None, None));
    }
}
