//! Secrets never printed: database passwords and the Supabase access token are replaced by `***` in every
//! output, record and error that passes through here.

const MASK: &str = "***";

/// Environment variables whose values are secrets wherever they appear.
const SECRET_ENV: &[&str] = &["SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD", "PGPASSWORD"];

#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn from_env() -> Redactor {
        let mut r = Redactor::default();
        for name in SECRET_ENV {
            if let Ok(value) = std::env::var(name) {
                r.add(&value);
            }
        }
        // Any database URL in the environment (PROD_DB_URL, ...) carries a password to hide.
        for (_, value) in std::env::vars_os() {
            if let Some(value) = value.to_str().filter(|v| v.contains("://")) {
                r.add_url(value);
            }
        }
        r
    }

    pub fn add(&mut self, secret: &str) {
        // Very short values would mask ordinary words; nobody uses them as secrets.
        if secret.len() >= 4 && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Remembers the password of a `postgres://user:password@host/db` URL, raw and percent-decoded.
    pub fn add_url(&mut self, url: &str) {
        if let Some(password) = password_of(url) {
            self.add(&percent_decode(&password));
            self.add(&password);
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = mask_url_passwords(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
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
        let mut r = Redactor::default();
        r.add_url("postgresql://postgres:s3cr%40t@127.0.0.1:5432/postgres");
        r.add("sbp_0123456789abcdef");
        assert_eq!(r.redact("password s3cr@t, token sbp_0123456789abcdef"), "password ***, token ***");
        assert_eq!(password_of("postgresql://postgres:pw@h/db").as_deref(), Some("pw"));
        assert_eq!(password_of("postgresql://postgres@h/db"), None);
        assert_eq!(password_of("srcaoozjkrughebmbvfb"), None);
    }
}
