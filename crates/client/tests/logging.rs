//! The app's logging when whoever started the app stopped reading its stderr (a closed
//! terminal's pipe, a launcher that went away): lines there are lost, the app goes on, and the
//! log file still gets them. The app is this test's binary run again as a child process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, Write as _};
use std::process::{Command, Stdio};

/// Set in the child: the log directory.
const CHILD: &str = "LEGITIMERA_TEST_LOGGING_CHILD";

#[test]
fn with_stderr_gone_logging_goes_on_and_the_file_keeps_every_line() {
    if let Some(dir) = std::env::var_os(CHILD) {
        let guard = legitimera_client::logging::init(std::path::Path::new(&dir));
        // Wait until the parent has closed our stderr's other end.
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).unwrap();
        for n in 0..3 {
            tracing::info!(n, "a line stderr cannot take");
        }
        tracing::error!("an error line too");
        drop(guard);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "with_stderr_gone_logging_goes_on_and_the_file_keeps_every_line",
            "--test-threads=1",
            // As in the app: tracing's own complaint goes to the real stderr, not libtest's
            // capture.
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .env("LEGITIMERA_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the child failed: {status}");
    let mut logged = String::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        logged += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    assert_eq!(
        logged.matches("a line stderr cannot take").count(),
        3,
        "{logged}"
    );
    assert!(logged.contains("an error line too"), "{logged}");
}
