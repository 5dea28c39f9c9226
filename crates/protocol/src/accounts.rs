//! Accounts on the wire: registration, login (password, then SMS code with two-step
//! verification), phone change, and the session. Secrets travel as [`SecretString`].

use serde::{Deserialize, Serialize};

use crate::fields::SecretString;

/// How sure the server is of who is logged in. Ordered: `Low < Substantial < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assurance {
    /// Password only.
    Low,
    /// Password and an SMS code.
    Substantial,
    /// BankID or SITHS card.
    High,
}

impl Assurance {
    pub fn as_str(self) -> &'static str {
        match self {
            Assurance::Low => "low",
            Assurance::Substantial => "substantial",
            Assurance::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "low" => Some(Assurance::Low),
            "substantial" => Some(Assurance::Substantial),
            "high" => Some(Assurance::High),
            _ => None,
        }
    }
}

/// What a registration or phone change waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A code was sent by e-mail: `POST …/{id}/email-code`.
    EmailCode,
    /// A code was sent by SMS: `POST …/{id}/sms-code`.
    SmsCode,
    /// A password reset is proven: `POST /password-resets/{id}/password` with the new one.
    Password,
    /// Finished: the account exists, or the new phone number is in place.
    Done,
}

/// `POST /api/v1/registrations`. Two-step verification is chosen by giving `phone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRequest {
    pub email: String,
    pub password: SecretString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `POST …/email-code`, `POST …/sms-code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRequest {
    pub code: SecretString,
}

/// A registration or phone change in progress: its `id` and what it waits for. Answered by
/// every step and by `resend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub id: String,
    pub next: Step,
    /// Seconds until `resend` may send a new code (absent when `next` is `done`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend_after: Option<u64>,
    /// Seconds the code just sent stays valid (absent when `next` is `done`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_expires_in: Option<u64>,
}

/// `POST /api/v1/login/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: SecretString,
    /// A trusted device's token (personal computers only): with the right password it stands
    /// in for the SMS code of two-step verification, for 30 days from when it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<SecretString>,
}

/// The answer to a correct password: a session at once, or (two-step verification) an SMS
/// code challenge to answer with `POST /api/v1/login/sms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum LoginAnswer {
    Session(Session),
    SmsCode(LoginChallenge),
}

/// An SMS code was sent to the account's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginChallenge {
    pub id: String,
    pub resend_after: u64,
    pub code_expires_in: u64,
    /// A `device_token` was sent and is not (or no longer) trusted: unknown, expired,
    /// forgotten, or another account's. The app forgets it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub device_refused: bool,
}

/// `POST /api/v1/login/sms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsLoginRequest {
    pub challenge_id: String,
    pub code: SecretString,
    /// "Trust this device for 30 days": the session answer then carries a `device_token`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trust_device: bool,
    /// What the device is called in the list of trusted devices (at most 64 characters),
    /// e.g. "Legitimera, Linux".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_label: Option<String>,
}

/// `POST /api/v1/login/email-code`: the code e-mailed after `email_code_required` (its `id` is
/// the challenge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLoginRequest {
    pub challenge_id: String,
    pub code: SecretString,
}

/// `POST /api/v1/login/resend`: a new SMS code for a login challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResendRequest {
    pub challenge_id: String,
}

/// A new session. Send `token` back as `Authorization: Bearer <token>`; keep it in memory only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: SecretString,
    pub assurance: Assurance,
    /// Seconds until the idle limit ends the session unless `POST /session/activity` is sent.
    pub idle_expires_in: u64,
    /// Seconds until the absolute limit ends the session whatever happens.
    pub absolute_expires_in: u64,
    /// Only after an SMS login with `trust_device`: the new trusted device's token, for the
    /// OS keyring. Shown once; the server keeps only its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<SecretString>,
}

/// `GET /api/v1/session` and `POST /api/v1/session/activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub assurance: Assurance,
    /// The account's e-mail address (its username); absent for a BankID session (which
    /// belongs to a person) and a SITHS session (which belongs to a staff member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The two-step phone, all but the last two digits hidden (`+46•••••••67`); absent
    /// without two-step verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub two_step: bool,
    pub idle_expires_in: u64,
    pub absolute_expires_in: u64,
    /// The server's idle limit in seconds (what each activity extends to).
    pub idle_timeout: u64,
    /// The server's absolute limit in seconds.
    pub absolute_timeout: u64,
    /// BankID sessions: the name BankID gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// BankID sessions: the personnummer with its last four digits hidden (`19900101-****`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_number: Option<String>,
    /// SITHS sessions: the staff member the card's certificate names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<crate::siths::StaffIdentity>,
}

/// `POST /api/v1/password-resets`: "Glömt lösenordet?". Known and unknown addresses get the
/// same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// `POST /api/v1/password-resets/{id}/password`: the new password, once the reset is proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPasswordRequest {
    pub password: SecretString,
}

/// `POST /api/v1/session/password`: change the password while logged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChangeRequest {
    pub current: SecretString,
    pub new: SecretString,
}

/// `POST /api/v1/phone-changes`. With a session (`Authorization: Bearer`) only `phone` is
/// needed; without one, `email` and `password` too, and the e-mail is proven by a code first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneChangeRequest {
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
}

/// A device trusted for two-step verification, in `GET /api/v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedDevice {
    pub id: String,
    pub label: String,
    /// RFC 3339 times.
    pub created_at: String,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// The session asking was made with (or made) this device.
    pub current: bool,
}

/// `GET /api/v1/devices`: the account's trusted devices that are still valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesAnswer {
    pub devices: Vec<TrustedDevice>,
}

/// `POST /api/v1/devices/forget`: the device forgets itself ("Glöm den här enheten"),
/// proven by its token; no session needed. Always `204`, known token or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetDeviceRequest {
    pub device_token: SecretString,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_answer_is_flat_with_next() {
        let session = LoginAnswer::Session(Session {
            token: "abc".into(),
            assurance: Assurance::Low,
            idle_expires_in: 1800,
            absolute_expires_in: 43200,
            device_token: None,
        });
        let json = serde_json::to_value(&session).unwrap_or_default();
        assert_eq!(json["next"], "session");
        assert_eq!(json["token"], "abc");
        assert_eq!(json["assurance"], "low");
        let challenge: LoginAnswer = serde_json::from_str(
            r#"{"next":"sms_code","id":"c1","resend_after":30,"code_expires_in":600}"#,
        )
        .unwrap_or_else(|e| panic!("challenge must parse: {e}"));
        assert!(matches!(challenge, LoginAnswer::SmsCode(c) if c.id == "c1"));
    }

    #[test]
    fn assurance_orders_low_to_high() {
        assert!(Assurance::Low < Assurance::Substantial);
        assert!(Assurance::Substantial < Assurance::High);
        for level in [Assurance::Low, Assurance::Substantial, Assurance::High] {
            assert_eq!(Assurance::parse(level.as_str()), Some(level));
        }
    }

    #[test]
    fn registration_without_phone_omits_it() {
        let request = RegistrationRequest {
            email: "a@example.se".into(),
            password: "long enough".into(),
            phone: None,
        };
        let json = serde_json::to_value(&request).unwrap_or_default();
        assert!(json.get("phone").is_none());
    }
}
