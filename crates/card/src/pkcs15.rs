//! PKCS#15 (ISO 7816-15) directory files, as far as finding the certificates, their keys and
//! the PINs that guard them: EF.DIR, ODF, CDF, PrKDF, AODF. Parsing and encoding only (the
//! virtual card builds its files with the encoders); no I/O.

use crate::error::{Error, Result};
use crate::tlv::{self, Tlv};

/// The PKCS#15 application identifier.
pub const AID: [u8; 12] = [
    0xA0, 0x00, 0x00, 0x00, 0x63, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35,
];
/// The application identifier older Telia SetCOS SITHS cards use.
pub const AID_SETCOS: [u8; 10] = [0xA0, 0x00, 0x00, 0x01, 0x67, 0x45, 0x53, 0x49, 0x47, 0x4E];
/// EF.DIR under the master file.
pub const EF_DIR: [u8; 2] = [0x2F, 0x00];
/// EF.ODF inside the application.
pub const EF_ODF: [u8; 2] = [0x50, 0x31];
/// MSE algorithm references this crate uses with PSO: COMPUTE DIGITAL SIGNATURE.
pub const ALG_RSA_PKCS1_DIGEST_INFO: u8 = 0x02;
pub const ALG_ECDSA_HASH: u8 = 0x04;

/// Where the object directories are (file identifiers inside the application).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Odf {
    pub private_keys: Vec<[u8; 2]>,
    pub certificates: Vec<[u8; 2]>,
    pub auth_objects: Vec<[u8; 2]>,
}

/// A certificate directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateEntry {
    pub id: Vec<u8>,
    pub file: [u8; 2],
}

/// A private key directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub id: Vec<u8>,
    /// The authentication object (PIN) that guards the key.
    pub auth_id: Option<Vec<u8>>,
    pub key_reference: u8,
}

/// A PIN directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinEntry {
    pub auth_id: Vec<u8>,
    pub reference: u8,
}

/// The application identifiers listed in EF.DIR (`61 { 4F aid ... }` records).
pub fn parse_ef_dir(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut aids = Vec::new();
    for record in tlv::parse_all(data)? {
        if record.tag == 0x61 {
            if let Some(aid) = tlv::find(record.value, 0x4F)? {
                aids.push(aid.to_vec());
            }
        }
    }
    Ok(aids)
}

/// A file identifier from a PKCS#15 Path: its last two bytes, relative to the application
/// (paths on the cards we support are `3F00 <app DF> <file>` or just `<file>`).
fn file_of_path(path: &Tlv<'_>) -> Result<[u8; 2]> {
    let inner = if path.tag == 0x30 {
        tlv::find(path.value, 0x04)?.ok_or_else(|| Error::card("PKCS#15 path without octets"))?
    } else if path.tag == 0x04 {
        path.value
    } else {
        return Err(Error::card("PKCS#15 path of unexpected form"));
    };
    match inner {
        [.., hi, lo] => Ok([*hi, *lo]),
        _ => Err(Error::card("PKCS#15 path shorter than a file identifier")),
    }
}

fn first_child<'a>(item: &Tlv<'a>) -> Result<Tlv<'a>> {
    item.children()?
        .into_iter()
        .next()
        .ok_or_else(|| Error::card("empty PKCS#15 object"))
}

pub fn parse_odf(data: &[u8]) -> Result<Odf> {
    let mut odf = Odf::default();
    for item in tlv::parse_all(data)? {
        let list = match item.tag {
            0xA0 => &mut odf.private_keys,
            0xA4 => &mut odf.certificates,
            0xA8 => &mut odf.auth_objects,
            _ => continue,
        };
        list.push(file_of_path(&first_child(&item)?)?);
    }
    Ok(odf)
}

/// The three parts every PKCS#15 object has: common object attributes, class attributes,
/// and the `[1]` type attributes.
fn object_parts<'a>(object: &Tlv<'a>) -> Result<(Tlv<'a>, Tlv<'a>, Tlv<'a>)> {
    let parts = object.children()?;
    let mut iter = parts.into_iter();
    let common = iter.next();
    let class = iter.next();
    let typed = iter.find(|part| part.tag == 0xA1);
    match (common, class, typed) {
        (Some(common), Some(class), Some(typed)) => Ok((common, class, typed)),
        _ => Err(Error::card("PKCS#15 object without its attributes")),
    }
}

/// X.509 certificate entries of a CDF (other certificate types are skipped).
pub fn parse_cdf(data: &[u8]) -> Result<Vec<CertificateEntry>> {
    let mut entries = Vec::new();
    for object in tlv::parse_all(data)? {
        if object.tag != 0x30 {
            continue;
        }
        let (_, class, typed) = object_parts(&object)?;
        let id = tlv::find(class.value, 0x04)?
            .ok_or_else(|| Error::card("certificate entry without an iD"))?;
        // [1] { X509CertificateAttributes { value Path, ... } }
        let attributes = first_child(&typed)?;
        let path = first_child(&attributes)?;
        entries.push(CertificateEntry {
            id: id.to_vec(),
            file: file_of_path(&path)?,
        });
    }
    Ok(entries)
}

/// Private key entries (RSA `30` and EC `A0`) of a PrKDF.
pub fn parse_prkdf(data: &[u8]) -> Result<Vec<KeyEntry>> {
    let mut entries = Vec::new();
    for object in tlv::parse_all(data)? {
        if object.tag != 0x30 && object.tag != 0xA0 {
            continue;
        }
        let (common, class, _) = object_parts(&object)?;
        let id =
            tlv::find(class.value, 0x04)?.ok_or_else(|| Error::card("key entry without an iD"))?;
        let key_reference = match tlv::find(class.value, 0x02)? {
            Some([reference]) => *reference,
            _ => return Err(Error::card("key entry without a one-byte key reference")),
        };
        entries.push(KeyEntry {
            id: id.to_vec(),
            auth_id: tlv::find(common.value, 0x04)?.map(<[u8]>::to_vec),
            key_reference,
        });
    }
    Ok(entries)
}

/// PIN entries of an AODF.
pub fn parse_aodf(data: &[u8]) -> Result<Vec<PinEntry>> {
    let mut entries = Vec::new();
    for object in tlv::parse_all(data)? {
        if object.tag != 0x30 {
            continue;
        }
        let (_, class, typed) = object_parts(&object)?;
        let auth_id = tlv::find(class.value, 0x04)?
            .ok_or_else(|| Error::card("PIN entry without an authId"))?;
        let attributes = first_child(&typed)?;
        let reference = match tlv::find(attributes.value, 0x80)? {
            Some([reference]) => *reference,
            _ => return Err(Error::card("PIN entry without a one-byte reference")),
        };
        entries.push(PinEntry {
            auth_id: auth_id.to_vec(),
            reference,
        });
    }
    Ok(entries)
}

fn path(file: [u8; 2]) -> Vec<u8> {
    tlv::encode(
        0x30,
        &tlv::encode(0x04, &[0x3F, 0x00, 0x50, 0x15, file[0], file[1]]),
    )
}

fn label(text: &str) -> Vec<u8> {
    tlv::encode(0x0C, text.as_bytes())
}

/// An ODF with one file of each kind.
pub fn encode_odf(private_keys: [u8; 2], certificates: [u8; 2], auth_objects: [u8; 2]) -> Vec<u8> {
    [
        tlv::encode(0xA0, &path(private_keys)),
        tlv::encode(0xA4, &path(certificates)),
        tlv::encode(0xA8, &path(auth_objects)),
    ]
    .concat()
}

/// One X.509 certificate entry.
pub fn encode_certificate_entry(name: &str, id: &[u8], file: [u8; 2]) -> Vec<u8> {
    tlv::encode(
        0x30,
        &[
            tlv::encode(0x30, &label(name)),
            tlv::encode(0x30, &tlv::encode(0x04, id)),
            tlv::encode(0xA1, &tlv::encode(0x30, &path(file))),
        ]
        .concat(),
    )
}

/// One private key entry; `ec` selects the EC choice `[0]` instead of RSA.
pub fn encode_key_entry(
    name: &str,
    id: &[u8],
    auth_id: &[u8],
    key_reference: u8,
    ec: bool,
) -> Vec<u8> {
    let common = [label(name), tlv::encode(0x04, auth_id)].concat();
    let class = [
        tlv::encode(0x04, id),
        tlv::encode(0x03, &[0x06, 0x40]), // usage: sign
        tlv::encode(0x02, &[key_reference]),
    ]
    .concat();
    let size: &[u8] = if ec { &[0x01, 0x00] } else { &[0x08, 0x00] };
    let typed = tlv::encode(
        0x30,
        &[path([0x00, key_reference]), tlv::encode(0x02, size)].concat(),
    );
    tlv::encode(
        if ec { 0xA0 } else { 0x30 },
        &[
            tlv::encode(0x30, &common),
            tlv::encode(0x30, &class),
            tlv::encode(0xA1, &typed),
        ]
        .concat(),
    )
}

/// One PIN entry (ASCII numeric, stored as 8 bytes padded with FF).
pub fn encode_pin_entry(name: &str, auth_id: &[u8], reference: u8) -> Vec<u8> {
    let attributes = [
        tlv::encode(0x03, &[0x02, 0x0C]), // pinFlags: local, initialized
        tlv::encode(0x0A, &[0x01]),       // pinType: ascii-numeric
        tlv::encode(0x02, &[6]),          // minLength
        tlv::encode(0x02, &[8]),          // storedLength
        tlv::encode(0x80, &[reference]),
        tlv::encode(0x04, &[0xFF]), // padChar
    ]
    .concat();
    tlv::encode(
        0x30,
        &[
            tlv::encode(0x30, &label(name)),
            tlv::encode(0x30, &tlv::encode(0x04, auth_id)),
            tlv::encode(0xA1, &tlv::encode(0x30, &attributes)),
        ]
        .concat(),
    )
}

/// An EF.DIR record naming one application.
pub fn encode_ef_dir_record(aid: &[u8], name: &str) -> Vec<u8> {
    tlv::encode(
        0x61,
        &[tlv::encode(0x4F, aid), tlv::encode(0x50, name.as_bytes())].concat(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odf_as_opensc_writes_it() {
        // A4 0A 30 08 04 06 3F00 5015 4404: the CDF at 4404.
        let odf = [
            0xA0, 0x0A, 0x30, 0x08, 0x04, 0x06, 0x3F, 0x00, 0x50, 0x15, 0x44, 0x00, 0xA4, 0x0A,
            0x30, 0x08, 0x04, 0x06, 0x3F, 0x00, 0x50, 0x15, 0x44, 0x04, 0x00, 0x00,
        ];
        let parsed = parse_odf(&odf).unwrap();
        assert_eq!(parsed.private_keys, vec![[0x44, 0x00]]);
        assert_eq!(parsed.certificates, vec![[0x44, 0x04]]);
        assert!(parsed.auth_objects.is_empty());
    }

    #[test]
    fn cdf_entry_by_hand() {
        // 30 { 30 {0C "A"}, 30 {04 45}, A1 { 30 { 30 { 04 3F00 5015 4331 } } } }
        let entry = [
            0x30, 0x18, 0x30, 0x03, 0x0C, 0x01, b'A', 0x30, 0x03, 0x04, 0x01, 0x45, 0xA1, 0x0C,
            0x30, 0x0A, 0x30, 0x08, 0x04, 0x06, 0x3F, 0x00, 0x50, 0x15, 0x43, 0x31,
        ];
        assert_eq!(
            parse_cdf(&entry).unwrap(),
            vec![CertificateEntry {
                id: vec![0x45],
                file: [0x43, 0x31]
            }]
        );
    }

    #[test]
    fn directories_round_trip() {
        let odf = parse_odf(&encode_odf([0x44, 0x00], [0x44, 0x04], [0x44, 0x08])).unwrap();
        assert_eq!(odf.auth_objects, vec![[0x44, 0x08]]);
        let cdf = [
            encode_certificate_entry("auth", &[1], [0x43, 0x01]),
            encode_certificate_entry("sign", &[2], [0x43, 0x02]),
        ]
        .concat();
        assert_eq!(parse_cdf(&cdf).unwrap()[1].file, [0x43, 0x02]);
        let prkdf = [
            encode_key_entry("auth", &[1], &[0x11], 0x81, false),
            encode_key_entry("sign", &[2], &[0x12], 0x82, true),
        ]
        .concat();
        let keys = parse_prkdf(&prkdf).unwrap();
        assert_eq!(keys[1].key_reference, 0x82);
        assert_eq!(keys[1].auth_id.as_deref(), Some(&[0x12][..]));
        let pins = parse_aodf(&encode_pin_entry("PIN", &[0x11], 0x91)).unwrap();
        assert_eq!(
            pins,
            vec![PinEntry {
                auth_id: vec![0x11],
                reference: 0x91
            }]
        );
        let dir = [encode_ef_dir_record(&AID, "SITHS"), vec![0; 10]].concat();
        assert_eq!(parse_ef_dir(&dir).unwrap(), vec![AID.to_vec()]);
    }

    #[test]
    fn malformed_entries_are_errors() {
        assert!(parse_cdf(&tlv::encode(0x30, &[])).is_err());
        assert!(parse_aodf(&tlv::encode(0x30, &tlv::encode(0x30, &[]))).is_err());
        assert!(parse_odf(&tlv::encode(
            0xA4,
            &tlv::encode(0x30, &tlv::encode(0x04, &[1]))
        ))
        .is_err());
    }
}
