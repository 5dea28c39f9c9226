//! The update banner through the real app and the real tauri-plugin-updater, against a local
//! update server that announces a newer version: signed with the key the app is given (a debug
//! build's `--updater-pubkey`, as a release carries one in its config), the banner offers it;
//! signed with another key, nothing is offered. The key pair is made here, so the run needs
//! no secret. Installing is refused while someone is logged in, which is what the click shows;
//! the install itself (pkexec dpkg -i) is the bundle test's. The update server is tests/updater's.

use std::io::Cursor;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use legitimera_testkit::e2e::{App, Harness};
use legitimera_updater_test::UpdateServer;
use serde_json::json;

use crate::accounts::{log_in, remember_test_data};
use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        (
            "update_signed_with_the_apps_key_is_offered_in_the_banner",
            |h| Box::pin(update_signed_with_the_apps_key_is_offered_in_the_banner(h)),
        ),
        ("update_signed_with_another_key_is_not_offered", |h| {
            Box::pin(update_signed_with_another_key_is_not_offered(h))
        }),
    ]
}

/// Newer than any version this app will be for a while.
const NEW_VERSION: &str = "99.0.0";
const DEMO_PASSWORD: &str = "demo-lösenord-2026";

/// A minisign key pair as `tauri signer generate` makes one: the public key as the app's
/// config carries it (base64 of the `.pub` file), and the secret key.
struct Signer {
    public_key: String,
    secret_key: minisign::SecretKey,
}

impl Signer {
    fn generate() -> Result<Self> {
        let pair = minisign::KeyPair::generate_unencrypted_keypair()?;
        let public = pair.pk.to_box()?.to_string();
        Ok(Signer {
            public_key: BASE64.encode(public),
            secret_key: pair.sk,
        })
    }

    /// What the bundler writes to `<package>.sig` and the manifest's `signature`: base64 of the
    /// minisign signature file, its trusted comment naming the version, as the Tauri CLI signs.
    fn sign(&self, package: &[u8], version: &str) -> Result<String> {
        let trusted =
            format!("timestamp:1764493200\tfile:legitimera_{version}_amd64.deb\tversion:{version}");
        let signature = minisign::sign(
            None,
            &self.secret_key,
            Cursor::new(package),
            Some(&trusted),
            Some("signature from tauri secret key"),
        )?;
        Ok(BASE64.encode(signature.to_string()))
    }
}

/// The package the server hands out: its bytes only need to carry a signature.
fn package() -> Vec<u8> {
    b"!<arch>\nnot a real package: the signature is what is tested\n".to_vec()
}

async fn launch_updating(
    harness: &Harness,
    backend: &str,
    server: &UpdateServer,
    public_key: &str,
) -> Result<App> {
    let endpoint = server.endpoint();
    harness
        .launch_with(
            backend,
            &[
                "--update-endpoint",
                &endpoint,
                "--updater-pubkey",
                public_key,
            ],
        )
        .await
}

async fn update_signed_with_the_apps_key_is_offered_in_the_banner(harness: &Harness) -> Result<()> {
    remember_test_data();
    let signer = Signer::generate()?;
    let signature = signer.sign(&package(), NEW_VERSION)?;
    let updates = UpdateServer::start(NEW_VERSION, &signature, package())?;
    let server = harness.server()?;
    let app = launch_updating(harness, &server.url(), &updates, &signer.public_key).await?;

    app.wait_until("the update banner", Duration::from_secs(20), || {
        app.is_visible("#update-banner")
    })
    .await?;
    let body = app
        .wait_for_text(
            "#update-banner-body",
            "Version 99.0.0 av Legitimera kan installeras",
        )
        .await?;
    ensure!(body.contains("bara när ingen är inloggad"), "{body:?}");
    ensure!(
        updates.downloads() >= 1,
        "offered before the package was downloaded and its signature checked"
    );
    let named = app
        .exec(
            "const b = document.getElementById('update-banner');
             return [b.getAttribute('role'), b.getAttribute('aria-label'),
                     document.getElementById('update-install').innerText];",
            vec![],
        )
        .await?;
    ensure!(
        named
            == json!([
                "region",
                "En ny version finns",
                "Installera den nya versionen"
            ]),
        "the banner is announced as {named}"
    );
    app.audit("chooser: update banner").await?;

    // Logged in, the click installs nothing and says to log out first.
    app.click("#method-password").await?;
    log_in(&app, "erik@example.se", DEMO_PASSWORD).await?;
    app.wait_for_view("min-sida").await?;
    ensure!(
        app.is_visible("#update-banner").await?,
        "the banner is gone on Min sida"
    );
    app.click("#update-install").await?;
    app.wait_for_text("#update-banner-error", "Logga ut först")
        .await?;
    app.audit("min-sida: update refused while logged in")
        .await?;
    let body = app.text("#update-banner-body").await?;
    ensure!(
        body.contains("kan installeras"),
        "the banner moved on to {body:?}"
    );
    app.click("#logout-button").await?;
    app.wait_for_view("chooser").await
}

async fn update_signed_with_another_key_is_not_offered(harness: &Harness) -> Result<()> {
    let apps_key = Signer::generate()?;
    let someone_else = Signer::generate()?;
    let signature = someone_else.sign(&package(), NEW_VERSION)?;
    let updates = UpdateServer::start(NEW_VERSION, &signature, package())?;
    let server = harness.server()?;
    let app = launch_updating(harness, &server.url(), &updates, &apps_key.public_key).await?;
    // The app looked and fetched the package: its signature is checked before anything is shown.
    app.wait_until("the package fetched", Duration::from_secs(20), || async {
        Ok(updates.downloads() >= 1)
    })
    .await
    .context("the app never fetched the announced package")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        !app.is_visible("#update-banner").await?,
        "an update signed with another key is offered"
    );
    Ok(())
}
