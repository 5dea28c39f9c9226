//! The app's updater (its adapter, `legitimera_lib::update`, over the real
//! tauri-plugin-updater) against a local update server, on the `.deb` and `.sig` that
//! `cargo xtask bundle --test` has just built and signed with a key made by
//! `tauri signer generate`. A correctly signed update is downloaded and accepted; a changed
//! package, a wrong key, or a version the signature does not vouch for is refused before
//! anything is installed. The install itself (pkexec dpkg -i) is not run here: the bundle test
//! installs the same package with apt-get.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::PathBuf;

use legitimera_client::UpdateSource;
use legitimera_lib::update::PluginUpdates;
use legitimera_protocol::ErrorCode;
use legitimera_updater_test::UpdateServer;
use tauri::test::MockRuntime;

const NEEDS: &str = "needs signed packages: cargo xtask bundle --test";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {NEEDS}"))
}

struct Built {
    package: Vec<u8>,
    signature: String,
    pubkey: String,
    wrong_pubkey: String,
}

fn built() -> Built {
    let package = PathBuf::from(env("LEGITIMERA_UPDATE_PACKAGE"));
    let mut signature = package.clone().into_os_string();
    signature.push(".sig");
    Built {
        package: std::fs::read(&package).unwrap(),
        signature: std::fs::read_to_string(signature).unwrap(),
        pubkey: env("LEGITIMERA_UPDATER_PUBKEY"),
        wrong_pubkey: env("LEGITIMERA_UPDATER_WRONG_PUBKEY"),
    }
}

/// The app as the updater sees it: version 0.0.1, the plugin with `pubkey` in its config as a
/// release build has it. Plain HTTP is allowed only because the server is on loopback here.
fn app(pubkey: &str) -> tauri::App<MockRuntime> {
    let mut context: tauri::Context<MockRuntime> =
        tauri::test::mock_context(tauri::test::noop_assets());
    context.config_mut().plugins.0.insert(
        "updater".into(),
        serde_json::json!({
            "pubkey": pubkey,
            "requireSignedVersion": true,
            "dangerousInsecureTransportProtocol": true,
        }),
    );
    context.package_info_mut().version = "0.0.1".parse().unwrap();
    tauri::test::mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(context)
        .unwrap()
}

/// The version the bundle was built as (the signature's trusted comment carries it).
fn built_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The install step's tools, replaced by ones that leave a mark: none may run for a refused
/// update.
fn package_manager_trap() -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("installed");
    for tool in ["pkexec", "sudo", "zenity", "kdialog", "dpkg", "rpm"] {
        let path = dir.path().join(tool);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"$0 $*\" >> {}\n", mark.display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (dir, mark)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tauri::async_runtime::block_on(future)
}

/// Checks, then installs through the adapter (download, verify, install): the error code.
fn refused(app: &tauri::App<MockRuntime>, server: &UpdateServer) -> ErrorCode {
    let updates = PluginUpdates::new(app.handle().clone(), &server.endpoint()).unwrap();
    let found = block_on(updates.check())
        .unwrap()
        .expect("an update is announced");
    assert_eq!(found.version, built_version());
    let downloaded = block_on(updates.download()).unwrap_err();
    let installed = block_on(updates.install()).unwrap_err();
    assert_eq!(
        downloaded.code(),
        installed.code(),
        "{downloaded} / {installed}"
    );
    assert!(
        server.downloads() >= 2,
        "the package was downloaded before it was refused"
    );
    installed.code()
}

#[test]
#[ignore = "needs signed packages: cargo xtask bundle --test"]
fn a_correctly_signed_update_is_downloaded_and_accepted() {
    let built = built();
    let server =
        UpdateServer::start(&built_version(), &built.signature, built.package.clone()).unwrap();
    let app = app(&built.pubkey);
    let updates = PluginUpdates::new(app.handle().clone(), &server.endpoint()).unwrap();
    let found = block_on(updates.check())
        .unwrap()
        .expect("0.0.1 is offered the built version");
    assert_eq!(found.version, built_version());
    let bytes = block_on(updates.download()).unwrap();
    assert_eq!(
        bytes, built.package,
        "the verified bytes are the package built"
    );
    assert_eq!(server.downloads(), 1);
}

#[test]
#[ignore = "needs signed packages: cargo xtask bundle --test"]
fn a_changed_package_is_refused_before_anything_is_installed() {
    let built = built();
    let (_trap, mark) = package_manager_trap();
    let mut changed = built.package.clone();
    // One byte in the package's data, as a corrupted or swapped mirror would serve it.
    let at = changed.len() - 100;
    changed[at] ^= 0x01;
    let server = UpdateServer::start(&built_version(), &built.signature, changed).unwrap();
    let app = app(&built.pubkey);
    std::env::set_var("PATH", mark.parent().unwrap());
    assert_eq!(refused(&app, &server), ErrorCode::UpdateNotTrusted);
    assert!(!mark.exists(), "a package manager ran for a refused update");
}

#[test]
#[ignore = "needs signed packages: cargo xtask bundle --test"]
fn an_update_signed_with_another_key_is_refused() {
    let built = built();
    let server =
        UpdateServer::start(&built_version(), &built.signature, built.package.clone()).unwrap();
    let app = app(&built.wrong_pubkey);
    assert_eq!(refused(&app, &server), ErrorCode::UpdateNotTrusted);
}

#[test]
#[ignore = "needs signed packages: cargo xtask bundle --test"]
fn a_version_the_signature_does_not_vouch_for_is_refused() {
    // The manifest is not signed: announcing 9.9.9 for the signed package must not pass.
    let built = built();
    let server = UpdateServer::start("9.9.9", &built.signature, built.package.clone()).unwrap();
    let app = app(&built.pubkey);
    let updates = PluginUpdates::new(app.handle().clone(), &server.endpoint()).unwrap();
    let found = block_on(updates.check())
        .unwrap()
        .expect("9.9.9 is announced");
    assert_eq!(found.version, "9.9.9");
    let error = block_on(updates.install()).unwrap_err();
    assert_eq!(error.code(), ErrorCode::UpdateNotTrusted, "{error}");
}
