//! The PC/SC side: readers, connecting in shared mode, one transaction per user action, and
//! disconnecting with the card left as it is. It maps PC/SC errors to [`Error`] and never
//! resets or powers down a card another program may be using.

use std::ffi::CString;

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use serde::Serialize;

use crate::apdu::{Command, Response};
use crate::card::{CardCertificate, CardKind, CardSession, PinStatus, SignedChallenge, Transport};
use crate::error::{Error, Result};
use crate::pin::Pin;
use crate::piv::KeyRole;

/// A reader and what is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReaderInfo {
    pub name: String,
    pub card_present: bool,
    /// The card's ATR as upper-case hex, when a card is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atr: Option<String>,
}

/// What the UI shows before asking for the PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardContents {
    pub kind: CardKind,
    pub certificates: Vec<CardCertificate>,
    /// The status of the PIN guarding the authentication key.
    pub pin: PinStatus,
}

/// A PC/SC context.
pub struct Pcsc {
    context: Context,
}

impl std::fmt::Debug for Pcsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pcsc")
    }
}

impl Pcsc {
    /// Connects to the PC/SC service (`no_pcsc_service` when it is not running).
    pub fn establish() -> Result<Self> {
        Ok(Pcsc {
            context: Context::establish(Scope::User)?,
        })
    }

    /// Every reader with its card state; empty when there is no reader.
    pub fn readers(&self) -> Result<Vec<ReaderInfo>> {
        let names = match self.context.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
            Err(other) => return Err(other.into()),
        };
        let mut states: Vec<ReaderState> = names
            .into_iter()
            .map(|name| ReaderState::new(name, State::UNAWARE))
            .collect();
        self.context
            .get_status_change(std::time::Duration::ZERO, &mut states)?;
        Ok(states.iter().map(reader_info).collect())
    }

    /// The first reader with a card in it (`no_reader`, `no_card` otherwise).
    pub fn reader_with_card(&self) -> Result<String> {
        let readers = self.readers()?;
        if readers.is_empty() {
            return Err(Error::NoReader);
        }
        readers
            .into_iter()
            .find(|reader| reader.card_present)
            .map(|reader| reader.name)
            .ok_or(Error::NoCard)
    }

    /// Connects to the card in `reader`, shared with other programs.
    pub fn connect(&self, reader: &str) -> Result<PcscCard> {
        let name = CString::new(reader).map_err(|_| Error::NoReader)?;
        let card = self
            .context
            .connect(&name, ShareMode::Shared, Protocols::ANY)?;
        Ok(PcscCard { card: Some(card) })
    }

    /// Reads the card kind, certificates and PIN status, in one transaction, without a PIN.
    pub fn read_card(&self, reader: &str) -> Result<CardContents> {
        self.connect(reader)?.with_session(|session| {
            let certificates = session.certificates()?;
            let pin = session.pin_status(KeyRole::Authentication)?;
            Ok(CardContents {
                kind: session.kind(),
                certificates,
                pin,
            })
        })
    }

    /// VERIFY and sign the challenge with `role`'s key, in one transaction.
    pub fn sign(
        &self,
        reader: &str,
        role: KeyRole,
        pin: &Pin,
        challenge: &[u8],
    ) -> Result<SignedChallenge> {
        self.connect(reader)?
            .with_session(|session| session.sign(role, pin, challenge))
    }

    /// The PIN status for `role`'s key, without spending a try.
    pub fn pin_status(&self, reader: &str, role: KeyRole) -> Result<PinStatus> {
        self.connect(reader)?
            .with_session(|session| session.pin_status(role))
    }
}

fn reader_info(state: &ReaderState) -> ReaderInfo {
    let present = state.event_state().contains(State::PRESENT);
    ReaderInfo {
        name: state.name().to_string_lossy().into_owned(),
        card_present: present,
        atr: present.then(|| hex(state.atr())),
    }
}

/// Upper-case hex, for ATRs.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A connected card. Dropping it disconnects and leaves the card as it is (the `pcsc` crate
/// would reset it, logging out other programs).
pub struct PcscCard {
    card: Option<pcsc::Card>,
}

impl std::fmt::Debug for PcscCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PcscCard")
    }
}

impl PcscCard {
    /// Runs `work` inside one PC/SC transaction, so no other program can come between
    /// VERIFY and the signature.
    pub fn with_session<R>(
        &mut self,
        work: impl FnOnce(&mut CardSession<PcscTransaction<'_>>) -> Result<R>,
    ) -> Result<R> {
        let card = self.card.as_mut().ok_or(Error::NoCard)?;
        let transaction = card.transaction()?;
        let mut session = CardSession::open(PcscTransaction { transaction })?;
        let result = work(&mut session);
        let transport = session.into_transport();
        // Ending can fail only when the card is already gone; the result says why.
        let _ = transport.transaction.end(Disposition::LeaveCard);
        result
    }
}

impl Drop for PcscCard {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            if let Err((card, _)) = card.disconnect(Disposition::LeaveCard) {
                // The handle is already invalid (card or reader gone); nothing to leave.
                std::mem::forget(card);
            }
        }
    }
}

/// The transport inside a PC/SC transaction.
pub struct PcscTransaction<'card> {
    transaction: pcsc::Transaction<'card>,
}

impl std::fmt::Debug for PcscTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PcscTransaction")
    }
}

impl Transport for PcscTransaction<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Response> {
        let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE];
        match self.transaction.transmit(command.as_bytes(), &mut buffer) {
            Ok(answer) => Response::parse(answer),
            Err(error) => Err(self.explain(error)),
        }
    }
}

impl PcscTransaction<'_> {
    /// Transmit failures other than `RemovedCard` can still mean the card went away; the
    /// card's status tells.
    fn explain(&self, error: pcsc::Error) -> Error {
        if matches!(error, pcsc::Error::RemovedCard) {
            return Error::CardRemoved;
        }
        match self.transaction.status2_owned() {
            Err(pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard) => Error::CardRemoved,
            Ok(status) if !status.status().contains(pcsc::Status::PRESENT) => Error::CardRemoved,
            _ => error.into(),
        }
    }
}
