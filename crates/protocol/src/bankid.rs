//! BankID login on the wire: starting an order, watching it (long-poll), and the session it
//! ends in. The server talks to BankID; the app only ever sees what is here. No personnummer
//! crosses this boundary unmasked, and `qrStartSecret` never does.

use serde::{Deserialize, Serialize};

use crate::fields::SecretString;
use crate::ErrorCode;

/// How the user reaches their BankID app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankIdMode {
    /// "BankID på den här datorn": the app opens `bankid:///?autostarttoken=…&redirect=null`.
    ThisDevice,
    /// "Mobilt BankID på annan enhet": the app shows the animated QR code.
    OtherDevice,
}

/// `POST /api/v1/bankid/orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankIdOrderRequest {
    pub mode: BankIdMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankIdStatus {
    Pending,
    Failed,
    Complete,
}

/// `POST /api/v1/bankid/orders` (201) and `GET /api/v1/bankid/orders/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankIdOrder {
    /// The order's id at this server (not BankID's `orderRef`). Whoever knows it can collect
    /// the session: keep it in memory only.
    pub id: String,
    pub mode: BankIdMode,
    pub status: BankIdStatus,
    /// Goes up by one each time `status`, `hint` or `message` changes: pass it back as
    /// `?since=` to long-poll for the next change.
    pub version: u64,
    /// BankID's hint code as BankID sent it (e.g. `outstandingTransaction`, `userSign`,
    /// `startFailed`); absent once complete. Unknown codes are passed on as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The recommended user message to show, as BankID names it (`RFA1`, `RFA13`, `RFA17A`…);
    /// absent once complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Failed for a reason of the service's rather than BankID's: show this code's message
    /// instead of `message` (e.g. `bankid_ip_mismatch`: another device completed a "this
    /// computer" login). `message` stays as a fallback for clients that do not know the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    /// `this_device` only: the token for `bankid:///?autostarttoken=…&redirect=null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostarttoken: Option<String>,
    /// `other_device` only, while pending: the QR data to show now
    /// (`bankid.<qrStartToken>.<seconds>.<code>`); it changes every second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    /// Once complete: the session token (send it as `Authorization: Bearer`). Handed out in
    /// exactly one answer; later answers leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretString>,
    /// Once complete: who logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<BankIdUser>,
}

/// The person BankID identified, as the app may show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankIdUser {
    /// The full name from BankID.
    pub name: String,
    /// The personnummer with its last four digits hidden: `19900101-****`.
    pub personal_number: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_order_leaves_out_what_it_does_not_have() {
        let order = BankIdOrder {
            id: "abc".into(),
            mode: BankIdMode::ThisDevice,
            status: BankIdStatus::Pending,
            version: 1,
            hint: Some("outstandingTransaction".into()),
            message: Some("RFA13".into()),
            code: None,
            autostarttoken: Some("t".into()),
            qr: None,
            token: None,
            user: None,
        };
        let json = serde_json::to_value(&order).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "abc", "mode": "this_device", "status": "pending", "version": 1,
                "hint": "outstandingTransaction", "message": "RFA13", "autostarttoken": "t"
            })
        );
    }

    #[test]
    fn mode_is_snake_case_and_unknown_modes_are_refused() {
        let request: Result<BankIdOrderRequest, _> =
            serde_json::from_str(r#"{"mode":"other_device"}"#);
        assert_eq!(request.ok().map(|r| r.mode), Some(BankIdMode::OtherDevice));
        assert!(serde_json::from_str::<BankIdOrderRequest>(r#"{"mode":"phone"}"#).is_err());
    }
}
