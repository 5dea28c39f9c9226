//! What the fuzz targets share: a card transport that answers from a script (the fuzz input),
//! the record format the seed generator writes, and a way to run an in-memory extractor.
//! Never used outside fuzzing.

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

/// The records of a record script (see [`record`]); a short last record is cut to what is left.
pub fn records(mut script: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let [hi, lo, rest @ ..] = script else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (item, rest) = rest.split_at(len);
        script = rest;
        Some(item)
    })
}

/// Runs a future that needs no I/O (an extractor over a body already in memory) to its end.
/// Pending for ever means it waits for something that will never come: a bug here.
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1000 {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
    panic!("a future over an in-memory request never finished");
}

/// The statuses BankID documents, indexed by the `bankid_answer` target's status byte (other
/// bytes map onto the whole 100..=599 range there).
pub const BANKID_STATUSES: [u16; 11] = [200, 400, 401, 403, 404, 405, 408, 415, 429, 500, 503];

/// The statuses our backend answers with (and a proxy's 502), indexed by the `client_answer`
/// target's status byte (other bytes map onto the whole 100..=599 range there).
pub const CLIENT_STATUSES: [u16; 15] = [
    200, 201, 204, 400, 401, 403, 404, 405, 409, 410, 413, 429, 500, 502, 503,
];
