//! A throwaway PostgreSQL cluster for the server's test suite: `initdb` in a temporary
//! directory, a free loopback port, trust authentication for one role, stopped and removed on
//! drop. Never touches a cluster someone else runs (Debian's `main` cluster included).
//!
//! PostgreSQL refuses to run as root (CI and containers are root), so then the cluster runs as
//! `nobody` through `runuser`; its directory is handed to that user first.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

/// The variable the server's tests read (crates/server/tests/support): a PostgreSQL URL on
/// which they create a fresh database per test server.
pub const TEST_DATABASE_URL_ENV: &str = "LEGITIMERA_TEST_DATABASE_URL";
/// The cluster's only role (its superuser).
const ROLE: &str = "legitimera";
/// Who runs the cluster when we are root.
const UNPRIVILEGED_USER: &str = "nobody";

/// A running throwaway cluster; dropping it stops it and deletes its files.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
}

impl Cluster {
    pub fn start() -> Result<Self> {
        let bin = bin_dir()?;
        let port = free_port()?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("legitimera-pg-{}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let run_as = crate::packages::is_root().then_some(UNPRIVILEGED_USER);
        let cluster = Cluster {
            dir,
            bin,
            port,
            run_as,
        };
        if let Some(user) = run_as {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&cluster.dir)
                .status()
                .context("could not run chown")?;
            if !status.success() {
                bail!("chown {user} {} failed ({status})", cluster.dir.display());
            }
        }
        let data = cluster.dir.join("data");
        cluster.pg("initdb", |c| {
            c.arg("-D")
                .arg(&data)
                .args(["-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-sync"]);
        })?;
        // Durability is pointless for a cluster deleted at the end: no fsync, so the suite
        // measures the server, not the disk. Connections: the suite's servers run in
        // parallel, each with its own pool.
        let options = format!(
            "-h 127.0.0.1 -p {port} -k {socket_dir} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            socket_dir = cluster.dir.display()
        );
        let log = cluster.dir.join("postgres.log");
        cluster.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &options, "-w", "-t", "60", "start"]);
        })?;
        println!("PostgreSQL test cluster on 127.0.0.1:{port}");
        Ok(cluster)
    }

    /// Its `postgres` database, for the tests to create their own from.
    pub fn url(&self) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/postgres", self.port)
    }

    fn pg(&self, program: &str, args: impl FnOnce(&mut Command)) -> Result<()> {
        let binary = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        // runuser keeps the working directory, which `nobody` may not be allowed to read.
        command.current_dir(&self.dir).stdout(Stdio::null());
        args(&mut command);
        let status = command
            .status()
            .with_context(|| format!("could not run {}", binary.display()))?;
        if !status.success() {
            let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
            bail!("{program} failed ({status})\n{log}");
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if let Err(error) = self.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"]);
        }) {
            eprintln!("xtask: stopping the PostgreSQL test cluster: {error:#}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian keeps the server binaries out of PATH, one directory per major version: the newest.
fn bin_dir() -> Result<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file());
    let newest = versions.max_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    match newest {
        Some(bin) => Ok(bin),
        None => {
            let on_path = std::env::var_os("PATH")
                .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .find(|dir| dir.join("initdb").is_file());
            on_path.context("initdb not found: install PostgreSQL's server package")
        }
    }
}

fn free_port() -> Result<u16> {
    // Released right away; PostgreSQL binds it moments later (a race only with another
    // program picking the same free port in between).
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// `cargo test` of the server's integration tests against `cluster`: `--workspace` with one
/// `--test` per file in crates/server/tests, so features resolve as in the workspace run just
/// before and nothing rebuilds (a `logs` test of another crate runs along; it ignores the
/// database).
pub fn server_suite(mut cargo: Command, root: &Path, cluster: &Cluster) -> Result<Command> {
    let tests = root.join("crates/server/tests");
    let mut names: Vec<String> = std::fs::read_dir(&tests)
        .with_context(|| format!("reading {}", tests.display()))?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    cargo.args(["test", "--workspace"]);
    for name in &names {
        cargo.args(["--test", name]);
    }
    cargo.env(TEST_DATABASE_URL_ENV, cluster.url());
    Ok(cargo)
}

/// `cargo xtask bench server`: bench/server_storage.rs with a throwaway cluster for its
/// PostgreSQL side.
pub fn bench(mut cargo: Command, install: bool) -> Result<()> {
    crate::packages::ensure(&["postgresql"], install)?;
    let cluster = Cluster::start()?;
    cargo
        .args([
            "bench",
            "-p",
            "legitimera-bench",
            "--bench",
            "server_storage",
        ])
        .env("LEGITIMERA_BENCH_DATABASE_URL", cluster.url());
    crate::run("server storage bench (SQLite and PostgreSQL)", &mut cargo)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    #[ignore = "needs PostgreSQL's server package"]
    fn a_cluster_starts_answers_and_is_gone_after_drop() {
        let cluster = Cluster::start().unwrap();
        let dir = cluster.dir.clone();
        let answer = Command::new("psql")
            .args([&cluster.url(), "-Atc", "SELECT 1"])
            .output()
            .unwrap();
        assert_eq!(answer.stdout.trim_ascii(), b"1", "{answer:?}");
        drop(cluster);
        assert!(!dir.exists());
    }
}
