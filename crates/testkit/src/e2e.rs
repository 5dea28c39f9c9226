//! The end-to-end harness: starts tauri-driver, the demo server and the app, and gives tests
//! a small vocabulary (click, keys, view, text, wait) over WebDriver. The end-to-end tests and
//! the benches through the app use it; it needs what `cargo xtask e2e` sets up (a display,
//! a D-Bus session, tauri-driver) and judges nothing itself but the logs (`scan_logs`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::server::DemoServer;
pub use crate::server::ServerProcess;
use crate::E2E_ENV;

/// WebDriver's codes for special keys.
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
}

/// What tests typed or read that must never reach a log: e-mail addresses, phone numbers,
/// passwords, codes. The run ends by scanning every log for them (`scan_logs`).
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers `secret` for the final log scan.
pub fn remember(secret: &str) {
    if let Ok(mut secrets) = SECRETS.lock() {
        secrets.push(secret.to_owned());
    }
}

#[derive(Debug)]
pub struct Harness {
    driver: Child,
    driver_url: String,
    app_bin: PathBuf,
    server_bin: PathBuf,
    artifacts: PathBuf,
    open_app: Mutex<Option<Client>>,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Harness {
    /// Starts tauri-driver for the app binary `app_bin` (`env!("CARGO_BIN_EXE_legitimera")`);
    /// the server binary is `LEGITIMERA_SERVER_BIN`, or `legitimera-server` beside the app.
    pub async fn start(app_bin: impl Into<PathBuf>) -> Result<Self> {
        let app_bin: PathBuf = app_bin.into();
        if std::env::var_os(E2E_ENV).is_none() {
            bail!(
                "these tests need Xvfb, a D-Bus session and tauri-driver ({E2E_ENV} is not set): \
                 run them with `cargo xtask e2e` or `cargo xtask test`, which set those up"
            );
        }
        let server_bin = std::env::var_os("LEGITIMERA_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| app_bin.with_file_name("legitimera-server"));
        if !server_bin.is_file() {
            bail!(
                "{} is missing: build it with `cargo build -p legitimera-server`",
                server_bin.display()
            );
        }
        let artifacts = app_bin
            .parent()
            .map(|dir| dir.join("e2e-artifacts"))
            .unwrap_or_else(|| PathBuf::from("e2e-artifacts"));
        std::fs::create_dir_all(&artifacts)?;
        // The last run's server logs would be scanned with this run's secrets: start clean.
        for entry in std::fs::read_dir(&artifacts)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with("server-") {
                std::fs::remove_file(entry.path())?;
            }
        }
        // The app reads machine policy from here (debug builds honour LEGITIMERA_POLICY_DIR);
        // empty unless a policy test writes policies.json for its own launch.
        let policy_dir = artifacts.join("policy");
        std::fs::create_dir_all(&policy_dir)?;
        match std::fs::remove_file(policy_dir.join("policies.json")) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
        let tauri_driver = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
        let (port, native_port) = (free_port()?, free_port()?);
        let driver = Command::new(&tauri_driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            // The app's language follows the OS locale; tests expect the Swedish default.
            .env("LC_ALL", "C.UTF-8")
            // The most talkative level the app has, so the log scan sees everything it writes.
            .env("LEGITIMERA_LOG", "trace")
            .env("LANG", "sv_SE.UTF-8")
            .env("LEGITIMERA_POLICY_DIR", &policy_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start {tauri_driver}"))?;
        let driver_url = format!("http://127.0.0.1:{port}");
        let harness = Harness {
            driver,
            driver_url,
            app_bin,
            server_bin,
            artifacts,
            open_app: Mutex::new(None),
        };
        harness.wait_for_driver().await?;
        Ok(harness)
    }

    async fn wait_for_driver(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = format!("{}/status", self.driver_url);
        while Instant::now() < deadline {
            if reqwest::get(&status).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("tauri-driver did not answer on {}", self.driver_url)
    }

    /// A fresh demo server on a free loopback port, logging at TRACE into the artifacts.
    pub fn server(&self) -> Result<ServerProcess> {
        self.server_with(&[])
    }

    /// A fresh demo server with extra command-line `args` (e.g. a short `--idle-timeout`).
    pub fn server_with(&self, args: &[&str]) -> Result<ServerProcess> {
        let mut server = DemoServer::new(&self.server_bin)
            .args(args.iter().copied())
            .env("LEGITIMERA_LOG", "trace")
            .log_dir(&self.artifacts);
        // The demo database is a temp file full of personal data: not in the temp directory
        // the app shares with the residue test.
        if let Some(home) = std::env::var_os("LEGITIMERA_E2E_HOME") {
            let server_tmp = PathBuf::from(home).join("server-tmp");
            std::fs::create_dir_all(&server_tmp)?;
            server = server.env("TMPDIR", server_tmp);
        }
        server.start("127.0.0.1:0")
    }

    /// A file in the run's artifacts directory (beside the server logs and screenshots).
    /// The machine policy file the apps launched from now on read (absent: no policy).
    pub fn policy_file(&self) -> PathBuf {
        self.artifacts.join("policy").join("policies.json")
    }

    pub fn artifact(&self, name: &str) -> PathBuf {
        self.artifacts.join(name)
    }

    /// With LEGITIMERA_E2E_SCREENSHOTS=1, keeps a screenshot of the app now as `<name>.png`:
    /// for states a test passes through, which the screenshot at its end does not show.
    pub async fn snapshot(&self, app: &App, name: &str) {
        if std::env::var_os("LEGITIMERA_E2E_SCREENSHOTS").is_none() {
            return;
        }
        if let Ok(png) = app.client.screenshot().await {
            let path = self.artifacts.join(format!("{name}.png"));
            if std::fs::write(&path, png).is_ok() {
                println!("    screenshot: {}", path.display());
            }
        }
    }

    /// Every log the run wrote: the servers' (in the artifacts) and the app's (in its log
    /// directory under the test home that `cargo xtask test` made).
    fn log_files(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.artifacts.clone()];
        if let Some(home) = std::env::var_os("LEGITIMERA_E2E_HOME") {
            let home = PathBuf::from(home);
            dirs.push(home.join("data").join("se.legitimera.desktop").join("logs"));
        }
        let mut files = Vec::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("server-") || name.starts_with("legitimera.log") {
                    files.push(entry.path());
                }
            }
        }
        files.sort();
        files
    }

    /// Scans every log of the run for what `remember` was given. Fails when one appears, or
    /// when there is nothing to scan (a scan of nothing proves nothing).
    pub fn scan_logs(&self) -> Result<()> {
        let secrets: Vec<String> = SECRETS
            .lock()
            .map(|s| s.iter().map(|x| x.to_lowercase()).collect())
            .unwrap_or_default();
        let files = self.log_files();
        let app_logs = files
            .iter()
            .filter(|f| f.to_string_lossy().contains("legitimera.log"))
            .count();
        ensure!(app_logs > 0, "no app log found to scan");
        ensure!(
            !secrets.is_empty(),
            "no secrets were remembered to look for"
        );
        let mut lines = 0;
        for file in &files {
            let text = std::fs::read_to_string(file)?.to_lowercase();
            for line in text.lines() {
                lines += 1;
                // The leading timestamp has six-digit fractions that a code could match.
                let line = crate::strip_ansi(line.split_once(' ').map_or(line, |(_, rest)| rest));
                if let Some(secret) = secrets.iter().find(|s| contains_bounded(&line, s)) {
                    bail!(
                        "{} logs a secret or personal datum ({secret:?}): {line}",
                        file.display()
                    );
                }
            }
        }
        println!(
            "e2e logs: {} files, {lines} lines, {} remembered values: none found",
            files.len(),
            secrets.len()
        );
        for file in &files {
            println!("    checked {}", file.display());
        }
        Ok(())
    }

    /// Starts the app against `backend_url`, as freshly installed (no settings from an
    /// earlier test: language, mode), and waits until its UI is ready.
    pub async fn launch(&self, backend_url: &str) -> Result<App> {
        self.launch_with(backend_url, &[]).await
    }

    /// [`Harness::launch`] with more command-line `args` (a debug build's test switches).
    pub async fn launch_with(&self, backend_url: &str, args: &[&str]) -> Result<App> {
        self.wait_for_app_exit().await?;
        if let Some(home) = std::env::var_os("LEGITIMERA_E2E_HOME") {
            let settings = PathBuf::from(home).join("config/se.legitimera.desktop/settings.json");
            match std::fs::remove_file(&settings) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(error).context("could not reset the app's settings");
                }
                _ => {}
            }
        }
        self.start_app(backend_url, args).await
    }

    /// Starts the app again with what the last run left (settings and all).
    pub async fn launch_again(&self, backend_url: &str) -> Result<App> {
        self.start_app(backend_url, &[]).await
    }

    async fn start_app(&self, backend_url: &str, args: &[&str]) -> Result<App> {
        self.wait_for_app_exit().await?;
        let mut app_args = vec!["--backend-url", backend_url];
        app_args.extend_from_slice(args);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities.insert(
            "tauri:options".into(),
            json!({
                "application": self.app_bin,
                "args": app_args,
            }),
        );
        // Plain HTTP: the driver is on loopback, so no TLS stack is needed here.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        // Bounded: a launch that never answers is a failure to see, not a hung run.
        let client = tokio::time::timeout(
            Duration::from_secs(90),
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&self.driver_url),
        )
        .await
        .map_err(|_| anyhow!("the app did not start under WebDriver within 90 s"))?
        .context("WebDriver session (is WebKitWebDriver installed?)")?;
        *self.open_app.lock().await = Some(client.clone());
        let app = App { client };
        app.wait_until("the UI is ready", Duration::from_secs(30), || async {
            Ok(app
                .exec("return document.body.dataset.ready", vec![])
                .await?
                == json!("true"))
        })
        .await?;
        Ok(app)
    }

    /// Ends the WebDriver session of an app that is gone (killed), so a new one can start.
    pub async fn forget_app(&self) {
        if let Some(client) = self.open_app.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
    }

    /// The app is single-instance: a new launch while the last one is still exiting would only
    /// focus the old window. Wait until no process of this binary is left.
    async fn wait_for_app_exit(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // Anchored: the server binary's path starts with the app's.
            let pattern = format!("^{}( |$)", self.app_bin.display());
            let running = Command::new("pgrep")
                .arg("-f")
                .arg(&pattern)
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !running {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the previous app instance did not exit");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The pid of the one running app process.
    pub fn app_pid(&self) -> Result<u32> {
        let output = Command::new("pgrep")
            .arg("-f")
            .arg(format!("^{}( |$)", self.app_bin.display()))
            .output()?;
        let pids: Vec<u32> = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        match pids[..] {
            [pid] => Ok(pid),
            _ => bail!("expected one app process, found {pids:?}"),
        }
    }

    /// Waits until no app process is left.
    pub async fn wait_for_no_app(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while self.app_pid().is_ok() {
            if Instant::now() > deadline {
                bail!("the app did not exit within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Closes whatever app a test left open; on failure (or when asked) keeps a screenshot first.
    pub async fn after_test(&self, name: &str, failed: bool) {
        if let Some(client) = self.open_app.lock().await.take() {
            // LEGITIMERA_E2E_SCREENSHOTS=1 keeps the last screen of every test, to look at.
            if failed || std::env::var_os("LEGITIMERA_E2E_SCREENSHOTS").is_some() {
                if let Ok(png) = client.screenshot().await {
                    let path = self.artifacts.join(format!("{name}.png"));
                    if std::fs::write(&path, png).is_ok() {
                        println!("    screenshot: {}", path.display());
                    }
                }
            }
            let _ = client.close().await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `needle` in `haystack` not as part of a longer run of digits (so `12345` is not found in
/// `9123456`, but an e-mail address or a phrase is found anywhere), nor, for a number, inside
/// a hex dump (a certificate or a hash at TRACE: a six-digit code turns up in one by chance
/// about once in 16⁶ places, so a run's dumps held one now and then). `haystack` is lowercase.
fn contains_bounded(haystack: &str, needle: &str) -> bool {
    let digits = needle.bytes().all(|b| b.is_ascii_digit());
    haystack.match_indices(needle).any(|(at, _)| {
        let (before, after) = (&haystack[..at], &haystack[at + needle.len()..]);
        if !digits {
            return true;
        }
        if before.ends_with(|c: char| c.is_ascii_digit())
            || after.starts_with(|c: char| c.is_ascii_digit())
        {
            return false;
        }
        let hex = |c: &char| c.is_ascii_hexdigit();
        let run = before.chars().rev().take_while(hex).count()
            + needle.len()
            + after.chars().take_while(hex).count();
        run < HEX_DUMP
    })
}

/// The shortest run of hex digits read as a dump rather than words: a SHA-1 is 40.
const HEX_DUMP: usize = 32;

#[cfg(test)]
mod tests {
    use super::contains_bounded;

    #[test]
    fn a_code_is_found_in_words_but_not_in_longer_numbers_or_hex_dumps() {
        assert!(contains_bounded("sent code 557752 to the user", "557752"));
        assert!(contains_bounded("code=557752,", "557752"));
        assert!(contains_bounded("kod557752", "557752"));
        assert!(!contains_bounded("at 1557752 ms", "557752"));
        assert!(!contains_bounded("id 5577520", "557752"));
        let der =
            "certificateder(0x3082020e3082d6ae9e77cb22d60aa53ce11f90708ef8ac557752c05f0b410b46a7)";
        assert!(!contains_bounded(der, "557752"));
        // A name is found anywhere, even inside hex-looking text.
        assert!(contains_bounded(
            "0xabcdef anna.andersson@example.se",
            "anna.andersson@example.se"
        ));
    }
}

/// The running app, seen through WebDriver.
#[derive(Debug)]
pub struct App {
    pub client: Client,
}

impl App {
    pub async fn exec(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute(script, args)
            .await
            .with_context(|| format!("script failed: {script}"))
    }

    /// The view on screen (`data-view` of the visible section).
    pub async fn view(&self) -> Result<String> {
        let value = self
            .exec("return document.body.dataset.currentView || ''", vec![])
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        self.client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no element {css}"))?
            .click()
            .await
            .with_context(|| format!("could not click {css}"))?;
        Ok(())
    }

    pub async fn text(&self, css: &str) -> Result<String> {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no element {css}"))?;
        Ok(element.text().await?)
    }

    /// Types `text` into the field `css` after emptying it, as a user would.
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no field {css}"))?;
        field
            .clear()
            .await
            .with_context(|| format!("could not clear {css}"))?;
        field
            .send_keys(text)
            .await
            .with_context(|| format!("could not type into {css}"))?;
        Ok(())
    }

    /// The BankID QR code on screen, as the SVG its image shows ("" when none is shown).
    pub async fn qr_svg_on_screen(&self) -> Result<String> {
        let svg = self
            .exec(
                "const img = document.getElementById('bankid-other-qr');
                 if (!img || !img.src || !img.offsetParent) return '';
                 const [head, data] = img.src.split(',');
                 return head === 'data:image/svg+xml;charset=utf-8' ? decodeURIComponent(data) : '';",
                vec![],
            )
            .await?;
        Ok(svg.as_str().unwrap_or_default().to_owned())
    }

    /// The current value of the field `css`.
    pub async fn value(&self, css: &str) -> Result<String> {
        let value = self
            .exec(
                "const e = document.querySelector(arguments[0]); return e ? e.value : null",
                vec![json!(css)],
            )
            .await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no field {css}"))
    }

    /// Waits until `view` is on screen.
    pub async fn wait_for_view(&self, view: &str) -> Result<()> {
        self.wait_until(
            &format!("the {view} view"),
            Duration::from_secs(15),
            || async { Ok(self.view().await? == view) },
        )
        .await
    }

    /// Waits until the element `css` is shown with text containing `needle`; answers the text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> Result<String> {
        let found = Mutex::new(String::new());
        self.wait_until(
            &format!("{css} to say {needle:?}"),
            Duration::from_secs(15),
            || async {
                if !self.is_visible(css).await? {
                    return Ok(false);
                }
                let text = self.text(css).await?;
                let hit = text.contains(needle);
                *found.lock().await = text;
                Ok(hit)
            },
        )
        .await?;
        Ok(found.into_inner())
    }

    pub async fn is_visible(&self, css: &str) -> Result<bool> {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => Ok(element.is_displayed().await?),
            Err(_) => Ok(false),
        }
    }

    /// Sends keys to whatever has focus, as a keyboard user would.
    pub async fn press(&self, keys: &str) -> Result<()> {
        let focused = self.client.active_element().await?;
        focused.send_keys(keys).await?;
        Ok(())
    }

    /// The id of the focused element ("" when it has none).
    pub async fn focused_id(&self) -> Result<String> {
        let value = self
            .exec(
                "return document.activeElement ? document.activeElement.id : ''",
                vec![],
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Tabs forward until the element with `id` has focus (at most 40 presses).
    pub async fn tab_to(&self, id: &str) -> Result<()> {
        for _ in 0..40 {
            if self.focused_id().await? == id {
                return Ok(());
            }
            self.press(keys::TAB).await?;
        }
        bail!("#{id} could not be reached with the Tab key")
    }

    /// Polls `condition` until it holds or `timeout` passes.
    pub async fn wait_until<F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        condition: F,
    ) -> Result<()>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        while Instant::now() < deadline {
            match condition().await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(error) => last_error = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        match last_error {
            Some(error) => Err(error.context(format!("timed out waiting for {what}"))),
            None => bail!("timed out after {timeout:?} waiting for {what}"),
        }
    }
}
