//! The Legitimera app's logic, without a window: the session as one state machine with its
//! timer, the accounts' flows, the backend's reachability, settings and what a personal
//! computer may remember and trust, BankID and SITHS logins, and the wipe. It never depends on
//! Tauri: the desktop app drives it through [`Client`] and hears from it through [`Events`]
//! and [`Desktop`]; tests drive it with a fake backend and a fake clock.
//!
//! What it must never do: log personal data or secrets, keep a secret longer than the call
//! that needs it, or let the webview talk to the network (every call is made here).

pub mod account;
pub mod api;
pub mod bankid;
mod client;
pub mod config;
pub mod connectivity;
pub mod device;
pub mod diagnostics;
pub mod error;
pub mod events;
pub mod keyring;
pub mod locale;
pub mod logging;
pub mod notify;
pub mod policy;
pub mod session_timer;
pub mod settings;
pub mod siths;
pub mod update;
pub mod wake;
pub mod wipe;

pub use account::{CodeSent, LoginOutcome, Phase};
pub use api::{ApiClient, CodeFlow, CodeStep};
pub use client::{
    device_label, About, AppInfo, Boot, Client, Forgotten, Parts, SettingsChange, Startup,
    CLOSING_BOUND,
};
pub use config::{choose_backend, BackendSource, BackendUrl, BuildKind};
pub use error::{AppError, Result, UiError};
pub use events::{Desktop, Events, SessionEnded, SessionWarning};
pub use policy::{Policy, PolicyError, PolicyReport};
pub use update::{UpdatePlan, UpdateSource, UpdateView, Updates};

/// Parsers that fuzz targets feed with arbitrary input; not part of the API.
#[doc(hidden)]
pub mod internal {
    pub use crate::api::decode_body;
    pub use crate::diagnostics::card::{certificate_check, local_verdict as certificate_verdict};
    pub use crate::policy::Policy;
    pub use crate::settings::Settings;
}
