//! TLS for the xtask's own sessions, by libpq's `sslmode` rules: `disable`, `prefer`, `require`, `verify-ca`,
//! `verify-full`, with `sslrootcert`. Without a mode, a host that resolves only to loopback addresses gets
//! `prefer` and any other host `require`; plaintext to a non-loopback host needs an explicit `sslmode=disable`
//! and is warned about. native-tls (the system's OpenSSL) does the TLS, as libpq does on these machines.

use std::path::PathBuf;

use anyhow::Context;
use postgres::Socket;
use postgres::tls::{MakeTlsConnect, TlsConnect};

pub use crate::domain::config::SslMode;

/// The mode libpq takes when none is given: `prefer` to a loopback host, `require` to any other.
pub fn default_mode(host: &str, port: u16) -> SslMode {
    if super::is_loopback(host, port) { SslMode::Prefer } else { SslMode::Require }
}

/// How one session is encrypted: the mode, and the CA file that verifies the server (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    pub rootcert: Option<PathBuf>,
}

/// A URL's `sslmode` and `sslrootcert`, and the URL without them (what `postgres::Config` parses).
#[derive(Debug)]
pub struct SplitUrl {
    pub url: String,
    pub mode: Option<SslMode>,
    pub rootcert: Option<PathBuf>,
}

pub fn split_url(url: &str) -> anyhow::Result<SplitUrl> {
    let mut parsed = url::Url::parse(url).map_err(|e| {
        anyhow::anyhow!("the database URL does not parse ({e}); the form is postgresql://user:password@host:port/db")
    })?;
    let (mut mode, mut rootcert, mut rest) = (None, None, Vec::new());
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => mode = Some(SslMode::parse(&value)?),
            "sslrootcert" => rootcert = Some(PathBuf::from(value.as_ref())),
            _ => rest.push((key.into_owned(), value.into_owned())),
        }
    }
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(rest);
    }
    Ok(SplitUrl { url: parsed.to_string(), mode, rootcert })
}

impl Tls {
    /// The mode for `host`: the one given, else the default; a warning for plaintext off this machine.
    pub fn choose(mode: Option<SslMode>, rootcert: Option<PathBuf>, host: &str, port: u16) -> Tls {
        let mode = mode.unwrap_or_else(|| default_mode(host, port));
        if mode == SslMode::Disable && !super::is_loopback(host, port) {
            eprintln!(
                "warning: sslmode=disable: the session with {host} is not encrypted (allowed because the URL says so)"
            );
        }
        Tls { mode, rootcert }
    }

    /// The connector `postgres` uses. It is built only when the server agrees to TLS: loading the system's CA
    /// store costs ~60 ms per process, which a loopback server that offers no TLS (`prefer`) never needs.
    pub fn connector(&self) -> LazyTls {
        LazyTls { tls: self.clone() }
    }

    /// The native connector, verifying as the mode says (libpq: `require` with a root CA file verifies the
    /// chain as `verify-ca` does).
    fn native(&self) -> anyhow::Result<native_tls::TlsConnector> {
        let verify_chain = matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull)
            || (self.mode == SslMode::Require && self.rootcert.is_some());
        let verify_host = self.mode == SslMode::VerifyFull;
        if self.rootcert.is_none() {
            // A promotion opens several sessions; the CA store is loaded once per kind of verification.
            static BUILT: std::sync::Mutex<Vec<((bool, bool), native_tls::TlsConnector)>> =
                std::sync::Mutex::new(Vec::new());
            let mut built = BUILT.lock().map_err(|_| anyhow::anyhow!("the TLS connector cache was poisoned"))?;
            if let Some((_, connector)) = built.iter().find(|(key, _)| *key == (verify_chain, verify_host)) {
                return Ok(connector.clone());
            }
            let connector = native_tls::TlsConnector::builder()
                .danger_accept_invalid_certs(!verify_chain)
                .danger_accept_invalid_hostnames(!verify_host)
                .build()?;
            built.push(((verify_chain, verify_host), connector.clone()));
            return Ok(connector);
        }
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(path) = &self.rootcert {
            let pem = std::fs::read(path).with_context(|| format!("reading sslrootcert {}", path.display()))?;
            let cert = native_tls::Certificate::from_pem(&pem)
                .with_context(|| format!("sslrootcert {} is not a PEM certificate", path.display()))?;
            builder.add_root_certificate(cert).disable_built_in_roots(true);
        }
        builder.danger_accept_invalid_certs(!verify_chain);
        builder.danger_accept_invalid_hostnames(!verify_host);
        Ok(builder.build()?)
    }

    /// What `postgres` negotiates: TLS optional (`prefer`), required, or off.
    pub fn postgres_mode(&self) -> postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        }
    }
}

/// `MakeTlsConnect` for [`Tls`] whose native connector is built at the handshake, not before the SSLRequest.
pub struct LazyTls {
    tls: Tls,
}

impl MakeTlsConnect<Socket> for LazyTls {
    type Stream = postgres_native_tls::TlsStream<Socket>;
    type TlsConnect = LazyConnect;
    type Error = std::convert::Infallible;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyConnect, Self::Error> {
        Ok(LazyConnect { tls: self.tls.clone(), domain: domain.to_string() })
    }
}

pub struct LazyConnect {
    tls: Tls,
    domain: String,
}

type Handshake = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<postgres_native_tls::TlsStream<Socket>, Box<dyn std::error::Error + Send + Sync>>,
            > + Send,
    >,
>;

impl TlsConnect<Socket> for LazyConnect {
    type Stream = postgres_native_tls::TlsStream<Socket>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Handshake;

    fn connect(self, stream: Socket) -> Handshake {
        let connector = self.tls.native().map(|n| postgres_native_tls::TlsConnector::new(n, &self.domain));
        Box::pin(async move {
            match connector {
                Ok(connector) => Ok(connector.connect(stream).await?),
                Err(err) => Err(format!("{err:#}").into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_up_their_ssl_settings_and_keep_the_rest() {
        let split = split_url(
            "postgresql://u:p@db.example.com:6543/app?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(split.url, "postgresql://u:p@db.example.com:6543/app?application_name=x");
        assert_eq!((split.mode, split.rootcert), (Some(SslMode::VerifyFull), Some(PathBuf::from("/ca.pem"))));
        let plain = split_url("postgresql://u@127.0.0.1/app").unwrap();
        assert_eq!((plain.url.as_str(), plain.mode), ("postgresql://u@127.0.0.1/app", None));
        assert!(
            split_url("postgresql://u@h/db?sslmode=sometimes").unwrap_err().to_string().contains("sslmode `sometimes`")
        );
    }

    #[test]
    fn loopback_prefers_and_everything_else_requires() {
        assert_eq!(default_mode("127.0.0.1", 5432), SslMode::Prefer);
        assert_eq!(default_mode("::1", 5432), SslMode::Prefer);
        assert_eq!(default_mode("192.0.2.10", 5432), SslMode::Require);
        assert_eq!(Tls::choose(Some(SslMode::Disable), None, "192.0.2.10", 5432).mode, SslMode::Disable);
    }
}
