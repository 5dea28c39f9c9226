//! # legitimera-bankid
//!
//! BankID's RP API v6.0 for the Legitimera server: the wire types, an async client over mutual
//! TLS, the animated QR code, launch URLs, and which recommended user message ("RFA" code) to
//! show for every state and error. With the `simulator` feature it also serves the RP API
//! locally, over mutual TLS, with a "test BankID app" that opens, signs and cancels orders.
//!
//! This crate owns the BankID contract and nothing above it: no sessions, no polling loop, no
//! user-facing sentences (the UI maps RFA codes to its own Swedish and English text). It never
//! logs a personnummer, a `qrStartSecret` or a completion's personal data.
//!
//! ## Using the client
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use legitimera_bankid::{
//!     qr_data, AuthRequest, ClientConfig, UserDevice, RpClient, RpIdentity, ServerCa, Status,
//!     TEST_BASE_URL,
//! };
//!
//! let identity = RpIdentity::from_pkcs12(&std::fs::read("rp.p12")?, "qwerty123")?;
//! let server_ca = ServerCa::from_pem(&std::fs::read("test-bankid-ssl-root-ca.pem")?)?;
//! let client = RpClient::new(ClientConfig::new(TEST_BASE_URL.parse()?, identity, server_ca))?;
//!
//! let order = client.auth(&AuthRequest::new("192.0.2.10".parse()?)).await?;
//! // Other device: show qr_data(...) with the whole seconds since this answer, every second.
//! let _qr = qr_data(&order.qr_start_token, &order.qr_start_secret, 0);
//! loop {
//!     let state = client.collect(&order.order_ref).await?;
//!     if state.status != Status::Pending {
//!         break;
//!     }
//!     let _message = state.rfa(UserDevice::OtherDevice); // e.g. RFA1, then RFA9
//!     tokio::time::sleep(std::time::Duration::from_secs(2)).await;
//! }
//! # Ok(()) }
//! ```
//!
//! - Trust: [`ServerCa`] is the *only* trust anchor (BankID's own SSL root, or a simulator's);
//!   the public web roots and the system store are never consulted.
//! - Identity: [`RpIdentity::from_pkcs12`] reads what BankID delivers and what `openssl pkcs12
//!   -export` writes (AES or `-legacy` RC2/3DES); [`RpIdentity::from_pem`] takes PEM.
//! - Errors: [`Error`] separates BankID's `{errorCode, details}` answers (unknown codes kept),
//!   429, non-JSON answers (a proxy's HTML page), TLS failures, timeouts and transport
//!   failures; [`Error::rfa`] gives the message for each.
//! - QR and launch: [`qr_data`] is the pure animated-QR function (tested with BankID's
//!   published vectors); [`AnimatedQr`] keeps token, secret and answer time for the server and
//!   gives the code for any instant. [`desktop_launch_url`] builds
//!   `bankid:///?autostarttoken=…&redirect=null`.
//! - Messages: [`rfa`] (or [`CollectResponse::rfa`], [`Error::rfa`]) gives the RFA code for
//!   every hint code and error in both flows; unknown codes give RFA21 (pending) or RFA22.
//! - Polling: every 2 s while `pending`; stop at `complete` or `failed`. The client never polls
//!   or retries by itself.
//!
//! ## The simulator (feature `simulator`)
//!
//! [`simulator::Simulator::start`] binds an address (port 0 works), generates at run time a
//! test "BankID SSL Root CA" for its server certificate and a test RP CA plus an RP identity
//! (PEM and PKCS#12) for clients, and serves `/rp/v6.0/{auth,sign,collect,cancel}` requiring a
//! client certificate from that RP CA. Nothing is bundled, so no test certificate can expire
//! silently. [`simulator::Simulator::client`] gives a ready [`RpClient`].
//!
//! Its rules, measured on an injectable [`clock::Clock`] (tests move a
//! [`clock::ManualClock`] instead of sleeping):
//!
//! - A new order is `pending`/`outstandingTransaction`. If no app opens it within 30 s it
//!   fails with `startFailed`.
//! - Once an app opens it (`started`, then `userSign`), the user has 3 minutes from the moment
//!   of opening; after that it fails with `expiredTransaction`. BankID does not publish the
//!   exact limit; three minutes is the order lifetime it documents.
//! - A completed order can be collected for 3 minutes, a failed one for 5; after that, and for
//!   any order BankID never issued or that was cancelled, `/collect` and `/cancel` answer
//!   400 `invalidParameters` ("No such order"), as BankID does. 404 `notFound` is kept for
//!   unknown paths, which is what BankID's `notFound` means.
//! - `/cancel` removes the order whatever its state; cancelling it again gives
//!   `invalidParameters`.
//! - `alreadyInProgress`: an `/auth` or `/sign` with `requirement.personalNumber` P while P
//!   has a pending order (one that required P, or one P's app has opened) is refused with
//!   400 `alreadyInProgress`, and that pending order fails with `cancelled`, as BankID aborts
//!   both. When P's app opens a second order while another one is open in it, the older one
//!   fails with `cancelled` ("the system received a new order for the user") and the new one
//!   proceeds.
//! - The test app ([`simulator::TestApp`]) opens an order by autostart token or by scanned QR
//!   data, verifying the HMAC with the order's secret and refusing a code more than
//!   [`simulator::QR_MAX_AGE`] old (or from the future), as the real app refuses an old code.
//!   Then it signs as a [`simulator::TestPerson`] (a demo person by default) or cancels
//!   (`userCancel`). The same control is served over HTTP as `POST /test-app/sign` and
//!   `POST /test-app/cancel` with `{"qr": …}` or `{"autostarttoken": …}` and an optional
//!   `"personal_number"`; [`simulator::TestApp::router`] gives that router for the server's
//!   demo mode to mount elsewhere.
//! - For RP tests: [`simulator::Simulator::collect_calls`] counts `/collect` requests (to prove
//!   polling stops when an order ends) and [`simulator::Simulator::refuse_next_order`] makes
//!   the next `/auth` or `/sign` answer a chosen error (`alreadyInProgress`, `maintenance`…).
//! - Completion data is shaped like BankID's; the signature and OCSP response are placeholders
//!   that no verifier would accept.

#![forbid(unsafe_code)]

mod client;
pub mod clock;
mod error;
mod fields;
mod launch;
mod qr;
mod rfa;
#[cfg(feature = "simulator")]
pub mod simulator;
mod tls;
mod types;

pub use client::{ClientConfig, RpClient, PRODUCTION_BASE_URL, TEST_BASE_URL};
pub use error::{ConfigError, Error, ErrorBody, ErrorCode, Result};
pub use fields::{AutoStartToken, FieldError, OrderRef, Personnummer, QrStartSecret, QrStartToken};
pub use launch::{desktop_launch_url, mobile_launch_url};
pub use qr::{qr_auth_code, qr_data, AnimatedQr, ScannedQr};
pub use rfa::{rfa, Outcome, RfaCode, UserDevice};
pub use tls::{client_tls_config, RpIdentity, ServerCa};
/// The parsers fuzz/ feeds directly; not part of the API.
#[doc(hidden)]
pub mod internal {
    pub use crate::client::interpret;
}

pub use types::{
    AppContext, AuthRequest, CardReader, CollectResponse, CompletionData, Device, HintCode,
    OrderRefRequest, OrderResponse, Requirement, Risk, SignRequest, Status, StepUp, User,
    UserVisibleData, UserVisibleDataFormat, WebContext,
};
