//! End-to-end tests: the real app binary, driven through tauri-driver and WebKitWebDriver
//! under Xvfb, against a real `legitimera-server`. They need a display, a D-Bus session,
//! tauri-driver and pcscd, so a plain `cargo test` lists them as ignored; `cargo xtask e2e` and
//! `cargo xtask test` set those up and run them with `--include-ignored`. Tests run one at a
//! time (the app is single-instance) and the run ends with a summary line and a non-zero exit
//! on any failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod bankid;
mod diagnostics;
mod foundation;
mod policy;
mod shared_computer;
mod siths;
mod timeouts;
mod updates;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Instant;

use legitimera_testkit::e2e::Harness;
use legitimera_testkit::E2E_LATER_ENV;

type TestFn = for<'a> fn(&'a Harness) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// Why a plain `cargo test` leaves them out.
const IGNORED_BECAUSE: &str =
    "needs a display, D-Bus, tauri-driver and pcscd: run `cargo xtask e2e`";
/// The last test: the logs of everything before hold none of what the tests typed or read.
const LOG_SCAN: &str = "logs_hold_no_personal_data_or_secrets";
/// After the tests: axe-core found nothing on any view they audited, in either language.
const AXE_SUMMARY: &str = "every_view_meets_wcag_2_1_aa";

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
    all.extend(diagnostics::tests());
    all.extend(updates::tests());
    all
}

/// The part of libtest's command line this runner honours.
struct Arguments {
    /// `--ignored` or `--include-ignored`: every test here is ignored by default.
    run_ignored: bool,
    list: bool,
    filters: Vec<String>,
}

impl Arguments {
    fn parse() -> Self {
        // libtest options that take a value, which must not be read as a filter.
        const WITH_VALUE: [&str; 6] = [
            "--test-threads",
            "--skip",
            "--format",
            "--color",
            "--logfile",
            "-Z",
        ];
        let mut parsed = Arguments {
            run_ignored: false,
            list: false,
            filters: Vec::new(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--ignored" | "--include-ignored" => parsed.run_ignored = true,
                "--list" => parsed.list = true,
                option if WITH_VALUE.contains(&option) => {
                    args.next();
                }
                option if option.starts_with('-') => {}
                filter => parsed.filters.push(filter.to_owned()),
            }
        }
        parsed
    }

    fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let all = tests().len() + 2;
    let mut selected: Vec<&str> = tests()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| arguments.selects(name))
        .collect();
    if arguments.filters.is_empty() {
        selected.push(LOG_SCAN);
        selected.push(AXE_SUMMARY);
    }
    let filtered_out = all - selected.len();
    if arguments.list {
        for name in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let later = std::env::var_os(E2E_LATER_ENV).is_some();
    if !arguments.run_ignored || later {
        let why = if later {
            "`cargo xtask test` runs it in its end-to-end step"
        } else {
            IGNORED_BECAUSE
        };
        println!("\nrunning {} tests", selected.len());
        for name in &selected {
            println!("test {name} ... ignored, {why}");
        }
        println!(
            "\ntest result: ok. 0 passed; 0 failed; {} ignored; 0 measured; {filtered_out} filtered out\n",
            selected.len()
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("e2e: no tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(&arguments))
}

async fn run(arguments: &Arguments) -> ExitCode {
    let harness = match Harness::start(env!("CARGO_BIN_EXE_legitimera")).await {
        Ok(harness) => harness,
        Err(error) => {
            eprintln!("e2e: the harness could not start: {error:#}");
            println!("e2e: 0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let selected: Vec<_> = tests()
        .into_iter()
        .filter(|(name, _)| arguments.selects(name))
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
    // Last, and only after the whole run: a scan of a few tests' logs proves little.
    if arguments.filters.is_empty() {
        match harness.scan_logs() {
            Ok(()) => {
                passed += 1;
                println!("e2e {LOG_SCAN} ... ok");
            }
            Err(error) => {
                println!("e2e {LOG_SCAN} ... FAILED\n    {error:#}");
                failed.push(LOG_SCAN);
            }
        }
    }
    // The accessibility audit's verdict: every view any test reached, in both languages. A
    // whole run that audited nothing has lost its audit.
    if arguments.filters.is_empty() || legitimera_testkit::axe::any() {
        let (line, verdict) = legitimera_testkit::axe::summary();
        let verdict = if legitimera_testkit::axe::any() {
            verdict
        } else {
            Err(anyhow::anyhow!("no view was audited"))
        };
        match verdict {
            Ok(()) => {
                passed += 1;
                println!("e2e {AXE_SUMMARY} ... ok");
            }
            Err(error) => {
                println!("e2e {AXE_SUMMARY} ... FAILED\n    {error:#}");
                failed.push(AXE_SUMMARY);
            }
        }
        println!("{line}");
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
