//! Writes seed corpora from the virtual card's real answers: the answer script of whole PIV
//! (plain and compressed, P-256 and RSA) and PKCS#15 sessions, and the files and objects
//! inside them. `cargo fuzz build` builds it with the targets; README.md says how to run it.
//! Writes fuzz/corpus/<target>/.

use std::path::Path;
use std::sync::Arc;

use legitimera_card::apdu::{Command, Response};
use legitimera_card::{piv, pkcs15, CardKind, CardSession, KeyRole, Pin, Transport};
use legitimera_fuzz::record;
use legitimera_vcard::{CardKeys, CertificateTimes, Config, Identity, Loopback};

/// Passes commands to the virtual card and keeps the raw answers.
struct Recorder {
    card: Loopback,
    script: Vec<u8>,
}

impl Transport for Recorder {
    fn transmit(&mut self, command: &Command) -> legitimera_card::Result<Response> {
        let response = self.card.transmit(command)?;
        let raw = [&response.data[..], &response.sw.to_be_bytes()].concat();
        record(&mut self.script, &raw);
        Ok(response)
    }
}

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let identities = [
        (
            "p256",
            Arc::new(Identity::generate(
                CardKeys::generate_p256(),
                CertificateTimes::Valid,
            )?),
        ),
        (
            "rsa",
            Arc::new(Identity::generate(
                CardKeys::generate_rsa2048()?,
                CertificateTimes::Valid,
            )?),
        ),
    ];
    let pin = Pin::parse("123456")?;
    for (key, identity) in &identities {
        for (kind, compress, name) in [
            (CardKind::Piv, false, "piv"),
            (CardKind::Piv, true, "piv_gzip"),
            (CardKind::Pkcs15, false, "pkcs15"),
        ] {
            let config = Config {
                kind,
                compress_certificates: compress,
                ..Config::default()
            };
            let recorder = Recorder {
                card: Loopback::new(config, identity.clone())?,
                script: Vec::new(),
            };
            let mut session = CardSession::open(recorder)?;
            session.certificate(KeyRole::Authentication)?;
            session.certificates()?;
            session.pin_status(KeyRole::Authentication)?;
            session.sign(KeyRole::Authentication, &pin, b"challenge")?;
            let script = session.into_transport().script;
            write("card_session", &format!("{name}_{key}"), &script)?;
        }
        for (role, name) in [
            (KeyRole::Authentication, "auth"),
            (KeyRole::Signing, "sign"),
        ] {
            let der = identity.certificates.authentication.clone();
            let der = if role == KeyRole::Signing {
                identity.certificates.signing.clone()
            } else {
                der
            };
            write("certificate_info", &format!("{name}_{key}"), &der)?;
            write("tlv", &format!("{name}_{key}"), &der)?;
            write(
                "piv_object",
                &format!("{name}_{key}"),
                &piv::certificate_object(&der, false)?,
            )?;
            write(
                "piv_object",
                &format!("{name}_{key}_gzip"),
                &piv::certificate_object(&der, true)?,
            )?;
        }
    }
    let cdf = [
        pkcs15::encode_certificate_entry("auth", &[1], [0x43, 0x01]),
        pkcs15::encode_certificate_entry("sign", &[2], [0x43, 0x02]),
    ]
    .concat();
    let prkdf = [
        pkcs15::encode_key_entry("auth", &[1], &[0x11], 0x81, false),
        pkcs15::encode_key_entry("sign", &[2], &[0x12], 0x82, true),
    ]
    .concat();
    for (name, file) in [
        (
            "ef_dir",
            pkcs15::encode_ef_dir_record(&pkcs15::AID, "SITHS"),
        ),
        (
            "odf",
            pkcs15::encode_odf([0x44, 0x00], [0x44, 0x04], [0x44, 0x08]),
        ),
        ("cdf", cdf),
        ("prkdf", prkdf),
        ("aodf", pkcs15::encode_pin_entry("PIN", &[0x11], 0x91)),
    ] {
        write("pkcs15_files", name, &file)?;
        write("tlv", name, &file)?;
    }
    println!("seed corpora written under fuzz/corpus/");
    Ok(())
}
