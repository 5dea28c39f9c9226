//! The time every rule is measured against (code expiry, session limits, rate windows), behind a
//! trait so tests can move time forward instead of sleeping. The command line always gets the
//! system clock; `ManualClock` is for tests that build the server themselves.
//!
//! It is the BankID crate's clock, so the demo's simulator runs on the server's time and a
//! test moving a `ManualClock` moves both.

pub use legitimera_bankid::clock::{Clock, ManualClock, SystemClock};
