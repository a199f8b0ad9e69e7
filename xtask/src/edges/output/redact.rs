//! Secrets never printed: database passwords, login roles' passwords and the access tokens are replaced by `***`
//! in every output, record, error and comment, all of which pass through `redact`. The secrets live in one
//! registry for the process: whoever finds one adds it once (`add`, `add_url`), and every output path reads it.

use std::sync::{OnceLock, RwLock};

const MASK: &str = "***";

/// Environment variables whose values are secrets wherever they appear.
const SECRET_ENV: &[&str] = &["SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD", "PGPASSWORD", "GITHUB_TOKEN"];

/// Every secret this process has met, longest first: those of the environment, read at the first use, and each
/// one found later (a URL's password, a login role's, a token). One registry for the process, so every output
/// path (reports, errors, records, comments) masks every secret, whenever it was found.
fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut secrets = Vec::new();
        for name in SECRET_ENV {
            if let Ok(value) = std::env::var(name) {
                remember(&mut secrets, &value);
            }
        }
        // Any database URL in the environment (PROD_DB_URL, ...) carries a password to hide.
        for (_, value) in std::env::vars_os() {
            if let Some(password) = value.to_str().filter(|v| v.contains("://")).and_then(password_of) {
                remember(&mut secrets, &percent_decode(&password));
                remember(&mut secrets, &password);
            }
        }
        RwLock::new(secrets)
    })
}

fn remember(secrets: &mut Vec<String>, secret: &str) {
    // Very short values would mask ordinary words; nobody uses them as secrets.
    if secret.len() >= 4 && !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Adds a secret found at run time.
pub fn add(secret: &str) {
    if let Ok(mut secrets) = registry().write() {
        remember(&mut secrets, secret);
    }
}

/// Adds the password of a `postgres://user:password@host/db` URL, raw and percent-decoded.
pub fn add_url(url: &str) {
    if let Some(password) = password_of(url) {
        add(&percent_decode(&password));
        add(&password);
    }
}

/// `text` with every URL's password and every known secret replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = mask_url_passwords(text);
    let Ok(secrets) = registry().read() else { return out };
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// The password part of a URL's userinfo, if any.
pub fn password_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok()?.password().map(str::to_string).filter(|p| !p.is_empty())
}

/// `scheme://user:secret@host` -> `scheme://user:***@host`, for every URL in `text`, known or not.
pub fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c.is_whitespace() || c == '"' || c == '\'').unwrap_or(tail.len());
        let candidate = &tail[..end];
        match candidate.rfind('@').and_then(|at| candidate[..at].find(':').map(|colon| (colon, at))) {
            Some((colon, at)) if !candidate[..colon].contains('/') => {
                out.push_str(&candidate[..=colon]);
                out.push_str(MASK);
                out.push_str(&candidate[at..]);
            }
            _ => out.push_str(candidate),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_passwords_anywhere() {
        assert_eq!(
            mask_url_passwords("connect postgresql://postgres:s3cr%40t@db.example.com:5432/postgres failed"),
            "connect postgresql://postgres:***@db.example.com:5432/postgres failed"
        );
        assert_eq!(
            mask_url_passwords("postgres://u@h/db and https://x.io/a:b@c"),
            "postgres://u@h/db and https://x.io/a:b@c"
        );
        assert_eq!(mask_url_passwords("\"postgres://a:b@h\""), "\"postgres://a:***@h\"");
    }

    #[test]
    fn redacts_known_secrets_raw_and_decoded() {
        add_url("postgresql://postgres:s3cr%40t@127.0.0.1:5432/postgres");
        add("sbp_0123456789abcdef");
        assert_eq!(redact("password s3cr@t, token sbp_0123456789abcdef"), "password ***, token ***");
        assert_eq!(password_of("postgresql://postgres:pw@h/db").as_deref(), Some("pw"));
        assert_eq!(password_of("postgresql://postgres@h/db"), None);
        assert_eq!(password_of("srcaoozjkrughebmbvfb"), None);
    }
}
