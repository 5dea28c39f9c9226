//! BER-TLV as cards and PKCS#15 files use it: parsing borrowed slices and encoding. Pure;
//! never trusts a length without checking it against what is there.

use crate::error::{Error, Result};

/// One tag-length-value, borrowing its value from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag with all its bytes, big-endian (`0x5FC105`, `0x7C`, `0x30`).
    pub tag: u32,
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Whether the value is itself a sequence of TLVs (bit 6 of the first tag byte).
    pub fn is_constructed(&self) -> bool {
        let first = self
            .tag
            .to_be_bytes()
            .into_iter()
            .find(|b| *b != 0)
            .unwrap_or(0);
        first & 0x20 != 0
    }

    /// The value parsed as TLVs.
    pub fn children(&self) -> Result<Vec<Tlv<'a>>> {
        parse_all(self.value)
    }
}

/// Parses one TLV at the start of `input`; returns it and the rest.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8])> {
    let truncated = || Error::card("truncated TLV");
    let (&first, mut rest) = input.split_first().ok_or_else(truncated)?;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        loop {
            let (&next, after) = rest.split_first().ok_or_else(truncated)?;
            rest = after;
            if tag > 0x00FF_FFFF {
                return Err(Error::card("TLV tag longer than 4 bytes"));
            }
            tag = (tag << 8) | u32::from(next);
            if next & 0x80 == 0 {
                break;
            }
        }
    }
    let (&len_byte, after) = rest.split_first().ok_or_else(truncated)?;
    rest = after;
    let len = match len_byte {
        0x00..=0x7F => usize::from(len_byte),
        0x81..=0x83 => {
            let count = usize::from(len_byte & 0x7F);
            if rest.len() < count {
                return Err(truncated());
            }
            let (len_bytes, after) = rest.split_at(count);
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        _ => return Err(Error::card("unsupported TLV length form")),
    };
    if rest.len() < len {
        return Err(truncated());
    }
    let (value, rest) = rest.split_at(len);
    Ok((Tlv { tag, value }, rest))
}

/// Parses a whole buffer as consecutive TLVs. Trailing 0x00/0xFF padding (left in files
/// that are larger than their content) ends the list.
pub fn parse_all(mut input: &[u8]) -> Result<Vec<Tlv<'_>>> {
    let mut items = Vec::new();
    while let Some(&first) = input.first() {
        if first == 0x00 || first == 0xFF {
            break;
        }
        let (item, rest) = parse_one(input)?;
        items.push(item);
        input = rest;
    }
    Ok(items)
}

/// The value of the first TLV with `tag` at the top level of `input`.
pub fn find(input: &[u8], tag: u32) -> Result<Option<&[u8]>> {
    Ok(parse_all(input)?
        .into_iter()
        .find(|item| item.tag == tag)
        .map(|item| item.value))
}

/// Encodes a TLV with a definite length.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    let tag_bytes = tag.to_be_bytes();
    let skip = tag_bytes.iter().take(3).take_while(|b| **b == 0).count();
    out.extend_from_slice(&tag_bytes[skip..]);
    encode_len(value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
}

/// The total length (header + value) of the DER object at the start of `input`, once its
/// header is there; used to know how much of a certificate file is left to read.
pub fn total_len(input: &[u8]) -> Result<usize> {
    let bad = || Error::card("not a DER object");
    let (&first, rest) = input.split_first().ok_or_else(bad)?;
    if first & 0x1F == 0x1F {
        return Err(bad());
    }
    let (&len_byte, rest) = rest.split_first().ok_or_else(bad)?;
    match len_byte {
        0x00..=0x7F => Ok(2 + usize::from(len_byte)),
        0x81..=0x83 => {
            let count = usize::from(len_byte & 0x7F);
            let len_bytes = rest.get(..count).ok_or_else(bad)?;
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            Ok(2 + count + len)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_byte_tags_and_long_lengths() {
        let value = vec![0xAB; 300];
        let encoded = encode(0x5FC105, &value);
        assert_eq!(&encoded[..6], &[0x5F, 0xC1, 0x05, 0x82, 0x01, 0x2C]);
        let (tlv, rest) = parse_one(&encoded).unwrap();
        assert_eq!(tlv.tag, 0x5FC105);
        assert_eq!(tlv.value, &value[..]);
        assert!(rest.is_empty());
    }

    #[test]
    fn nested_and_constructed() {
        let inner = [encode(0x82, &[]), encode(0x81, &[1, 2, 3])].concat();
        let outer = encode(0x7C, &inner);
        let (tlv, _) = parse_one(&outer).unwrap();
        assert!(tlv.is_constructed());
        let children = tlv.children().unwrap();
        assert_eq!(children.len(), 2);
        assert_eq!(children[1].value, &[1, 2, 3]);
        assert_eq!(find(tlv.value, 0x81).unwrap(), Some(&[1u8, 2, 3][..]));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        for bad in [
            &[0x53][..],
            &[0x53, 0x05, 1],
            &[0x5F],
            &[0x53, 0x82, 0x01],
            &[0x53, 0x84],
        ] {
            assert!(parse_one(bad).is_err(), "{bad:02X?}");
        }
    }

    #[test]
    fn padding_ends_a_file() {
        let data = [encode(0x30, &[1]), vec![0x00, 0x00, 0xFF]].concat();
        assert_eq!(parse_all(&data).unwrap().len(), 1);
    }

    #[test]
    fn total_len_from_header_only() {
        let cert = encode(0x30, &vec![0; 1000]);
        assert_eq!(total_len(&cert[..10]).unwrap(), 1004);
        assert_eq!(total_len(&cert).unwrap(), 1004);
    }
}
