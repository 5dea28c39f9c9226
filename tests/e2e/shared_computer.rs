//! Shared and personal computers through the real app. The residue tests log in and use what
//! can write anything (settings, language, a password + SMS login with case details, a BankID
//! login with name and personnummer), then close the window as a window manager's close button
//! does, or `kill -9` the app and start it again; then they look at every file of the test home
//! (config, data, cache, state, temp) and the keyring. The personal-computer test trusts the
//! device, logs in without an SMS code, and forgets the device again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, ensure, Context, Result};
use legitimera_testkit::e2e::{remember, App, Harness, ServerProcess};
use serde_json::Value;

use crate::accounts::{enter_code, log_in, new_code, outbox_count, remember_test_data};
use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        ("nothing_is_left_after_closing_the_window", |h| {
            Box::pin(residue(h, Ending::CloseWindow))
        }),
        ("nothing_is_left_after_kill_9_and_the_next_start", |h| {
            Box::pin(residue(h, Ending::Kill9))
        }),
        ("personal_computer_trusts_the_device_until_forgotten", |h| {
            Box::pin(personal_computer_trusts_the_device_until_forgotten(h))
        }),
    ]
}

const DEMO_PASSWORD: &str = "demo-lösenord-2026";
const EMAIL: &str = "amira@example.se";
/// What must not be found in any file after the session: the demo person's e-mail, name,
/// personnummer (with and without the dash) and phone number (as stored and as written).
const PERSONAL: &[&str] = &[
    "amira@example.se",
    "Amira Demosson",
    "Demosson",
    "199001012385",
    "19900101-2385",
    "900101-2385",
    "+46701234567",
    "0701234567",
    "070-123 45 67",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    CloseWindow,
    Kill9,
}

fn home() -> Result<PathBuf> {
    std::env::var_os("LEGITIMERA_E2E_HOME")
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("LEGITIMERA_E2E_HOME is not set (run through cargo xtask)"))
}

/// The directories of the test home that belong to the desktop session the app runs in.
/// The keyring daemon's own files are looked at through the keyring, not here.
const PLACES: &[&str] = &["config", "data", "cache", "state", "tmp"];

fn is_keyring_store(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "keyrings")
}

/// Every regular file under the places, with its modification time.
fn files(home: &Path) -> Result<BTreeMap<PathBuf, SystemTime>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, SystemTime>) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                walk(&path, out)?;
            } else if meta.is_file() && !is_keyring_store(&path) {
                out.insert(path, meta.modified()?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    for place in PLACES {
        walk(&home.join(place), &mut out)?;
    }
    Ok(out)
}

/// Logs and the settings file may outlive a session (neither holds anything personal, which
/// the content scan checks); anything else the session made must go.
fn may_stay(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.starts_with("legitimera.log") || name == "settings.json"
}

/// The app's files that hold a personal datum (case-insensitive, also as UTF-16).
fn files_with_personal_data(
    files: &BTreeMap<PathBuf, SystemTime>,
) -> Result<Vec<(PathBuf, &'static str)>> {
    let mut found = Vec::new();
    for path in files.keys() {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        let utf16: String = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .map(|unit| char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}'))
            .collect::<String>()
            .to_lowercase();
        for datum in PERSONAL {
            let datum_lower = datum.to_lowercase();
            if text.contains(&datum_lower) || utf16.contains(&datum_lower) {
                found.push((path.clone(), *datum));
            }
        }
    }
    Ok(found)
}

/// Every item in every keyring collection, as Secret Service object paths.
fn keyring_items() -> Result<Vec<String>> {
    fn get(path: &str, interface: &str, property: &str) -> Result<Vec<String>> {
        let output = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                path,
                "org.freedesktop.DBus.Properties.Get",
                &format!("string:{interface}"),
                &format!("string:{property}"),
            ])
            .output()
            .context("dbus-send")?;
        ensure!(
            output.status.success(),
            "no keyring on the session bus: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.trim().strip_prefix("object path \""))
            .map(|rest| rest.trim_end_matches('"').to_owned())
            .collect())
    }
    let mut items = Vec::new();
    for collection in get(
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service",
        "Collections",
    )? {
        items.extend(get(
            &collection,
            "org.freedesktop.Secret.Collection",
            "Items",
        )?);
    }
    items.sort();
    Ok(items)
}

/// The app's trusted-device token for `EMAIL` as another program reads it from the keyring
/// (`secret-tool`), or `None`.
fn keyring_token() -> Result<Option<String>> {
    let output = Command::new("secret-tool")
        .args(["lookup", "service", "se.legitimera.desktop"])
        .output()
        .context("secret-tool (package libsecret-tools)")?;
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok((output.status.success() && !token.is_empty()).then_some(token))
}

/// Closes the app's window as a window manager's close button does: WM_DELETE_WINDOW.
fn close_window_of(pid: u32) -> Result<usize> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, ClientMessageEvent, ConnectionExt, EventMask};
    let (conn, screen) = x11rb::connect(None).context("the X display")?;
    let root = conn.setup().roots[screen].root;
    let atom = |name: &[u8]| -> Result<u32> { Ok(conn.intern_atom(false, name)?.reply()?.atom) };
    let (pid_atom, protocols, delete) = (
        atom(b"_NET_WM_PID")?,
        atom(b"WM_PROTOCOLS")?,
        atom(b"WM_DELETE_WINDOW")?,
    );
    let mut sent = 0;
    for window in conn.query_tree(root)?.reply()?.children {
        let owner = conn
            .get_property(false, window, pid_atom, AtomEnum::CARDINAL, 0, 1)?
            .reply()?;
        let speaks_delete = conn
            .get_property(false, window, protocols, AtomEnum::ATOM, 0, 16)?
            .reply()?
            .value32()
            .is_some_and(|mut atoms| atoms.any(|a| a == delete));
        if owner.value32().and_then(|mut v| v.next()) == Some(pid) && speaks_delete {
            let event = ClientMessageEvent::new(
                32,
                window,
                protocols,
                [delete, x11rb::CURRENT_TIME, 0, 0, 0],
            );
            conn.send_event(false, window, EventMask::NO_EVENT, event)?;
            sent += 1;
        }
    }
    conn.flush()?;
    Ok(sent)
}

async fn password_and_sms_login(app: &App) -> Result<()> {
    app.click("#method-password").await?;
    app.wait_for_view("password").await?;
    let before = outbox_count(app).await?;
    log_in(app, EMAIL, DEMO_PASSWORD).await?;
    app.wait_for_view("code").await?;
    let code = new_code(app, before, "sms").await?;
    enter_code(app, &code).await?;
    app.wait_for_view("min-sida").await?;
    app.wait_for_text("#case-list", "Beslut").await?;
    Ok(())
}

async fn bankid_login(app: &App) -> Result<()> {
    app.click("#method-bankid-this").await?;
    app.wait_for_view("bankid-this").await?;
    app.wait_until("the demo test-app panel", Duration::from_secs(10), || {
        app.is_visible("#bankid-this-demo")
    })
    .await?;
    app.click("#bankid-this-demo-sign").await?;
    app.wait_until("Min sida", Duration::from_secs(20), || async {
        Ok(app.view().await? == "min-sida")
    })
    .await?;
    app.wait_for_text("#session-user", "Demosson").await?;
    Ok(())
}

async fn save_settings(app: &App, mode: &str) -> Result<()> {
    app.click("#settings-button").await?;
    app.wait_for_view("settings").await?;
    app.audit("settings").await?;
    app.click(&format!("#settings-mode-{mode}")).await?;
    app.click("#settings-save").await?;
    app.wait_until("the saved notice", Duration::from_secs(10), || {
        app.is_visible("#settings-saved")
    })
    .await?;
    app.click("[data-view='settings'] [data-back]").await?;
    app.wait_for_view("chooser").await
}

/// Uses what can write anything, and ends with a BankID session open.
async fn use_everything(app: &App) -> Result<()> {
    save_settings(app, "shared").await?;
    app.click("#language-switch").await?;
    app.click("#language-switch").await?;
    password_and_sms_login(app).await?;
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;
    bankid_login(app).await
}

async fn residue(h: &Harness, ending: Ending) -> Result<()> {
    remember_test_data();
    for datum in PERSONAL {
        remember(datum);
    }
    let home = home()?;
    let server: ServerProcess = h.server()?;
    let before = files(&home)?;
    let keyring_before = keyring_items()?;
    let app = h.launch(&server.url()).await?;
    use_everything(&app).await?;
    let marker = home.join("config/se.legitimera.desktop/session-open");
    ensure!(marker.exists(), "no session marker while logged in");
    let pid = h.app_pid()?;

    let restarted = match ending {
        Ending::CloseWindow => {
            let sent = close_window_of(pid)?;
            ensure!(sent > 0, "no window of the app to close");
            h.wait_for_no_app(Duration::from_secs(15))
                .await
                .context("the app did not exit after its window was closed")?;
            // Closing ended the open session on the server, not only on this computer: the
            // session's DELETE is the last thing the app said (the logout before it was the
            // password session's).
            let log = server.log()?;
            let ended = log
                .lines()
                .filter(|line| {
                    line.contains("method=DELETE")
                        && line.contains("/api/v1/session")
                        && line.contains("status=204")
                })
                .count();
            ensure!(
                ended == 2,
                "closing the window did not end the session on the server ({ended} DELETEs)"
            );
            None
        }
        Ending::Kill9 => {
            let killed = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()?;
            ensure!(killed.success(), "kill -9 failed");
            h.wait_for_no_app(Duration::from_secs(15)).await?;
            ensure!(
                marker.exists(),
                "the marker is gone though the app was killed"
            );
            let left = files_with_personal_data(&files(&home)?)?;
            println!(
                "    after kill -9, before the next start: {} files with personal data",
                left.len()
            );
            let restart_time = SystemTime::now();
            h.forget_app().await;
            let again = h.launch_again(&server.url()).await?;
            ensure!(
                again.view().await? == "chooser",
                "the next start shows {} before the chooser",
                again.view().await?
            );
            Some((again, restart_time))
        }
    };

    let after = files(&home)?;
    let mut problems = Vec::new();
    for (path, modified) in &after {
        let new_or_changed = before.get(path).is_none_or(|m| m != modified);
        let from_the_session = match &restarted {
            // The new instance's own start-up files are not the session's.
            Some((_, restart_time)) => *modified < *restart_time,
            None => true,
        };
        if new_or_changed && from_the_session && !may_stay(path) {
            problems.push(format!("left behind: {}", path.display()));
        }
    }
    for (path, datum) in files_with_personal_data(&after)? {
        problems.push(format!("{} holds {datum:?}", path.display()));
    }
    if marker.exists() {
        problems.push(format!(
            "the session marker {} is still there",
            marker.display()
        ));
    }
    let keyring_after = keyring_items()?;
    if keyring_after != keyring_before {
        problems.push(format!(
            "the keyring changed: {keyring_before:?} → {keyring_after:?}"
        ));
    }
    println!(
        "    places checked ({} files left, all logs or settings):",
        after.len()
    );
    for place in PLACES {
        println!("      {}", home.join(place).display());
    }
    println!(
        "      the keyring (Secret Service): {} items",
        keyring_after.len()
    );
    if !problems.is_empty() {
        bail!("after {ending:?}:\n      {}", problems.join("\n      "));
    }
    if let Some((again, _)) = restarted {
        // The next user's start: nothing of the last session on screen either (the demo
        // outbox panel shows the demo server's messages, not the app's memory: left out).
        let page = again
            .exec("return document.getElementById('main').innerText", vec![])
            .await?;
        let page = page.as_str().unwrap_or_default();
        if let Some(datum) = PERSONAL.iter().find(|d| page.contains(**d)) {
            bail!("the next start shows {datum:?}");
        }
    }
    Ok(())
}

async fn server_refuses(server: &ServerProcess, token: &str) -> Result<bool> {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/login/password", server.url()))
        .json(
            &serde_json::json!({"email": EMAIL, "password": DEMO_PASSWORD, "device_token": token}),
        )
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["next"] == "sms_code" && answer["device_refused"] == true)
}

async fn personal_computer_trusts_the_device_until_forgotten(h: &Harness) -> Result<()> {
    remember_test_data();
    let server = h.server()?;
    let app = h.launch(&server.url()).await?;
    ensure!(
        keyring_token()?.is_none(),
        "a token in the keyring before the test"
    );
    save_settings(&app, "personal").await?;

    // First login: the SMS code view offers to trust this computer.
    app.click("#method-password").await?;
    app.wait_for_view("password").await?;
    let before = outbox_count(&app).await?;
    log_in(&app, EMAIL, DEMO_PASSWORD).await?;
    app.wait_for_view("code").await?;
    ensure!(
        app.is_visible("#code-trust").await?,
        "no trust checkbox on a personal computer"
    );
    let code = new_code(&app, before, "sms").await?;
    app.click("#code-trust").await?;
    enter_code(&app, &code).await?;
    app.wait_for_view("min-sida").await?;
    let device = app.wait_for_text("#device-list", "den här datorn").await?;
    println!("    Min sida lists: {device:?}");
    h.snapshot(&app, "personal_min_sida_trusted_device").await;
    let token = keyring_token()?.ok_or_else(|| anyhow!("no token in the keyring"))?;
    remember(&token);
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;

    // Second login: the address is remembered and no SMS code is asked for.
    app.click("#method-password").await?;
    app.wait_for_view("password").await?;
    ensure!(
        app.value("#login-email").await? == EMAIL,
        "the address is not remembered on a personal computer"
    );
    let sms_before = outbox_count(&app).await?;
    app.type_into("#login-password", DEMO_PASSWORD).await?;
    app.click("#login-submit").await?;
    app.wait_for_view("min-sida").await?;
    app.wait_for_text("#session-level", "sms").await?;
    ensure!(
        outbox_count(&app).await? == sms_before,
        "an SMS was sent to a trusted device's login"
    );
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await?;

    // "Glöm den här enheten": gone from the keyring, refused by the server.
    app.click("#settings-button").await?;
    app.wait_for_view("settings").await?;
    app.click("#settings-forget").await?;
    app.wait_until("the forgotten notice", Duration::from_secs(10), || {
        app.is_visible("#settings-forgotten")
    })
    .await?;
    h.snapshot(&app, "personal_settings_forgotten").await;
    ensure!(
        keyring_token()?.is_none(),
        "the token is still in the keyring"
    );
    ensure!(
        server_refuses(&server, &token).await?,
        "the server still takes the forgotten token"
    );
    app.click("[data-view='settings'] [data-back]").await?;
    app.click("#method-password").await?;
    ensure!(
        app.value("#login-email").await?.is_empty(),
        "the address is still remembered after forgetting the device"
    );
    app.click("[data-view='password'] [data-back]").await?;
    // Back to the default for the tests after this one.
    save_settings(&app, "shared").await
}
