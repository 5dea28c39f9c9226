//! Codes in flight: a registration, a login waiting for its SMS code, or a phone change. Owns
//! the code rules: valid 10 minutes, single use, at most 5 wrong tries per step, a new code no
//! sooner than 30 s after the last (and a resend keeps the wrong-try count). Never logs a code,
//! an address or a number.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use legitimera_protocol::{Email, OneTimeCode, PhoneNumber, Step};
use rand::rngs::OsRng;
use rand::RngCore as _;

use crate::delivery::DeliveryError;
use crate::error::{ApiError, Result};
use crate::otp::{self, StoredCode};
use crate::{messages, AppState};

pub const CODE_VALID_SECONDS: i64 = 10 * 60;
pub const RESEND_COOLDOWN_SECONDS: i64 = 30;
pub const MAX_WRONG_CODES: i64 = 5;
/// Codes delivered per step, the first included: bounds what one challenge can send.
pub const MAX_SENDS_PER_STEP: i64 = 6;
/// However many resends, a challenge is gone an hour after it started.
pub const CHALLENGE_LIFETIME_SECONDS: i64 = 60 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Registration,
    Login,
    PhoneChange,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Registration => "registration",
            Purpose::Login => "login",
            Purpose::PhoneChange => "phone_change",
        }
    }
}

fn step_str(step: Step) -> &'static str {
    match step {
        Step::EmailCode => "email_code",
        Step::SmsCode => "sms_code",
        Step::Done => "done",
    }
}

fn parse_step(text: &str) -> Step {
    match text {
        "email_code" => Step::EmailCode,
        "sms_code" => Step::SmsCode,
        _ => Step::Done,
    }
}

/// One challenge as stored. Holds personal data: its `Debug` shows only id and step.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: String,
    purpose: String,
    step: String,
    pub account_id: Option<i64>,
    email: Option<String>,
    phone: Option<String>,
    pub password_hash: Option<String>,
    decoy: bool,
    code_salt: Option<Vec<u8>>,
    code_hash: Option<Vec<u8>>,
    code_expires_at: Option<i64>,
    code_sent_at: Option<i64>,
    sends: i64,
    failures: i64,
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Row {
    pub fn step(&self) -> Step {
        parse_step(&self.step)
    }

    /// The address stored at creation (it was an [`Email`] then).
    pub fn email(&self) -> Option<Email> {
        self.email.as_deref().and_then(|e| Email::parse(e).ok())
    }

    /// The number stored at creation (it was a [`PhoneNumber`] then).
    pub fn phone(&self) -> Option<PhoneNumber> {
        self.phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
    }
}

/// What a new challenge starts with.
#[derive(Debug)]
pub struct NewChallenge<'a> {
    pub purpose: Purpose,
    pub step: Step,
    pub account_id: Option<i64>,
    pub email: Option<&'a Email>,
    pub phone: Option<&'a PhoneNumber>,
    pub password_hash: Option<&'a str>,
    pub decoy: bool,
}

/// When the code just sent may be replaced, and how long it is valid.
#[derive(Debug, Clone, Copy)]
pub struct CodeSent {
    pub resend_after: u64,
    pub code_expires_in: u64,
}

pub async fn create(state: &AppState, new: NewChallenge<'_>) -> Result<Row> {
    let now = state.now();
    sqlx::query("DELETE FROM challenges WHERE expires_at <= ?")
        .bind(now)
        .execute(state.pool())
        .await?;
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let id = URL_SAFE_NO_PAD.encode(bytes);
    sqlx::query(
        "INSERT INTO challenges (id, purpose, step, account_id, email, phone, password_hash,
                                 decoy, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(new.purpose.as_str())
    .bind(step_str(new.step))
    .bind(new.account_id)
    .bind(new.email.map(Email::as_str))
    .bind(new.phone.map(PhoneNumber::as_str))
    .bind(new.password_hash)
    .bind(new.decoy)
    .bind(now)
    .bind(now + CHALLENGE_LIFETIME_SECONDS)
    .execute(state.pool())
    .await?;
    load(state, &id, new.purpose).await
}

/// A live challenge of this purpose; finished, expired or unknown ones are all `unknown_challenge`.
pub async fn load(state: &AppState, id: &str, purpose: Purpose) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, purpose, step, account_id, email, phone, password_hash, decoy, code_salt,
                code_hash, code_expires_at, code_sent_at, sends, failures
         FROM challenges WHERE id = ? AND purpose = ? AND expires_at > ? AND step != 'done'",
    )
    .bind(id)
    .bind(purpose.as_str())
    .bind(state.now())
    .fetch_optional(state.pool())
    .await?;
    row.ok_or(ApiError::UnknownChallenge)
}

/// Moves to the next step with a clean slate (a new kind of code gets its own 5 tries); the
/// row read before is stale after this.
pub async fn advance(state: &AppState, row: &Row, step: Step) -> Result<()> {
    sqlx::query(
        "UPDATE challenges SET step = ?, failures = 0, sends = 0, code_sent_at = NULL,
                code_hash = NULL, code_salt = NULL, code_expires_at = NULL
         WHERE id = ?",
    )
    .bind(step_str(step))
    .bind(&row.id)
    .execute(state.pool())
    .await?;
    Ok(())
}

fn parse_purpose(text: &str) -> Purpose {
    match text {
        "registration" => Purpose::Registration,
        "login" => Purpose::Login,
        _ => Purpose::PhoneChange,
    }
}

/// Makes a new code for the current step (replacing any earlier one, keeping the wrong-try
/// count) and delivers it. If delivery fails the challenge stays, and `resend` may try again
/// at once: the cooldown counts from the last delivery that worked.
pub async fn send_code(state: &AppState, row: &Row) -> Result<CodeSent> {
    let now = state.now();
    let new = otp::generate()?;
    sqlx::query(
        "UPDATE challenges SET code_salt = ?, code_hash = ?, code_expires_at = ? WHERE id = ?",
    )
    .bind(&new.stored.salt)
    .bind(&new.stored.hash)
    .bind(now + CODE_VALID_SECONDS)
    .bind(&row.id)
    .execute(state.pool())
    .await?;
    deliver(state, row, &new.code)
        .await
        .map_err(|error| match error {
            DeliveryError::Sms(_) => ApiError::SmsUnavailable { id: row.id.clone() },
            _ => ApiError::EmailUnavailable { id: row.id.clone() },
        })?;
    sqlx::query("UPDATE challenges SET code_sent_at = ?, sends = sends + 1 WHERE id = ?")
        .bind(now)
        .bind(&row.id)
        .execute(state.pool())
        .await?;
    Ok(CodeSent {
        resend_after: RESEND_COOLDOWN_SECONDS.unsigned_abs(),
        code_expires_in: CODE_VALID_SECONDS.unsigned_abs(),
    })
}

async fn deliver(
    state: &AppState,
    row: &Row,
    code: &OneTimeCode,
) -> std::result::Result<(), DeliveryError> {
    let purpose = parse_purpose(&row.purpose);
    match row.step() {
        Step::EmailCode => {
            let email = row
                .email()
                .ok_or(DeliveryError::Email("no address on file"))?;
            let mail = match (purpose, row.decoy) {
                (_, true) => messages::already_registered(),
                (Purpose::PhoneChange, false) => messages::phone_change_code(code),
                (_, false) => messages::registration_code(code),
            };
            state.mailer().send(&email, mail.subject, &mail.body).await
        }
        Step::SmsCode => {
            let phone = row
                .phone()
                .ok_or_else(|| DeliveryError::Sms("no number on file".into()))?;
            state.sms().send(&phone, &messages::sms_code(code)).await
        }
        Step::Done => Ok(()),
    }
}

/// `resend`: a new code for the current step, after the cooldown, within the send cap.
pub async fn resend(state: &AppState, row: &Row) -> Result<CodeSent> {
    if row.failures >= MAX_WRONG_CODES || row.sends >= MAX_SENDS_PER_STEP {
        return Err(ApiError::TooManyAttempts);
    }
    if let Some(sent_at) = row.code_sent_at {
        let ready_at = sent_at + RESEND_COOLDOWN_SECONDS;
        let now = state.now();
        if now < ready_at {
            return Err(ApiError::ResendTooSoon {
                retry_after: (ready_at - now).unsigned_abs(),
            });
        }
    }
    send_code(state, row).await
}

/// Checks a code answered for `expected` step; a right one is used up, a wrong one counts.
pub async fn check_code(
    state: &AppState,
    row: &Row,
    expected: Step,
    code: &OneTimeCode,
) -> Result<()> {
    if row.step() != expected {
        return Err(ApiError::WrongStep);
    }
    if row.failures >= MAX_WRONG_CODES {
        return Err(ApiError::TooManyAttempts);
    }
    let (Some(salt), Some(hash), Some(expires_at)) =
        (&row.code_salt, &row.code_hash, row.code_expires_at)
    else {
        return Err(ApiError::CodeExpired);
    };
    if state.now() >= expires_at {
        return Err(ApiError::CodeExpired);
    }
    let stored = StoredCode {
        salt: salt.clone(),
        hash: hash.clone(),
    };
    // A decoy's code was never sent; even a lucky guess must not match.
    let right = otp::matches(&stored, code) && !row.decoy;
    if !right {
        let failures: Option<i64> = sqlx::query_scalar(
            "UPDATE challenges SET failures = failures + 1
             WHERE id = ? AND failures < ? RETURNING failures",
        )
        .bind(&row.id)
        .bind(MAX_WRONG_CODES)
        .fetch_optional(state.pool())
        .await?;
        return match failures {
            Some(failures) => Err(ApiError::WrongCode {
                tries_left: u32::try_from(MAX_WRONG_CODES - failures).unwrap_or(0),
            }),
            None => Err(ApiError::TooManyAttempts),
        };
    }
    // Single use: only the request that clears this very code goes on.
    let used = sqlx::query(
        "UPDATE challenges SET code_hash = NULL, code_salt = NULL
         WHERE id = ? AND code_hash = ? AND failures < ?",
    )
    .bind(&row.id)
    .bind(hash)
    .bind(MAX_WRONG_CODES)
    .execute(state.pool())
    .await?;
    if used.rows_affected() == 1 {
        Ok(())
    } else {
        Err(ApiError::UnknownChallenge)
    }
}
