//! The `legitimera-server` binary as a service manager or a script runs it: whoever reads its
//! output may stop reading, and it must still answer, and still stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn with_its_output_no_longer_read_the_server_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_legitimera-server"))
        .args([
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database,
        ])
        // Every request writes a line, and so meets the closed pipe.
        .env("LEGITIMERA_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server did not start within 60 s");
    // Nobody reads stdout or stderr any more: each write there fails (EPIPE).
    drop(lines);
    drop(child.stderr.take());

    let http = reqwest::Client::new();
    for _ in 0..3 {
        let health = http
            .get(format!("{url}/api/v1/health"))
            .send()
            .await
            .expect("the server answers with its output gone");
        assert_eq!(health.status(), StatusCode::OK);
    }
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("still running 15 s after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
