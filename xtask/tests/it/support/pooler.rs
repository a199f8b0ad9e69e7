//! A double of the platform's pooler: session mode on 127.0.0.1:5432, transaction mode on 127.0.0.1:6543 (the
//! same host, as on the platform). It answers an SSLRequest with TLS (a self-signed certificate), reads the
//! startup message, routes a user `<role>.<ref>` to the test cluster as `<role>` (the startup message's user
//! rewritten) and answers anything else "Tenant or user not found", as the platform's pooler does. Every
//! connection is logged with its port, user, `application_name` and whether it was encrypted.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SSL_REQUEST: u32 = 80877103;
const GSSENC_REQUEST: u32 = 80877104;

/// One client connection as the pooler saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub port: u16,
    pub user: String,
    pub application_name: String,
    pub tls: bool,
    pub routed: bool,
}

pub struct PoolerDouble {
    log: Arc<Mutex<Vec<Seen>>>,
    drop_options: Arc<std::sync::atomic::AtomicBool>,
}

struct Shared {
    project_ref: String,
    upstream_port: u16,
    acceptor: native_tls::TlsAcceptor,
    log: Arc<Mutex<Vec<Seen>>>,
    /// Behave like a pooler that does not pass the `options` startup parameter (PGOPTIONS) on.
    drop_options: Arc<std::sync::atomic::AtomicBool>,
}

impl PoolerDouble {
    /// Listens on both ports of 127.0.0.1 (inside a test's own network namespace), forwarding to
    /// `127.0.0.1:upstream_port`. `dir` receives the certificate.
    pub fn start(project_ref: &str, upstream_port: u16, dir: &Path) -> PoolerDouble {
        let log = Arc::new(Mutex::new(Vec::new()));
        let drop_options = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let shared = Arc::new(Shared {
            project_ref: project_ref.to_string(),
            upstream_port,
            acceptor: acceptor(dir),
            log: log.clone(),
            drop_options: drop_options.clone(),
        });
        for port in [5432, 6543] {
            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let shared = shared.clone();
            std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    let shared = shared.clone();
                    std::thread::spawn(move || shared.serve(client, port));
                }
            });
        }
        PoolerDouble { log, drop_options }
    }

    /// From now on, the `options` startup parameter is dropped, as some poolers do.
    pub fn drop_startup_options(&self) {
        self.drop_options.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

/// A self-signed certificate for `pooler.local.test`, made with openssl.
fn acceptor(dir: &Path) -> native_tls::TlsAcceptor {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-keyout", "pooler.key", "-out", "pooler.crt", "-days", "2", "-subj", "/CN=pooler.local.test"])
        .args(["-addext", "subjectAltName=DNS:pooler.local.test"])
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let cert = std::fs::read(dir.join("pooler.crt")).unwrap();
    let key = std::fs::read(dir.join("pooler.key")).unwrap();
    native_tls::TlsAcceptor::new(native_tls::Identity::from_pkcs8(&cert, &key).unwrap()).unwrap()
}

impl Shared {
    fn serve(&self, client: TcpStream, port: u16) {
        let mut client = Stream::Plain(client);
        let startup = loop {
            let Some(message) = read_message(&mut client) else { return };
            match code(&message) {
                SSL_REQUEST => {
                    let Stream::Plain(tcp) = client else { return };
                    let mut tcp = tcp;
                    if tcp.write_all(b"S").is_err() {
                        return;
                    }
                    match self.acceptor.accept(tcp) {
                        Ok(tls) => client = Stream::Tls(Box::new(tls)),
                        Err(_) => return,
                    }
                }
                GSSENC_REQUEST => {
                    if client.write_all(b"N").is_err() {
                        return;
                    }
                }
                _ => break message,
            }
        };
        let params = parameters(&startup);
        let user = params.iter().find(|(k, _)| k == "user").map(|(_, v)| v.clone()).unwrap_or_default();
        let application_name =
            params.iter().find(|(k, _)| k == "application_name").map(|(_, v)| v.clone()).unwrap_or_default();
        let role = user.strip_suffix(&format!(".{}", self.project_ref)).map(str::to_string);
        self.log.lock().unwrap().push(Seen {
            port,
            user: user.clone(),
            application_name,
            tls: matches!(client, Stream::Tls(_)),
            routed: role.is_some(),
        });
        let Some(role) = role else {
            let _ = client.write_all(&error_response("Tenant or user not found"));
            return;
        };
        let drop_options = self.drop_options.load(std::sync::atomic::Ordering::SeqCst);
        let rewritten: Vec<(String, String)> = params
            .into_iter()
            .filter(|(k, _)| !(drop_options && k == "options"))
            .map(|(k, v)| if k == "user" { (k, role.clone()) } else { (k, v) })
            .collect();
        let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", self.upstream_port)) else { return };
        if upstream.write_all(&startup_message(&rewritten)).is_err() {
            return;
        }
        relay(client, upstream);
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Copies both ways until either side closes. A TLS stream cannot be split across threads, so one thread
/// polls both sides with short read timeouts.
fn relay(mut client: Stream, mut upstream: TcpStream) {
    let tick = Some(Duration::from_millis(2));
    if client.tcp().set_read_timeout(tick).is_err() || upstream.set_read_timeout(tick).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut moved = false;
        for direction in 0..2 {
            let read = if direction == 0 { client.read(&mut buf) } else { upstream.read(&mut buf) };
            match read {
                Ok(0) => return,
                Ok(n) => {
                    let written =
                        if direction == 0 { upstream.write_all(&buf[..n]) } else { client.write_all(&buf[..n]) };
                    if written.is_err() {
                        return;
                    }
                    moved = true;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
        if moved {
            let _ = client.flush();
        }
    }
}

/// A length-prefixed message without a type byte (the startup phase's): the whole message, length included.
fn read_message(stream: &mut Stream) -> Option<Vec<u8>> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).ok()?;
    let len = u32::from_be_bytes(prefix) as usize;
    if !(8..=10_000).contains(&len) {
        return None;
    }
    let mut message = vec![0u8; len];
    message[..4].copy_from_slice(&prefix);
    stream.read_exact(&mut message[4..]).ok()?;
    Some(message)
}

fn code(message: &[u8]) -> u32 {
    u32::from_be_bytes([message[4], message[5], message[6], message[7]])
}

/// The startup message's `key\0value\0` pairs.
fn parameters(message: &[u8]) -> Vec<(String, String)> {
    let fields: Vec<String> =
        message[8..].split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    fields.chunks(2).filter(|kv| kv.len() == 2 && !kv[0].is_empty()).map(|kv| (kv[0].clone(), kv[1].clone())).collect()
}

fn startup_message(params: &[(String, String)]) -> Vec<u8> {
    let mut body = 196608u32.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend(body);
    message
}

/// A FATAL ErrorResponse, as the platform's pooler sends for an unknown tenant.
fn error_response(text: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (kind, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "XX000"), (b'M', text)] {
        fields.push(kind);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
    message.extend(fields);
    message
}
