//! `legitimera --diagnose` as IT runs it over SSH: the real binary with no `DISPLAY` and no
//! D-Bus session, its JSON shape and its exit codes — 0 nothing failed, 1 a check failed, 2 the
//! diagnostics could not run — against a local TLS server standing in for the agency's host
//! (debug builds' `LEGITIMERA_DIAGNOSTICS_HOSTS` and `_PUBLIC_ROOTS`, the OS store through
//! `SSL_CERT_FILE`); and, with pcscd, the virtual card and the demo server, the test login
//! passing and failing with a wrong PIN.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_testkit::server::DemoServer;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

const APP: &str = env!("CARGO_BIN_EXE_legitimera");
const NAME: &str = "dss.underskriftstjanst.se";
const IDS: [&str; 9] = [
    "pcsc_service",
    "readers",
    "card",
    "certificate",
    "net_id",
    "tls_interception",
    "proxy",
    "backend",
    "test_login",
];

struct Ca {
    key: KeyPair,
    certificate: rcgen::Certificate,
}

impl Ca {
    fn new(common_name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let certificate = params.self_signed(&key).unwrap();
        Ca { key, certificate }
    }

    fn issue(&self, name: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        (
            vec![certificate.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// A TLS server on loopback, on its own thread, presenting a certificate for `NAME` from `ca`.
fn tls_server(ca: &Ca) -> String {
    let (chain, key) = ca.issue(NAME);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Arc::new(config);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let mut stream = stream;
                let Ok(mut connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let _ = connection.complete_io(&mut stream);
                connection.send_close_notify();
                let _ = connection.complete_io(&mut stream);
            });
        }
    });
    addr
}

/// A place for the run: a home without Net iD or settings, the public roots and the OS store.
struct Scene {
    dir: tempfile::TempDir,
    public: Ca,
    tls_addr: String,
}

impl Scene {
    /// `corporate`: the local server's certificate comes from a CA only the OS store trusts.
    fn new(corporate: bool) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let public = Ca::new("Test Public Root R1");
        let inspecting = Ca::new("Region Testland Inspektion CA");
        let tls_addr = tls_server(if corporate { &inspecting } else { &public });
        std::fs::write(dir.path().join("public.pem"), public.certificate.pem()).unwrap();
        let mut os = public.certificate.pem();
        if corporate {
            os.push_str(&inspecting.certificate.pem());
        }
        std::fs::write(dir.path().join("os.pem"), os).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Scene {
            dir,
            public,
            tls_addr,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The app as IT runs it over SSH: no display, no session bus, no proxy.
    fn command(&self, backend: &str, args: &[&str]) -> Command {
        let _ = &self.public;
        let mut command = Command::new(APP);
        command
            .arg("--diagnose")
            .args(args)
            .args(["--backend-url", backend])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("LANG", "sv_SE.UTF-8")
            .env("LEGITIMERA_POLICY_DIR", self.path("no-policy"))
            .env(
                "LEGITIMERA_DIAGNOSTICS_HOSTS",
                format!("{NAME}={}", self.tls_addr),
            )
            .env(
                "LEGITIMERA_DIAGNOSTICS_PUBLIC_ROOTS",
                self.path("public.pem"),
            )
            .env("SSL_CERT_FILE", self.path("os.pem"))
            .stdin(Stdio::null());
        command
    }
}

/// An address where nothing listens.
fn closed_backend() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn check<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {json}"))
}

#[test]
fn the_json_has_every_check_and_a_failure_exits_one_without_a_display() {
    let scene = Scene::new(true);
    let output = scene
        .command(&closed_backend(), &["--json"])
        .output()
        .unwrap();
    let json = json_of(&output);
    assert_eq!(output.status.code(), Some(1), "{json:#}");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["os"].as_str().unwrap().starts_with("Linux"), "{json}");
    let object = json.as_object().unwrap();
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["checks", "os", "version"]
    );
    let ids: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, IDS);
    for entry in json["checks"].as_array().unwrap() {
        let mut keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["detail", "id", "status", "summary"], "{entry}");
        assert!(
            ["ok", "warning", "failed", "skipped"].contains(&entry["status"].as_str().unwrap()),
            "{entry}"
        );
    }
    // The corporate CA in the OS store (SSL_CERT_FILE) only: interception, its issuer named.
    let tls = check(&json, "tls_interception");
    assert_eq!(tls["status"], "failed", "{tls}");
    assert!(
        tls["detail"]
            .as_str()
            .unwrap()
            .contains("utfärdat av Region Testland Inspektion CA, som bara finns i datorns eget certifikatlager"),
        "{tls}"
    );
    assert_eq!(check(&json, "backend")["status"], "failed");
    assert_eq!(check(&json, "proxy")["status"], "ok");
    assert_eq!(check(&json, "net_id")["status"], "warning");
    assert_eq!(check(&json, "test_login")["status"], "skipped");
}

#[test]
fn the_text_report_names_the_version_and_each_check() {
    let scene = Scene::new(false);
    let output = scene.command(&closed_backend(), &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("Legitimera – felsökning\n"), "{text}");
    assert!(
        text.contains(&format!("Version: {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        text.contains("[OK] TLS-inspektion: Ingen TLS-inspektion upptäcktes"),
        "{text}"
    );
    assert!(
        text.contains("[Fel] Tjänsten: Tjänsten svarar inte"),
        "{text}"
    );
    assert!(text.contains("[Hoppades över] Testinloggning: "), "{text}");
}

#[test]
fn diagnostics_that_cannot_run_exit_two() {
    let scene = Scene::new(false);
    let output = scene
        .command(&closed_backend(), &["--json", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bogus"));
    // A PIN that is no PIN: nothing is run, nothing is sent to a card.
    let mut child = scene
        .command(&closed_backend(), &["--json", "--test-login"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"12ab\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("6 till 8 siffror"));
}

/// The demo server trusting `identity`'s CA, started from the binary beside the app's.
fn server_trusting(
    dir: &Path,
    identity: &legitimera_vcard::Identity,
) -> legitimera_testkit::server::ServerProcess {
    let bin = std::env::var_os("LEGITIMERA_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(APP).with_file_name("legitimera-server"));
    assert!(
        bin.is_file(),
        "build the server first: cargo build -p legitimera-server"
    );
    let ca = dir.join("siths-ca.pem");
    std::fs::write(&ca, identity.ca.pem()).unwrap();
    // The card's certificate names no CRL distribution point: this test is about the test
    // login, not revocation (tests/e2e/diagnostics.rs has a card whose CA publishes its CRL).
    DemoServer::new(bin)
        .args([
            "--siths-trust-anchors",
            &ca.display().to_string(),
            "--siths-revocation",
            "off",
        ])
        .env("TMPDIR", dir)
        .log_dir(dir)
        .start("127.0.0.1:0")
        .unwrap()
}

fn wait_for_card(present: bool) {
    let reader = legitimera_vcard::reader_name(legitimera_vcard::VPCD_PORT);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let readers = legitimera_card::Pcsc::establish()
            .unwrap()
            .readers()
            .unwrap();
        if readers
            .iter()
            .any(|r| r.name == reader && r.card_present == present)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the card state did not settle");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn test_login(scene: &Scene, backend: &str, pin: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--json", "--test-login"];
    args.extend_from_slice(extra);
    let mut child = scene
        .command(backend, &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{pin}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
#[ignore = "needs pcscd"]
fn the_test_login_passes_with_the_pin_and_a_wrong_pin_shows_the_tries_left() {
    legitimera_testkit::pcscd::require();
    let scene = Scene::new(false);
    let identity = Arc::new(
        legitimera_vcard::Identity::generate(
            legitimera_vcard::CardKeys::generate_p256(),
            legitimera_vcard::CertificateTimes::Valid,
        )
        .unwrap(),
    );
    let server = server_trusting(scene.dir.path(), &identity);
    wait_for_card(false);
    let card = legitimera_vcard::VirtualCard::start(legitimera_vcard::Config::default(), identity)
        .unwrap();
    wait_for_card(true);

    let output = test_login(&scene, &server.url(), "123456", &[]);
    let json = json_of(&output);
    let login = check(&json, "test_login");
    assert_eq!(login["status"], "ok", "{json:#}");
    assert_eq!(login["summary"], "En inloggning hade lyckats");
    assert_eq!(
        check(&json, "card")["summary"],
        "PIV-kort, 3 PIN-försök kvar"
    );
    assert_eq!(check(&json, "backend")["status"], "ok");
    // Net iD is missing here (a warning); nothing failed.
    assert_eq!(output.status.code(), Some(0), "{json:#}");
    let all = json.to_string();
    assert!(
        !all.contains("Anna") && !all.contains("SE2321000016") && !all.contains("123456"),
        "{all}"
    );

    let output = test_login(&scene, &server.url(), "97531864", &["--include-identity"]);
    let json = json_of(&output);
    let login = check(&json, "test_login");
    assert_eq!(login["status"], "failed", "{json:#}");
    assert_eq!(login["summary"], "Fel PIN-kod, 2 försök kvar");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(card.pin_tries_left(), 2);
    assert_eq!(json["identity"]["name"], "Anna Testsson");
    assert_eq!(json["identity"]["hsa_id"], "SE2321000016-1234");
    assert!(!json.to_string().contains("97531864"));
}
