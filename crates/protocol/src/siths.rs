//! SITHS card login on the wire: a challenge from the server, the card's signature over it with
//! the certificate chain, and what a staff member's session shows (identity and landing page).

use serde::{Deserialize, Serialize};

use crate::accounts::Assurance;

/// How many random bytes a SITHS challenge has: the app refuses any other length before it asks
/// for the PIN, so a backend cannot have the card sign data of its choosing.
pub const SITHS_CHALLENGE_LEN: usize = 32;

/// What every SITHS login message starts with: names the purpose, so the card's signature over
/// it can never pass for a signature made for anything else (a TLS handshake, a document).
pub const SITHS_LOGIN_CONTEXT: &[u8] = b"Legitimera SITHS login v1";

/// The message the card signs for a SITHS login (it signs SHA-256 of it):
/// `"Legitimera SITHS login v1" || 0x00 || origin || 0x00 || challenge`, where `origin` is the
/// backend's origin as the app reaches it (`scheme://host[:port]`, default port left out, no
/// path, no trailing slash; e.g. `http://127.0.0.1:8787`) and `challenge` the 32 decoded bytes.
/// The one definition both the app (to sign) and the server (to verify) use.
pub fn siths_login_message(origin: &str, challenge: &[u8; SITHS_CHALLENGE_LEN]) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(SITHS_LOGIN_CONTEXT.len() + origin.len() + 2 + challenge.len());
    message.extend_from_slice(SITHS_LOGIN_CONTEXT);
    message.push(0);
    message.extend_from_slice(origin.as_bytes());
    message.push(0);
    message.extend_from_slice(challenge);
    message
}

/// `POST /api/v1/siths/challenges` → `201`: the bytes the card signs, single use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SithsChallenge {
    pub id: String,
    /// Standard base64 of 32 random bytes. The card signs SHA-256 of
    /// [`siths_login_message`] over the decoded bytes and the backend's origin.
    pub challenge: String,
    /// Seconds until the challenge can no longer be used.
    pub expires_in: u64,
}

/// How the card signed: the card crate's names for the same two algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SithsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256; the signature is as long as the key (256 bytes).
    RsaPkcs1Sha256,
    /// ECDSA P-256 with SHA-256; the signature is DER (`SEQUENCE { r, s }`).
    EcdsaP256Sha256,
}

/// `POST /api/v1/siths/sessions`: the signed challenge. Answered with a [`crate::Session`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SithsLoginRequest {
    pub challenge_id: String,
    /// Standard base64 DER certificates: the card's authentication certificate first, then any
    /// intermediates (the trust anchor itself may be left out).
    pub certificates: Vec<String>,
    /// Standard base64 of the signature over [`siths_login_message`].
    pub signature: String,
    pub algorithm: SithsAlgorithm,
}

/// `POST /api/v1/siths/check`: a card's certificate chain to check as a login would, without
/// a challenge and without making a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SithsCheckRequest {
    /// Standard base64 DER certificates, the authentication certificate first.
    pub certificates: Vec<String>,
}

/// What the revocation check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SithsRevocationStatus {
    /// Checked against the issuers' current revocation lists: not revoked.
    Good,
    /// On its issuer's revocation list.
    Revoked,
    /// No fresh answer (list unreachable, out of date, or none named).
    Unavailable,
    /// Not checked: the chain was refused before, or the server does not check revocation.
    NotChecked,
}

/// `POST /api/v1/siths/check` → `200`: what a login with this certificate would meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SithsCheck {
    /// The code a login would be refused with (`siths_certificate_revoked`,
    /// `siths_untrusted_certificate`, …); absent when it would pass these checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<crate::ErrorCode>,
    pub revocation: SithsRevocationStatus,
    /// With `good`: when the oldest revocation list checked against was issued (its
    /// thisUpdate), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_updated_at: Option<i64>,
}

/// `POST /api/v1/siths/test-logins` (a [`SithsLoginRequest`]) → `200`: a login with this
/// signature would have succeeded; no session was made. A login that would have been refused is
/// refused with the same error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SithsTestLoginAnswer {
    /// Always `true` in a `200`.
    pub would_log_in: bool,
    /// The session's assurance a login would have given.
    pub assurance: Assurance,
}

/// Who a SITHS session belongs to, as the authentication certificate says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffIdentity {
    pub name: String,
    /// E.g. `SE2321000016-abc1`.
    pub hsa_id: String,
    /// The certificate's organisation (O); absent when it names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

/// `GET /api/v1/siths/landing`: the staff landing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffLanding {
    pub name: String,
    pub hsa_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub assurance: Assurance,
    /// The language of `title`: `"sv"` or `"en"`.
    pub lang: String,
    pub services: Vec<StaffService>,
}

/// One e-service for staff, with how many cases wait in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffService {
    /// A stable code: `cases_to_handle`, `waiting_for_applicant`, `decided`.
    pub id: String,
    /// In the answer's `lang`, e.g. "Ärenden att handlägga".
    pub title: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionStatus;

    #[test]
    fn the_login_message_separates_context_origin_and_challenge() {
        let challenge = [0xAB; SITHS_CHALLENGE_LEN];
        let message = siths_login_message("http://127.0.0.1:8787", &challenge);
        let mut expected = b"Legitimera SITHS login v1\0http://127.0.0.1:8787\0".to_vec();
        expected.extend_from_slice(&challenge);
        assert_eq!(message, expected);
        assert_ne!(
            siths_login_message("http://127.0.0.1:8788", &challenge),
            message,
            "another origin, another message"
        );
    }

    #[test]
    fn algorithms_have_the_card_crates_names() {
        let request: SithsLoginRequest = serde_json::from_str(
            r#"{"challenge_id":"c","certificates":["MA=="],"signature":"MA==","algorithm":"rsa_pkcs1_sha256"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.algorithm, SithsAlgorithm::RsaPkcs1Sha256);
        assert_eq!(
            serde_json::to_value(SithsAlgorithm::EcdsaP256Sha256).unwrap_or_default(),
            "ecdsa_p256_sha256"
        );
        assert!(serde_json::from_str::<SithsAlgorithm>(r#""rsa_pss_sha256""#).is_err());
    }

    #[test]
    fn session_status_names_staff_only_for_a_staff_session() {
        let applicant: SessionStatus = serde_json::from_str(
            r#"{"assurance":"low","email":"a@example.se","two_step":false,"idle_expires_in":1,
                "absolute_expires_in":2,"idle_timeout":3,"absolute_timeout":4}"#,
        )
        .unwrap_or_else(|e| panic!("an applicant's status from an older server: {e}"));
        assert_eq!(applicant.staff, None);
        let json = serde_json::to_value(&applicant).unwrap_or_default();
        assert!(json.get("staff").is_none(), "{json}");

        let staff = SessionStatus {
            email: None,
            staff: Some(StaffIdentity {
                name: "Anna Testsson".into(),
                hsa_id: "SE2321000016-1234".into(),
                organisation: None,
            }),
            ..applicant
        };
        let json = serde_json::to_value(&staff).unwrap_or_default();
        assert!(json.get("email").is_none(), "{json}");
        assert_eq!(
            json["staff"],
            serde_json::json!({"name": "Anna Testsson", "hsa_id": "SE2321000016-1234"})
        );
    }
}
