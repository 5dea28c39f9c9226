//! A virtual SITHS-like card for tests and the demo: connects to pcscd's vpcd driver as the
//! card side, answers as a PIV or a PKCS#15 card, with keys and certificates made at run time
//! under a test CA; or answers in process (`Loopback`) for tests without pcscd. Test
//! infrastructure: it must never be pointed at anything but a local vpcd, it keeps no secret
//! beyond its own process, and the app never links it (`cargo tree -p legitimera -e normal`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use legitimera_card::apdu::{self, MAX_SHORT_DATA};
use legitimera_card::piv::{self, KeyRole};
use legitimera_card::{pkcs15, signature, tlv, CardKind, Transport};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber,
    SignatureAlgorithm,
};
use rsa::traits::PublicKeyParts;
use time::OffsetDateTime;

/// What went wrong making or starting a virtual card.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Keys or certificates could not be made.
    #[error("virtual card: {0}")]
    Make(String),
    /// The configured PIN is not one a card accepts.
    #[error("virtual card: the configured PIN is not one a card accepts")]
    InvalidPin(#[source] legitimera_card::Error),
}

/// A virtual card's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// vpcd's port for the first virtual reader ("Virtual PCD 00 00").
pub const VPCD_PORT: u16 = 35963;
/// vpcd's port for the second virtual reader ("Virtual PCD 00 01").
pub const VPCD_PORT_SECOND: u16 = 35964;
/// The test CA's common name, shaped like the real SITHS HSA-id issuing CA.
pub const CA_COMMON_NAME: &str = "SITHS e-id Person HSA-id 3 CA v1 TEST";

/// The PC/SC name of the virtual reader a vpcd port belongs to (vpcd's default config).
pub fn reader_name(port: u16) -> String {
    format!("Virtual PCD 00 {:02}", port.saturating_sub(VPCD_PORT))
}

fn vcard_error(what: impl std::fmt::Display) -> Error {
    Error::Make(what.to_string())
}

/// The route of the demo server where a test CA publishes its CRL (`PUT`, then `GET` by
/// whoever checks revocation): this prefix and the CA's [`TestCa::crl_name`].
pub const DEMO_CRL_ROUTE: &str = "/demo/siths/crl/";

/// The test CA: the trust anchor the server uses in tests and the demo.
pub struct TestCa {
    key: KeyPair,
    certificate: rcgen::Certificate,
    /// Names this CA's CRL on the demo server's route.
    crl_id: u64,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

impl TestCa {
    /// A fresh CA (P-256 key), valid from yesterday for five years.
    pub fn generate() -> Result<Self> {
        let key = KeyPair::generate().map_err(vcard_error)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CountryName, "SE");
        name.push(DnType::OrganizationName, "Inera AB (TEST)");
        name.push(DnType::CommonName, CA_COMMON_NAME);
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(5 * 365);
        let certificate = params.self_signed(&key).map_err(vcard_error)?;
        Ok(TestCa {
            key,
            certificate,
            crl_id: rand::random(),
        })
    }

    /// The file name of this CA's CRL under [`DEMO_CRL_ROUTE`].
    pub fn crl_name(&self) -> String {
        format!("{:016x}.crl", self.crl_id)
    }

    /// Where the demo server at `server` (`http://127.0.0.1:PORT`) publishes this CA's CRL:
    /// the CRL distribution point to put in the certificates it issues.
    pub fn crl_url(&self, server: &str) -> String {
        format!(
            "{}{DEMO_CRL_ROUTE}{}",
            server.trim_end_matches('/'),
            self.crl_name()
        )
    }

    /// A CRL signed by this CA listing `revoked` (certificate serial numbers, as
    /// [`IssuedCertificates::authentication_serial`]), issued at `this_update`, next due at
    /// `next_update` (DER).
    pub fn crl(
        &self,
        revoked: &[&[u8]],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>> {
        let params = rcgen::CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from_slice(&this_update.unix_timestamp().to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from_slice(serial),
                    revocation_time: this_update,
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.certificate, &self.key)
            .map_err(vcard_error)?;
        Ok(crl.der().to_vec())
    }

    /// A CRL valid from an hour ago for `days`, listing `revoked`.
    pub fn crl_for_days(&self, revoked: &[&[u8]], days: i64) -> Result<Vec<u8>> {
        let now = OffsetDateTime::now_utc();
        self.crl(
            revoked,
            now - time::Duration::hours(1),
            now + time::Duration::days(days),
        )
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> &[u8] {
        self.certificate.der()
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// Issues the authentication (digitalSignature) and signing (nonRepudiation) certificates
    /// for `keys`.
    pub fn issue(
        &self,
        keys: &CardKeys,
        holder: &Holder,
        times: CertificateTimes,
    ) -> Result<IssuedCertificates> {
        self.issue_with_crl(keys, holder, times, None)
    }

    /// As [`TestCa::issue`], with `crl_url` as the certificates' CRL distribution point.
    pub fn issue_with_crl(
        &self,
        keys: &CardKeys,
        holder: &Holder,
        times: CertificateTimes,
        crl_url: Option<&str>,
    ) -> Result<IssuedCertificates> {
        let (authentication, authentication_serial) = self.issue_one(
            &keys.authentication,
            holder,
            times,
            KeyRole::Authentication,
            crl_url,
        )?;
        let (signing, _) =
            self.issue_one(&keys.signing, holder, times, KeyRole::Signing, crl_url)?;
        Ok(IssuedCertificates {
            authentication,
            signing,
            authentication_serial,
        })
    }

    fn issue_one(
        &self,
        key: &CardKey,
        holder: &Holder,
        times: CertificateTimes,
        role: KeyRole,
        crl_url: Option<&str>,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CountryName, "SE");
        name.push(DnType::OrganizationName, holder.organisation.as_str());
        name.push(
            DnType::CustomDnType(vec![2, 5, 4, 42]),
            holder.given_name.as_str(),
        );
        name.push(
            DnType::CustomDnType(vec![2, 5, 4, 4]),
            holder.surname.as_str(),
        );
        name.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(holder.hsa_id.as_str().try_into().map_err(vcard_error)?),
        );
        name.push(
            DnType::CommonName,
            format!("{} {}", holder.given_name, holder.surname),
        );
        params.distinguished_name = name;
        // rcgen 0.13 writes no extensions at all unless one of these is set; both belong in
        // an end-entity certificate anyway.
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        // Positive (top bit clear), so the DER INTEGER is these 16 bytes exactly.
        let mut serial = rand::random::<[u8; 16]>();
        serial[0] = (serial[0] & 0x7F) | 0x01;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        if let Some(url) = crl_url {
            params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                uris: vec![url.to_owned()],
            }];
        }
        match role {
            KeyRole::Authentication => {
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            KeyRole::Signing => params.key_usages = vec![KeyUsagePurpose::ContentCommitment],
        }
        let now = OffsetDateTime::now_utc();
        let (not_before, not_after) = match times {
            CertificateTimes::Valid => (
                now - time::Duration::days(1),
                now + time::Duration::days(730),
            ),
            CertificateTimes::Expired => (
                now - time::Duration::days(730),
                now - time::Duration::days(1),
            ),
            CertificateTimes::NotYetValid => (
                now + time::Duration::days(1),
                now + time::Duration::days(730),
            ),
        };
        params.not_before = not_before;
        params.not_after = not_after;
        let public = key.public_key_data()?;
        let certificate = params
            .signed_by(&public, &self.certificate, &self.key)
            .map_err(vcard_error)?;
        Ok((certificate.der().to_vec(), serial.to_vec()))
    }
}

/// Publishes `crl` (DER) as `name` on the demo server at `server` (`http://127.0.0.1:PORT`):
/// an HTTP `PUT` to [`DEMO_CRL_ROUTE`]. Loopback only, like everything here.
pub fn publish_crl(server: &str, name: &str, crl: &[u8]) -> Result<()> {
    let failed = |what: String| Error::Make(format!("publishing the CRL to {server}: {what}"));
    let authority = server
        .strip_prefix("http://")
        .ok_or_else(|| failed("not an http:// address".into()))?
        .trim_end_matches('/');
    let address: std::net::SocketAddr = authority
        .parse()
        .map_err(|_| failed("not an IP address and port".into()))?;
    if !address.ip().is_loopback() {
        return Err(failed("not a loopback address".into()));
    }
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| failed(e.to_string()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| failed(e.to_string()))?;
    let head = format!(
        "PUT {DEMO_CRL_ROUTE}{name} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        crl.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(crl))
        .map_err(|e| failed(e.to_string()))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| failed(e.to_string()))?;
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    if status_line
        .split(' ')
        .nth(1)
        .is_some_and(|code| code.starts_with('2'))
    {
        Ok(())
    } else {
        Err(failed(format!("answered {status_line:?}")))
    }
}

/// Whose card it is. The default is a fictitious person at a fictitious region.
#[derive(Clone, PartialEq, Eq)]
pub struct Holder {
    pub given_name: String,
    pub surname: String,
    pub hsa_id: String,
    pub organisation: String,
}

impl Default for Holder {
    fn default() -> Self {
        Holder {
            given_name: "Anna".into(),
            surname: "Testsson".into(),
            hsa_id: "SE2321000016-1234".into(),
            organisation: "Region Testland".into(),
        }
    }
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Holder([redacted])")
    }
}

/// Certificate validity the card is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertificateTimes {
    #[default]
    Valid,
    Expired,
    NotYetValid,
}

/// The DER certificates of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificates {
    pub authentication: Vec<u8>,
    pub signing: Vec<u8>,
    /// The authentication certificate's serial number (what a CRL lists to revoke it).
    pub authentication_serial: Vec<u8>,
}

/// One private key on the card.
#[derive(Clone)]
pub enum CardKey {
    Rsa2048(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CardKey::Rsa2048(_) => f.write_str("CardKey::Rsa2048"),
            CardKey::P256(_) => f.write_str("CardKey::P256"),
        }
    }
}

struct CardPublicKey {
    der: Vec<u8>,
    algorithm: &'static SignatureAlgorithm,
}

impl PublicKeyData for CardPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.der
    }

    fn algorithm(&self) -> &SignatureAlgorithm {
        self.algorithm
    }
}

impl CardKey {
    fn public_key_data(&self) -> Result<CardPublicKey> {
        Ok(match self {
            CardKey::Rsa2048(key) => CardPublicKey {
                der: rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&key.to_public_key())
                    .map_err(vcard_error)?
                    .into_vec(),
                algorithm: &rcgen::PKCS_RSA_SHA256,
            },
            CardKey::P256(key) => CardPublicKey {
                der: key
                    .verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
                algorithm: &rcgen::PKCS_ECDSA_P256_SHA256,
            },
        })
    }

    fn is_ec(&self) -> bool {
        matches!(self, CardKey::P256(_))
    }

    /// The raw RSA private-key operation on a full-length block (what PIV does).
    fn rsa_raw(&self, block: &[u8]) -> Option<Vec<u8>> {
        let CardKey::Rsa2048(key) = self else {
            return None;
        };
        if block.len() != key.size() {
            return None;
        }
        let input = rsa::BigUint::from_bytes_be(block);
        if &input >= key.n() {
            return None;
        }
        let output =
            rsa::hazmat::rsa_decrypt_and_check(key.as_ref(), Some(&mut rand::thread_rng()), &input)
                .ok()?;
        let mut bytes = output.to_bytes_be();
        while bytes.len() < key.size() {
            bytes.insert(0, 0);
        }
        Some(bytes)
    }

    /// PKCS#1 v1.5 signature over a DigestInfo the host sent (what a PKCS#15 card does).
    fn rsa_sign_digest_info(&self, digest_info: &[u8]) -> Option<Vec<u8>> {
        let CardKey::Rsa2048(key) = self else {
            return None;
        };
        let digest: &[u8; 32] = digest_info.get(19..)?.try_into().ok()?;
        if signature::digest_info_sha256(digest) != digest_info {
            return None;
        }
        self.rsa_raw(&signature::pkcs1_v15_block(digest, key.size()).ok()?)
    }

    fn ecdsa(&self, hash: &[u8]) -> Option<p256::ecdsa::Signature> {
        let CardKey::P256(key) = self else {
            return None;
        };
        if hash.len() != 32 {
            return None;
        }
        key.sign_prehash(hash).ok()
    }
}

/// The card's two keys.
#[derive(Debug, Clone)]
pub struct CardKeys {
    pub authentication: CardKey,
    pub signing: CardKey,
}

impl CardKeys {
    pub fn generate_p256() -> Self {
        let mut rng = rand::thread_rng();
        CardKeys {
            authentication: CardKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            signing: CardKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
        }
    }

    /// Two RSA-2048 keys (takes a moment: prime generation).
    pub fn generate_rsa2048() -> Result<Self> {
        let mut rng = rand::thread_rng();
        let mut generate = || {
            rsa::RsaPrivateKey::new(&mut rng, 2048)
                .map(|key| CardKey::Rsa2048(Box::new(key)))
                .map_err(vcard_error)
        };
        Ok(CardKeys {
            authentication: generate()?,
            signing: generate()?,
        })
    }

    fn get(&self, role: KeyRole) -> &CardKey {
        match role {
            KeyRole::Authentication => &self.authentication,
            KeyRole::Signing => &self.signing,
        }
    }
}

/// Keys, certificates and their CA: everything the card carries, made once and shareable
/// between card instances (key generation is the slow part).
#[derive(Debug)]
pub struct Identity {
    pub ca: TestCa,
    pub keys: CardKeys,
    pub certificates: IssuedCertificates,
}

impl Identity {
    pub fn generate(keys: CardKeys, times: CertificateTimes) -> Result<Self> {
        Self::issued_by(TestCa::generate()?, keys, times, None)
    }

    /// A card whose certificates `ca` issues, naming `crl_url` as their CRL distribution point.
    pub fn issued_by(
        ca: TestCa,
        keys: CardKeys,
        times: CertificateTimes,
        crl_url: Option<&str>,
    ) -> Result<Self> {
        let certificates = ca.issue_with_crl(&keys, &Holder::default(), times, crl_url)?;
        Ok(Identity {
            ca,
            keys,
            certificates,
        })
    }

    /// A card under `ca` whose certificates name the CRL route of the demo server at `server`
    /// (`http://127.0.0.1:PORT`, running) as their distribution point, with a CRL revoking
    /// nothing published there: what the demo and the end-to-end tests use, so the server can
    /// check revocation as it does for real cards.
    pub fn on_demo_server(
        server: &str,
        ca: TestCa,
        keys: CardKeys,
        times: CertificateTimes,
    ) -> Result<Self> {
        let url = ca.crl_url(server);
        let identity = Self::issued_by(ca, keys, times, Some(&url))?;
        identity.publish_crl(server, false)?;
        Ok(identity)
    }

    /// Publishes the CA's CRL on the demo server at `server`, valid for a day, listing this
    /// card's authentication certificate when `revoked`.
    pub fn publish_crl(&self, server: &str, revoked: bool) -> Result<()> {
        let serial = self.certificates.authentication_serial.as_slice();
        let listed: &[&[u8]] = if revoked { &[serial] } else { &[] };
        let crl = self.ca.crl_for_days(listed, 1)?;
        publish_crl(server, &self.ca.crl_name(), &crl)
    }

    fn certificate(&self, role: KeyRole) -> &[u8] {
        match role {
            KeyRole::Authentication => &self.certificates.authentication,
            KeyRole::Signing => &self.certificates.signing,
        }
    }
}

/// How the card is set up when it starts. `Debug` leaves out the PIN.
#[derive(Clone)]
pub struct Config {
    pub kind: CardKind,
    /// The vpcd port: [`VPCD_PORT`] or [`VPCD_PORT_SECOND`].
    pub port: u16,
    /// The PIN (6–8 digits), shared by both keys.
    pub pin: String,
    /// PIN tries the card allows; also the starting counter.
    pub pin_tries: u8,
    /// Store PIV certificates gzip-compressed (CertInfo bit 0).
    pub compress_certificates: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("kind", &self.kind)
            .field("port", &self.port)
            .field("pin", &"[redacted]")
            .field("pin_tries", &self.pin_tries)
            .field("compress_certificates", &self.compress_certificates)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kind: CardKind::Piv,
            port: VPCD_PORT,
            pin: "123456".into(),
            pin_tries: 3,
            compress_certificates: false,
        }
    }
}

/// What the tests turn while the card runs.
#[derive(Debug, Default)]
struct Knobs {
    inserted: bool,
    garbage: bool,
    /// Vanish instead of answering once this many more APDUs have been answered.
    pull_after: Option<u32>,
    tries_left: u8,
    apdus: u64,
}

#[derive(Debug)]
struct Shared {
    config: Config,
    identity: Arc<Identity>,
    knobs: Mutex<Knobs>,
    connection: Mutex<Option<TcpStream>>,
}

impl Shared {
    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        // A panic elsewhere while holding the lock leaves plain counters behind: keep going.
        self.knobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn connection(&self) -> MutexGuard<'_, Option<TcpStream>> {
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running virtual card. Dropping it takes the card out.
#[derive(Debug)]
pub struct VirtualCard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl VirtualCard {
    /// Starts the card and inserts it (connects to vpcd; keeps reconnecting while inserted,
    /// so it survives pcscd restarts like a card left in a reader).
    pub fn start(config: Config, identity: Arc<Identity>) -> Result<Self> {
        Pin::check(&config.pin)?;
        let tries = config.pin_tries;
        let mut card = VirtualCard {
            shared: Arc::new(Shared {
                config,
                identity,
                knobs: Mutex::new(Knobs {
                    tries_left: tries,
                    ..Knobs::default()
                }),
                connection: Mutex::new(None),
            }),
            thread: None,
        };
        card.insert();
        Ok(card)
    }

    /// Puts the card (back) in the reader.
    pub fn insert(&mut self) {
        if self
            .thread
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
        {
            return;
        }
        self.shared.knobs().inserted = true;
        let shared = Arc::clone(&self.shared);
        self.thread = Some(std::thread::spawn(move || serve(&shared)));
    }

    /// Takes the card out now (closes the vpcd connection).
    pub fn pull_out(&mut self) {
        self.shared.knobs().inserted = false;
        if let Some(stream) = self.shared.connection().take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Answers `apdus` more commands, then vanishes instead of answering the next one:
    /// a card pulled in the middle of a transaction.
    pub fn pull_out_after(&self, apdus: u32) {
        self.shared.knobs().pull_after = Some(apdus);
    }

    /// Answers every command with well-formed nonsense (`DE AD BE EF 90 00`).
    pub fn set_garbage(&self, garbage: bool) {
        self.shared.knobs().garbage = garbage;
    }

    /// Blocks the PIN (retry counter 0).
    pub fn block_pin(&self) {
        self.shared.knobs().tries_left = 0;
    }

    /// The card's PIN retry counter.
    pub fn pin_tries_left(&self) -> u8 {
        self.shared.knobs().tries_left
    }

    /// How many APDUs the card has answered.
    pub fn apdu_count(&self) -> u64 {
        self.shared.knobs().apdus
    }

    /// Whether the card is connected to vpcd right now.
    pub fn is_connected(&self) -> bool {
        self.shared.connection().is_some()
    }

    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// The PC/SC name of the reader this card sits in.
    pub fn reader_name(&self) -> String {
        reader_name(self.shared.config.port)
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        self.pull_out();
    }
}

/// The card without vpcd: answers APDUs in process. For unit tests of the card logic; the
/// integration tests go through pcscd.
pub struct Loopback {
    card: CardState,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loopback")
    }
}

impl Loopback {
    pub fn new(config: Config, identity: Arc<Identity>) -> Result<Self> {
        Pin::check(&config.pin)?;
        let tries_left = config.pin_tries;
        Ok(Loopback {
            card: CardState::new(Arc::new(Shared {
                config,
                identity,
                knobs: Mutex::new(Knobs {
                    inserted: true,
                    tries_left,
                    ..Knobs::default()
                }),
                connection: Mutex::new(None),
            })),
        })
    }

    pub fn pin_tries_left(&self) -> u8 {
        self.card.shared.knobs().tries_left
    }

    pub fn block_pin(&self) {
        self.card.shared.knobs().tries_left = 0;
    }
}

impl Transport for Loopback {
    fn transmit(&mut self, command: &apdu::Command) -> legitimera_card::Result<apdu::Response> {
        let (mut data, sw) = self.card.answer(command.as_bytes());
        data.extend_from_slice(&sw.to_be_bytes());
        apdu::Response::parse(&data)
    }
}

/// Only to check the configured PIN's shape; the card compares bytes.
struct Pin;

impl Pin {
    fn check(pin: &str) -> Result<()> {
        legitimera_card::Pin::parse(pin)
            .map(drop)
            .map_err(Error::InvalidPin)
    }
}

/// Connects (retrying while inserted) and answers vpcd until the card is pulled out.
fn serve(shared: &Arc<Shared>) {
    while shared.knobs().inserted {
        match connect(shared.config.port) {
            Ok(stream) => {
                if let Ok(clone) = stream.try_clone() {
                    *shared.connection() = Some(clone);
                }
                let mut card = CardState::new(Arc::clone(shared));
                let _ = card.run(stream);
                shared.connection().take();
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// vpcd sends the length and the payload in two writes; without quick ACKs every APDU waits
/// for the delayed-ACK timer (~40 ms).
fn quickack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

fn read_message(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    quickack(stream);
    stream.read_exact(&mut len)?;
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
    quickack(stream);
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

fn write_message(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(std::io::Error::other)?;
    let mut message = Vec::with_capacity(payload.len() + 2);
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(payload);
    stream.write_all(&message)
}

/// An ATR with T=1 and the card kind in the historical bytes.
fn atr(kind: CardKind) -> Vec<u8> {
    let historical: &[u8] = match kind {
        CardKind::Piv => b"LGM-PIV",
        CardKind::Pkcs15 => b"LGM-P15",
    };
    let mut atr = vec![0x3B, 0x80 | historical.len() as u8, 0x80, 0x01];
    atr.extend_from_slice(historical);
    let check = atr[1..].iter().fold(0u8, |acc, b| acc ^ b);
    atr.push(check);
    atr
}

const SW_OK: u16 = 0x9000;
const SW_WRONG_LENGTH: u16 = 0x6700;
const SW_SECURITY: u16 = 0x6982;
const SW_BLOCKED: u16 = 0x6983;
const SW_WRONG_DATA: u16 = 0x6A80;
const SW_NOT_FOUND: u16 = 0x6A82;
const SW_REF_NOT_FOUND: u16 = 0x6A88;
const SW_WRONG_P1P2: u16 = 0x6B00;
const SW_INS: u16 = 0x6D00;

/// PKCS#15 file layout inside the application.
const FILE_PRKDF: [u8; 2] = [0x44, 0x00];
const FILE_CDF: [u8; 2] = [0x44, 0x04];
const FILE_AODF: [u8; 2] = [0x44, 0x08];
const FILE_AUTH_CERT: [u8; 2] = [0x43, 0x01];
const FILE_SIGN_CERT: [u8; 2] = [0x43, 0x02];
const PKCS15_PIN_REFERENCE: u8 = 0x81;
const PKCS15_AUTH_KEY: u8 = 0x01;
const PKCS15_SIGN_KEY: u8 = 0x02;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    Nothing,
    MasterFile,
    Application,
}

/// The card's volatile state for one power cycle.
struct CardState {
    shared: Arc<Shared>,
    selected: Selected,
    file: Option<Vec<u8>>,
    pin_verified: bool,
    chain: Vec<u8>,
    pending: Vec<u8>,
    security_environment: Option<(u8, u8)>,
}

impl CardState {
    fn new(shared: Arc<Shared>) -> Self {
        CardState {
            shared,
            selected: Selected::Nothing,
            file: None,
            pin_verified: false,
            chain: Vec::new(),
            pending: Vec::new(),
            security_environment: None,
        }
    }

    fn power_cycle(&mut self) {
        *self = CardState::new(Arc::clone(&self.shared));
    }

    fn run(&mut self, mut stream: TcpStream) -> std::io::Result<()> {
        loop {
            let message = read_message(&mut stream)?;
            match message.as_slice() {
                [0x00] | [0x01] | [0x02] => self.power_cycle(),
                [0x04] => write_message(&mut stream, &atr(self.shared.config.kind))?,
                [_] => {}
                apdu => {
                    {
                        let mut knobs = self.shared.knobs();
                        if let Some(left) = knobs.pull_after.as_mut() {
                            if *left == 0 {
                                knobs.pull_after = None;
                                knobs.inserted = false;
                                drop(knobs);
                                let _ = stream.shutdown(Shutdown::Both);
                                return Ok(());
                            }
                            *left -= 1;
                        }
                        knobs.apdus += 1;
                        if knobs.garbage {
                            drop(knobs);
                            write_message(&mut stream, &[0xDE, 0xAD, 0xBE, 0xEF, 0x90, 0x00])?;
                            continue;
                        }
                    }
                    let (data, sw) = self.answer(apdu);
                    let mut response = data;
                    response.extend_from_slice(&sw.to_be_bytes());
                    write_message(&mut stream, &response)?;
                }
            }
        }
    }

    /// Answers one APDU: data (up to 256 bytes, the rest behind 61xx) and a status word.
    fn answer(&mut self, apdu: &[u8]) -> (Vec<u8>, u16) {
        let Some(command) = ParsedApdu::parse(apdu) else {
            return (Vec::new(), SW_WRONG_LENGTH);
        };
        if command.ins != 0xC0 {
            self.pending.clear();
        }
        let result = match (command.cla & !0x10, command.ins) {
            (0x00, 0xA4) => self.select(&command),
            (0x00, 0xC0) => return self.get_response(command.le),
            (0x00, 0x20) => self.verify(&command),
            (0x00, 0xCB) if self.is_piv() => self.get_data(&command),
            (0x00, 0x87) if self.is_piv() => self.general_authenticate(&command),
            (0x00, 0xB0) if !self.is_piv() => self.read_binary(&command),
            (0x00, 0x22) if !self.is_piv() => self.manage_security_environment(&command),
            (0x00, 0x2A) if !self.is_piv() => self.compute_signature(&command),
            _ => Err(SW_INS),
        };
        match result {
            Ok(data) => self.respond(data),
            Err(sw) => (Vec::new(), sw),
        }
    }

    fn is_piv(&self) -> bool {
        self.shared.config.kind == CardKind::Piv
    }

    /// Sends up to 256 bytes now and keeps the rest for GET RESPONSE.
    fn respond(&mut self, mut data: Vec<u8>) -> (Vec<u8>, u16) {
        if data.len() <= 256 {
            return (data, SW_OK);
        }
        self.pending = data.split_off(256);
        let more = u8::try_from(self.pending.len()).unwrap_or(0);
        (data, 0x6100 | u16::from(more))
    }

    fn get_response(&mut self, le: Option<usize>) -> (Vec<u8>, u16) {
        if self.pending.is_empty() {
            return (Vec::new(), 0x6985);
        }
        let take = le.unwrap_or(256).min(self.pending.len());
        let rest = self.pending.split_off(take);
        let data = std::mem::replace(&mut self.pending, rest);
        if self.pending.is_empty() {
            (data, SW_OK)
        } else {
            let more = u8::try_from(self.pending.len()).unwrap_or(0);
            (data, 0x6100 | u16::from(more))
        }
    }

    fn select(&mut self, command: &ParsedApdu<'_>) -> Result<Vec<u8>, u16> {
        match (command.p1, self.shared.config.kind) {
            (0x04, CardKind::Piv) if command.data.starts_with(&piv::AID) => {
                self.selected = Selected::Application;
                Ok(tlv::encode(
                    0x61,
                    &[
                        tlv::encode(0x4F, &[0x00, 0x00, 0x10, 0x00, 0x01, 0x00]),
                        tlv::encode(0x79, &tlv::encode(0x4F, &piv::AID)),
                    ]
                    .concat(),
                ))
            }
            (0x04, CardKind::Pkcs15) if command.data == pkcs15::AID => {
                self.selected = Selected::Application;
                self.file = None;
                Ok(tlv::encode(0x6F, &tlv::encode(0x84, &pkcs15::AID)))
            }
            (0x00, CardKind::Pkcs15) if command.data == [0x3F, 0x00] => {
                self.selected = Selected::MasterFile;
                self.file = None;
                Ok(Vec::new())
            }
            (0x02, CardKind::Pkcs15) => {
                let content = match (self.selected, command.data) {
                    (Selected::MasterFile, fid) if fid == pkcs15::EF_DIR => {
                        pkcs15::encode_ef_dir_record(&pkcs15::AID, "SITHS e-id TEST")
                    }
                    (Selected::Application, fid) => self.pkcs15_file(fid).ok_or(SW_NOT_FOUND)?,
                    _ => return Err(SW_NOT_FOUND),
                };
                self.file = Some(content);
                Ok(Vec::new())
            }
            _ => Err(SW_NOT_FOUND),
        }
    }

    fn pkcs15_file(&self, fid: &[u8]) -> Option<Vec<u8>> {
        let identity = &self.shared.identity;
        let ec = |role| identity.keys.get(role).is_ec();
        let file: [u8; 2] = fid.try_into().ok()?;
        Some(match file {
            pkcs15::EF_ODF => pkcs15::encode_odf(FILE_PRKDF, FILE_CDF, FILE_AODF),
            FILE_CDF => [
                pkcs15::encode_certificate_entry("Legitimering", &[0x45], FILE_AUTH_CERT),
                pkcs15::encode_certificate_entry("Underskrift", &[0x46], FILE_SIGN_CERT),
            ]
            .concat(),
            FILE_PRKDF => [
                pkcs15::encode_key_entry(
                    "Legitimering",
                    &[0x45],
                    &[0x01],
                    PKCS15_AUTH_KEY,
                    ec(KeyRole::Authentication),
                ),
                pkcs15::encode_key_entry(
                    "Underskrift",
                    &[0x46],
                    &[0x01],
                    PKCS15_SIGN_KEY,
                    ec(KeyRole::Signing),
                ),
            ]
            .concat(),
            FILE_AODF => pkcs15::encode_pin_entry("PIN", &[0x01], PKCS15_PIN_REFERENCE),
            FILE_AUTH_CERT => identity.certificate(KeyRole::Authentication).to_vec(),
            FILE_SIGN_CERT => identity.certificate(KeyRole::Signing).to_vec(),
            _ => return None,
        })
    }

    fn read_binary(&mut self, command: &ParsedApdu<'_>) -> Result<Vec<u8>, u16> {
        let file = self.file.as_ref().ok_or(0x6986u16)?;
        let offset = usize::from(u16::from_be_bytes([command.p1 & 0x7F, command.p2]));
        if offset >= file.len() {
            return Err(SW_WRONG_P1P2);
        }
        let take = command.le.unwrap_or(256).min(file.len() - offset);
        Ok(file[offset..offset + take].to_vec())
    }

    fn pin_reference(&self) -> u8 {
        if self.is_piv() {
            piv::PIN_REFERENCE
        } else {
            PKCS15_PIN_REFERENCE
        }
    }

    fn verify(&mut self, command: &ParsedApdu<'_>) -> Result<Vec<u8>, u16> {
        if command.p2 != self.pin_reference() || self.selected != Selected::Application {
            return Err(SW_REF_NOT_FOUND);
        }
        let mut knobs = self.shared.knobs();
        if knobs.tries_left == 0 {
            return Err(SW_BLOCKED);
        }
        if command.data.is_empty() {
            return if self.pin_verified {
                Ok(Vec::new())
            } else {
                Err(0x63C0 | u16::from(knobs.tries_left))
            };
        }
        let mut expected = [0xFF; 8];
        let pin = self.shared.config.pin.as_bytes();
        expected[..pin.len()].copy_from_slice(pin);
        if command.data == expected {
            knobs.tries_left = self.shared.config.pin_tries;
            self.pin_verified = true;
            Ok(Vec::new())
        } else {
            knobs.tries_left -= 1;
            self.pin_verified = false;
            Err(0x63C0 | u16::from(knobs.tries_left))
        }
    }

    fn get_data(&mut self, command: &ParsedApdu<'_>) -> Result<Vec<u8>, u16> {
        if self.selected != Selected::Application {
            return Err(SW_NOT_FOUND);
        }
        let role = match tlv::find(command.data, 0x5C).ok().flatten() {
            Some(tag) if tag == KeyRole::Authentication.piv_object() => KeyRole::Authentication,
            Some(tag) if tag == KeyRole::Signing.piv_object() => KeyRole::Signing,
            _ => return Err(SW_NOT_FOUND),
        };
        piv::certificate_object(
            self.shared.identity.certificate(role),
            self.shared.config.compress_certificates,
        )
        .map_err(|_| 0x6F00)
    }

    fn general_authenticate(&mut self, command: &ParsedApdu<'_>) -> Result<Vec<u8>, u16> {
        self.chain.extend_from_slice(command.data);
        if command.cla & 0x10 != 0 {
            return Ok(Vec::new());
        }
        let template = std::mem::take(&mut self.chain);
        let role = match command.p2 {
            0x9A => KeyRole::Authentication,
            0x9C => KeyRole::Signing,
            _ => return Err(SW_REF_NOT_FOUND),
        };
        if !self.pin_verified {
            return Err(SW_SECURITY);
        }
        let (outer, _) = tlv::parse_one(&template).map_err(|_| SW_WRONG_DATA)?;
        let input = tlv::find(outer.value, 0x81)
            .ok()
            .flatten()
            .ok_or(SW_WRONG_DATA)?;
        let key = self.shared.identity.keys.get(role);
        let signature = match command.p1 {
            piv::ALG_RSA_2048 => key.rsa_raw(input),
            piv::ALG_ECC_P256 => key.ecdsa(input).map(|s| s.to_der().as_bytes().to_vec()),
            _ => None,
        }
        .ok_or(SW_WRONG_DATA)?;
        Ok(tlv::encode(0x7C, &tlv::encode(0x82, &signature)))
    }

    fn manage_security_environment(&mut self, command: &ParsedApdu<'_>) -> Result<Vec<u8>, u16> {
        if command.p1 != 0x41 || command.p2 != 0xB6 {
            return Err(SW_WRONG_P1P2);
        }
        let algorithm = tlv::find(command.data, 0x80).ok().flatten();
        let key = tlv::find(command.data, 0x84).ok().flatten();
        match (algorithm, key) {
            (Some([algorithm]), Some([key])) => {
                self.security_environment = Some((*algorithm, *key));
                Ok(Vec::new())
            }
            _ => Err(SW_WRONG_DATA),
        }
    }

    fn compute_signature(&mut self, command: &ParsedApdu<'_>) -> Result<Vec<u8>, u16> {
        let (algorithm, key_reference) = self.security_environment.ok_or(0x6985u16)?;
        if !self.pin_verified {
            return Err(SW_SECURITY);
        }
        let role = match key_reference {
            PKCS15_AUTH_KEY => KeyRole::Authentication,
            PKCS15_SIGN_KEY => KeyRole::Signing,
            _ => return Err(SW_REF_NOT_FOUND),
        };
        let key = self.shared.identity.keys.get(role);
        match algorithm {
            pkcs15::ALG_RSA_PKCS1_DIGEST_INFO => key.rsa_sign_digest_info(command.data),
            pkcs15::ALG_ECDSA_HASH => key.ecdsa(command.data).map(|s| s.to_bytes().to_vec()),
            _ => None,
        }
        .ok_or(SW_WRONG_DATA)
    }
}

/// A short command APDU as the card reads it.
struct ParsedApdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    le: Option<usize>,
}

impl<'a> ParsedApdu<'a> {
    fn parse(apdu: &'a [u8]) -> Option<Self> {
        let (&[cla, ins, p1, p2], body) = apdu.split_first_chunk::<4>()?;
        let le_of = |byte: u8| if byte == 0 { 256 } else { usize::from(byte) };
        let (data, le) = match body {
            [] => (&body[..0], None),
            [le] => (&body[..0], Some(le_of(*le))),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 || lc > MAX_SHORT_DATA {
                    return None;
                }
                match rest.len().checked_sub(lc)? {
                    0 => (rest, None),
                    1 => (&rest[..lc], Some(le_of(rest[lc]))),
                    _ => return None,
                }
            }
        };
        Some(ParsedApdu {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_check_byte() {
        let atr = atr(CardKind::Piv);
        assert_eq!(atr[..4], [0x3B, 0x87, 0x80, 0x01]);
        assert_eq!(
            atr[1..].iter().fold(0, |acc, b| acc ^ b),
            0,
            "TCK makes the XOR zero"
        );
    }

    #[test]
    fn reader_names_follow_vpcd_config() {
        assert_eq!(reader_name(VPCD_PORT), "Virtual PCD 00 00");
        assert_eq!(reader_name(VPCD_PORT_SECOND), "Virtual PCD 00 01");
    }

    #[test]
    fn apdu_cases() {
        let case2 = ParsedApdu::parse(&[0, 0xC0, 0, 0, 0x10]).unwrap();
        assert_eq!((case2.data.len(), case2.le), (0, Some(16)));
        let case3 = ParsedApdu::parse(&[0, 0x20, 0, 0x80, 2, 1, 2]).unwrap();
        assert_eq!((case3.data, case3.le), (&[1u8, 2][..], None));
        let case4 = ParsedApdu::parse(&[0, 0xA4, 4, 0, 1, 9, 0]).unwrap();
        assert_eq!((case4.data, case4.le), (&[9u8][..], Some(256)));
        assert!(ParsedApdu::parse(&[0, 0xA4, 4, 0, 5, 9]).is_none());
    }
}
