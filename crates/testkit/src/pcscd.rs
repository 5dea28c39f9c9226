//! pcscd with vsmartcard-vpcd's two virtual readers, where the virtual card goes. `Pcscd::ensure`
//! starts it when it is not running (xtask, the card bench) and stops it on drop only if it
//! started it; `require` makes a test that needs it fail with what to do when it is missing.
//! It never touches a pcscd someone else runs, except for tests that `require_restartable`.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Set to 1 by `cargo xtask test`: the pcscd of this test run may be stopped and started again
/// by the tests that check what happens then.
pub const RESTARTABLE_ENV: &str = "LEGITIMERA_PCSCD_RESTARTABLE";
/// vpcd's first virtual reader listens here while pcscd runs (`legitimera_vcard::VPCD_PORT`).
const VPCD_PORT: u16 = 35963;
/// The PC/SC names of vpcd's readers in its default configuration.
pub const READERS: [&str; 2] = ["Virtual PCD 00 00", "Virtual PCD 00 01"];
const VPCD_CONFIG: &str = "/etc/reader.conf.d/vpcd";
const PID_FILE: &str = "/run/pcscd/pcscd.pid";
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

/// Holds pcscd up; drop to stop it if this process started it.
#[derive(Debug)]
pub struct Pcscd {
    started: Option<Child>,
}

/// Whether vpcd's port answers. Only for before any virtual card is in: vpcd takes a
/// connection on its port as a card, so a test must ask pcscd (`require`) instead.
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
        let mut child = Command::new(binary())
            .arg("-f")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start {}", binary()))?;
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

impl Drop for Pcscd {
    fn drop(&mut self) {
        let Some(mut child) = self.started.take() else {
            return;
        };
        terminate(child.id());
        let _ = child.wait();
        // A test may have restarted pcscd; the daemon running now is the one we brought up.
        if let Some(pid) = running_pid() {
            if pid != child.id() {
                terminate(pid);
            }
        }
    }
}

/// The pcscd binary: where Debian puts it, else from PATH.
pub fn binary() -> &'static str {
    ["/usr/sbin/pcscd", "/usr/local/sbin/pcscd"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .unwrap_or("pcscd")
}

/// The pid of the pcscd that runs now, from its pid file.
pub fn running_pid() -> Option<u32> {
    let text = std::fs::read_to_string(PID_FILE).ok()?;
    // pcscd ends the file with a NUL after the newline.
    let pid: u32 = text
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .parse()
        .ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

fn terminate(pid: u32) {
    let _ = Command::new("kill").arg(pid.to_string()).status();
}

/// Fails the calling test, saying what to do, unless pcscd answers over PC/SC and lists both
/// of vpcd's readers. For tests marked `#[ignore = "needs pcscd"]`.
#[cfg(feature = "pcsc")]
#[track_caller]
pub fn require() {
    if let Err(why) = check() {
        panic!("{why:#}");
    }
}

/// Whether pcscd answers over PC/SC and lists both of vpcd's readers; the error says what to do.
#[cfg(feature = "pcsc")]
pub fn check() -> Result<()> {
    let missing = match pcsc::Context::establish(pcsc::Scope::User) {
        Err(error) => format!("there is no PC/SC service ({error})"),
        Ok(context) => match context.list_readers_owned() {
            Err(error) => format!("pcscd lists no readers ({error})"),
            Ok(readers) => match READERS.iter().find(|wanted| {
                !readers
                    .iter()
                    .any(|name| name.to_string_lossy() == **wanted)
            }) {
                None => return Ok(()),
                Some(reader) => format!("pcscd runs without \"{reader}\""),
            },
        },
    };
    bail!(
        "this needs pcscd with vsmartcard-vpcd's readers, but {missing}: start `pcscd -f`, or \
         run `cargo xtask test`, which does"
    )
}

/// For tests that stop and start pcscd: fails the test unless this run's pcscd may be
/// restarted (`RESTARTABLE_ENV`, which `cargo xtask test` sets), so a developer's own pcscd
/// is not taken down by a plain `cargo test -- --include-ignored`.
#[cfg(feature = "pcsc")]
#[track_caller]
pub fn require_restartable() {
    require();
    if !std::env::var(RESTARTABLE_ENV).is_ok_and(|value| value == "1") {
        panic!(
            "this test stops and restarts pcscd; it runs only with {RESTARTABLE_ENV}=1 \
             (`cargo xtask test` sets it), or leave it out with `--skip` and its name"
        );
    }
}
