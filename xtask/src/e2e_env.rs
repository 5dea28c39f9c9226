//! What the end-to-end tests need around them: a virtual display with its own D-Bus session
//! and throwaway home directories, and tauri-driver. Everything started here is stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Xvfb on a free display, a private D-Bus session bus with an unlocked keyring (GNOME
/// Keyring's Secret Service), and fresh XDG and temp directories, so tests neither need nor
/// touch a real desktop.
pub struct DesktopSession {
    xvfb: Child,
    dbus: Child,
    keyring: Option<Child>,
    display: String,
    dbus_address: String,
    home: tempfile_dir::TempDir,
}

impl DesktopSession {
    pub fn start() -> Result<Self> {
        let (xvfb, number) = start_xvfb()?;
        let display = format!(":{number}");
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .context("could not start dbus-daemon")?;
        let mut dbus_address = String::new();
        BufReader::new(dbus.stdout.take().context("no stdout")?).read_line(&mut dbus_address)?;
        let home = tempfile_dir::TempDir::new("legitimera-e2e-")?;
        let dbus_address = dbus_address.trim().to_owned();
        for dir in ["config", "data", "cache", "state", "tmp", "runtime"] {
            std::fs::create_dir_all(home.path().join(dir))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                home.path().join("runtime"),
                std::fs::Permissions::from_mode(0o700),
            )?;
        }
        let keyring = start_keyring(&dbus_address, home.path());
        Ok(DesktopSession {
            xvfb,
            dbus,
            keyring,
            display,
            dbus_address,
            home,
        })
    }

    /// The X display (`:N`).
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Points `command` at this display, bus and home.
    pub fn apply(&self, command: &mut Command) {
        let home = self.home.path();
        command
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.dbus_address)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_RUNTIME_DIR", home.join("runtime"))
            .env("TMPDIR", home.join("tmp"))
            .env("LEGITIMERA_E2E_HOME", home)
            .env_remove("WAYLAND_DISPLAY");
    }
}

/// GNOME Keyring's Secret Service on the private bus, with its login keyring created and
/// unlocked (the password comes on stdin, as PAM gives it at a desktop login). Without it the
/// trusted-device tests cannot run, so its absence is said, not hidden.
fn start_keyring(dbus_address: &str, home: &Path) -> Option<Child> {
    use std::io::Write;
    let started = Command::new("gnome-keyring-daemon")
        .args(["--foreground", "--unlock", "--components=secrets"])
        .env("DBUS_SESSION_BUS_ADDRESS", dbus_address)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("runtime"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match started {
        Ok(child) => child,
        Err(error) => {
            println!("no keyring for the tests (gnome-keyring-daemon: {error})");
            return None;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"e2e-keyring");
    }
    // Ready once it owns its bus name.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let owned = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", dbus_address)
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
            .unwrap_or(false);
        if owned {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("no keyring for the tests (gnome-keyring-daemon did not come up)");
    crate::terminate(&mut child, Duration::from_secs(5));
    None
}

impl Drop for DesktopSession {
    fn drop(&mut self) {
        // SIGTERM to each: dbus-daemon and Xvfb then remove their sockets in /tmp, which
        // they leave when killed outright.
        if let Some(mut keyring) = self.keyring.take() {
            crate::terminate(&mut keyring, Duration::from_secs(5));
        }
        crate::terminate(&mut self.dbus, Duration::from_secs(5));
        crate::terminate(&mut self.xvfb, Duration::from_secs(5));
    }
}

/// The first display number Xvfb can take:
/// - from :90 up;
/// - skipping numbers whose lock file names a live process;
/// - ready once Xvfb says so through `-displayfd`.
///
/// What a server that is gone left does not count: not its lock file, not its socket (Xvfb
/// replaces it). Counting them once made a machine that had run the tests often run out of
/// numbers. A number Xvfb refuses (another server got it first, or one in another namespace
/// holds its socket) makes it exit; then the next number is tried.
fn start_xvfb() -> Result<(Child, u32)> {
    let mut refused = Vec::new();
    for number in FIRST_DISPLAY..FIRST_DISPLAY + 1000 {
        if lock_holder_alive(number) {
            continue;
        }
        match try_xvfb(number)? {
            Some(xvfb) => return Ok((xvfb, number)),
            None => refused.push(format!(":{number}")),
        }
        if refused.len() == 10 {
            break;
        }
    }
    bail!(
        "Xvfb could not take a display: it refused {} (run one by hand to see why)",
        refused.join(", ")
    )
}

const FIRST_DISPLAY: u32 = 90;

/// Whether `/tmp/.X<number>-lock` exists and names a process that is still running (as Xvfb
/// judges it). A lock that cannot be read counts as held.
fn lock_holder_alive(number: u32) -> bool {
    let path = format!("/tmp/.X{number}-lock");
    match std::fs::read_to_string(&path) {
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(pid) => Path::new(&format!("/proc/{pid}")).exists(),
            Err(_) => true,
        },
        Err(error) => error.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Xvfb on `:number`: `Some` once it has written the number to its stdout (`-displayfd 1`,
/// which it does when it is ready), `None` when it exits first.
fn try_xvfb(number: u32) -> Result<Option<Child>> {
    let display = format!(":{number}");
    let mut xvfb = Command::new("Xvfb")
        .args([&display, "-displayfd", "1"])
        .args(["-screen", "0", "1280x900x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("could not start Xvfb")?;
    let stdout = xvfb.stdout.take().context("no stdout")?;
    let (said, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let _ = said.send(read.map(|_| line));
        // Drained until Xvfb exits: it must never meet a closed stdout.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    match heard.recv_timeout(Duration::from_secs(15)) {
        Ok(Ok(line)) if line.trim() == number.to_string() => Ok(Some(xvfb)),
        Ok(_) => {
            crate::terminate(&mut xvfb, Duration::from_secs(5));
            Ok(None)
        }
        Err(_) => {
            crate::terminate(&mut xvfb, Duration::from_secs(5));
            bail!("Xvfb did not come up on {display} in 15 s")
        }
    }
}

/// A temporary directory removed on drop (std only, to keep xtask quick to build).
pub mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(prefix: &str) -> std::io::Result<Self> {
            let unique = format!(
                "{prefix}{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default()
            );
            let path = std::env::temp_dir().join(unique);
            std::fs::create_dir_all(&path)?;
            Ok(TempDir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// tauri-driver (the WebDriver server for Tauri apps): on PATH, in ~/.cargo/bin, or installed.
pub fn ensure_tauri_driver() -> Result<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin").join("tauri-driver"));
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tauri-driver"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(found) = on_path.or_else(|| cargo_bin.clone().filter(|p| p.is_file())) {
        return Ok(found);
    }
    println!("\n==> installing tauri-driver (cargo install, about 20 s)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", "tauri-driver", "--version", "^2", "--locked"])
        // Its own target dir: the workspace's must not be locked or polluted by it.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("could not run cargo install")?;
    if !status.success() {
        bail!("cargo install tauri-driver failed ({status})");
    }
    cargo_bin
        .filter(|p| p.is_file())
        .context("tauri-driver was installed but not found in ~/.cargo/bin")
}

/// axe-core, pinned: the accessibility audit of the end-to-end tests runs it in the page.
const AXE_CORE: &str = "axe-core@4.10.3";

/// `axe.min.js` of [`AXE_CORE`], fetched once from the npm registry into the target directory
/// (used by the tests only; nothing of it reaches the app). Installs Debian's `npm` when there
/// is no `npm` at all.
pub fn ensure_axe_core(install: bool) -> Result<PathBuf> {
    let dir = crate::target_dir().join("axe-core");
    let script = dir.join("node_modules").join("axe-core").join("axe.min.js");
    let version = AXE_CORE.rsplit('@').next().unwrap_or_default();
    let package_json = dir
        .join("node_modules")
        .join("axe-core")
        .join("package.json");
    let installed = std::fs::read_to_string(&package_json)
        .is_ok_and(|text| text.contains(&format!("\"version\": \"{version}\"")));
    if installed && script.is_file() {
        return Ok(script);
    }
    let npm_works = Command::new("npm")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !npm_works {
        crate::packages::ensure(&["npm"], install)?;
    }
    println!("\n==> fetching {AXE_CORE} for the accessibility audit (npm, into the target dir)");
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&dir)
        .arg(AXE_CORE)
        .status()
        .context("could not run npm")?;
    if !status.success() || !script.is_file() {
        bail!("npm install {AXE_CORE} failed ({status})");
    }
    Ok(script)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// With `-displayfd` Xvfb writes no lock file: its socket is what it leaves.
    fn socket_left(number: u32) -> bool {
        Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
    }

    /// Tests that start displays take turns: one's "next free number" is not another's.
    static DISPLAYS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn displays() -> std::sync::MutexGuard<'static, ()> {
        DISPLAYS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run after run on one machine: what an Xvfb that was killed leaves must not take its
    /// number away for good; one that is stopped leaves nothing.
    #[test]
    #[ignore = "needs Xvfb"]
    fn a_display_left_by_a_killed_xvfb_is_taken_again_and_a_stopped_one_leaves_nothing() {
        let _turn = displays();
        let (mut killed, number) = start_xvfb().unwrap();
        killed.kill().unwrap();
        killed.wait().unwrap();
        assert!(socket_left(number), "a killed Xvfb leaves its socket");
        assert!(!lock_holder_alive(number));

        let (mut next, again) = start_xvfb().unwrap();
        assert!(
            again <= number,
            "the display :{number} a killed Xvfb left was not taken again (took :{again})"
        );
        crate::terminate(&mut next, Duration::from_secs(5));
        assert!(!socket_left(again), "a stopped Xvfb left its socket");
    }

    /// Everything a desktop session started is gone with it: its display's socket, its bus's
    /// socket, its home directory.
    #[test]
    #[ignore = "needs Xvfb and dbus-daemon"]
    fn a_desktop_session_leaves_nothing_behind() {
        let _turn = displays();
        let session = DesktopSession::start().unwrap();
        let number: u32 = session.display()[1..].parse().unwrap();
        // `unix:path=/tmp/dbus-…,guid=…`, or an abstract socket, which leaves no file.
        let bus = session
            .dbus_address
            .split(',')
            .next()
            .and_then(|address| address.strip_prefix("unix:path="))
            .map(PathBuf::from);
        let home = session.home.path().to_owned();
        assert!(socket_left(number));
        assert!(bus.as_ref().is_none_or(|bus| bus.exists()), "{bus:?}");
        assert!(home.is_dir());
        drop(session);
        assert!(!socket_left(number), "the display's socket is left");
        if let Some(bus) = bus {
            assert!(!bus.exists(), "the bus's socket {bus:?} is left");
        }
        assert!(!home.exists(), "the home directory is left");
    }

    #[test]
    fn a_lock_naming_a_live_process_is_held_and_a_gone_one_is_not() {
        let number = 60_000 + std::process::id() % 5_000;
        let path = format!("/tmp/.X{number}-lock");
        assert!(!lock_holder_alive(number), "no lock file: free");
        std::fs::write(&path, format!("{:>10}\n", std::process::id())).unwrap();
        assert!(lock_holder_alive(number), "this process is alive");
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        std::fs::write(&path, format!("{:>10}\n", gone.id())).unwrap();
        let gone_alive = lock_holder_alive(number);
        std::fs::write(&path, "not a pid\n").unwrap();
        let garbled = lock_holder_alive(number);
        std::fs::remove_file(&path).unwrap();
        assert!(!gone_alive, "a process that has exited holds nothing");
        assert!(garbled, "a lock that cannot be read counts as held");
    }
}
