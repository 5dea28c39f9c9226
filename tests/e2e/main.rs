//! End-to-end tests: the real app binary, driven through tauri-driver and WebKitWebDriver
//! under Xvfb, against a real `legitimera-server`. Run them with `cargo xtask test`, which
//! provides the display, the D-Bus session and the driver. Tests run one at a time (the app is
//! single-instance) and the run ends with a summary line and a non-zero exit on any failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod bankid;
#[path = "../support/catalog.rs"]
mod catalog;
mod foundation;
mod harness;
mod policy;
#[path = "../support/qr_read.rs"]
mod qr_read;
mod shared_computer;
mod siths;
mod timeouts;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Instant;

use harness::Harness;

type TestFn = for<'a> fn(&'a Harness) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// Every end-to-end test, in the order they run.
fn tests() -> Vec<(&'static str, TestFn)> {
    let mut all = Vec::new();
    all.extend(foundation::tests());
    all.extend(accounts::tests());
    all.extend(timeouts::tests());
    all.extend(bankid::tests());
    all.extend(shared_computer::tests());
    all.extend(siths::tests());
    all.extend(policy::tests());
    all
}

fn main() -> ExitCode {
    if std::env::var_os("LEGITIMERA_E2E").is_none() {
        println!(
            "e2e: not run here: these tests need Xvfb, a D-Bus session and tauri-driver.\n\
             e2e: run them with `cargo xtask test`, which sets those up (and CI always does)."
        );
        return ExitCode::SUCCESS;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("e2e: no tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(filters))
}

async fn run(filters: Vec<String>) -> ExitCode {
    let harness = match Harness::start().await {
        Ok(harness) => harness,
        Err(error) => {
            eprintln!("e2e: the harness could not start: {error:#}");
            println!("e2e: 0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let selected: Vec<_> = tests()
        .into_iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} end-to-end tests", selected.len());
    let (mut passed, mut failed) = (0, Vec::new());
    for (name, test) in selected {
        let started = Instant::now();
        let result = test(&harness).await;
        harness.after_test(name, result.is_err()).await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                passed += 1;
                println!("e2e {name} ... ok ({seconds:.1}s)");
            }
            Err(error) => {
                println!("e2e {name} ... FAILED ({seconds:.1}s)\n    {error:#}");
                failed.push(name);
            }
        }
    }
    // Last: the logs of everything above hold none of what the tests typed or read.
    if filters.is_empty() {
        match harness.scan_logs() {
            Ok(()) => {
                passed += 1;
                println!("e2e logs_hold_no_personal_data_or_secrets ... ok");
            }
            Err(error) => {
                println!("e2e logs_hold_no_personal_data_or_secrets ... FAILED\n    {error:#}");
                failed.push("logs_hold_no_personal_data_or_secrets");
            }
        }
    }
    drop(harness);
    if !failed.is_empty() {
        println!("\nfailed end-to-end tests:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!("\ne2e: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
