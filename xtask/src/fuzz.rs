//! Fuzzing from xtask: the bounded step of `cargo xtask test` (every target of fuzz/ briefly,
//! from the committed corpus, a crash fails the run and shows the reproducer) and
//! `cargo xtask fuzz` (at length; new coverage is merged into the committed corpus). Needs
//! nightly and cargo-fuzz: cargo-fuzz is installed when missing, a missing nightly skips the
//! step loudly. The CI step never writes to fuzz/corpus.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};

/// The whole CI step, build included, stays under this (the issue allows 8 minutes).
const CI_BUDGET: Duration = Duration::from_secs(7 * 60 + 30);
/// Bounds for each target's time in CI, whatever the build left of the budget.
const CI_MIN_SECONDS: u64 = 10;
const CI_MAX_SECONDS: u64 = 60;
/// libFuzzer's start-up and corpus loading, on top of `-max_total_time`.
const START_UP_SECONDS: u64 = 5;
/// `cargo xtask fuzz` without `--minutes`.
pub const DEFAULT_MINUTES: u64 = 10;
/// What fuzz/ builds that is not a target.
const NOT_TARGETS: &[&str] = &["seeds"];
/// An input that runs longer than this is a hang, reported like a crash.
const INPUT_TIMEOUT_SECONDS: u64 = 10;
/// The same at length: libFuzzer's timeout is wall-clock time, and long runs are meant to be
/// `nice`d on a shared machine, where a busy neighbour can hold a niced fuzzer off the CPU for
/// more than 10 s (server_query_and_headers "timed out" that way on an input that takes 0.1 s).
const LONG_INPUT_TIMEOUT_SECONDS: u64 = 120;

/// `cargo xtask test`'s fuzz step: builds every target and runs each for what is left of
/// [`CI_BUDGET`] after the build, shared out, at most two at a time on two cores. Returns the
/// line for the step summary; a crash is an error after its reproducer has been printed.
pub fn bounded() -> Result<String> {
    println!("\n==> fuzz (every target of fuzz/, bounded, from the committed corpus)");
    let started = Instant::now();
    if let Err(why) = nightly() {
        let line = format!("fuzz SKIPPED: {why}");
        println!("\n!!! {line}");
        println!("!!! nothing was fuzzed; install it with `rustup toolchain install nightly`.");
        return Ok(line);
    }
    ensure_cargo_fuzz()?;
    build()?;
    let targets = targets()?;
    let parallel = parallelism();
    let rounds = targets.len().div_ceil(parallel).max(1) as u64;
    let left = CI_BUDGET.saturating_sub(started.elapsed()).as_secs();
    let seconds = (left / rounds)
        .saturating_sub(START_UP_SECONDS)
        .clamp(CI_MIN_SECONDS, CI_MAX_SECONDS);
    println!(
        "    {} targets, {seconds} s each, {parallel} at a time (build took {:.0} s)",
        targets.len(),
        started.elapsed().as_secs_f64()
    );
    let reports = run_all(&targets, parallel, |target| {
        let scratch = scratch_corpus(target)?;
        // The committed corpus is read only: new inputs go to the scratch directory.
        fuzz_run(
            target,
            &[&scratch, &corpus_dir(target)],
            seconds,
            INPUT_TIMEOUT_SECONDS,
        )
    })?;
    print_reports(&reports);
    fail_on_crash(&reports)?;
    Ok(format!(
        "fuzz: {} targets × {seconds} s, {parallel} at a time, no crash",
        targets.len()
    ))
}

/// `--minutes N`'s value: a whole number of at least one (libFuzzer takes
/// `-max_total_time=0` as "for ever").
pub fn minutes(text: Option<&str>) -> Result<u64> {
    text.and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .context("--minutes needs a whole number of at least 1")
}

/// `cargo xtask fuzz [TARGET] [--minutes N]`: each target (or the one named) for N minutes,
/// then what added coverage merged into fuzz/corpus/<target>/ (libFuzzer's `-merge=1`).
pub fn at_length(target: Option<&str>, minutes: u64) -> Result<()> {
    if let Err(why) = nightly() {
        bail!("cannot fuzz: {why}");
    }
    ensure_cargo_fuzz()?;
    build()?;
    let all = targets()?;
    let targets = match target {
        Some(name) if all.iter().any(|t| t == name) => vec![name.to_owned()],
        Some(name) => bail!("no fuzz target {name}; there are: {}", all.join(", ")),
        None => all,
    };
    let parallel = parallelism();
    println!(
        "\n==> fuzz {} for {minutes} min each, {parallel} at a time",
        targets.join(", ")
    );
    let reports = run_all(&targets, parallel, |target| {
        let scratch = scratch_corpus(target)?;
        let corpus = corpus_dir(target);
        fs::create_dir_all(&corpus)?;
        let before = corpus_size(&corpus);
        let mut report = fuzz_run(
            target,
            &[&scratch, &corpus],
            minutes * 60,
            LONG_INPUT_TIMEOUT_SECONDS,
        )?;
        if report.crash.is_none() {
            merge(target, &corpus, &scratch)?;
            report.corpus = Some((before, corpus_size(&corpus)));
        }
        Ok(report)
    })?;
    print_reports(&reports);
    fail_on_crash(&reports)
}

/// What one run of one target did.
#[derive(Debug)]
struct Report {
    target: String,
    runs: Option<u64>,
    cov: Option<u64>,
    ft: Option<u64>,
    exec_per_second: Option<u64>,
    elapsed: Duration,
    /// The reproducer(s) libFuzzer wrote, when the run failed.
    crash: Option<Vec<PathBuf>>,
    log: PathBuf,
    /// The committed corpus's (files, bytes) before and after the merge.
    corpus: Option<((usize, u64), (usize, u64))>,
}

fn fuzz_dir() -> PathBuf {
    crate::root().join("fuzz")
}

fn corpus_dir(target: &str) -> PathBuf {
    fuzz_dir().join("corpus").join(target)
}

fn artifacts_dir(target: &str) -> PathBuf {
    fuzz_dir().join("artifacts").join(target)
}

/// An empty directory under fuzz/target for a run's new inputs (ignored by git).
fn scratch_corpus(target: &str) -> Result<PathBuf> {
    let dir = fuzz_dir().join("target").join("xtask-corpus").join(target);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `Ok` when the nightly toolchain is there, else why not.
fn nightly() -> std::result::Result<(), String> {
    match Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err("the nightly toolchain is not installed (cargo-fuzz needs it)".into()),
        Err(_) => Err("rustup is not installed, so there is no nightly toolchain".into()),
    }
}

/// `rustup run nightly cargo …` in fuzz/, with nothing of the stable build's environment that
/// would mix the two builds: fuzz/ builds into fuzz/target, or — when the workspace's target
/// dir is set outside the clone, as CI sets it — into its `fuzz/` subdirectory, so a fresh
/// clone does not build the instrumented tree from scratch every time. The variables `cargo
/// run` set for xtask itself go too: build scripts (ring's) rerun when `CARGO_PKG_NAME` and
/// the like differ, which would rebuild half the tree between a run by hand and one through
/// xtask.
fn nightly_cargo() -> Command {
    let mut command = Command::new("rustup");
    command
        .args(["run", "nightly", "cargo"])
        .current_dir(fuzz_dir());
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(_) => command.env("CARGO_TARGET_DIR", crate::target_dir().join("fuzz")),
        None => command.env_remove("CARGO_TARGET_DIR"),
    };
    command
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN");
    for (name, _) in std::env::vars_os() {
        let set_by_cargo_run = name.to_str().is_some_and(|name| {
            name.starts_with("CARGO_PKG_")
                || matches!(
                    name,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_MANIFEST_LINKS"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                )
        });
        if set_by_cargo_run {
            command.env_remove(name);
        }
    }
    command
}

/// cargo-fuzz: installed (like tauri-driver) when `cargo fuzz` does not answer.
fn ensure_cargo_fuzz() -> Result<()> {
    let present = nightly_cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if present {
        return Ok(());
    }
    println!("\n==> installing cargo-fuzz (cargo install --locked, about 2 minutes)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", "--locked", "cargo-fuzz"])
        // Its own target dir: the workspace's must not be locked or polluted by it.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("could not run cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(())
}

/// Every target (and the seed generator), optimised, with AddressSanitizer: `cargo fuzz build
/// -O`, as fuzz/README.md documents, so the targets built here are the ones a developer runs.
fn build() -> Result<()> {
    let started = Instant::now();
    crate::run(
        "build the fuzz targets (nightly, cargo fuzz build -O)",
        nightly_cargo().args(["fuzz", "build", "-O"]),
    )?;
    println!("    built in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn targets() -> Result<Vec<String>> {
    let output = nightly_cargo()
        .args(["fuzz", "list"])
        .output()
        .context("cargo fuzz list")?;
    if !output.status.success() {
        bail!("cargo fuzz list failed ({})", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && !NOT_TARGETS.contains(name))
        .map(str::to_owned)
        .collect())
}

/// Two at a time on two cores (libFuzzer uses one core per process); more where there are more.
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs `each` for every target, `parallel` at a time; reports in the targets' order.
fn run_all(
    targets: &[String],
    parallel: usize,
    each: impl Fn(&str) -> Result<Report> + Sync,
) -> Result<Vec<Report>> {
    let queue = Mutex::new(targets.iter().enumerate());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.min(targets.len()) {
            scope.spawn(|| loop {
                let next = queue.lock().map(|mut queue| queue.next());
                let Ok(Some((index, target))) = next else {
                    break;
                };
                let result = each(target);
                if let Ok(report) = &result {
                    print_report(report);
                }
                if let Ok(mut results) = results.lock() {
                    results.push((index, result));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a fuzz runner thread panicked"))?;
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// One `cargo fuzz run` for `seconds`; libFuzzer's output goes to a log under fuzz/target.
fn fuzz_run(target: &str, corpora: &[&Path], seconds: u64, timeout: u64) -> Result<Report> {
    let log = fuzz_dir()
        .join("target")
        .join("xtask-logs")
        .join(format!("{target}.log"));
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir)?;
    }
    let log_file = fs::File::create(&log)?;
    let started_at = SystemTime::now();
    let started = Instant::now();
    let status = nightly_cargo()
        .args(["fuzz", "run", "-O", target])
        .args(corpora)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={timeout}"))
        .arg("-print_final_stats=1")
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .status()
        .with_context(|| format!("cargo fuzz run {target}"))?;
    let text = fs::read_to_string(&log).unwrap_or_default();
    let mut report = parse_stats(target, &text);
    report.elapsed = started.elapsed();
    report.log = log;
    if !status.success() {
        report.crash = Some(new_artifacts(target, started_at));
    }
    Ok(report)
}

/// What in `scratch` adds coverage to `corpus` is copied into it, as few inputs as will do
/// (`-set_cover_merge=1`: those adding the most first, where `-merge=1` takes the smallest
/// first). Coverage means edges (`-use_counters=0`), not hit counts: after a 10-minute run of
/// card_session, `-merge=1` kept 662 files (1 MB), edges alone 386 (0.5 MB), set cover of
/// edges 240 (0.4 MB).
fn merge(target: &str, corpus: &Path, scratch: &Path) -> Result<()> {
    let status = nightly_cargo()
        .args(["fuzz", "run", "-O", target])
        .arg(corpus)
        .arg(scratch)
        .args(["--", "-set_cover_merge=1", "-use_counters=0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("merging the corpus of {target}"))?;
    if !status.success() {
        bail!("merging the new corpus of {target} failed ({status})");
    }
    Ok(())
}

/// Runs, coverage and features from libFuzzer's last status line (`#N DONE cov: C ft: F …`).
fn parse_stats(target: &str, log: &str) -> Report {
    let last = log
        .lines()
        .rev()
        .find(|line| line.starts_with('#') && line.contains(" cov: "));
    let field = |name: &str| -> Option<u64> {
        let line = last?;
        let after = line.split(name).nth(1)?;
        after.split_whitespace().next()?.parse().ok()
    };
    Report {
        target: target.to_owned(),
        runs: last
            .and_then(|line| line.trim_start_matches('#').split_whitespace().next())
            .and_then(|runs| runs.parse().ok()),
        cov: field("cov: "),
        ft: field("ft: "),
        exec_per_second: field("exec/s: "),
        elapsed: Duration::ZERO,
        crash: None,
        log: PathBuf::new(),
        corpus: None,
    }
}

/// The reproducers libFuzzer wrote for `target` since `since` (crash-, timeout-, oom-, leak-…).
fn new_artifacts(target: &str, since: SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(artifacts_dir(target)) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified >= since)
        })
        .map(|entry| entry.path())
        .collect();
    found.sort();
    found
}

fn corpus_size(dir: &Path) -> (usize, u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .filter(|meta| meta.is_file())
        .fold((0, 0), |(files, bytes), meta| {
            (files + 1, bytes + meta.len())
        })
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "?".into(), |value| value.to_string())
}

fn print_report(report: &Report) {
    let verdict = if report.crash.is_some() {
        "CRASH"
    } else {
        "ok"
    };
    println!(
        "    {:<26} {verdict:<5} {:>5.0} s  runs {:>10}  cov {:>6}  ft {:>7}  exec/s {:>7}",
        report.target,
        report.elapsed.as_secs_f64(),
        show(report.runs),
        show(report.cov),
        show(report.ft),
        show(report.exec_per_second),
    );
    if let Some(((files_before, bytes_before), (files, bytes))) = report.corpus {
        println!(
            "    {:<26} corpus {files_before} files / {bytes_before} B → {files} files / {bytes} B",
            ""
        );
    }
}

fn print_reports(reports: &[Report]) {
    println!("\n==> fuzz results");
    for report in reports {
        print_report(report);
    }
}

/// Prints every reproducer (path, hex, how to rerun it) and the end of the log; an error if
/// any target crashed.
fn fail_on_crash(reports: &[Report]) -> Result<()> {
    let crashed: Vec<&Report> = reports.iter().filter(|r| r.crash.is_some()).collect();
    for report in &crashed {
        println!("\n!!! fuzz target {} failed", report.target);
        let log = fs::read_to_string(&report.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(40)..] {
            println!("    | {line}");
        }
        let artifacts = report.crash.as_deref().unwrap_or_default();
        if artifacts.is_empty() {
            println!(
                "    no reproducer was written; the whole log: {}",
                report.log.display()
            );
        }
        for artifact in artifacts {
            let bytes = fs::read(artifact).unwrap_or_default();
            println!(
                "\n    reproducer: {} ({} bytes)",
                artifact.display(),
                bytes.len()
            );
            print!("{}", hex_dump(&bytes, 1024));
            println!(
                "    rerun: cd fuzz && cargo +nightly fuzz run -O {} {}",
                report.target,
                artifact.display()
            );
        }
    }
    if !crashed.is_empty() {
        let names: Vec<&str> = crashed.iter().map(|r| r.target.as_str()).collect();
        bail!("fuzz targets crashed: {}", names.join(", "));
    }
    Ok(())
}

/// `offset: hex bytes`, 16 a line, at most `limit` bytes.
fn hex_dump(bytes: &[u8], limit: usize) -> String {
    let mut out = String::new();
    for (line, chunk) in bytes[..bytes.len().min(limit)].chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
        out.push_str(&format!("    {:06x}  {}\n", line * 16, hex.join(" ")));
    }
    if bytes.len() > limit {
        out.push_str(&format!("    … {} more bytes\n", bytes.len() - limit));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_come_from_the_last_status_line() {
        let log = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #1048576\tpulse  cov: 900 ft: 2000 corp: 50/3Kb exec/s: 34952 rss: 60Mb\n\
                   #1234567\tDONE   cov: 912 ft: 2043 corp: 52/3Kb lim: 4096 exec/s: 41152 rss: 61Mb\n\
                   Done 1234567 runs in 30 second(s)\n";
        let report = parse_stats("tlv", log);
        assert_eq!(report.runs, Some(1_234_567));
        assert_eq!(report.cov, Some(912));
        assert_eq!(report.ft, Some(2043));
        assert_eq!(report.exec_per_second, Some(41152));
    }

    /// Every `.rs` file below `dir`, as text.
    fn sources(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(fs::read_to_string(&path).unwrap());
                }
            }
        }
        found
    }

    /// The type names written as `<prefix>Name>` in `texts` (`Body<LoginRequest>`).
    fn type_arguments(texts: &[String], prefix: &str) -> std::collections::BTreeSet<String> {
        texts
            .iter()
            .flat_map(|text| text.split(prefix).skip(1))
            .filter_map(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                (rest[name.len()..].starts_with('>') && name.len() > 1).then_some(name)
            })
            .collect()
    }

    fn target_source(target: &str) -> String {
        fs::read_to_string(fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"))).unwrap()
    }

    #[test]
    fn every_request_body_and_query_the_server_takes_is_fuzzed() {
        let server = sources(&crate::root().join("crates/server/src"));
        let bodies = type_arguments(&server, "Body<");
        assert!(bodies.contains("LoginRequest"), "{bodies:?}");
        let target = target_source("server_body");
        let missing: Vec<&String> = bodies
            .iter()
            .filter(|name| !target.contains(&format!("extract::<{name}>")))
            .collect();
        assert!(missing.is_empty(), "server_body does not feed {missing:?}");

        let queries = type_arguments(&server, "Query<");
        assert!(queries.contains("WaitQuery"), "{queries:?}");
        let target = target_source("server_query_and_headers");
        let missing: Vec<&String> = queries
            .iter()
            .filter(|name| !target.contains(&format!("Query::<{name}>")))
            .collect();
        assert!(
            missing.is_empty(),
            "server_query_and_headers does not feed {missing:?}"
        );
    }

    /// What the app's API client asks the backend for (`….call(…)`, or `decode(…)` of a request
    /// it sends itself), by the type the answer is decoded as: the function's `-> Result<T>` or
    /// the binding's `let x: T =` just above.
    #[test]
    fn every_answer_the_app_decodes_is_fuzzed() {
        let client = sources(&crate::root().join("crates/client/src"));
        let mut decoded = std::collections::BTreeSet::new();
        for text in &client {
            let lines: Vec<&str> = text.lines().collect();
            for (at, line) in lines.iter().enumerate() {
                // `….call(…)`, or an answer decoded by hand (`let x: T = decode(…)`).
                if !line.contains(".call(") && !line.contains("= decode(") {
                    continue;
                }
                let found = lines[at.saturating_sub(8)..=at].iter().rev().find_map(|l| {
                    let returns = l
                        .split_once("-> ")
                        .map(|(_, r)| r.trim_start_matches("crate::"));
                    if let Some(rest) = returns.and_then(|r| r.strip_prefix("Result<")) {
                        let rest = rest.trim_end().trim_end_matches('{').trim_end();
                        return rest.strip_suffix('>').map(str::to_owned);
                    }
                    let rest = l.trim_start().strip_prefix("let ")?;
                    let (_, ty) = rest.split_once(": ")?;
                    ty.split_once(" =").map(|(ty, _)| ty.to_owned())
                });
                let ty = found.unwrap_or_else(|| panic!("no answer type for {line:?}"));
                if ty != "()" {
                    decoded.insert(ty);
                }
            }
        }
        assert!(decoded.contains("Health"), "{decoded:?}");
        assert!(decoded.contains("BankIdOrder"), "{decoded:?}");
        let target = target_source("client_answer");
        let missing: Vec<&String> = decoded
            .iter()
            .filter(|ty| !target.contains(&format!("decode::<{ty}>")))
            .collect();
        assert!(
            missing.is_empty(),
            "client_answer does not decode {missing:?}"
        );
    }

    #[test]
    fn minutes_are_a_whole_number_of_at_least_one() {
        assert_eq!(minutes(Some("10")).unwrap(), 10);
        for bad in [None, Some("0"), Some("-1"), Some("1.5"), Some("ten")] {
            assert!(minutes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hex_dump_is_cut_at_the_limit() {
        let dump = hex_dump(&[0xAB; 40], 32);
        assert!(dump.starts_with("    000000  ab ab"));
        assert!(dump.contains("000010"));
        assert!(!dump.contains("000020"));
        assert!(dump.ends_with("… 8 more bytes\n"));
    }
}
