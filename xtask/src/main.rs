//! Developer tasks. `cargo xtask demo` runs the app against the local demo backend;
//! `cargo xtask test` runs everything CI runs. Both install missing system packages first
//! on Debian/Ubuntu, and say exactly what to install elsewhere.

mod bench_app;
mod bench_load;
mod bench_soak;
mod bundle;
mod demo_card;
mod e2e_env;
mod fuzz;
mod packages;
mod postgres;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use legitimera_testkit::pcscd::{self, Pcscd};
use legitimera_testkit::server::DemoServer;
use legitimera_testkit::{AXE_ENV, E2E_ENV, E2E_LATER_ENV};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  demo   install what is missing, build, start the demo backend and the app against it (with
         a virtual SITHS card in pcscd's virtual reader when no card reader is connected)
  test   install what is missing, then fmt, clippy, unit/integration tests, end-to-end tests
         and every fuzz target briefly (needs nightly; skipped loudly without it)
  e2e    only the end-to-end tests (those whose names contain any FILTER given after it);
         every one audits the views it reaches with axe-core (WCAG 2.1 AA), and
         `e2e a11y` is the whole run for the audit's sake
  bench app [--app PATH]  the release app's start-up, memory and idle cost against a bare Tauri app built
         in the same run, and the server's figures: bench/results/<date>-<host>.md and
         bench/results/latest.json (needs root: a policy in a private mount namespace)
  bench bankid  the BankID bench through the real app (Xvfb, tauri-driver), bench/bankid_login.rs
  bench card    card inserted → holder shown in the app (pcscd, the virtual card), bench/card_shown.rs
  fuzz [TARGET] [--minutes N]  run the fuzz targets (or one) N minutes each (default 10),
         merging new coverage into fuzz/corpus/ (fuzz/README.md)
  fuzz --bounded  only the bounded fuzz step of `test`, with its time
  bench load    the release server under load (wrk, 100 connections, 20 s per route in 4
         alternating rounds of 5 s): session checks and BankID order status as ratios of an
         axum hello-world measured beside them (median of the rounds), p50/p99, errors; with
         the password and card benches' figures (bench/password_login.rs, bench/card_read.rs:
         LEGITIMERA_BENCH_PASSWORD_LOGIN=0 or LEGITIMERA_BENCH_CARD=0 skips one)
  bench soak [--minutes N] [--sessions N] [--sqlite-only]  1,000 sessions at human pace for
         5 minutes on SQLite and PostgreSQL: errors, lost sessions, RSS, p99 per minute;
         writes bench/results/<date>-<host>-soak.md (xtask/src/bench_soak.rs)
  bench server  logins/s and session checks/s, PostgreSQL / SQLite, bench/server_storage.rs
  bundle [--repo DIR] [--test]  the release app as .deb and .rpm (target/release/bundle/);
         --repo DIR also makes a signed apt repository there; --test (as root, on Debian) also
         checks the updater's signature verification, installs the .deb, starts it under Xvfb,
         purges it and looks for leftovers, then the same from a signed repository, and that
         apt refuses a tampered one (docs/deployment.md)
  deps   only install the missing system packages

options:
  --no-install   never run apt-get; fail with the list of missing packages instead";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let install = !args.iter().any(|a| a == "--no-install");
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(install),
        Some("test") => test(install),
        Some("e2e") => e2e_only(
            install,
            args.iter()
                .skip(1)
                .filter(|a| !a.starts_with("--"))
                .cloned()
                .collect(),
        ),
        Some("bench") if args.get(1).map(String::as_str) == Some("app") => {
            bench_app::run_bench(install, &args)
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("bankid") => {
            bench_through_the_app(install, "bankid_login", "BankID bench")
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("card") => {
            bench_through_the_app(install, "card_shown", "SITHS card bench")
        }
        Some("fuzz") => fuzz_command(&args[1..]),
        Some("bench") if args.get(1).map(String::as_str) == Some("server") => {
            postgres::bench(cargo(), install)
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("load") => {
            bench_load::command(install)
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("soak") => {
            bench_soak::command(&args[2..], install)
        }
        Some("bundle") => bundle::command(&args[1..], install),
        Some("deps") => packages::ensure(&packages::all(), install),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
///
/// `cargo run` (the `cargo xtask` alias) sets CARGO_MANIFEST_DIR for this run, and that wins
/// over the path compiled in: with a target dir shared by clones at different paths (CI), the
/// xtask binary on disk may have been built from another clone, whose tree it would test.
fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    without_cargo_run_env(&mut command);
    command
}

/// Removes what `cargo run` set for xtask itself from a command that runs cargo.
fn without_cargo_run_env(command: &mut Command) {
    // `cargo run` gave this process xtask's own CARGO_PKG_* and CARGO_MANIFEST_* variables.
    // Passed on, they differ from a plain `cargo test`'s environment, and build scripts that
    // watch them (ring's does) would rerun and rebuild everything above them, every time one
    // follows the other on the same target dir.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
}

/// Runs a command to completion; fails with its name if it fails.
fn run(step: &str, command: &mut Command) -> Result<()> {
    println!("\n==> {step}");
    let status = command
        .status()
        .with_context(|| format!("{step}: could not start"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

/// Where cargo puts binaries for this workspace (honours CARGO_TARGET_DIR).
/// Asks `child` to end (SIGTERM), kills it if it has not after `grace`, and waits for it.
fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"))
}

fn demo(install: bool) -> Result<()> {
    let needed: Vec<&str> = packages::BUILD
        .iter()
        .chain(packages::CARD)
        .copied()
        .collect();
    packages::ensure(&needed, install)?;
    run(
        "build the app, the server and the card tools",
        cargo().args([
            "build",
            "-p",
            "legitimera",
            "-p",
            "legitimera-server",
            "-p",
            "legitimera-card",
            "-p",
            "legitimera-vcard",
            "--bins",
        ]),
    )?;
    let bin = target_dir().join("debug");
    // Before the server: it is told to trust the virtual card's CA, when there is one, and the
    // card's certificate names the server's CRL route, so the server's port is chosen first.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("no free loopback port")?;
    let card = demo_card::DemoCard::start(&bin, &format!("http://{listen}"))?;
    let mut server = DemoServer::new(bin.join("legitimera-server"))
        .args(card.server_args.iter().cloned())
        .start(&listen.to_string())?;
    println!(
        "\nDemo backend: {} (temporary database, demo data; stops when the app closes)",
        server.url()
    );
    let status = Command::new(bin.join("legitimera"))
        .arg("--backend-url")
        .arg(server.url())
        .status()
        .context("could not start the app")?;
    server.stop();
    drop(card);
    if !status.success() {
        bail!("the app exited with {status}");
    }
    Ok(())
}

fn test(install: bool) -> Result<()> {
    let started = Instant::now();
    packages::ensure(&packages::all(), install)?;
    let tauri_driver = e2e_env::ensure_tauri_driver()?;
    let mut timings = Vec::new();
    let mut step = |name: &str, command: &mut Command| -> Result<()> {
        let t = Instant::now();
        run(name, command)?;
        timings.push((name.to_owned(), t.elapsed()));
        Ok(())
    };
    step(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    step(
        "cargo clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Up until the end-to-end tests are done: the SITHS ones use the virtual card too.
    let pcscd = Pcscd::ensure()?;
    // The tests that need pcscd are ignored by a plain `cargo test`; here pcscd runs. The
    // end-to-end binary leaves its tests to the next step, which has their display.
    step(
        "unit and integration tests",
        cargo()
            .args(["test", "--workspace", "--", "--include-ignored"])
            .env_remove(E2E_ENV)
            .env(E2E_LATER_ENV, "1")
            .env(pcscd::RESTARTABLE_ENV, "1"),
    )?;
    let cluster = postgres::Cluster::start()?;
    step(
        "server integration tests on PostgreSQL",
        &mut postgres::server_suite(cargo(), &root(), &cluster)?,
    )?;
    drop(cluster);
    // `cargo test --workspace` has just built the server binary (its integration tests need
    // it) with the same features as everything else; a separate `cargo build` would resolve
    // features without dev-dependencies and rebuild half the dependency tree.
    let server_bin = target_dir().join("debug").join("legitimera-server");
    if !server_bin.is_file() {
        step(
            "build the server for end-to-end tests",
            cargo().args(["build", "-p", "legitimera-server"]),
        )?;
    }
    let axe = e2e_env::ensure_axe_core(install)?;
    let mut e2e = e2e_command(&tauri_driver, &server_bin, &axe, &[]);
    let session = e2e_env::DesktopSession::start()?;
    session.apply(&mut e2e);
    let e2e_result = step("end-to-end tests (real app, WebDriver, Xvfb)", &mut e2e);
    drop(session);
    drop(pcscd);
    let fuzz_started = Instant::now();
    let fuzz_result = fuzz::bounded();
    let fuzz_line = match &fuzz_result {
        Ok(line) => line.clone(),
        Err(_) => "fuzz FAILED".to_owned(),
    };
    timings.push((fuzz_line, fuzz_started.elapsed()));
    // The packages as IT gets them: the release app (no test machinery in it), .deb and .rpm
    // installed, started and purged, the signed repository, tampered ones refused, updates.
    // It installs on this machine: as root only (CI is), else skipped loudly.
    let bundle_started = Instant::now();
    let (bundle_line, bundle_result) = if packages::is_root() {
        let result = bundle::command(&["--test".to_owned()], install);
        let line = if result.is_ok() {
            "packages and updates (cargo xtask bundle --test)"
        } else {
            "packages and updates FAILED"
        };
        (line, result)
    } else {
        let line = "packages and updates SKIPPED: `cargo xtask bundle --test` installs packages, run as root";
        println!("\n!!! {line}");
        (line, Ok(()))
    };
    timings.push((bundle_line.to_owned(), bundle_started.elapsed()));
    println!("\n==> summary");
    for (name, elapsed) in &timings {
        println!("  {:>7.1}s  {name}", elapsed.as_secs_f64());
    }
    println!("  {:>7.1}s  total", started.elapsed().as_secs_f64());
    e2e_result?;
    fuzz_result?;
    bundle_result?;
    println!("all checks passed");
    Ok(())
}

/// The end-to-end test binary with what it needs; `--workspace` like the unit test step, so
/// features resolve the same and nothing rebuilds.
fn e2e_command(tauri_driver: &Path, server_bin: &Path, axe: &Path, filters: &[String]) -> Command {
    let mut e2e = cargo();
    e2e.args([
        "test",
        "--workspace",
        "--test",
        "e2e",
        "--",
        "--include-ignored",
    ])
    .args(filters)
    .env(E2E_ENV, "1")
    .env_remove(E2E_LATER_ENV)
    .env("TAURI_DRIVER", tauri_driver)
    .env("LEGITIMERA_SERVER_BIN", server_bin)
    .env(AXE_ENV, axe);
    e2e
}

/// `cargo xtask e2e [FILTER…]`: builds what the end-to-end tests need and runs them alone.
fn e2e_only(install: bool, filters: Vec<String>) -> Result<()> {
    packages::ensure(&packages::all(), install)?;
    let tauri_driver = e2e_env::ensure_tauri_driver()?;
    run(
        "build the server",
        cargo().args(["test", "--workspace", "--no-run"]),
    )?;
    let server_bin = target_dir().join("debug").join("legitimera-server");
    let axe = e2e_env::ensure_axe_core(install)?;
    // `cargo xtask e2e a11y`: every end-to-end test audits the views it reaches, so the audit
    // is the whole run; it ends with the line `axe: N views audited, M violations`.
    let filters: Vec<String> = filters.into_iter().filter(|f| f != "a11y").collect();
    let mut e2e = e2e_command(&tauri_driver, &server_bin, &axe, &filters);
    let _pcscd = Pcscd::ensure()?;
    let session = e2e_env::DesktopSession::start()?;
    session.apply(&mut e2e);
    run("end-to-end tests (real app, WebDriver, Xvfb)", &mut e2e)
}

/// `cargo xtask bench bankid|card`: the benches through the real app need what the end-to-end
/// tests need, so they get the same display, bus, driver, pcscd and server binary, and the
/// same dev-profile app build.
fn bench_through_the_app(install: bool, name: &str, what: &str) -> Result<()> {
    packages::ensure(&packages::all(), install)?;
    let tauri_driver = e2e_env::ensure_tauri_driver()?;
    run(
        "build the server",
        cargo().args(["test", "--workspace", "--no-run"]),
    )?;
    let server_bin = target_dir().join("debug").join("legitimera-server");
    // The card bench needs pcscd with vpcd's readers (the BankID one does not mind it).
    let _pcscd = Pcscd::ensure()?;
    let mut bench = cargo();
    bench
        .args(["bench", "--workspace", "--bench", name, "--profile", "dev"])
        .env(E2E_ENV, "1")
        .env("TAURI_DRIVER", &tauri_driver)
        .env("LEGITIMERA_SERVER_BIN", &server_bin);
    let session = e2e_env::DesktopSession::start()?;
    session.apply(&mut bench);
    run(&format!("{what} (real app, WebDriver, Xvfb)"), &mut bench)
}

/// `cargo xtask fuzz [TARGET] [--minutes N]`.
fn fuzz_command(args: &[String]) -> Result<()> {
    let mut target = None;
    let mut minutes = fuzz::DEFAULT_MINUTES;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bounded" => {
                let started = Instant::now();
                let line = fuzz::bounded()?;
                println!("\n  {:>7.1}s  {line}", started.elapsed().as_secs_f64());
                return Ok(());
            }
            "--minutes" => {
                minutes = fuzz::minutes(args.next().map(String::as_str))?;
            }
            "--no-install" => {}
            name if !name.starts_with("--") && target.is_none() => target = Some(name),
            other => bail!("cargo xtask fuzz: unexpected {other}"),
        }
    }
    fuzz::at_length(target, minutes)
}
