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
        Ok(PcscCard {
            card: Some(card),
            context: self.context.clone(),
            reader: name,
        })
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

    /// VERIFY and sign the challenge with `role`'s key, in one transaction that ends by
    /// resetting the card: a PIN verified here must not stay verified for the next program
    /// (or person) to sign with, on a shared computer least of all.
    pub fn sign(
        &self,
        reader: &str,
        role: KeyRole,
        pin: &Pin,
        challenge: &[u8],
    ) -> Result<SignedChallenge> {
        self.connect(reader)?
            .with_session_ending(Disposition::ResetCard, |session| {
                session.sign(role, pin, challenge)
            })
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
    context: Context,
    reader: CString,
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
        self.with_session_ending(Disposition::LeaveCard, work)
    }

    /// As `with_session`, ending the transaction with `disposition` (`ResetCard` drops any
    /// verified PIN).
    pub fn with_session_ending<R>(
        &mut self,
        disposition: Disposition,
        work: impl FnOnce(&mut CardSession<PcscTransaction<'_>>) -> Result<R>,
    ) -> Result<R> {
        let card = self.card.as_mut().ok_or(Error::NoCard)?;
        // Another program reset the card since we connected: our handle must reconnect once
        // before it can start a transaction (the card is reset already, so LeaveCard).
        if let Err(pcsc::Error::ResetCard) = card.status2_owned() {
            card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)?;
        }
        let transaction = card.transaction()?;
        let mut session = CardSession::open(PcscTransaction {
            transaction,
            context: &self.context,
            reader: &self.reader,
        })?;
        let result = work(&mut session);
        let transport = session.into_transport();
        // Ending can fail only when the card is already gone; the result says why.
        let _ = transport.transaction.end(disposition);
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
    context: &'card Context,
    reader: &'card CString,
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
            // vpcd answers nothing at all when the card's connection broke mid-command.
            Ok(answer) if answer.len() < 2 => Err(self.explain(None)),
            Ok(answer) => Response::parse(answer),
            Err(error) => Err(self.explain(Some(error))),
        }
    }
}

/// How long a failed transmit waits for the reader to report the card gone: readers (and
/// vpcd) notice a pulled card at their next presence poll, a little after the failure.
const REMOVAL_GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

impl PcscTransaction<'_> {
    /// Transmit failures other than `RemovedCard` can still mean the card went away; the
    /// reader's state, shortly after, tells.
    fn explain(&self, error: Option<pcsc::Error>) -> Error {
        if matches!(error, Some(pcsc::Error::RemovedCard)) {
            return Error::CardRemoved;
        }
        if self.card_went_away() {
            return Error::CardRemoved;
        }
        match error {
            Some(error) => error.into(),
            None => Error::card("empty response"),
        }
    }

    fn card_went_away(&self) -> bool {
        let started = std::time::Instant::now();
        let mut states = [ReaderState::new(self.reader.clone(), State::UNAWARE)];
        while let Some(left) = REMOVAL_GRACE.checked_sub(started.elapsed()) {
            match self.context.get_status_change(left, &mut states) {
                Ok(()) => {}
                // The reader went with the card (a USB reader pulled out with it).
                Err(pcsc::Error::UnknownReader) => return true,
                Err(_) => return false,
            }
            let state = states[0].event_state();
            if !state.contains(State::PRESENT) || state.contains(State::MUTE) {
                return true;
            }
            states[0].sync_current_state();
        }
        false
    }
}
