//! A local update server for the updater test: serves `latest.json` and one package over plain
//! HTTP on loopback (std only), and counts what it was asked for. See tests/updater.rs.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What the server hands out: the release manifest and the package it points at.
#[derive(Debug)]
pub struct UpdateServer {
    base: String,
    downloads: Arc<AtomicUsize>,
}

impl UpdateServer {
    /// Serves `/latest.json` announcing `version` with `signature`, and `/package.deb` as
    /// `package`, until the process ends.
    pub fn start(version: &str, signature: &str, package: Vec<u8>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let platform = serde_json::json!({
            "url": format!("{base}/package.deb"),
            "signature": signature,
        });
        // The static form: a `.deb` install looks up linux-x86_64-deb first, an app that does
        // not know how it was installed (a test binary) linux-x86_64.
        let manifest = serde_json::json!({
            "version": version,
            "notes": "Test release",
            "pub_date": "2026-11-30T09:00:00Z",
            "platforms": {
                "linux-x86_64-deb": platform,
                "linux-x86_64": platform,
            },
        })
        .to_string();
        let downloads = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&downloads);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("");
                let (status, kind, body): (&str, &str, &[u8]) = match path {
                    "/latest.json" => ("200 OK", "application/json", manifest.as_bytes()),
                    "/package.deb" => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", "application/octet-stream", &package)
                    }
                    _ => ("404 Not Found", "text/plain", b"not found"),
                };
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(body);
            }
        });
        Ok(UpdateServer { base, downloads })
    }

    /// The endpoint the app is configured with.
    pub fn endpoint(&self) -> String {
        format!("{}/latest.json", self.base)
    }

    /// How many times the package was downloaded.
    pub fn downloads(&self) -> usize {
        self.downloads.load(Ordering::SeqCst)
    }
}
