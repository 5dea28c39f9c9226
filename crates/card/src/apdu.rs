//! APDUs as bytes: building commands and reading responses. Pure code, no I/O: the transport
//! sends what is built here. Command buffers are zeroized on drop because VERIFY carries the PIN,
//! and their `Debug` shows only the header.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::pin::Pin;

/// The most data one short APDU carries; longer data goes in a command chain.
pub const MAX_SHORT_DATA: usize = 255;

/// One command APDU, serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    bytes: Zeroizing<Vec<u8>>,
}

impl Command {
    /// A short APDU. `le`: `None` = no Le; `Some(0)` = up to 256 bytes.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u8>) -> Result<Self> {
        if data.len() > MAX_SHORT_DATA {
            return Err(Error::card("command data too long for a short APDU"));
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(6 + data.len()));
        bytes.extend_from_slice(&[cla, ins, p1, p2]);
        if !data.is_empty() {
            bytes.push(data.len() as u8);
            bytes.extend_from_slice(data);
        }
        if let Some(le) = le {
            bytes.push(le);
        }
        Ok(Command { bytes })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn ins(&self) -> u8 {
        self.bytes[1]
    }

    /// The same command with Le = `le`: what a card's `6Cxx` (wrong Le) asks to be sent
    /// again. The data, if any, stays.
    pub fn with_le(&self, le: u8) -> Command {
        let mut bytes = self.bytes.clone();
        let has_le = match bytes.len() {
            4 => false,
            5 => true,
            len => len == 6 + usize::from(bytes[4]),
        };
        if has_le {
            bytes.pop();
        }
        bytes.push(le);
        Command { bytes }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The header only: the data may be a PIN.
        write!(
            f,
            "Command({:02X?}, {} bytes)",
            &self.bytes[..4],
            self.bytes.len()
        )
    }
}

/// SELECT by application identifier, asking for the FCI.
pub fn select_aid(aid: &[u8]) -> Result<Command> {
    Command::new(0x00, 0xA4, 0x04, 0x00, aid, Some(0x00))
}

/// SELECT an elementary or dedicated file by its 2-byte identifier under the current DF,
/// no response data.
pub fn select_file(fid: [u8; 2]) -> Result<Command> {
    Command::new(0x00, 0xA4, 0x02, 0x0C, &fid, None)
}

/// SELECT the master file (3F00), from which EF.DIR is reachable.
pub fn select_master_file() -> Result<Command> {
    Command::new(0x00, 0xA4, 0x00, 0x0C, &[0x3F, 0x00], None)
}

/// PIV GET DATA for a data object tag such as `5FC105`.
pub fn get_data(object_tag: &[u8]) -> Result<Command> {
    let mut data = vec![0x5C, object_tag.len() as u8];
    data.extend_from_slice(object_tag);
    Command::new(0x00, 0xCB, 0x3F, 0xFF, &data, Some(0x00))
}

/// GET RESPONSE for the `xx` of a `61xx` status.
pub fn get_response(available: u8) -> Command {
    Command {
        bytes: Zeroizing::new(vec![0x00, 0xC0, 0x00, 0x00, available]),
    }
}

/// READ BINARY at `offset` (15 bits) of the selected file; `le` 0 = up to 256 bytes.
pub fn read_binary(offset: u16, le: u8) -> Result<Command> {
    if offset > 0x7FFF {
        return Err(Error::card("READ BINARY offset beyond 32767"));
    }
    Ok(Command {
        bytes: Zeroizing::new(vec![0x00, 0xB0, (offset >> 8) as u8, offset as u8, le]),
    })
}

/// VERIFY with the PIN padded with 0xFF to 8 bytes.
pub fn verify(pin_reference: u8, pin: &Pin) -> Result<Command> {
    Command::new(
        0x00,
        0x20,
        0x00,
        pin_reference,
        pin.padded().as_slice(),
        None,
    )
}

/// VERIFY without data: asks whether the PIN is verified and how many tries are left,
/// without spending one.
pub fn verify_status(pin_reference: u8) -> Command {
    Command {
        bytes: Zeroizing::new(vec![0x00, 0x20, 0x00, pin_reference]),
    }
}

/// `data` as a command chain: every piece but the last with CLA bit 0x10, 255 bytes each;
/// Le on the last piece only.
pub fn chain(
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &[u8],
    le: Option<u8>,
) -> Result<Vec<Command>> {
    if data.len() <= MAX_SHORT_DATA {
        return Ok(vec![Command::new(cla, ins, p1, p2, data, le)?]);
    }
    let pieces: Vec<&[u8]> = data.chunks(MAX_SHORT_DATA).collect();
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(index, piece)| {
            if index == last {
                Command::new(cla, ins, p1, p2, piece, le)
            } else {
                Command::new(cla | 0x10, ins, p1, p2, piece, None)
            }
        })
        .collect()
}

/// PIV GENERAL AUTHENTICATE: sign `input` (a PKCS#1 block or a hash) with the key in `slot`,
/// chained when longer than one APDU.
pub fn general_authenticate(algorithm: u8, key_slot: u8, input: &[u8]) -> Result<Vec<Command>> {
    let template = crate::tlv::encode(
        0x7C,
        &[
            crate::tlv::encode(0x82, &[]),
            crate::tlv::encode(0x81, input),
        ]
        .concat(),
    );
    chain(0x00, 0x87, algorithm, key_slot, &template, Some(0x00))
}

/// ISO 7816-8 MANAGE SECURITY ENVIRONMENT: SET the digital signature template (PKCS#15).
pub fn mse_set_signature(algorithm_reference: u8, key_reference: u8) -> Result<Command> {
    Command::new(
        0x00,
        0x22,
        0x41,
        0xB6,
        &[0x80, 0x01, algorithm_reference, 0x84, 0x01, key_reference],
        None,
    )
}

/// ISO 7816-8 PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE over `input`.
pub fn pso_compute_signature(input: &[u8]) -> Result<Command> {
    Command::new(0x00, 0x2A, 0x9E, 0x9A, input, Some(0x00))
}

/// What the status word says, in the cases the card code acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// 9000
    Ok,
    /// 61xx: `xx` more bytes wait for GET RESPONSE (0 = 256 or more).
    MoreData(u8),
    /// 6Cxx: wrong Le, resend with Le = xx.
    WrongLe(u8),
    /// 63Cx: verification failed, x tries left.
    TriesLeft(u8),
    /// 6983: authentication method blocked.
    Blocked,
    /// 6982: security status not satisfied (PIN not verified).
    SecurityNotSatisfied,
    /// 6A82: file or application not found.
    NotFound,
    /// 6A88: referenced data (object, key, PIN) not found.
    ReferenceNotFound,
    /// 6B00 / 6282: offset beyond the end, or end of file reached.
    EndOfFile,
    /// 6D00 / 6E00: instruction or class not supported.
    NotSupported,
    Other(u16),
}

impl Status {
    pub fn from_sw(sw: u16) -> Self {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => Status::Ok,
            (0x61, more) => Status::MoreData(more),
            (0x6C, le) => Status::WrongLe(le),
            (0x63, tries) if tries & 0xF0 == 0xC0 => Status::TriesLeft(tries & 0x0F),
            (0x69, 0x83) => Status::Blocked,
            (0x69, 0x82) => Status::SecurityNotSatisfied,
            (0x6A, 0x82) => Status::NotFound,
            (0x6A, 0x88) => Status::ReferenceNotFound,
            (0x6B, 0x00) | (0x62, 0x82) => Status::EndOfFile,
            (0x6D, 0x00) | (0x6E, 0x00) => Status::NotSupported,
            _ => Status::Other(sw),
        }
    }
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    /// Splits raw response bytes; fewer than two bytes is malformed.
    pub fn parse(raw: &[u8]) -> Result<Self> {
        if raw.len() < 2 {
            return Err(Error::card(format!("response of {} bytes", raw.len())));
        }
        let (data, sw) = raw.split_at(raw.len() - 2);
        Ok(Response {
            data: data.to_vec(),
            sw: u16::from_be_bytes([sw[0], sw[1]]),
        })
    }

    pub fn status(&self) -> Status {
        Status::from_sw(self.sw)
    }

    /// The data if the status is 9000, else an error naming the status word and the step.
    pub fn ok(self, step: &str) -> Result<Vec<u8>> {
        match self.status() {
            Status::Ok => Ok(self.data),
            _ => Err(Error::card(format!("{step}: status {:04X}", self.sw))),
        }
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} bytes, {:04X})", self.data.len(), self.sw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_piv_matches_the_spec_bytes() {
        let aid = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00];
        assert_eq!(
            select_aid(&aid).unwrap().as_bytes(),
            &[
                0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00,
                0x00
            ]
        );
    }

    #[test]
    fn get_data_auth_certificate() {
        assert_eq!(
            get_data(&[0x5F, 0xC1, 0x05]).unwrap().as_bytes(),
            &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00]
        );
    }

    #[test]
    fn verify_pads_with_ff_and_status_has_no_data() {
        let pin = Pin::parse("123456").unwrap();
        assert_eq!(
            verify(0x80, &pin).unwrap().as_bytes(),
            &[0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF]
        );
        assert_eq!(verify_status(0x80).as_bytes(), &[0x00, 0x20, 0x00, 0x80]);
    }

    #[test]
    fn debug_of_verify_hides_the_pin() {
        let pin = Pin::parse("987654").unwrap();
        let shown = format!("{:?}", verify(0x80, &pin).unwrap());
        assert!(
            !shown.contains("39") && !shown.contains("987654"),
            "{shown}"
        );
    }

    #[test]
    fn rsa_general_authenticate_is_chained_in_255_byte_pieces() {
        let block = [0x5A; 256];
        let commands = general_authenticate(0x07, 0x9A, &block).unwrap();
        // 7C 82 01 06 | 82 00 | 81 82 01 00 <256> = 266 bytes: 255 + 11.
        assert_eq!(commands.len(), 2);
        let first = commands[0].as_bytes();
        assert_eq!(&first[..5], &[0x10, 0x87, 0x07, 0x9A, 0xFF]);
        assert_eq!(first.len(), 5 + 255, "no Le on a chained piece");
        assert_eq!(&first[5..9], &[0x7C, 0x82, 0x01, 0x06]);
        let last = commands[1].as_bytes();
        assert_eq!(&last[..5], &[0x00, 0x87, 0x07, 0x9A, 11]);
        assert_eq!(last.len(), 5 + 11 + 1, "Le on the last piece");
        let rejoined: Vec<u8> = commands
            .iter()
            .flat_map(|c| {
                let b = c.as_bytes();
                b[5..5 + usize::from(b[4])].to_vec()
            })
            .collect();
        let (tlv, _) = crate::tlv::parse_one(&rejoined).unwrap();
        assert_eq!(crate::tlv::find(tlv.value, 0x81).unwrap(), Some(&block[..]));
    }

    #[test]
    fn short_data_is_not_chained() {
        let commands = general_authenticate(0x11, 0x9A, &[1; 32]).unwrap();
        assert_eq!(commands.len(), 1);
        assert_eq!(commands[0].as_bytes()[0], 0x00);
    }

    #[test]
    fn status_words() {
        assert_eq!(Status::from_sw(0x9000), Status::Ok);
        assert_eq!(Status::from_sw(0x6100), Status::MoreData(0));
        assert_eq!(Status::from_sw(0x6108), Status::MoreData(8));
        assert_eq!(Status::from_sw(0x63C2), Status::TriesLeft(2));
        assert_eq!(Status::from_sw(0x63C0), Status::TriesLeft(0));
        assert_eq!(Status::from_sw(0x6300), Status::Other(0x6300));
        assert_eq!(Status::from_sw(0x6983), Status::Blocked);
        assert_eq!(Status::from_sw(0x6A82), Status::NotFound);
        assert_eq!(Status::from_sw(0x6C10), Status::WrongLe(0x10));
    }

    #[test]
    fn response_split_and_malformed() {
        let response = Response::parse(&[1, 2, 0x61, 0x10]).unwrap();
        assert_eq!(response.data, vec![1, 2]);
        assert_eq!(response.status(), Status::MoreData(0x10));
        assert!(Response::parse(&[0x90]).is_err());
        assert!(Response::parse(&[0x6A, 0x82])
            .unwrap()
            .ok("select")
            .is_err());
    }

    #[test]
    fn with_le_keeps_header_and_data() {
        let get_data = get_data(&[0x5F, 0xC1, 0x05]).unwrap();
        assert_eq!(
            get_data.with_le(0x10).as_bytes(),
            &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x10]
        );
        assert_eq!(
            read_binary(0, 0).unwrap().with_le(0x20).as_bytes(),
            &[0, 0xB0, 0, 0, 0x20]
        );
        assert_eq!(
            select_file([0x50, 0x31]).unwrap().with_le(0x08).as_bytes(),
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x50, 0x31, 0x08]
        );
        assert_eq!(
            verify_status(0x80).with_le(1).as_bytes(),
            &[0, 0x20, 0, 0x80, 1]
        );
    }

    #[test]
    fn read_binary_offset() {
        assert_eq!(
            read_binary(0x0123, 0).unwrap().as_bytes(),
            &[0, 0xB0, 0x01, 0x23, 0]
        );
        assert!(read_binary(0x8000, 0).is_err());
    }
}
