//! System packages: which are needed, which are missing, and installing them with apt-get on
//! Debian/Ubuntu (through sudo when not root). Elsewhere, print exactly what to install.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// To build the app and the server.
pub const BUILD: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "libssl-dev",
    "libxdo-dev",
    "libdbus-1-dev",
    "libpcsclite-dev",
    "build-essential",
    "pkg-config",
    "file",
    "patchelf",
];

/// For the demo's SITHS login without a card reader: pcscd and vpcd's virtual readers.
pub const CARD: &[&str] = &["pcscd", "vsmartcard-vpcd"];

/// To run the end-to-end tests: a virtual display, a D-Bus session, WebKit's WebDriver,
/// a notification daemon, a keyring, and the smart-card stack with a virtual reader.
pub const TEST: &[&str] = &[
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "dbus",
    "dbus-x11",
    "dunst",
    "gnome-keyring",
    // secret-tool: the trusted-device test reads the keyring as another program would.
    "libsecret-tools",
    "keyutils",
    "pcscd",
    "vsmartcard-vpcd",
    // The PKCS#12 tests make their files with the openssl command, as RPs make theirs.
    "openssl",
    // The server suite runs on a throwaway PostgreSQL cluster too (postgres.rs).
    "postgresql",
    // An E2E test sets the demo database's failed-login count (tests/e2e/accounts.rs).
    "sqlite3",
];

/// `cargo xtask bench app`: keyboard input to the app under Xvfb (xdotool), `unshare` for
/// its private mount namespace, and `perf stat` for the idle counts.
pub const BENCH_APP: &[&str] = &["xdotool", "util-linux", "linux-perf"];

/// `cargo xtask bundle`: the apt repository (reprepro, GnuPG), checking the .rpm's signature
/// (rpm), and the install test's display and window lookup.
pub const BUNDLE: &[&str] = &[
    "reprepro",
    "gnupg",
    "rpm",
    "xvfb",
    "xauth",
    "x11-utils",
    "dbus",
    "dbus-x11",
];

/// `cargo xtask bench load`: the load generator.
pub const LOAD: &[&str] = &["wrk"];

/// Everything: building and testing.
pub fn all() -> Vec<&'static str> {
    BUILD.iter().chain(TEST).copied().collect()
}

fn is_debian_like() -> bool {
    let Ok(os_release) = std::fs::read_to_string("/etc/os-release") else {
        return false;
    };
    os_release.lines().any(|line| {
        let Some((key, value)) = line.split_once('=') else {
            return false;
        };
        (key == "ID" || key == "ID_LIKE")
            && value
                .trim_matches('"')
                .split_whitespace()
                .any(|id| id == "debian" || id == "ubuntu")
    })
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| out.status.success() && out.stdout.ends_with(b"install ok installed"))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Installs whichever of `packages` are missing (Debian/Ubuntu), or explains what to install.
pub fn ensure(packages: &[&str], install: bool) -> Result<()> {
    if !is_debian_like() {
        println!(
            "This is not Debian or Ubuntu, so nothing is installed automatically.\n\
             Install the equivalents of these Debian packages with your package manager:\n  {}\n\
             and tauri-driver with: cargo install tauri-driver --version ^2 --locked\n\
             (see https://v2.tauri.app/start/prerequisites/ for your system).",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !install {
        bail!("missing system packages: {}", missing.join(" "));
    }
    println!(
        "==> installing missing system packages: {}",
        missing.join(" ")
    );
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            command.arg("apt-get");
        }
        let status = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("could not run apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    apt(&["-o", "DPkg::Lock::Timeout=600", "update", "-q"])?;
    let mut install_args = vec!["-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q"];
    install_args.extend(&missing);
    apt(&install_args)
}
