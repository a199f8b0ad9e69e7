//! An HTTP proxy double on loopback: it answers `CONNECT host:port` (how clients tunnel through a corporate
//! proxy), logs the target, and relays bytes both ways. It never sees inside a TLS tunnel.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub struct ProxyDouble {
    /// `http://127.0.0.1:<port>`: the value for HTTPS_PROXY.
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ProxyDouble {
    pub fn start() -> ProxyDouble {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = shared.clone();
                std::thread::spawn(move || tunnel(client, &log));
            }
        });
        ProxyDouble { url, log }
    }

    /// The `CONNECT` targets so far, in order.
    pub fn tunnels(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn tunnel(client: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else { return };
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim_end().is_empty() {
            break;
        }
    }
    log.lock().unwrap().push(target.to_string());
    let Ok(server) = TcpStream::connect(target) else { return };
    let mut answer = client.try_clone().unwrap();
    if answer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        return;
    }
    let (mut s1, mut s2) = (server.try_clone().unwrap(), server);
    // Bytes the reader already buffered belong to the tunnel.
    let buffered = reader.buffer().to_vec();
    if s1.write_all(&buffered).is_err() {
        return;
    }
    let mut c1 = reader.into_inner();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c1, &mut s1);
        let _ = s1.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut s2, &mut answer);
    let _ = answer.shutdown(std::net::Shutdown::Write);
}
