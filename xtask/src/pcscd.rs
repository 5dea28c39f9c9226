//! pcscd with vpcd's virtual readers for the card tests, the end-to-end tests and the demo: started when it is not running,
//! stopped afterwards only if this process started it. Never touches a pcscd someone else runs.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Set for `cargo test`: the card tests fail instead of skipping when pcscd is missing.
pub const REQUIRE_ENV: &str = "LEGITIMERA_REQUIRE_PCSCD";
/// vpcd's first virtual reader listens here while pcscd runs.
const VPCD_PORT: u16 = 35963;
const VPCD_CONFIG: &str = "/etc/reader.conf.d/vpcd";
const PID_FILE: &str = "/run/pcscd/pcscd.pid";
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

/// Holds pcscd up; drop to stop it if we started it.
#[derive(Debug)]
pub struct Pcscd {
    started: Option<Child>,
}

fn vpcd_listening() -> bool {
    TcpStream::connect_timeout(
        &([127, 0, 0, 1], VPCD_PORT).into(),
        Duration::from_millis(200),
    )
    .is_ok()
}

impl Pcscd {
    /// Uses the running pcscd, or starts `pcscd -f` and waits for vpcd's port. Without `-a`:
    /// that logs every APDU, VERIFY PINs included.
    pub fn ensure() -> Result<Self> {
        if vpcd_listening() {
            println!("pcscd with vpcd is already running; using it");
            return Ok(Pcscd { started: None });
        }
        if !Path::new(VPCD_CONFIG).exists() {
            bail!("{VPCD_CONFIG} is missing: install vsmartcard-vpcd");
        }
        let binary = ["/usr/sbin/pcscd", "/usr/local/sbin/pcscd"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .unwrap_or("pcscd");
        let mut child = Command::new(binary)
            .arg("-f")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start {binary}"))?;
        let started = Instant::now();
        while !vpcd_listening() {
            if let Some(status) = child.try_wait()? {
                bail!("pcscd exited at start ({status}); is another pcscd holding its socket?");
            }
            if started.elapsed() > STARTUP_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("pcscd started but vpcd's port {VPCD_PORT} did not open within {STARTUP_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!(
            "started pcscd (pid {}) with vpcd's virtual readers",
            child.id()
        );
        Ok(Pcscd {
            started: Some(child),
        })
    }
}

fn terminate(pid: u32) {
    let _ = Command::new("kill").arg(pid.to_string()).status();
}

fn pid_from_file() -> Option<u32> {
    let text = std::fs::read_to_string(PID_FILE).ok()?;
    // pcscd ends the file with a NUL after the newline.
    text.trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .parse()
        .ok()
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        let Some(mut child) = self.started.take() else {
            return;
        };
        terminate(child.id());
        let _ = child.wait();
        // The watcher test restarts pcscd; the daemon running now is the one we brought up.
        if let Some(pid) = pid_from_file() {
            if pid != child.id() && Path::new(&format!("/proc/{pid}")).exists() {
                terminate(pid);
            }
        }
    }
}
