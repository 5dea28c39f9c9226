//! Talking to a card application through any [`Transport`]: detecting PIV or PKCS#15, reading
//! certificates, PIN status and VERIFY, signing a challenge. It owns the order of commands;
//! it never touches PC/SC directly and never keeps a PIN beyond the call that uses it.

use serde::{Deserialize, Serialize};

use crate::apdu::{self, Command, Response, Status};
use crate::cert::{self, KeyKind};
use crate::error::{Error, Result};
use crate::pin::Pin;
use crate::piv::{self, KeyRole};
use crate::pkcs15;
use crate::signature::{self, SignatureAlgorithm};

/// Sends one APDU and returns the card's answer; implemented over PC/SC and in tests.
pub trait Transport {
    fn transmit(&mut self, command: &Command) -> Result<Response>;
}

/// Which card application the card carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    Piv,
    Pkcs15,
}

/// The PIN's state, asked without spending a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PinStatus {
    /// Already verified in this card session.
    Verified,
    TriesLeft {
        tries_left: u8,
    },
    Blocked,
}

impl PinStatus {
    /// The next wrong PIN blocks the card: the UI must say so before the user sends it.
    pub fn is_last_try(self) -> bool {
        self == PinStatus::TriesLeft { tries_left: 1 }
    }

    /// Tries left, 0 when blocked, `None` when the card says the PIN is already verified.
    pub fn tries_left(self) -> Option<u8> {
        match self {
            PinStatus::Verified => None,
            PinStatus::TriesLeft { tries_left } => Some(tries_left),
            PinStatus::Blocked => Some(0),
        }
    }
}

/// A certificate read from the card and the key role it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCertificate {
    pub role: KeyRole,
    pub der: Vec<u8>,
}

/// A signed challenge: what the server needs to check the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedChallenge {
    pub algorithm: SignatureAlgorithm,
    /// RSA: the raw signature (key length); ECDSA: DER.
    pub signature: Vec<u8>,
    /// The certificate of the key that signed, DER.
    pub certificate: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Pkcs15Layout {
    odf: pkcs15::Odf,
}

#[derive(Debug, Clone)]
enum Application {
    Piv,
    Pkcs15(Pkcs15Layout),
}

/// A card whose application has been found and selected. Every method assumes it runs inside
/// the same PC/SC transaction as [`CardSession::open`].
#[derive(Debug)]
pub struct CardSession<T> {
    transport: T,
    application: Application,
    apdus: u32,
    /// PKCS#15 certificates once read: signing needs them three times.
    pkcs15_certificates: Option<Pkcs15Certificates>,
}

/// The PKCS#15 certificates read so far, in CDF order, and the CDF entries not read yet:
/// showing the card needs only the authentication certificate, so the others wait.
#[derive(Debug, Default)]
struct Pkcs15Certificates {
    read: Vec<(pkcs15::CertificateEntry, CardCertificate)>,
    unread: std::collections::VecDeque<pkcs15::CertificateEntry>,
}

impl<T: Transport> CardSession<T> {
    /// Finds the card application: PIV first, then PKCS#15 by AID, then the AIDs in EF.DIR
    /// (read only when the known AIDs are not there: it costs three APDUs).
    pub fn open(transport: T) -> Result<Self> {
        let mut session = CardSession {
            transport,
            application: Application::Piv,
            apdus: 0,
            pkcs15_certificates: None,
        };
        if session.exchange(&apdu::select_aid(&piv::AID)?)?.status() == Status::Ok {
            return Ok(session);
        }
        for aid in [&pkcs15::AID[..], &pkcs15::AID_SETCOS[..]] {
            if session.select_pkcs15(aid)? {
                return Ok(session);
            }
        }
        for aid in session.ef_dir_applications()? {
            if session.select_pkcs15(&aid)? {
                return Ok(session);
            }
        }
        Err(Error::UnsupportedCard(
            "neither a PIV nor a PKCS#15 application".into(),
        ))
    }

    /// SELECTs a PKCS#15 application by `aid` and reads its ODF; false when it is not there.
    fn select_pkcs15(&mut self, aid: &[u8]) -> Result<bool> {
        if self.exchange(&apdu::select_aid(aid)?)?.status() != Status::Ok {
            return Ok(false);
        }
        let odf = pkcs15::parse_odf(&self.read_file(pkcs15::EF_ODF)?)?;
        self.application = Application::Pkcs15(Pkcs15Layout { odf });
        Ok(true)
    }

    pub fn kind(&self) -> CardKind {
        match self.application {
            Application::Piv => CardKind::Piv,
            Application::Pkcs15(_) => CardKind::Pkcs15,
        }
    }

    /// APDUs sent so far in this session (GET RESPONSE and chain pieces count).
    pub fn apdu_count(&self) -> u32 {
        self.apdus
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    /// The authentication and signing certificates, as the card has them.
    pub fn certificates(&mut self) -> Result<Vec<CardCertificate>> {
        match &self.application {
            Application::Piv => {
                let mut found = Vec::new();
                for role in [KeyRole::Authentication, KeyRole::Signing] {
                    match self.piv_certificate(role) {
                        Ok(der) => found.push(CardCertificate { role, der }),
                        Err(Error::UnsupportedCard(_)) => {}
                        Err(other) => return Err(other),
                    }
                }
                Ok(found)
            }
            Application::Pkcs15(_) => Ok(self
                .pkcs15_all_certificates()?
                .into_iter()
                .map(|(_, certificate)| certificate)
                .collect()),
        }
    }

    /// The certificate for one key role.
    pub fn certificate(&mut self, role: KeyRole) -> Result<Vec<u8>> {
        match &self.application {
            Application::Piv => self.piv_certificate(role),
            Application::Pkcs15(_) => Ok(self.pkcs15_certificate(role)?.1.der),
        }
    }

    /// The PIN guarding `role`'s key: verified, tries left or blocked. Spends no try.
    pub fn pin_status(&mut self, role: KeyRole) -> Result<PinStatus> {
        let reference = self.pin_reference(role)?;
        let response = self.exchange(&apdu::verify_status(reference))?;
        match response.status() {
            Status::Ok => Ok(PinStatus::Verified),
            Status::TriesLeft(0) | Status::Blocked => Ok(PinStatus::Blocked),
            Status::TriesLeft(tries_left) => Ok(PinStatus::TriesLeft { tries_left }),
            _ => Err(Error::card(format!("PIN status: {:04X}", response.sw))),
        }
    }

    /// VERIFY the PIN for `role`'s key.
    pub fn verify(&mut self, role: KeyRole, pin: &Pin) -> Result<()> {
        let reference = self.pin_reference(role)?;
        let response = self.exchange(&apdu::verify(reference, pin)?)?;
        match response.status() {
            Status::Ok => Ok(()),
            Status::TriesLeft(0) | Status::Blocked => Err(Error::PinBlocked),
            Status::TriesLeft(tries_left) => Err(Error::WrongPin { tries_left }),
            _ => Err(Error::card(format!("VERIFY: {:04X}", response.sw))),
        }
    }

    /// VERIFY and sign SHA-256(`challenge`) with `role`'s key. Refuses before sending the PIN
    /// when it is blocked already.
    pub fn sign(&mut self, role: KeyRole, pin: &Pin, challenge: &[u8]) -> Result<SignedChallenge> {
        let certificate = self.certificate(role)?;
        let key = cert::key_kind_of(&certificate)?;
        if self.pin_status(role)? == PinStatus::Blocked {
            return Err(Error::PinBlocked);
        }
        self.verify(role, pin)?;
        let digest = signature::sha256(challenge);
        let (algorithm, signature) = match (&self.application, key) {
            (Application::Piv, KeyKind::Rsa { bits }) => {
                let block = signature::pkcs1_v15_block(&digest, rsa_len(bits)?)?;
                let commands =
                    apdu::general_authenticate(piv::ALG_RSA_2048, role.piv_slot(), &block)?;
                let answer = self.exchange_chain(&commands)?.ok("GENERAL AUTHENTICATE")?;
                (
                    SignatureAlgorithm::RsaPkcs1Sha256,
                    piv::parse_signature_response(&answer)?,
                )
            }
            (Application::Piv, KeyKind::EcP256) => {
                let commands =
                    apdu::general_authenticate(piv::ALG_ECC_P256, role.piv_slot(), &digest)?;
                let answer = self.exchange_chain(&commands)?.ok("GENERAL AUTHENTICATE")?;
                let raw = piv::parse_signature_response(&answer)?;
                (
                    SignatureAlgorithm::EcdsaP256Sha256,
                    signature::ecdsa_p256_to_der(&raw)?,
                )
            }
            (Application::Pkcs15(_), KeyKind::Rsa { .. }) => {
                let key_reference = self.pkcs15_key(role)?.key_reference;
                let raw = self.pso_sign(
                    pkcs15::ALG_RSA_PKCS1_DIGEST_INFO,
                    key_reference,
                    &signature::digest_info_sha256(&digest),
                )?;
                (SignatureAlgorithm::RsaPkcs1Sha256, raw)
            }
            (Application::Pkcs15(_), KeyKind::EcP256) => {
                let key_reference = self.pkcs15_key(role)?.key_reference;
                let raw = self.pso_sign(pkcs15::ALG_ECDSA_HASH, key_reference, &digest)?;
                (
                    SignatureAlgorithm::EcdsaP256Sha256,
                    signature::ecdsa_p256_to_der(&raw)?,
                )
            }
            (_, _) => return Err(Error::UnsupportedCard("key type".into())),
        };
        if algorithm == SignatureAlgorithm::RsaPkcs1Sha256 {
            if let KeyKind::Rsa { bits } = key {
                if signature.len() != rsa_len(bits)? {
                    return Err(Error::card("RSA signature of the wrong length"));
                }
            }
        }
        Ok(SignedChallenge {
            algorithm,
            signature,
            certificate,
        })
    }

    fn pso_sign(&mut self, algorithm: u8, key_reference: u8, input: &[u8]) -> Result<Vec<u8>> {
        self.exchange(&apdu::mse_set_signature(algorithm, key_reference)?)?
            .ok("MSE SET")?;
        self.exchange(&apdu::pso_compute_signature(input)?)?
            .ok("PSO COMPUTE DIGITAL SIGNATURE")
    }

    /// Sends a command and collects every `61xx` continuation with GET RESPONSE.
    fn exchange(&mut self, command: &Command) -> Result<Response> {
        let mut response = self.transmit(command)?;
        if let Status::WrongLe(le) = response.status() {
            response = self.transmit(&command.with_le(le))?;
        }
        let mut data = std::mem::take(&mut response.data);
        // A runaway card could answer 61xx forever; no real object is this large.
        for _ in 0..256 {
            let Status::MoreData(available) = response.status() else {
                response.data = data;
                return Ok(response);
            };
            response = self.transmit(&apdu::get_response(available))?;
            data.append(&mut response.data);
        }
        Err(Error::card("endless GET RESPONSE"))
    }

    /// Sends a command chain; every piece but the last must answer 9000.
    fn exchange_chain(&mut self, commands: &[Command]) -> Result<Response> {
        let Some((last, pieces)) = commands.split_last() else {
            return Err(Error::card("empty command chain"));
        };
        for piece in pieces {
            self.transmit(piece)?.ok("command chain")?;
        }
        self.exchange(last)
    }

    fn transmit(&mut self, command: &Command) -> Result<Response> {
        self.apdus += 1;
        self.transport.transmit(command)
    }

    fn piv_certificate(&mut self, role: KeyRole) -> Result<Vec<u8>> {
        let response = self.exchange(&apdu::get_data(&role.piv_object())?)?;
        match response.status() {
            Status::Ok => piv::parse_certificate_object(&response.data),
            Status::NotFound | Status::ReferenceNotFound => Err(missing(role)),
            _ => Err(Error::card(format!("GET DATA: {:04X}", response.sw))),
        }
    }

    fn pin_reference(&mut self, role: KeyRole) -> Result<u8> {
        match self.application.clone() {
            Application::Piv => Ok(piv::PIN_REFERENCE),
            Application::Pkcs15(layout) => {
                let key = self.pkcs15_key(role)?;
                let aodf = layout.odf.auth_objects;
                let mut pins = Vec::new();
                for file in aodf {
                    pins.extend(pkcs15::parse_aodf(&self.read_file(file)?)?);
                }
                let pin = match &key.auth_id {
                    Some(auth_id) => pins.iter().find(|pin| &pin.auth_id == auth_id),
                    None => pins.first(),
                };
                pin.map(|pin| pin.reference)
                    .ok_or_else(|| Error::UnsupportedCard("no PIN for the key".into()))
            }
        }
    }

    /// The first certificate in CDF order whose Key Usage says `role` (PKCS#15 labels are
    /// free text), reading certificate files only until it is found.
    fn pkcs15_certificate(
        &mut self,
        role: KeyRole,
    ) -> Result<(pkcs15::CertificateEntry, CardCertificate)> {
        self.pkcs15_certificates_until(Some(role))?
            .into_iter()
            .find(|(_, certificate)| certificate.role == role)
            .ok_or_else(|| missing(role))
    }

    /// Every certificate with an authentication or signing Key Usage, with its CDF entry.
    fn pkcs15_all_certificates(
        &mut self,
    ) -> Result<Vec<(pkcs15::CertificateEntry, CardCertificate)>> {
        self.pkcs15_certificates_until(None)
    }

    /// Reads the CDFs once, then certificate files in CDF order until one has `wanted`'s role
    /// (all of them for `None`); returns every certificate read so far.
    fn pkcs15_certificates_until(
        &mut self,
        wanted: Option<KeyRole>,
    ) -> Result<Vec<(pkcs15::CertificateEntry, CardCertificate)>> {
        let Application::Pkcs15(layout) = &self.application else {
            return Ok(Vec::new());
        };
        let mut certificates = match self.pkcs15_certificates.take() {
            Some(cached) => cached,
            None => {
                let mut unread = std::collections::VecDeque::new();
                for file in layout.odf.certificates.clone() {
                    unread.extend(pkcs15::parse_cdf(&self.read_file(file)?)?);
                }
                Pkcs15Certificates {
                    read: Vec::new(),
                    unread,
                }
            }
        };
        let found = |certificates: &Pkcs15Certificates| {
            wanted.is_some_and(|role| {
                certificates
                    .read
                    .iter()
                    .any(|(_, certificate)| certificate.role == role)
            })
        };
        let mut result = Ok(());
        while !found(&certificates) {
            let Some(entry) = certificates.unread.pop_front() else {
                break;
            };
            let read = self.read_certificate_file(entry.file).and_then(|der| {
                let role = cert::CertificateInfo::from_der(&der)?.key_usage.role();
                Ok(role.map(|role| CardCertificate { role, der }))
            });
            match read {
                Ok(Some(certificate)) => certificates.read.push((entry, certificate)),
                Ok(None) => {}
                Err(error) => {
                    // Keep the entry so a later call tries it again.
                    certificates.unread.push_front(entry);
                    result = Err(error);
                    break;
                }
            }
        }
        let read = certificates.read.clone();
        self.pkcs15_certificates = Some(certificates);
        result.map(|()| read)
    }

    fn pkcs15_key(&mut self, role: KeyRole) -> Result<pkcs15::KeyEntry> {
        let Application::Pkcs15(layout) = &self.application else {
            return Err(Error::UnsupportedCard("not a PKCS#15 card".into()));
        };
        let key_files = layout.odf.private_keys.clone();
        let certificate_id = self.pkcs15_certificate(role)?.0.id;
        for file in key_files {
            if let Some(key) = pkcs15::parse_prkdf(&self.read_file(file)?)?
                .into_iter()
                .find(|key| key.id == certificate_id)
            {
                return Ok(key);
            }
        }
        Err(Error::UnsupportedCard(
            "no private key for the certificate".into(),
        ))
    }

    /// The EF.DIR application identifiers, or none when the card has no EF.DIR.
    fn ef_dir_applications(&mut self) -> Result<Vec<Vec<u8>>> {
        if self.exchange(&apdu::select_master_file()?)?.status() != Status::Ok {
            return Ok(Vec::new());
        }
        match self.read_file(pkcs15::EF_DIR) {
            Ok(content) => Ok(pkcs15::parse_ef_dir(&content).unwrap_or_default()),
            Err(Error::UnsupportedCard(_)) => Ok(Vec::new()),
            Err(other) => Err(other),
        }
    }

    /// SELECT a directory file under the current DF and READ BINARY all of it.
    fn read_file(&mut self, file: [u8; 2]) -> Result<Vec<u8>> {
        self.read_binary_file(file, false)
    }

    /// SELECT a certificate file and READ BINARY the DER object in it: the first chunk gives
    /// the length, so it takes no more reads than it needs.
    fn read_certificate_file(&mut self, file: [u8; 2]) -> Result<Vec<u8>> {
        self.read_binary_file(file, true)
    }

    fn read_binary_file(&mut self, file: [u8; 2], one_der_object: bool) -> Result<Vec<u8>> {
        let selected = self.exchange(&apdu::select_file(file)?)?;
        match selected.status() {
            Status::Ok => {}
            Status::NotFound => {
                return Err(Error::UnsupportedCard(format!(
                    "file {:02X}{:02X} missing",
                    file[0], file[1]
                )))
            }
            _ => return Err(Error::card(format!("SELECT file: {:04X}", selected.sw))),
        }
        let mut content = Vec::new();
        let mut expected: Option<usize> = None;
        loop {
            let offset = u16::try_from(content.len()).map_err(|_| Error::card("file too large"))?;
            let want = expected.map_or(256, |total| (total - content.len()).min(256));
            let response = self.exchange(&apdu::read_binary(offset, (want % 256) as u8)?)?;
            match response.status() {
                Status::Ok if response.data.is_empty() => break,
                Status::Ok => content.extend_from_slice(&response.data),
                Status::EndOfFile if !content.is_empty() => break,
                _ => return Err(Error::card(format!("READ BINARY: {:04X}", response.sw))),
            }
            if one_der_object && expected.is_none() {
                expected = crate::tlv::total_len(&content).ok();
            }
            match expected {
                Some(total) if content.len() >= total => {
                    content.truncate(total);
                    break;
                }
                None if response.data.len() < 256 => break,
                _ => {}
            }
        }
        Ok(content)
    }
}

fn missing(role: KeyRole) -> Error {
    Error::UnsupportedCard(format!("no {role:?} certificate on the card"))
}

fn rsa_len(bits: u32) -> Result<usize> {
    if bits != 2048 {
        return Err(Error::UnsupportedCard(format!("RSA-{bits} key")));
    }
    Ok(256)
}
