//! The `legitimera-server` binary as a service manager or a script runs it: whoever reads its
//! output may stop reading, and it must still answer, and still stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use support::ServerProcess;
use tokio::process::Command;

#[tokio::test]
async fn with_its_output_no_longer_read_the_server_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    // Every request writes a line at DEBUG, and so meets the closed pipe.
    let mut server = ServerProcess::start_with(&database, &[], "debug", Stdio::piped()).await;
    // Nobody reads stdout (not after the address) or stderr any more: each write there fails
    // (EPIPE).
    drop(server.child.stderr.take());

    let http = reqwest::Client::new();
    for _ in 0..3 {
        let health = http
            .get(server.api("health"))
            .send()
            .await
            .expect("the server answers with its output gone");
        assert_eq!(health.status(), StatusCode::OK);
    }
    let pid = server.child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("still running 15 s after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
