//! SITHS card login from the app's side: follows readers and cards (the card crate's watcher)
//! into what the SITHS view shows, and logs in — a challenge from the server, VERIFY and the
//! signature on the card in one transaction, the signed challenge back for a session. Knows
//! nothing of Tauri. Never logs the PIN, the holder's name or HSA-id; the PIN is a
//! `legitimera_card::Pin`, zeroized when the login that used it ends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use legitimera_card::{
    CardEvent, CardKind, CertificateInfo, KeyRole, KeyUsage, Pcsc, Pin, PinStatus,
    SignatureAlgorithm, SignedChallenge, Validity, Watcher,
};
use legitimera_protocol::{
    siths_login_message, ErrorCode, SessionStatus, SithsAlgorithm, SithsChallenge, SithsCheck,
    SithsCheckRequest, SithsLoginRequest, SithsRevocationStatus, SITHS_CHALLENGE_LEN,
};
use serde::Serialize;
use time::OffsetDateTime;

use crate::account::Account;
use crate::api::ApiClient;
use crate::error::{AppError, Result};

/// Where reader and card stand, as the SITHS view says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// Nothing is known yet (the watcher has just started).
    Starting,
    NoService,
    NoReader,
    NoCard,
    /// A card is in a reader and being read.
    Reading,
    /// A card is in a reader but could not be read: `error` says why.
    Unreadable,
    /// A card with an authentication certificate: `card` says whose.
    Ready,
}

/// What the `card-changed` event and `siths_card_state` tell the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardView {
    /// Grows with every change: the UI ignores a view older than the one it shows.
    pub version: u64,
    pub state: CardState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// `Unreadable`: the card error's code (`card_busy`, `unsupported_card`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<CardDetails>,
}

/// The card's authentication certificate and PIN, for its holder's own screen. `Debug` leaves
/// out the personal data.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CardDetails {
    pub kind: CardKind,
    pub holder: String,
    pub hsa_id: Option<String>,
    pub organisation: Option<String>,
    pub issuer: String,
    /// The certificate's last day, `YYYY-MM-DD` (UTC).
    pub valid_until: String,
    pub validity: Validity,
    pub pin: PinStatus,
    /// The next wrong PIN blocks the card: the view warns before the user sends one.
    pub last_try: bool,
    /// What the backend said of the certificate's revocation (`POST /siths/check`); absent
    /// until it answered, or when it does not offer the check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
}

/// The card's revocation status, as the card facts show it before the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Revocation {
    /// Not on its issuer's current revocation list; `crl_date` (`YYYY-MM-DD`, UTC) is when the
    /// list checked against was issued.
    Good {
        #[serde(serialize_with = "serialize_date")]
        crl_date: time::Date,
    },
    /// On its issuer's revocation list: it cannot log in.
    Revoked,
    /// The backend could not get a fresh answer, or could not be asked.
    Unavailable,
}

fn serialize_date<S: serde::Serializer>(
    date: &time::Date,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

impl Revocation {
    /// The view's status from the backend's check; `None` when it says nothing of revocation.
    pub fn from_check(check: &SithsCheck) -> Option<Self> {
        match check.revocation {
            SithsRevocationStatus::Good => {
                let at = check.crl_updated_at.unwrap_or_default();
                let date = OffsetDateTime::from_unix_timestamp(at).ok()?.date();
                Some(Revocation::Good { crl_date: date })
            }
            SithsRevocationStatus::Revoked => Some(Revocation::Revoked),
            SithsRevocationStatus::Unavailable => Some(Revocation::Unavailable),
            _ => None,
        }
    }
}

impl std::fmt::Debug for CardDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardDetails")
            .field("kind", &self.kind)
            .field("validity", &self.validity)
            .field("pin", &self.pin)
            .finish_non_exhaustive()
    }
}

/// What was read off a card: enough to show it and to check it before logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadCard {
    pub kind: CardKind,
    pub authentication: CertificateInfo,
    /// The authentication certificate, DER: what the backend's check is asked about.
    pub certificate: Vec<u8>,
    pub pin: PinStatus,
    /// What the backend's check said of its revocation, once it answered.
    pub revocation: Option<Revocation>,
}

/// One reader's card, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Empty,
    /// `insertion` tells a read of this card from one of a card pulled out meanwhile.
    Reading {
        insertion: u64,
    },
    Read {
        insertion: u64,
        card: Box<ReadCard>,
    },
    Unreadable {
        insertion: u64,
        code: ErrorCode,
    },
}

impl Slot {
    /// Which slot the view shows when several readers have something: a usable card first.
    fn rank(&self) -> u8 {
        match self {
            Slot::Read { .. } => 3,
            Slot::Reading { .. } => 2,
            Slot::Unreadable { .. } => 1,
            Slot::Empty => 0,
        }
    }

    fn insertion(&self) -> Option<u64> {
        match self {
            Slot::Empty => None,
            Slot::Reading { insertion }
            | Slot::Read { insertion, .. }
            | Slot::Unreadable { insertion, .. } => Some(*insertion),
        }
    }
}

/// A card that was inserted and must be read now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub reader: String,
    pub insertion: u64,
}

/// Readers and cards, as the watcher's events and the reads tell them. Pure: the caller reads
/// cards and passes the clock.
#[derive(Debug, Default)]
pub struct Cards {
    /// `None` until the watcher or the first probe said whether the PC/SC service runs.
    service: Option<bool>,
    readers: BTreeMap<String, Slot>,
    version: u64,
    insertions: u64,
    /// The watcher has spoken: its word beats a probe that raced with it.
    heard: bool,
}

impl Cards {
    /// Applies a watcher event; answers the card to read, if one came in.
    pub fn apply(&mut self, event: &CardEvent) -> Option<ReadRequest> {
        self.heard = true;
        self.version += 1;
        match event {
            CardEvent::ServiceLost => {
                self.service = Some(false);
                self.readers.clear();
                None
            }
            CardEvent::ServiceBack => {
                self.service = Some(true);
                None
            }
            CardEvent::ReaderAdded { reader } => {
                self.service = Some(true);
                self.readers.entry(reader.clone()).or_insert(Slot::Empty);
                None
            }
            CardEvent::ReaderRemoved { reader } => {
                self.readers.remove(reader);
                None
            }
            CardEvent::CardInserted { reader, .. } => {
                self.service = Some(true);
                self.insertions += 1;
                let insertion = self.insertions;
                self.readers
                    .insert(reader.clone(), Slot::Reading { insertion });
                Some(ReadRequest {
                    reader: reader.clone(),
                    insertion,
                })
            }
            CardEvent::CardRemoved { reader } => {
                if let Some(slot) = self.readers.get_mut(reader) {
                    *slot = Slot::Empty;
                }
                None
            }
            _ => None,
        }
    }

    /// What a probe at the start found, when the watcher has not said anything yet: whether
    /// the service runs (its readers, if any, the watcher reports itself).
    pub fn probed(&mut self, service_up: bool) {
        if !self.heard {
            self.service = Some(service_up);
            self.version += 1;
        }
    }

    /// The result of reading the card of `request`; ignored when that card is gone.
    pub fn card_read(
        &mut self,
        request: &ReadRequest,
        result: std::result::Result<ReadCard, legitimera_card::Error>,
    ) {
        let Some(slot) = self.readers.get_mut(&request.reader) else {
            return;
        };
        if slot.insertion() != Some(request.insertion) {
            return;
        }
        let insertion = request.insertion;
        *slot = match result {
            Ok(card) => Slot::Read {
                insertion,
                card: Box::new(card),
            },
            Err(error) => Slot::Unreadable {
                insertion,
                code: error.code(),
            },
        };
        self.version += 1;
    }

    /// The backend's revocation answer for the card of `request`; ignored when that card is
    /// gone.
    pub fn revocation_checked(&mut self, request: &ReadRequest, revocation: Option<Revocation>) {
        if let Some(Slot::Read { insertion, card }) = self.readers.get_mut(&request.reader) {
            if *insertion == request.insertion && card.revocation != revocation {
                card.revocation = revocation;
                self.version += 1;
            }
        }
    }

    /// The certificate of the card `request` read, if it is still the one in the reader.
    pub fn certificate_of(&self, request: &ReadRequest) -> Option<Vec<u8>> {
        match self.readers.get(&request.reader)? {
            Slot::Read { insertion, card } if *insertion == request.insertion => {
                Some(card.certificate.clone())
            }
            _ => None,
        }
    }

    /// A login attempt told the PIN's state (a wrong PIN's tries left, a blocked PIN).
    pub fn pin_changed(&mut self, reader: &str, pin: PinStatus) {
        if let Some(Slot::Read { card, .. }) = self.readers.get_mut(reader) {
            card.pin = pin;
            self.version += 1;
        }
    }

    /// The reader of the card the view shows as ready, with what was read off it.
    pub fn ready_card(&self) -> Option<(String, ReadCard)> {
        self.readers.iter().find_map(|(reader, slot)| match slot {
            Slot::Read { card, .. } => Some((reader.clone(), (**card).clone())),
            _ => None,
        })
    }

    /// The read request that brings `reader`'s card up to date, when a card is in it.
    pub fn reread(&mut self, reader: &str) -> Option<ReadRequest> {
        let slot = self.readers.get(reader)?;
        let insertion = slot.insertion()?;
        Some(ReadRequest {
            reader: reader.to_owned(),
            insertion,
        })
    }

    pub fn view(&self, now: OffsetDateTime) -> CardView {
        let mut view = CardView {
            version: self.version,
            state: CardState::Starting,
            reader: None,
            error: None,
            card: None,
        };
        match self.service {
            None => return view,
            Some(false) => {
                view.state = CardState::NoService;
                return view;
            }
            Some(true) => {}
        }
        // The first of the best: readers are ordered by name, so the choice is stable.
        let mut best: Option<(&String, &Slot)> = None;
        for (reader, slot) in &self.readers {
            if best.is_none_or(|(_, shown)| slot.rank() > shown.rank()) {
                best = Some((reader, slot));
            }
        }
        let Some((reader, slot)) = best else {
            view.state = CardState::NoReader;
            return view;
        };
        view.reader = Some(reader.clone());
        view.state = match slot {
            Slot::Empty => CardState::NoCard,
            Slot::Reading { .. } => CardState::Reading,
            Slot::Unreadable { code, .. } => {
                view.error = Some(*code);
                CardState::Unreadable
            }
            Slot::Read { card, .. } => {
                view.card = Some(details(card, now));
                CardState::Ready
            }
        };
        view
    }
}

fn details(card: &ReadCard, now: OffsetDateTime) -> CardDetails {
    let certificate = &card.authentication;
    let last_day = certificate.not_after.date();
    CardDetails {
        kind: card.kind,
        holder: certificate.holder.clone(),
        hsa_id: certificate.hsa_id.as_ref().map(|id| id.as_str().to_owned()),
        organisation: certificate.organisation.clone(),
        issuer: certificate.issuer.clone(),
        valid_until: format!(
            "{:04}-{:02}-{:02}",
            last_day.year(),
            u8::from(last_day.month()),
            last_day.day()
        ),
        validity: certificate.validity_at(now),
        pin: card.pin,
        last_try: card.pin.is_last_try(),
        revocation: card.revocation,
    }
}

/// Refuses, before anything reaches the server or the card, a certificate the server would
/// refuse anyway: the user hears why at once, and no PIN try is spent on it.
pub fn check_before_login(card: &ReadCard, now: OffsetDateTime) -> Result<()> {
    if card.authentication.key_usage != KeyUsage::Authentication {
        return Err(AppError::Certificate(ErrorCode::SithsWrongKeyUsage));
    }
    match card.authentication.validity_at(now) {
        Validity::Expired => Err(AppError::Certificate(ErrorCode::SithsCertificateExpired)),
        Validity::NotYetValid => Err(AppError::Certificate(
            ErrorCode::SithsCertificateNotYetValid,
        )),
        _ if card.revocation == Some(Revocation::Revoked) => {
            Err(AppError::Certificate(ErrorCode::SithsCertificateRevoked))
        }
        _ if card.pin == PinStatus::Blocked => Err(legitimera_card::Error::PinBlocked.into()),
        _ => Ok(()),
    }
}

/// Reads what the SITHS view shows off the card in `reader`, without a PIN: certificates and
/// the PIN's tries left (which spends none). Blocking.
pub fn read_card(reader: &str) -> std::result::Result<ReadCard, legitimera_card::Error> {
    let contents = Pcsc::establish()?.read_card(reader)?;
    let authentication = contents
        .certificates
        .iter()
        .find(|certificate| certificate.role == KeyRole::Authentication)
        .ok_or_else(|| {
            legitimera_card::Error::UnsupportedCard("no authentication certificate".into())
        })?;
    Ok(ReadCard {
        kind: contents.kind,
        authentication: CertificateInfo::from_der(&authentication.der)?,
        certificate: authentication.der.clone(),
        pin: contents.pin,
        revocation: None,
    })
}

/// Whether the PC/SC service runs. Blocking, quick: it asks the service nothing else.
pub fn probe_service() -> bool {
    Pcsc::establish().is_ok()
}

type Notify = Arc<dyn Fn(CardView) + Send + Sync>;

/// The SITHS side of the app: the card state the view shows, and the login.
pub struct Siths {
    api: ApiClient,
    cards: Arc<Mutex<Cards>>,
    watcher: Mutex<Option<Watcher>>,
    notify: Arc<Mutex<Option<Notify>>>,
    /// One login at a time: a second would queue behind the card's transaction anyway.
    login: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Siths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Siths").finish_non_exhaustive()
    }
}

/// Locks a std mutex whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Tells `notify` (when set) the view of `cards` now.
fn tell(cards: &Mutex<Cards>, notify: &Mutex<Option<Notify>>) {
    let view = lock(cards).view(now());
    let notify = lock(notify).clone();
    if let Some(notify) = notify {
        notify(view);
    }
}

/// Reads the card of `request` and records the result. Blocking.
fn read_and_record(request: &ReadRequest, cards: &Mutex<Cards>, notify: &Mutex<Option<Notify>>) {
    let result = read_card(&request.reader);
    if let Err(error) = &result {
        tracing::info!(code = %error.code(), "the card could not be read");
    }
    lock(cards).card_read(request, result);
    tell(cards, notify);
}

/// Asks the backend about the revocation of the card `request` read (when it still is in the
/// reader) and records the answer, so the card facts show it before the PIN. A backend without
/// the check (404) leaves it unsaid; one that cannot be reached is "could not be checked".
async fn check_revocation(
    api: ApiClient,
    request: ReadRequest,
    cards: Arc<Mutex<Cards>>,
    notify: Arc<Mutex<Option<Notify>>>,
) {
    let Some(certificate) = lock(&cards).certificate_of(&request) else {
        return;
    };
    let answer = api
        .siths_check(&SithsCheckRequest {
            certificates: vec![BASE64.encode(&certificate)],
        })
        .await;
    let revocation = match &answer {
        Ok(check) => Revocation::from_check(check),
        Err(AppError::Backend { status: 404, .. }) => None,
        Err(error) => {
            tracing::info!(code = %error.code(), "the card's revocation could not be checked");
            Some(Revocation::Unavailable)
        }
    };
    lock(&cards).revocation_checked(&request, revocation);
    tell(&cards, &notify);
}

/// Reads the card of `request`, records it, then has its revocation checked (on `runtime`).
fn read_then_check(
    request: &ReadRequest,
    cards: &Arc<Mutex<Cards>>,
    notify: &Arc<Mutex<Option<Notify>>>,
    api: &ApiClient,
    runtime: &tokio::runtime::Handle,
) {
    read_and_record(request, cards, notify);
    runtime.spawn(check_revocation(
        api.clone(),
        request.clone(),
        Arc::clone(cards),
        Arc::clone(notify),
    ));
}

impl Siths {
    pub fn new(api: ApiClient) -> Self {
        Siths {
            api,
            cards: Arc::new(Mutex::new(Cards::default())),
            watcher: Mutex::new(None),
            notify: Arc::new(Mutex::new(None)),
            login: tokio::sync::Mutex::new(()),
        }
    }

    /// Follows readers and cards from now on (the first call starts the watcher); every change
    /// goes to `notify`. Answers the view as it stands.
    pub async fn watch(&self, notify: impl Fn(CardView) + Send + Sync + 'static) -> CardView {
        *lock(&self.notify) = Some(Arc::new(notify));
        let started = {
            let mut watcher = lock(&self.watcher);
            if watcher.is_none() {
                let cards = Arc::clone(&self.cards);
                let notify = Arc::clone(&self.notify);
                let api = self.api.clone();
                let runtime = tokio::runtime::Handle::current();
                // On the watcher's own thread, in order: a card is read before the next event.
                *watcher = Some(Watcher::start(move |event| {
                    let request = lock(&cards).apply(&event);
                    tell(&cards, &notify);
                    if let Some(request) = request {
                        read_then_check(&request, &cards, &notify, &api, &runtime);
                    }
                }));
                tracing::info!("watching card readers");
                true
            } else {
                false
            }
        };
        // The watcher reports readers and cards, but says nothing when there is no reader.
        if started {
            if let Ok(service_up) = tokio::task::spawn_blocking(probe_service).await {
                lock(&self.cards).probed(service_up);
            }
        }
        self.view()
    }

    pub fn view(&self) -> CardView {
        lock(&self.cards).view(now())
    }

    /// Logs in with the card the view shows: checks its certificate, gets a challenge, has the
    /// card VERIFY the PIN and sign in one transaction, sends the signature, and hands the
    /// session to `account`. A failure is never retried: a PIN is sent once.
    pub async fn login(&self, account: &Account, pin: Pin) -> Result<SessionStatus> {
        let _one_at_a_time = self.login.lock().await;
        let shown = lock(&self.cards).ready_card();
        let (reader, card) = match shown {
            Some(ready) => ready,
            None => find_card().await?,
        };
        check_before_login(&card, now())?;
        let request = sign_challenge(&self.api, &reader, pin).await;
        let card_error = match &request {
            Err(AppError::Card(error)) => Some(error),
            _ => None,
        };
        self.after_card_use(&reader, card_error);
        let request = request?;
        let session = self.api.siths_session(&request).await?;
        account.begin(session.token).await
    }

    /// The card was used: what a refused PIN told is shown at once, and the card is read again
    /// in the background (a right PIN restores the tries; the view must not keep old ones).
    fn after_card_use(&self, reader: &str, error: Option<&legitimera_card::Error>) {
        let told = match error {
            Some(legitimera_card::Error::WrongPin { tries_left }) => Some(PinStatus::TriesLeft {
                tries_left: *tries_left,
            }),
            Some(legitimera_card::Error::PinBlocked) => Some(PinStatus::Blocked),
            _ => None,
        };
        if let Some(pin) = told {
            lock(&self.cards).pin_changed(reader, pin);
            tell(&self.cards, &self.notify);
        }
        let Some(request) = lock(&self.cards).reread(reader) else {
            return;
        };
        let cards = Arc::clone(&self.cards);
        let notify = Arc::clone(&self.notify);
        let api = self.api.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            read_then_check(&request, &cards, &notify, &api, &runtime)
        });
    }
}

/// Gets a challenge and has the card in `reader` VERIFY the PIN and sign its login message
/// ([`login_message`]) in one transaction: what a login sends, and what the diagnostics' test
/// login sends. A challenge that is not 32 bytes is refused before the PIN goes anywhere
/// (`siths_bad_challenge`); card errors come back as [`AppError::Card`] (a wrong PIN with its
/// tries left).
pub(crate) async fn sign_challenge(
    api: &ApiClient,
    reader: &str,
    pin: Pin,
) -> Result<SithsLoginRequest> {
    let challenge = api.siths_challenge().await?;
    let message = login_message(&api.base().origin(), &challenge)?;
    let signing_reader = reader.to_owned();
    let signed =
        tokio::task::spawn_blocking(move || sign_login_message(&signing_reader, &pin, &message))
            .await
            .map_err(|_| legitimera_card::Error::Pcsc("the signing task ended".into()))??;
    tracing::info!("the card signed the SITHS challenge");
    login_request(challenge.id, &signed)
}

/// What the card is to sign for `challenge` from the backend at `origin`
/// ([`siths_login_message`]); `siths_bad_challenge` when the challenge is not 32 bytes, so a
/// backend cannot have the card sign bytes of its choosing (a TLS handshake, a document).
pub fn login_message(origin: &str, challenge: &SithsChallenge) -> Result<Vec<u8>> {
    let bytes = BASE64
        .decode(challenge.challenge.as_bytes())
        .map_err(|_| AppError::SithsBadChallenge(0))?;
    let bytes: [u8; SITHS_CHALLENGE_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| AppError::SithsBadChallenge(bytes.len()))?;
    Ok(siths_login_message(origin, &bytes))
}

/// VERIFY `pin` and sign `message` (from [`login_message`]) with the authentication key of
/// the card in `reader`, in one transaction. Blocking; sends the PIN once, never retries.
pub fn sign_login_message(
    reader: &str,
    pin: &Pin,
    message: &[u8],
) -> std::result::Result<SignedChallenge, legitimera_card::Error> {
    Pcsc::establish()?.sign(reader, KeyRole::Authentication, pin, message)
}

/// The request that sends the card's signature for the challenge `challenge_id` back.
pub fn login_request(challenge_id: String, signed: &SignedChallenge) -> Result<SithsLoginRequest> {
    let algorithm = match signed.algorithm {
        SignatureAlgorithm::RsaPkcs1Sha256 => SithsAlgorithm::RsaPkcs1Sha256,
        SignatureAlgorithm::EcdsaP256Sha256 => SithsAlgorithm::EcdsaP256Sha256,
        _ => return Err(legitimera_card::Error::UnsupportedCard("key type".into()).into()),
    };
    Ok(SithsLoginRequest {
        challenge_id,
        certificates: vec![BASE64.encode(&signed.certificate)],
        signature: BASE64.encode(&signed.signature),
        algorithm,
    })
}

/// The card in the first reader that has one, read now (no watcher has told of one): the card
/// crate's errors say what is missing — the service, a reader or a card.
async fn find_card() -> Result<(String, ReadCard)> {
    let found = tokio::task::spawn_blocking(|| {
        let reader = Pcsc::establish()?.reader_with_card()?;
        read_card(&reader).map(|card| (reader, card))
    })
    .await
    .map_err(|_| legitimera_card::Error::Pcsc("the reading task ended".into()))?;
    Ok(found?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use legitimera_vcard::{CardKeys, CertificateTimes, Identity};

    fn card(times: CertificateTimes, pin: PinStatus) -> ReadCard {
        let identity = Identity::generate(CardKeys::generate_p256(), times).expect("identity");
        ReadCard {
            kind: CardKind::Piv,
            authentication: CertificateInfo::from_der(&identity.certificates.authentication)
                .expect("certificate"),
            certificate: identity.certificates.authentication.clone(),
            pin,
            revocation: None,
        }
    }

    const THREE: PinStatus = PinStatus::TriesLeft { tries_left: 3 };
    const READER: &str = "Virtual PCD 00 00";

    fn inserted(cards: &mut Cards, reader: &str) -> ReadRequest {
        cards.apply(&CardEvent::ReaderAdded {
            reader: reader.into(),
        });
        cards
            .apply(&CardEvent::CardInserted {
                reader: reader.into(),
                atr: "3B".into(),
            })
            .expect("a card to read")
    }

    #[test]
    fn the_view_follows_service_readers_and_cards() {
        let mut cards = Cards::default();
        assert_eq!(cards.view(now()).state, CardState::Starting);
        cards.probed(true);
        assert_eq!(cards.view(now()).state, CardState::NoReader);
        cards.apply(&CardEvent::ReaderAdded {
            reader: READER.into(),
        });
        assert_eq!(cards.view(now()).state, CardState::NoCard);
        let request = inserted(&mut cards, READER);
        assert_eq!(cards.view(now()).state, CardState::Reading);
        cards.card_read(&request, Ok(card(CertificateTimes::Valid, THREE)));
        let view = cards.view(now());
        assert_eq!(view.state, CardState::Ready);
        let details = view.card.expect("details");
        assert_eq!(details.holder, "Anna Testsson");
        assert_eq!(details.hsa_id.as_deref(), Some("SE2321000016-1234"));
        assert_eq!(details.organisation.as_deref(), Some("Region Testland"));
        assert!(!details.last_try);
        cards.apply(&CardEvent::CardRemoved {
            reader: READER.into(),
        });
        assert_eq!(cards.view(now()).state, CardState::NoCard);
        cards.apply(&CardEvent::ServiceLost);
        assert_eq!(cards.view(now()).state, CardState::NoService);
    }

    #[test]
    fn a_probe_that_raced_the_watcher_does_not_undo_what_it_said() {
        let mut cards = Cards::default();
        cards.apply(&CardEvent::ReaderAdded {
            reader: READER.into(),
        });
        cards.probed(false);
        assert_eq!(cards.view(now()).state, CardState::NoCard);
    }

    #[test]
    fn a_read_of_a_card_pulled_out_meanwhile_is_dropped() {
        // Symptom it guards against: the old card's holder shown after a swap.
        let mut cards = Cards::default();
        let first = inserted(&mut cards, READER);
        cards.apply(&CardEvent::CardRemoved {
            reader: READER.into(),
        });
        cards.card_read(&first, Ok(card(CertificateTimes::Valid, THREE)));
        assert_eq!(cards.view(now()).state, CardState::NoCard);
        let second = inserted(&mut cards, READER);
        cards.card_read(&first, Ok(card(CertificateTimes::Valid, THREE)));
        assert_eq!(cards.view(now()).state, CardState::Reading);
        cards.card_read(&second, Err(legitimera_card::Error::CardBusy));
        let view = cards.view(now());
        assert_eq!(
            (view.state, view.error),
            (CardState::Unreadable, Some(ErrorCode::CardBusy))
        );
    }

    #[test]
    fn a_ready_card_is_shown_before_an_empty_reader_and_versions_grow() {
        let mut cards = Cards::default();
        cards.apply(&CardEvent::ReaderAdded {
            reader: "A reader".into(),
        });
        let request = inserted(&mut cards, READER);
        let before = cards.view(now()).version;
        cards.card_read(&request, Ok(card(CertificateTimes::Valid, THREE)));
        let view = cards.view(now());
        assert!(view.version > before);
        assert_eq!(view.reader.as_deref(), Some(READER));
        assert_eq!(
            cards.ready_card().map(|(reader, _)| reader).as_deref(),
            Some(READER)
        );
    }

    #[test]
    fn a_wrong_pin_shows_its_tries_and_the_last_one_is_flagged() {
        let mut cards = Cards::default();
        let request = inserted(&mut cards, READER);
        cards.card_read(&request, Ok(card(CertificateTimes::Valid, THREE)));
        cards.pin_changed(READER, PinStatus::TriesLeft { tries_left: 1 });
        let details = cards.view(now()).card.expect("details");
        assert_eq!(details.pin.tries_left(), Some(1));
        assert!(details.last_try);
    }

    #[test]
    fn expiry_within_30_days_is_shown_as_soon() {
        let read = card(CertificateTimes::Valid, THREE);
        let near_the_end = read.authentication.not_after - time::Duration::days(10);
        let soon = details(&read, near_the_end).validity;
        assert!(
            matches!(soon, Validity::ExpiresSoon { days: 9 | 10 }),
            "{soon:?}"
        );
        assert_eq!(
            details(
                &read,
                read.authentication.not_after - time::Duration::days(60)
            )
            .validity,
            Validity::Valid
        );
    }

    #[test]
    fn a_challenge_that_is_not_32_bytes_is_refused_before_the_card_is_used() {
        let challenge = |bytes: &[u8]| SithsChallenge {
            id: "c".into(),
            challenge: BASE64.encode(bytes),
            expires_in: 120,
        };
        let origin = "http://127.0.0.1:8787";
        let message = login_message(origin, &challenge(&[5; 32])).expect("32 bytes");
        assert_eq!(message, siths_login_message(origin, &[5; 32]));
        for length in [0, 31, 33, 64] {
            let refused = login_message(origin, &challenge(&vec![5; length]));
            assert_eq!(
                refused.err().map(|e| e.code()),
                Some(ErrorCode::SithsBadChallenge),
                "{length} bytes"
            );
        }
        let not_base64 = SithsChallenge {
            challenge: "not base64!".into(),
            ..challenge(&[5; 32])
        };
        assert_eq!(
            login_message(origin, &not_base64).err().map(|e| e.code()),
            Some(ErrorCode::SithsBadChallenge)
        );
    }

    #[test]
    fn certificates_the_server_would_refuse_are_refused_first() {
        let code = |read: &ReadCard| check_before_login(read, now()).err().map(|e| e.code());
        assert_eq!(code(&card(CertificateTimes::Valid, THREE)), None);
        assert_eq!(
            code(&card(CertificateTimes::Expired, THREE)),
            Some(ErrorCode::SithsCertificateExpired)
        );
        assert_eq!(
            code(&card(CertificateTimes::NotYetValid, THREE)),
            Some(ErrorCode::SithsCertificateNotYetValid)
        );
        assert_eq!(
            code(&card(CertificateTimes::Valid, PinStatus::Blocked)),
            Some(ErrorCode::PinBlocked)
        );
        let mut signing = card(CertificateTimes::Valid, THREE);
        signing.authentication.key_usage = KeyUsage::Signing;
        assert_eq!(code(&signing), Some(ErrorCode::SithsWrongKeyUsage));
        let mut revoked = card(CertificateTimes::Valid, THREE);
        revoked.revocation = Some(Revocation::Revoked);
        assert_eq!(code(&revoked), Some(ErrorCode::SithsCertificateRevoked));
    }

    #[test]
    fn the_revocation_answer_shows_on_the_card_it_was_asked_for() {
        let mut cards = Cards::default();
        let request = inserted(&mut cards, READER);
        cards.card_read(&request, Ok(card(CertificateTimes::Valid, THREE)));
        assert_eq!(cards.view(now()).card.expect("details").revocation, None);
        let good = Revocation::from_check(&SithsCheck {
            code: None,
            revocation: SithsRevocationStatus::Good,
            crl_updated_at: Some(1_764_460_800),
        });
        cards.revocation_checked(&request, good);
        let details = cards.view(now()).card.expect("details");
        assert_eq!(
            serde_json::to_value(details.revocation).expect("json"),
            serde_json::json!({"status": "good", "crl_date": "2025-11-30"})
        );
        // A later card in the same reader does not get the earlier card's answer.
        cards.apply(&CardEvent::CardRemoved {
            reader: READER.into(),
        });
        let second = inserted(&mut cards, READER);
        cards.card_read(&second, Ok(card(CertificateTimes::Valid, THREE)));
        cards.revocation_checked(&request, Some(Revocation::Revoked));
        assert_eq!(cards.view(now()).card.expect("details").revocation, None);
        cards.revocation_checked(&second, Some(Revocation::Revoked));
        let details = cards.view(now()).card.expect("details");
        assert_eq!(
            serde_json::to_value(details.revocation).expect("json"),
            serde_json::json!({"status": "revoked"})
        );
    }
}
