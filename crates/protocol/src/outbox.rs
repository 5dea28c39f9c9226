//! The demo outbox (`GET /demo/outbox`, demo mode only): every e-mail and SMS the demo server
//! "sent", newest last, so a new user can finish every flow without a mail server or phone.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub channel: Channel,
    /// An e-mail address or an E.164 phone number.
    pub to: String,
    /// The e-mail's subject; `null` for an SMS.
    pub subject: Option<String>,
    pub body: String,
    /// RFC 3339, UTC.
    pub sent_at: String,
}
