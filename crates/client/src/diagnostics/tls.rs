//! TLS inspection: each diagnostics host is reached twice, once trusting only the public web
//! roots (webpki-roots) and once trusting the OS store (rustls-native-certs, which follows
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` on Linux), with the chain the server presents captured either
//! way. A chain the public roots refuse but the OS store accepts is an organisation's own CA
//! inspecting the traffic; the issuer seen is named. Sends nothing after the handshake.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::proxy::ProxyEnv;
use super::{tr, CheckId, Options, Outcome, Status};
use crate::locale::Language;

/// The agency's hosts checked when no policy names others: the signing service's name the
/// certificate must carry, and the legitimeringstjänst.
pub const DEFAULT_HOSTS: [&str; 2] = ["dss.underskriftstjanst.se", "legitimeringstjanst.se"];
/// How long one connection and handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(6);

/// A host to check: the TLS name the certificate must be valid for, and where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// `addr:port`.
    pub connect: String,
}

impl Host {
    pub fn defaults() -> Vec<Host> {
        DEFAULT_HOSTS
            .iter()
            .filter_map(|host| Host::parse(host))
            .collect()
    }

    /// `host` or `host:port` (policy's `DiagnosticsHosts`); port 443 by default.
    pub fn parse(text: &str) -> Option<Host> {
        let text = text.trim();
        let (name, port) = match text.rsplit_once(':') {
            Some((name, port)) => (name, port.parse::<u16>().ok()?),
            None => (text, 443),
        };
        if name.is_empty() || ServerName::try_from(name.to_owned()).is_err() {
            return None;
        }
        Some(Host {
            name: name.to_owned(),
            connect: format!("{name}:{port}"),
        })
    }

    /// `name=addr:port,…` (the debug-only variable); `None` when any entry is malformed.
    pub fn parse_env(text: &str) -> Option<Vec<Host>> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (name, connect) = entry.split_once('=')?;
                let host = Host::parse(name)?;
                connect.rsplit_once(':')?.1.parse::<u16>().ok()?;
                Some(Host {
                    name: host.name,
                    connect: connect.to_owned(),
                })
            })
            .collect()
    }
}

/// What each handshake trusts.
#[derive(Clone)]
pub struct Trust {
    pub public: Arc<RootCertStore>,
    pub os: Arc<RootCertStore>,
    /// Why the OS store (or the public roots file) could not be read in full, if it could not.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("public", &self.public.len())
            .field("os", &self.os.len())
            .field("notes", &self.notes)
            .finish()
    }
}

impl Trust {
    /// webpki-roots (or the certificates of `public_pem` instead) and the OS store. Blocking.
    pub fn load(public_pem: Option<&Path>) -> Trust {
        let mut notes = Vec::new();
        let public = match public_pem {
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Some(path) => {
                let (store, problems) = from_pem_file(path);
                notes.extend(problems);
                store
            }
        };
        let native = rustls_native_certs::load_native_certs();
        notes.extend(native.errors.iter().map(|e| e.to_string()));
        let mut os = RootCertStore::empty();
        os.add_parsable_certificates(native.certs);
        Trust {
            public: Arc::new(public),
            os: Arc::new(os),
            notes,
        }
    }

    /// From lists of DER roots (tests).
    pub fn from_roots(public: &[CertificateDer<'static>], os: &[CertificateDer<'static>]) -> Trust {
        let store = |roots: &[CertificateDer<'static>]| {
            let mut store = RootCertStore::empty();
            store.add_parsable_certificates(roots.iter().cloned());
            Arc::new(store)
        };
        Trust {
            public: store(public),
            os: store(os),
            notes: Vec::new(),
        }
    }
}

fn from_pem_file(path: &Path) -> (RootCertStore, Vec<String>) {
    use rustls::pki_types::pem::PemObject;
    let mut store = RootCertStore::empty();
    let mut problems = Vec::new();
    match CertificateDer::pem_file_iter(path) {
        Ok(certificates) => {
            let (added, _) = store.add_parsable_certificates(certificates.flatten());
            if added == 0 {
                problems.push(format!("{}: no certificates", path.display()));
            }
        }
        Err(error) => problems.push(format!("{}: {error}", path.display())),
    }
    (store, problems)
}

/// Verifies as rustls' WebPKI verifier does, keeping the chain it was shown.
#[derive(Debug)]
struct Capturing {
    inner: Option<Arc<WebPkiServerVerifier>>,
    seen: Arc<Mutex<Vec<CertificateDer<'static>>>>,
    schemes: Vec<SignatureScheme>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Capturing {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|certificate| certificate.clone().into_owned())
            .collect();
        match &self.inner {
            Some(inner) => {
                inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            // No roots at all: nothing can be trusted.
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// How one handshake went.
#[derive(Debug)]
struct Handshake {
    chain: Vec<CertificateDer<'static>>,
    result: Result<(), Failure>,
}

#[derive(Debug)]
enum Failure {
    /// No TCP connection (or the proxy refused the tunnel).
    Connect(String),
    Tls(rustls::Error),
}

async fn handshake(host: &Host, roots: &Arc<RootCertStore>, proxy: Option<&str>) -> Handshake {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = if roots.is_empty() {
        None
    } else {
        WebPkiServerVerifier::builder_with_provider(Arc::clone(roots), Arc::clone(&provider))
            .build()
            .ok()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let verifier = Capturing {
        inner,
        seen: Arc::clone(&seen),
        schemes: provider
            .signature_verification_algorithms
            .supported_schemes(),
        provider: Arc::clone(&provider),
    };
    let config =
        match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
            Ok(builder) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth(),
            Err(error) => {
                return Handshake {
                    chain: Vec::new(),
                    result: Err(Failure::Tls(error)),
                }
            }
        };
    let attempt = async {
        let stream = connect(host, proxy).await.map_err(Failure::Connect)?;
        let name =
            ServerName::try_from(host.name.clone()).map_err(|e| Failure::Connect(e.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut tls = connector.connect(name, stream).await.map_err(|error| {
            match error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls) => Failure::Tls(tls.clone()),
                None => Failure::Connect(error.to_string()),
            }
        })?;
        let _ = tls.shutdown().await;
        Ok(())
    };
    let result = match tokio::time::timeout(HANDSHAKE_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Failure::Connect(format!(
            "no answer within {} s",
            HANDSHAKE_TIMEOUT.as_secs()
        ))),
    };
    let chain = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    Handshake { chain, result }
}

/// A TCP stream to the host, directly or through the HTTP proxy's `CONNECT`.
async fn connect(host: &Host, proxy: Option<&str>) -> Result<TcpStream, String> {
    let Some(proxy) = proxy else {
        return TcpStream::connect(&host.connect)
            .await
            .map_err(|e| e.to_string());
    };
    let mut stream = TcpStream::connect(proxy)
        .await
        .map_err(|e| format!("proxy {proxy}: {e}"))?;
    let target = &host.connect;
    stream
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| format!("proxy {proxy}: {e}"))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || stream.read(&mut byte).await.map_err(|e| e.to_string())? == 0 {
            return Err(format!("proxy {proxy} closed the connection"));
        }
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(stream)
    } else {
        Err(format!("proxy {proxy} refused the tunnel: {status}"))
    }
}

/// The issuer's CN (or its whole name) and the DNS names a certificate carries.
fn describe(der: &[u8]) -> (String, String, Vec<String>) {
    let Ok((_, certificate)) = X509Certificate::from_der(der) else {
        return ("?".into(), "?".into(), Vec::new());
    };
    let cn = |name: &x509_parser::x509::X509Name<'_>| {
        name.iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map_or_else(|| name.to_string(), str::to_owned)
    };
    let names = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    (cn(certificate.issuer()), cn(certificate.subject()), names)
}

/// What one host's two handshakes showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Clean,
    Inspected,
    WrongName,
    UnknownIssuer,
    NoConnection,
    Refused,
}

/// One host's verdict, and the line that says why.
fn verdict(lang: Language, host: &Host, public: &Handshake, os: &Handshake) -> (Seen, String) {
    let name = &host.name;
    let connect = &host.connect;
    let chain = if public.chain.is_empty() {
        &os.chain
    } else {
        &public.chain
    };
    let (issuer, top) = match chain.first() {
        Some(leaf) => {
            let (issuer, _, _) = describe(leaf);
            let top = chain
                .last()
                .map(|last| describe(last).0)
                .filter(|top| *top != issuer);
            (issuer, top)
        }
        None => (String::from("?"), None),
    };
    let via = match top {
        Some(top) => tr!(
            lang,
            " (kedjans topp utfärdad av {top})",
            " (the chain's top issued by {top})"
        ),
        None => String::new(),
    };
    match (&public.result, &os.result) {
        (Err(Failure::Connect(why)), _) => (
            Seen::NoConnection,
            tr!(lang, "{name} ({connect}): ingen anslutning: {why}", "{name} ({connect}): no connection: {why}"),
        ),
        (Ok(()), _) => (
            Seen::Clean,
            tr!(lang, "{name}: ingen inspektion; certifikatet är utfärdat av {issuer}{via}", "{name}: no inspection; the certificate is issued by {issuer}{via}"),
        ),
        (Err(Failure::Tls(rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }))), _) => {
            let names = chain.first().map(|leaf| describe(leaf).2.join(", ")).unwrap_or_default();
            (
                Seen::WrongName,
                tr!(
                    lang,
                    "{name}: fel certifikatnamn: certifikatet gäller {names}, inte {name} (utfärdat av {issuer}{via})",
                    "{name}: wrong certificate name: the certificate is for {names}, not {name} (issued by {issuer}{via})"
                ),
            )
        }
        (Err(Failure::Tls(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))), Ok(())) => (
            Seen::Inspected,
            tr!(
                lang,
                "{name}: TLS-inspektion: certifikatet är utfärdat av {issuer}{via}, som bara finns i datorns eget certifikatlager (organisationens egen CA), inte bland de publika rotcertifikaten",
                "{name}: TLS inspection: the certificate is issued by {issuer}{via}, which is only in the computer's own certificate store (the organisation's own CA), not among the public roots"
            ),
        ),
        (Err(Failure::Tls(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))), Err(_)) => (
            Seen::UnknownIssuer,
            tr!(
                lang,
                "{name}: okänd utfärdare {issuer}{via}: finns varken bland de publika rotcertifikaten eller i datorns certifikatlager",
                "{name}: unknown issuer {issuer}{via}: neither among the public roots nor in the computer's certificate store"
            ),
        ),
        (Err(Failure::Tls(error)), _) => (
            Seen::Refused,
            tr!(lang, "{name}: certifikatet godtas inte: {error} (utfärdat av {issuer}{via})", "{name}: the certificate is not accepted: {error} (issued by {issuer}{via})"),
        ),
    }
}

pub(super) async fn check(options: &Options) -> Outcome {
    let lang = options.language;
    let id = CheckId::TlsInterception;
    if options.hosts.is_empty() {
        return Outcome::skipped(
            id,
            lang,
            tr!(lang, "Inga adresser att kontrollera", "No hosts to check"),
        );
    }
    let trust = match &options.trust {
        Some(trust) => trust.clone(),
        None => tokio::task::spawn_blocking(|| Trust::load(None))
            .await
            .unwrap_or_else(|_| Trust::from_roots(&[], &[])),
    };
    let mut verdicts = Vec::with_capacity(options.hosts.len());
    for host in &options.hosts {
        verdicts.push(one_host(lang, host, &trust, &options.proxy).await);
    }
    let inspected = verdicts.iter().any(|(seen, _)| *seen == Seen::Inspected);
    let bad_certificate = verdicts
        .iter()
        .any(|(seen, _)| matches!(seen, Seen::WrongName | Seen::UnknownIssuer | Seen::Refused));
    let no_connection = verdicts.iter().any(|(seen, _)| *seen == Seen::NoConnection);
    let mut detail: Vec<String> = verdicts.into_iter().map(|(_, line)| line).collect();
    detail.extend(trust.notes.iter().cloned());
    let outcome = if inspected {
        Outcome::new(id, lang, Status::Failed, tr!(lang, "TLS-trafiken inspekteras av organisationens egen CA", "TLS traffic is inspected by the organisation's own CA"))
            .advice(tr!(
                lang,
                "Inloggningen fungerar inte genom en proxy som inspekterar TLS. Be IT-supporten undanta *.legitimeringstjanst.se och dss.underskriftstjanst.se från TLS-inspektion.",
                "Logging in does not work through a proxy that inspects TLS. Ask IT support to exempt *.legitimeringstjanst.se and dss.underskriftstjanst.se from TLS inspection."
            ))
    } else if bad_certificate {
        Outcome::new(id, lang, Status::Failed, tr!(lang, "Certifikatet som visas är inte tjänstens", "The certificate presented is not the service's"))
            .advice(tr!(
                lang,
                "Något mellan datorn och tjänsten visar ett annat certifikat. Kontakta IT-supporten och skicka med rapporten.",
                "Something between the computer and the service presents another certificate. Contact IT support and include the report."
            ))
    } else if no_connection {
        Outcome::new(id, lang, Status::Failed, tr!(lang, "Ingen anslutning till en eller flera av tjänstens adresser", "No connection to one or more of the service's hosts"))
            .advice(tr!(
                lang,
                "Kontrollera nätverket. Stoppar en brandvägg eller proxy anslutningen, kontakta IT-supporten.",
                "Check the network. If a firewall or proxy stops the connection, contact IT support."
            ))
    } else {
        Outcome::new(
            id,
            lang,
            Status::Ok,
            tr!(
                lang,
                "Ingen TLS-inspektion upptäcktes",
                "No TLS inspection was found"
            ),
        )
    };
    outcome.detail(detail.join("\n"))
}

async fn one_host(lang: Language, host: &Host, trust: &Trust, proxy: &ProxyEnv) -> (Seen, String) {
    let name = host.name.clone();
    let via = proxy.https_proxy_for(&name);
    let (public, os) = tokio::join!(
        handshake(host, &trust.public, via.as_deref()),
        handshake(host, &trust.os, via.as_deref())
    );
    let (status, mut line) = verdict(lang, host, &public, &os);
    if let Some(via) = via {
        line.push_str(&tr!(
            lang,
            " (via proxyn {via})",
            " (through the proxy {via})"
        ));
    }
    (status, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_from_policy_and_the_debug_variable() {
        assert_eq!(
            Host::parse("dss.underskriftstjanst.se"),
            Some(Host {
                name: "dss.underskriftstjanst.se".into(),
                connect: "dss.underskriftstjanst.se:443".into()
            })
        );
        assert_eq!(
            Host::parse("proxy.example.se:8443").map(|h| h.connect),
            Some("proxy.example.se:8443".into())
        );
        assert_eq!(Host::parse("bad host"), None);
        assert_eq!(
            Host::parse_env("dss.underskriftstjanst.se=127.0.0.1:4443, other.se=127.0.0.1:4444"),
            Some(vec![
                Host {
                    name: "dss.underskriftstjanst.se".into(),
                    connect: "127.0.0.1:4443".into()
                },
                Host {
                    name: "other.se".into(),
                    connect: "127.0.0.1:4444".into()
                },
            ])
        );
        assert_eq!(Host::parse_env("dss.underskriftstjanst.se"), None);
    }
}
