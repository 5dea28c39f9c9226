//! # legitimera-bankid
//!
//! BankID's RP API v6.0 for the Legitimera server: the wire types, an async client over mutual
//! TLS, the animated QR code, launch URLs, and which recommended user message ("RFA" code) to
//! show for every state and error.
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
//!     qr_data, AuthRequest, ClientConfig, Flow, RpClient, RpIdentity, ServerCa, Status,
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
//!     let _message = state.rfa(Flow::OtherDevice); // e.g. RFA1, then RFA9
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
//! - Polling: every 2 s while `pending`; stop at `complete` or `failed`. The client never polls
//!   or retries by itself.

#![forbid(unsafe_code)]

mod client;
mod error;
mod fields;
mod launch;
mod qr;
mod rfa;
mod tls;
mod types;

pub use client::{ClientConfig, RpClient, PRODUCTION_BASE_URL, TEST_BASE_URL};
pub use error::{ConfigError, Error, ErrorBody, ErrorCode, Result};
pub use fields::{AutoStartToken, FieldError, OrderRef, Personnummer, QrStartSecret, QrStartToken};
pub use launch::{desktop_launch_url, mobile_launch_url};
pub use qr::{qr_auth_code, qr_data, ScannedQr};
pub use rfa::{rfa, Flow, Outcome, RfaCode};
pub use tls::{client_tls_config, RpIdentity, ServerCa};
pub use types::{
    AppContext, AuthRequest, CardReader, CollectResponse, CompletionData, Device, HintCode,
    OrderRefRequest, OrderResponse, Requirement, Risk, SignRequest, Status, StepUp, User,
    UserVisibleData, UserVisibleDataFormat, WebContext,
};
