//! The `tls_interception` and `proxy` checks against local TLS servers: certificates made here
//! under a test "public" root and a "corporate" CA that only the OS store trusts, a
//! certificate for the wrong name, a port nothing listens on, and an HTTP proxy in the
//! environment that tunnels with CONNECT.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use legitimera_client::diagnostics::{
    run_checks, CheckId, Host, NetIdPlaces, Options, Outcome, ProxyEnv, Status, Trust,
};
use legitimera_client::locale::Language;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const NAME: &str = "dss.underskriftstjanst.se";

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

    fn der(&self) -> CertificateDer<'static> {
        self.certificate.der().clone()
    }

    /// A server certificate for `name`, and its key.
    fn issue(&self, name: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        (
            vec![certificate.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// A TLS server on loopback presenting `chain`; answers its address. Runs until the test ends.
async fn tls_server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> String {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// An HTTP proxy that tunnels CONNECT requests and counts them.
async fn connect_proxy() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let tunnels = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&tunnels);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                // The test's hosts resolve nowhere: the proxy sends every tunnel to loopback.
                let port = target
                    .rsplit_once(':')
                    .map(|(_, p)| p.to_owned())
                    .unwrap_or_default();
                let Ok(mut upstream) = TcpStream::connect(format!("127.0.0.1:{port}")).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, tunnels)
}

fn options(hosts: Vec<Host>, trust: Trust, proxy: ProxyEnv, language: Language) -> Options {
    Options {
        language,
        hosts,
        trust: Some(trust),
        net_id: NetIdPlaces::default(),
        proxy,
        api: None,
        timeout: Duration::from_secs(20),
    }
}

async fn tls_check(options: &Options) -> Outcome {
    let report = run_checks(options, &[CheckId::TlsInterception], None, |_| {}).await;
    report.checks.into_iter().next().unwrap()
}

fn host(name: &str, connect: &str) -> Host {
    Host {
        name: name.into(),
        connect: connect.into(),
    }
}

#[tokio::test]
async fn a_chain_to_the_public_roots_is_no_interception() {
    let public = Ca::new("Test Public Root R1");
    let (chain, key) = public.issue(NAME);
    let addr = tls_server(chain, key).await;
    let trust = Trust::from_roots(&[public.der()], &[public.der()]);
    let outcome = tls_check(&options(
        vec![host(NAME, &addr)],
        trust,
        ProxyEnv::default(),
        Language::Sv,
    ))
    .await;
    assert_eq!(outcome.status, Status::Ok, "{outcome:?}");
    assert_eq!(outcome.summary, "Ingen TLS-inspektion upptäcktes");
    assert!(
        outcome.detail.contains("utfärdat av Test Public Root R1"),
        "{}",
        outcome.detail
    );
}

#[tokio::test]
async fn a_corporate_ca_only_in_the_os_store_is_interception_and_named() {
    let public = Ca::new("Test Public Root R1");
    let corporate = Ca::new("Region Testland Inspektion CA");
    let (chain, key) = corporate.issue(NAME);
    let addr = tls_server(chain, key).await;
    let trust = Trust::from_roots(&[public.der()], &[public.der(), corporate.der()]);
    let outcome = tls_check(&options(
        vec![host(NAME, &addr)],
        trust,
        ProxyEnv::default(),
        Language::En,
    ))
    .await;
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert_eq!(
        outcome.summary,
        "TLS traffic is inspected by the organisation's own CA"
    );
    assert!(
        outcome.detail.contains("issued by Region Testland Inspektion CA, which is only in the computer's own certificate store"),
        "{}",
        outcome.detail
    );
    assert!(
        outcome.advice.contains("dss.underskriftstjanst.se"),
        "{}",
        outcome.advice
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_the_wrong_name() {
    let public = Ca::new("Test Public Root R1");
    let (chain, key) = public.issue("www.example.se");
    let addr = tls_server(chain, key).await;
    let trust = Trust::from_roots(&[public.der()], &[public.der()]);
    let outcome = tls_check(&options(
        vec![host(NAME, &addr)],
        trust,
        ProxyEnv::default(),
        Language::En,
    ))
    .await;
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(
        outcome.detail.contains("wrong certificate name: the certificate is for www.example.se, not dss.underskriftstjanst.se"),
        "{}",
        outcome.detail
    );
}

#[tokio::test]
async fn nothing_listening_is_no_connection_with_the_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let trust = Trust::from_roots(&[], &[]);
    let outcome = tls_check(&options(
        vec![host(NAME, &addr)],
        trust,
        ProxyEnv::default(),
        Language::En,
    ))
    .await;
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert_eq!(
        outcome.summary,
        "No connection to one or more of the service's hosts"
    );
    assert!(
        outcome
            .detail
            .contains(&format!("({addr}): no connection: ")),
        "{}",
        outcome.detail
    );
    assert!(
        outcome.detail.to_lowercase().contains("refused"),
        "{}",
        outcome.detail
    );
}

#[tokio::test]
async fn a_proxy_in_the_environment_is_told_and_the_tls_check_goes_through_it() {
    let public = Ca::new("Test Public Root R1");
    let (chain, key) = public.issue(NAME);
    let addr = tls_server(chain, key).await;
    let port = addr.rsplit_once(':').unwrap().1.to_owned();
    let (proxy_addr, tunnels) = connect_proxy().await;
    let proxy_url = format!("http://it:hemligt@{proxy_addr}");
    let env = ProxyEnv::from_lookup(
        |name| match name {
            "HTTPS_PROXY" => Some(proxy_url.clone()),
            "NO_PROXY" => Some("localhost".into()),
            _ => None,
        },
        false,
    );
    let trust = Trust::from_roots(&[public.der()], &[public.der()]);
    let options = options(
        vec![host(NAME, &format!("{NAME}:{port}"))],
        trust,
        env,
        Language::Sv,
    );
    let report = run_checks(
        &options,
        &[CheckId::Proxy, CheckId::TlsInterception],
        None,
        |_| {},
    )
    .await;
    let (proxy, tls) = (&report.checks[0], &report.checks[1]);
    assert_eq!(proxy.status, Status::Warning, "{proxy:?}");
    assert!(
        proxy
            .detail
            .contains(&format!("HTTPS_PROXY: http://it:***@{proxy_addr}")),
        "{}",
        proxy.detail
    );
    assert!(!format!("{report:?}").contains("hemligt"));
    assert_eq!(tls.status, Status::Ok, "{tls:?}");
    assert!(
        tls.detail.contains(&format!("via proxyn {proxy_addr}")),
        "{}",
        tls.detail
    );
    assert_eq!(
        tunnels.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one tunnel per handshake"
    );
}
