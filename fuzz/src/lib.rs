//! What the fuzz targets share: a card transport that answers from a script (the fuzz input),
//! and the script format the seed generator writes. Never used outside fuzzing.

use legitimera_card::apdu::{Command, Response};
use legitimera_card::{Error, Transport};

/// Answers each command with the next response of the script: records of a big-endian u16
/// length and that many raw response bytes (data and status word). An exhausted script is a
/// card pulled out.
#[derive(Debug)]
pub struct Scripted<'a> {
    script: &'a [u8],
}

impl<'a> Scripted<'a> {
    pub fn new(script: &'a [u8]) -> Self {
        Scripted { script }
    }
}

impl Transport for Scripted<'_> {
    fn transmit(&mut self, _command: &Command) -> legitimera_card::Result<Response> {
        let [hi, lo, rest @ ..] = self.script else {
            return Err(Error::CardRemoved);
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (raw, rest) = rest.split_at(len);
        self.script = rest;
        Response::parse(raw)
    }
}

/// Appends one response record to a script.
pub fn record(script: &mut Vec<u8>, raw_response: &[u8]) {
    let len = u16::try_from(raw_response.len()).unwrap_or(u16::MAX);
    script.extend_from_slice(&len.to_be_bytes());
    script.extend_from_slice(&raw_response[..usize::from(len)]);
}
