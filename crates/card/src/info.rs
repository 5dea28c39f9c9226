//! What `card-info` prints: readers, card kind, certificates and PIN tries, as JSON. Built
//! here, printed by the binary. It never asks for a PIN and never spends a PIN try.

use serde::Serialize;

use crate::card::CardKind;
use crate::cert::{CertificateInfo, Validity};
use crate::error::{Error, ErrorBody};
use crate::piv::KeyRole;
use crate::reader::{Pcsc, ReaderInfo};

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub readers: Vec<ReaderReport>,
}

/// One reader and, when a card is in it, what the card holds.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderReport {
    #[serde(flatten)]
    pub reader: ReaderInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<CardReport>,
    /// Why the card could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardReport {
    pub kind: CardKind,
    pub certificates: Vec<CertificateReport>,
    /// Tries left for the authentication PIN; `null` when already verified.
    pub pin_tries_left: Option<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateReport {
    pub role: KeyRole,
    #[serde(flatten)]
    pub info: CertificateInfo,
    pub validity: Validity,
}

/// Reads every reader. Fails only when the service is not there or there is no reader;
/// a card that cannot be read is reported in its reader's `error`.
pub fn collect(now: time::OffsetDateTime) -> Result<Report, Error> {
    let pcsc = Pcsc::establish()?;
    let readers = pcsc.readers()?;
    if readers.is_empty() {
        return Err(Error::NoReader);
    }
    let readers = readers
        .into_iter()
        .map(|reader| {
            if !reader.card_present {
                return ReaderReport {
                    reader,
                    card: None,
                    error: None,
                };
            }
            match read(&pcsc, &reader.name, now) {
                Ok(card) => ReaderReport {
                    reader,
                    card: Some(card),
                    error: None,
                },
                Err(error) => ReaderReport {
                    reader,
                    card: None,
                    error: Some(error.to_body()),
                },
            }
        })
        .collect();
    Ok(Report { readers })
}

fn read(pcsc: &Pcsc, reader: &str, now: time::OffsetDateTime) -> Result<CardReport, Error> {
    let contents = pcsc.read_card(reader)?;
    let certificates = contents
        .certificates
        .iter()
        .map(|certificate| {
            let info = CertificateInfo::from_der(&certificate.der)?;
            Ok(CertificateReport {
                role: certificate.role,
                validity: info.validity_at(now),
                info,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(CardReport {
        kind: contents.kind,
        certificates,
        pin_tries_left: contents.pin.tries_left(),
    })
}
