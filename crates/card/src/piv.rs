//! PIV (NIST SP 800-73-4) data: the application identifier, key slots and their certificate
//! objects, certificate object parsing (gzip-compressed too) and GENERAL AUTHENTICATE
//! responses. Pure code; the card module sends the commands.

use std::io::Read;

use crate::error::{Error, Result};
use crate::tlv;

/// The PIV application identifier (without version).
pub const AID: [u8; 9] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00];
/// The PIV card application PIN.
pub const PIN_REFERENCE: u8 = 0x80;
/// GENERAL AUTHENTICATE algorithm identifiers.
pub const ALG_RSA_2048: u8 = 0x07;
pub const ALG_ECC_P256: u8 = 0x11;

/// The largest certificate we accept after decompression: far above any real one, low enough
/// that a hostile card cannot make us allocate without bound.
const MAX_CERTIFICATE_LEN: u64 = 16 * 1024;

/// Which of the card's keys: the SITHS authentication ("legitimering") key or the signing
/// ("underskrift") key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    Authentication,
    Signing,
}

impl KeyRole {
    /// The PIV key slot (9A authentication, 9C digital signature).
    pub fn piv_slot(self) -> u8 {
        match self {
            KeyRole::Authentication => 0x9A,
            KeyRole::Signing => 0x9C,
        }
    }

    /// The tag of the slot's certificate data object.
    pub fn piv_object(self) -> [u8; 3] {
        match self {
            KeyRole::Authentication => [0x5F, 0xC1, 0x05],
            KeyRole::Signing => [0x5F, 0xC1, 0x0A],
        }
    }
}

/// The DER certificate in a PIV certificate object `53 { 70 cert, 71 certinfo, FE lrc }`,
/// decompressed when CertInfo bit 0 says gzip.
pub fn parse_certificate_object(object: &[u8]) -> Result<Vec<u8>> {
    let (outer, _) = tlv::parse_one(object)?;
    if outer.tag != 0x53 {
        return Err(Error::card(format!(
            "certificate object tag {:X}",
            outer.tag
        )));
    }
    let mut certificate = None;
    let mut compressed = false;
    for item in outer.children()? {
        match item.tag {
            0x70 => certificate = Some(item.value),
            0x71 => compressed = item.value.first().is_some_and(|info| info & 0x01 != 0),
            _ => {}
        }
    }
    let certificate = certificate
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::card("certificate object without a certificate"))?;
    if !compressed {
        return Ok(certificate.to_vec());
    }
    // `bufread` consumes exactly one gzip member, so what is left of the input afterwards is
    // trailing data (or a second member) that a card has no reason to send.
    let mut inflated = Vec::new();
    let mut decoder = flate2::bufread::GzDecoder::new(certificate).take(MAX_CERTIFICATE_LEN + 1);
    decoder
        .read_to_end(&mut inflated)
        .map_err(|e| Error::card(format!("compressed certificate: {e}")))?;
    if inflated.len() as u64 > MAX_CERTIFICATE_LEN {
        return Err(Error::card("compressed certificate too large"));
    }
    if inflated.is_empty() {
        return Err(Error::card("compressed certificate inflates to nothing"));
    }
    if !decoder.into_inner().into_inner().is_empty() {
        return Err(Error::card("data after the compressed certificate"));
    }
    Ok(inflated)
}

/// Builds a certificate object as a PIV card stores it (for the virtual card and tests).
pub fn certificate_object(der: &[u8], compress: bool) -> Result<Vec<u8>> {
    let (body, info) = if compress {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, der)
            .and_then(|()| encoder.finish())
            .map(|gz| (gz, 0x01))
            .map_err(|e| Error::card(format!("gzip: {e}")))?
    } else {
        (der.to_vec(), 0x00)
    };
    Ok(tlv::encode(
        0x53,
        &[
            tlv::encode(0x70, &body),
            tlv::encode(0x71, &[info]),
            tlv::encode(0xFE, &[]),
        ]
        .concat(),
    ))
}

/// The signature in a GENERAL AUTHENTICATE response `7C { 82 signature }`.
pub fn parse_signature_response(response: &[u8]) -> Result<Vec<u8>> {
    let (template, _) = tlv::parse_one(response)?;
    if template.tag != 0x7C {
        return Err(Error::card(
            "GENERAL AUTHENTICATE answer is not a 7C template",
        ));
    }
    tlv::find(template.value, 0x82)?
        .filter(|signature| !signature.is_empty())
        .map(<[u8]>::to_vec)
        .ok_or_else(|| Error::card("GENERAL AUTHENTICATE answer without a signature"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE_DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];

    #[test]
    fn plain_certificate_object() {
        let object = certificate_object(FAKE_DER, false).unwrap();
        assert_eq!(parse_certificate_object(&object).unwrap(), FAKE_DER);
    }

    #[test]
    fn gzip_compressed_certificate_object() {
        let der: Vec<u8> = (0..2000u32).map(|i| (i % 7) as u8).collect();
        let object = certificate_object(&der, true).unwrap();
        assert!(object.len() < der.len() / 4, "it really is compressed");
        assert_eq!(parse_certificate_object(&object).unwrap(), der);
    }

    #[test]
    fn compressed_bit_with_garbage_is_an_error() {
        let object = tlv::encode(
            0x53,
            &[tlv::encode(0x70, &[1, 2, 3, 4]), tlv::encode(0x71, &[1])].concat(),
        );
        assert!(parse_certificate_object(&object).is_err());
    }

    #[test]
    fn gzip_bomb_is_refused() {
        let huge = vec![0u8; 1024 * 1024];
        let object = certificate_object(&huge, true).unwrap();
        assert!(parse_certificate_object(&object).is_err());
    }

    /// A gzip member: header, an empty final deflate block, CRC and size of nothing, then `tail`.
    fn empty_gzip_member_then(tail: &[u8]) -> Vec<u8> {
        let mut member = vec![0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x8B, 0x00, 0x03, 0x00];
        member.extend_from_slice(&[0; 8]);
        member.extend_from_slice(tail);
        member
    }

    fn compressed_object(gzip: &[u8]) -> Vec<u8> {
        tlv::encode(
            0x53,
            &[
                tlv::encode(0x70, gzip),
                tlv::encode(0x71, &[1]),
                tlv::encode(0xFE, &[]),
            ]
            .concat(),
        )
    }

    #[test]
    fn gzip_member_inflating_to_nothing_is_an_error() {
        // Symptom (piv_object fuzzer): an empty member followed by 512 bytes of garbage was
        // accepted as an empty certificate.
        let garbage: Vec<u8> = [0x00, 0x6B, 0xFA]
            .into_iter()
            .chain((0..509u32).map(|i| (i * 37 % 251) as u8))
            .collect();
        let object = compressed_object(&empty_gzip_member_then(&garbage));
        assert_eq!(object.len(), 545);
        assert_eq!(
            object[..31],
            [
                0x53, 0x82, 0x02, 0x1D, 0x70, 0x82, 0x02, 0x14, 0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x8B, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x6B, 0xFA
            ]
        );
        assert!(parse_certificate_object(&object).is_err());
        assert!(
            parse_certificate_object(&compressed_object(&empty_gzip_member_then(&[]))).is_err()
        );
    }

    #[test]
    fn gzip_member_with_trailing_data_is_an_error() {
        // Symptom: bytes after a valid member were silently ignored.
        let object = certificate_object(FAKE_DER, true).unwrap();
        let (outer, _) = tlv::parse_one(&object).unwrap();
        let gzip = tlv::find(outer.value, 0x70).unwrap().unwrap().to_vec();
        assert_eq!(
            parse_certificate_object(&compressed_object(&gzip)).unwrap(),
            FAKE_DER
        );
        let trailing = [&gzip[..], b"x"].concat();
        assert!(parse_certificate_object(&compressed_object(&trailing)).is_err());
        let second_member = [&gzip[..], &gzip[..]].concat();
        assert!(parse_certificate_object(&compressed_object(&second_member)).is_err());
    }

    #[test]
    fn wrong_or_empty_objects() {
        assert!(parse_certificate_object(&tlv::encode(0x54, &[])).is_err());
        assert!(parse_certificate_object(&tlv::encode(0x53, &tlv::encode(0x71, &[0]))).is_err());
    }

    #[test]
    fn signature_from_general_authenticate() {
        let answer = tlv::encode(0x7C, &tlv::encode(0x82, &[9; 64]));
        assert_eq!(parse_signature_response(&answer).unwrap(), vec![9; 64]);
        assert!(parse_signature_response(&tlv::encode(0x7C, &[])).is_err());
    }
}
