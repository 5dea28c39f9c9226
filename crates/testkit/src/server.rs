//! `legitimera-server --demo` as a process, for the end-to-end tests, the benches through the
//! app and `cargo xtask demo`: started on a given address, its URL read from the line it
//! announces, stopped on drop. It only launches; what the server does is the server's tests'.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};

/// How to start the demo server: binary, extra arguments, environment, where its log goes.
#[derive(Debug, Clone)]
pub struct DemoServer {
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(OsString, OsString)>,
    log_dir: Option<PathBuf>,
}

/// Numbers the log files of every server this process starts.
static SERVERS_STARTED: AtomicUsize = AtomicUsize::new(0);

impl DemoServer {
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        DemoServer {
            binary: binary.into(),
            args: Vec::new(),
            env: Vec::new(),
            log_dir: None,
        }
    }

    /// Arguments after `--demo --listen ADDR`.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Each start writes the server's log (its stderr) to a new `server-NNN.log` in `dir`;
    /// without this the log goes to this process's stderr.
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Starts it on `listen` (`127.0.0.1:0` for a free port) and waits for its URL.
    /// Whether the caller named the database (a flag, or the variable in the server's
    /// environment).
    fn chooses_database(&self) -> bool {
        const VARIABLE: &str = "LEGITIMERA_DATABASE_URL";
        self.args
            .iter()
            .any(|arg| arg == "--database-url" || arg.starts_with("--database-url="))
            || self.env.iter().any(|(key, _)| key == VARIABLE)
            || std::env::var_os(VARIABLE).is_some()
    }

    pub fn start(self, listen: &str) -> Result<ServerProcess> {
        let log_file = match &self.log_dir {
            Some(dir) => {
                let n = SERVERS_STARTED.fetch_add(1, Ordering::Relaxed);
                Some(dir.join(format!("server-{n:03}.log")))
            }
            None => None,
        };
        let stderr = match &log_file {
            Some(path) => Stdio::from(
                std::fs::File::create(path)
                    .with_context(|| format!("could not create {}", path.display()))?,
            ),
            None => Stdio::inherit(),
        };
        // The server removes its own temporary database only when it exits cleanly, and
        // `stop` kills it: unless the caller chose a database, it is kept in a directory of
        // ours, removed with this process handle (each start a fresh one, as before), in the
        // temporary directory the server would have used (its TMPDIR, if it is given one).
        let database_dir = if self.chooses_database() {
            None
        } else {
            let server_tmp = self
                .env
                .iter()
                .rev()
                .find(|(key, _)| key == "TMPDIR")
                .map_or_else(std::env::temp_dir, |(_, dir)| PathBuf::from(dir));
            Some(
                tempfile::Builder::new()
                    .prefix("legitimera-demo-")
                    .tempdir_in(server_tmp)
                    .context("could not make the demo database's directory")?,
            )
        };
        let mut command = Command::new(&self.binary);
        command.args(["--demo", "--listen", listen]);
        if let Some(dir) = &database_dir {
            command.arg("--database-url").arg(format!(
                "sqlite://{}",
                dir.path().join("demo.sqlite").display()
            ));
        }
        let mut child = command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("could not start {}", self.binary.display()))?;
        let mut line = String::new();
        let read = match child.stdout.take() {
            Some(stdout) => BufReader::new(stdout).read_line(&mut line).map(drop),
            None => Ok(()),
        };
        let Some(url) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            let _ = child.wait();
            read.context("could not read the demo server's first line")?;
            bail!("the demo server did not start (said {line:?})");
        };
        Ok(ServerProcess {
            launch: self,
            child: Some(child),
            database_dir,
            log_file,
            url,
        })
    }
}

/// A running demo server that can be stopped and started again on its address.
#[derive(Debug)]
pub struct ServerProcess {
    launch: DemoServer,
    child: Option<Child>,
    /// The demo database's directory, when the caller chose none: removed after the server.
    database_dir: Option<tempfile::TempDir>,
    log_file: Option<PathBuf>,
    url: String,
}

impl ServerProcess {
    /// `http://127.0.0.1:PORT`, as the server announced it.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> &str {
        self.url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, addr)| addr)
    }

    /// What the server has logged so far, without colour codes (only with `log_dir`).
    pub fn log(&self) -> Result<String> {
        let path = self
            .log_file
            .as_ref()
            .context("this server logs to stderr, not to a file")?;
        let text = std::fs::read_to_string(path)?;
        Ok(crate::strip_ansi(&text))
    }

    pub fn stop(&mut self) {
        // SIGTERM would be kinder, but std has no portable way; the demo database is temporary.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.database_dir = None;
    }

    /// Starts the server again on the same address (with a fresh demo database and, with
    /// `log_dir`, a new log file).
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let addr = self.addr().to_owned();
        *self = self.launch.clone().start(&addr)?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
