//! Which recommended user message (BankID's "RFA" codes) to show for each collect state and
//! each error, per flow. Codes only: the sentences live in the UI's catalogues (sv, en).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::types::HintCode;

/// How the user was sent to the BankID app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserDevice {
    /// The RP opened `bankid:///?autostarttoken=…` on this computer.
    ThisDevice,
    /// The user scans the animated QR code with Mobile BankID on another device.
    OtherDevice,
}

/// What happened, as far as the message is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// `status: pending`, with its hint code if any.
    Pending(Option<&'a HintCode>),
    /// `status: failed`, with its hint code if any.
    Failed(Option<&'a HintCode>),
    /// BankID answered with an error body.
    Error(&'a ErrorCode),
    /// HTTP 429.
    RateLimited,
    /// No usable answer: timeout, TLS, connection, or a body that is not BankID's.
    Unreachable,
}

/// A recommended user message. Serialized as BankID names it: `"RFA1"`, `"RFA15A"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RfaCode {
    /// Start your BankID app.
    #[serde(rename = "RFA1")]
    Rfa1,
    /// Cancelled, try again.
    #[serde(rename = "RFA3")]
    Rfa3,
    /// An identification for this personnummer is already in progress.
    #[serde(rename = "RFA4")]
    Rfa4,
    /// Internal error, try again.
    #[serde(rename = "RFA5")]
    Rfa5,
    /// Cancelled.
    #[serde(rename = "RFA6")]
    Rfa6,
    /// The app does not respond; check that it is started and online.
    #[serde(rename = "RFA8")]
    Rfa8,
    /// Enter your security code in the app and choose Identify.
    #[serde(rename = "RFA9")]
    Rfa9,
    /// Trying to start the BankID app.
    #[serde(rename = "RFA13")]
    Rfa13,
    /// Searching for BankID, it can take a moment (desktop wording).
    #[serde(rename = "RFA15A")]
    Rfa15A,
    /// The BankID is too old or blocked; get a new one from your bank.
    #[serde(rename = "RFA16")]
    Rfa16,
    /// The app could not be found on this computer; install it.
    #[serde(rename = "RFA17A")]
    Rfa17A,
    /// The QR code could not be read; try again.
    #[serde(rename = "RFA17B")]
    Rfa17B,
    /// Identification in progress.
    #[serde(rename = "RFA21")]
    Rfa21,
    /// Unknown error, try again.
    #[serde(rename = "RFA22")]
    Rfa22,
    /// Scan your ID document with the BankID app.
    #[serde(rename = "RFA23")]
    Rfa23,
}

impl RfaCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RfaCode::Rfa1 => "RFA1",
            RfaCode::Rfa3 => "RFA3",
            RfaCode::Rfa4 => "RFA4",
            RfaCode::Rfa5 => "RFA5",
            RfaCode::Rfa6 => "RFA6",
            RfaCode::Rfa8 => "RFA8",
            RfaCode::Rfa9 => "RFA9",
            RfaCode::Rfa13 => "RFA13",
            RfaCode::Rfa15A => "RFA15A",
            RfaCode::Rfa16 => "RFA16",
            RfaCode::Rfa17A => "RFA17A",
            RfaCode::Rfa17B => "RFA17B",
            RfaCode::Rfa21 => "RFA21",
            RfaCode::Rfa22 => "RFA22",
            RfaCode::Rfa23 => "RFA23",
        }
    }
}

impl fmt::Display for RfaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message for `outcome` in `flow`, per BankID's table. The desktop app is always the
/// RP's device, so `started` is RFA15A in both flows. Hint codes the table gives no message
/// for (the phone-call codes, `notSupportedByUserApp`, `transactionRiskBlocked`) and unknown
/// codes get the generic "in progress" (RFA21) or "unknown error" (RFA22).
pub fn rfa(flow: UserDevice, outcome: Outcome<'_>) -> RfaCode {
    match outcome {
        Outcome::Pending(hint) => match hint {
            Some(HintCode::OutstandingTransaction) => match flow {
                UserDevice::ThisDevice => RfaCode::Rfa13,
                UserDevice::OtherDevice => RfaCode::Rfa1,
            },
            Some(HintCode::NoClient) => RfaCode::Rfa1,
            Some(HintCode::Started) => RfaCode::Rfa15A,
            Some(HintCode::UserSign) => RfaCode::Rfa9,
            Some(HintCode::UserMrtd) => RfaCode::Rfa23,
            _ => RfaCode::Rfa21,
        },
        Outcome::Failed(hint) => match hint {
            Some(HintCode::Cancelled) => RfaCode::Rfa3,
            Some(HintCode::UserCancel) => RfaCode::Rfa6,
            Some(HintCode::ExpiredTransaction) => RfaCode::Rfa8,
            Some(HintCode::CertificateErr) => RfaCode::Rfa16,
            Some(HintCode::StartFailed) => match flow {
                UserDevice::ThisDevice => RfaCode::Rfa17A,
                UserDevice::OtherDevice => RfaCode::Rfa17B,
            },
            _ => RfaCode::Rfa22,
        },
        Outcome::Error(code) => code.rfa(),
        Outcome::RateLimited | Outcome::Unreachable => RfaCode::Rfa5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserDevice::{OtherDevice, ThisDevice};

    fn pending(flow: UserDevice, code: &str) -> RfaCode {
        rfa(flow, Outcome::Pending(Some(&HintCode::parse(code))))
    }

    fn failed(flow: UserDevice, code: &str) -> RfaCode {
        rfa(flow, Outcome::Failed(Some(&HintCode::parse(code))))
    }

    #[test]
    fn every_pending_hint_code_in_both_flows() {
        let table = [
            ("outstandingTransaction", RfaCode::Rfa13, RfaCode::Rfa1),
            ("noClient", RfaCode::Rfa1, RfaCode::Rfa1),
            ("started", RfaCode::Rfa15A, RfaCode::Rfa15A),
            ("userSign", RfaCode::Rfa9, RfaCode::Rfa9),
            ("userMrtd", RfaCode::Rfa23, RfaCode::Rfa23),
            ("userCallConfirm", RfaCode::Rfa21, RfaCode::Rfa21),
            ("someFuturePendingCode", RfaCode::Rfa21, RfaCode::Rfa21),
        ];
        for (code, this_device, other_device) in table {
            assert_eq!(pending(ThisDevice, code), this_device, "{code} this device");
            assert_eq!(
                pending(OtherDevice, code),
                other_device,
                "{code} other device"
            );
        }
        for flow in [ThisDevice, OtherDevice] {
            assert_eq!(rfa(flow, Outcome::Pending(None)), RfaCode::Rfa21);
        }
    }

    #[test]
    fn every_failed_hint_code_in_both_flows() {
        let table = [
            ("cancelled", RfaCode::Rfa3, RfaCode::Rfa3),
            ("userCancel", RfaCode::Rfa6, RfaCode::Rfa6),
            ("expiredTransaction", RfaCode::Rfa8, RfaCode::Rfa8),
            ("certificateErr", RfaCode::Rfa16, RfaCode::Rfa16),
            ("startFailed", RfaCode::Rfa17A, RfaCode::Rfa17B),
            ("userDeclinedCall", RfaCode::Rfa22, RfaCode::Rfa22),
            ("notSupportedByUserApp", RfaCode::Rfa22, RfaCode::Rfa22),
            ("transactionRiskBlocked", RfaCode::Rfa22, RfaCode::Rfa22),
            ("someFutureFailure", RfaCode::Rfa22, RfaCode::Rfa22),
        ];
        for (code, this_device, other_device) in table {
            assert_eq!(failed(ThisDevice, code), this_device, "{code} this device");
            assert_eq!(
                failed(OtherDevice, code),
                other_device,
                "{code} other device"
            );
        }
        for flow in [ThisDevice, OtherDevice] {
            assert_eq!(rfa(flow, Outcome::Failed(None)), RfaCode::Rfa22);
        }
    }

    #[test]
    fn every_error_code_in_both_flows() {
        let table = [
            ("alreadyInProgress", RfaCode::Rfa4),
            ("invalidParameters", RfaCode::Rfa5),
            ("unauthorized", RfaCode::Rfa5),
            ("notFound", RfaCode::Rfa5),
            ("methodNotAllowed", RfaCode::Rfa5),
            ("requestTimeout", RfaCode::Rfa5),
            ("unsupportedMediaType", RfaCode::Rfa5),
            ("internalError", RfaCode::Rfa5),
            ("maintenance", RfaCode::Rfa5),
            ("someFutureError", RfaCode::Rfa22),
        ];
        for (code, expected) in table {
            for flow in [ThisDevice, OtherDevice] {
                assert_eq!(
                    rfa(flow, Outcome::Error(&ErrorCode::parse(code))),
                    expected,
                    "{code}"
                );
            }
        }
        for flow in [ThisDevice, OtherDevice] {
            assert_eq!(rfa(flow, Outcome::RateLimited), RfaCode::Rfa5);
            assert_eq!(rfa(flow, Outcome::Unreachable), RfaCode::Rfa5);
        }
    }

    #[test]
    fn rfa_codes_serialize_as_bankid_names() {
        let all = [
            RfaCode::Rfa1,
            RfaCode::Rfa3,
            RfaCode::Rfa4,
            RfaCode::Rfa5,
            RfaCode::Rfa6,
            RfaCode::Rfa8,
            RfaCode::Rfa9,
            RfaCode::Rfa13,
            RfaCode::Rfa15A,
            RfaCode::Rfa16,
            RfaCode::Rfa17A,
            RfaCode::Rfa17B,
            RfaCode::Rfa21,
            RfaCode::Rfa22,
            RfaCode::Rfa23,
        ];
        for code in all {
            let json = serde_json::to_string(&code).expect("serializes");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: RfaCode = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, code);
        }
        assert_eq!(
            serde_json::to_string(&RfaCode::Rfa15A).expect("ok"),
            "\"RFA15A\""
        );
    }
}
