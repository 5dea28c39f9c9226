//! Codes in flight: a registration, a login waiting for its SMS code, or a phone change. Owns
//! the code rules: valid 10 minutes, single use, at most 5 wrong tries per step, a new code no
//! sooner than 30 s after the last (and a resend keeps the wrong-try count). Never logs a code,
//! an address or a number.

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use legitimera_protocol::{Email, OneTimeCode, PhoneNumber, Step};
use rand::rngs::OsRng;
use rand::RngCore as _;

use crate::delivery::DeliveryError;
use crate::error::{ApiError, Result};
use crate::otp::{self, StoredCode};
use crate::ratelimit::hashed_key;
use crate::{messages, sms_quota, store, AppState};

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
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Registration => "registration",
            Purpose::Login => "login",
            Purpose::PhoneChange => "phone_change",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

fn step_str(step: Step) -> &'static str {
    match step {
        Step::EmailCode => "email_code",
        Step::SmsCode => "sms_code",
        Step::Password => "password",
        Step::Done => "done",
    }
}

fn parse_step(text: &str) -> Step {
    match text {
        "email_code" => Step::EmailCode,
        "sms_code" => Step::SmsCode,
        "password" => Step::Password,
        _ => Step::Done,
    }
}

pub use crate::store::challenges::Row;

impl Row {
    pub fn step(&self) -> Step {
        parse_step(&self.step)
    }

    fn purpose_kind(&self) -> Purpose {
        parse_purpose(&self.purpose)
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
    /// The session the challenge belongs to (a phone change started logged in): it ends with
    /// that session.
    pub session_hash: Option<&'a [u8]>,
}

/// When the code just sent may be replaced, and how long it is valid.
#[derive(Debug, Clone, Copy)]
pub struct CodeSent {
    pub resend_after: u64,
    pub code_expires_in: u64,
}

pub async fn create(state: &AppState, new: NewChallenge<'_>) -> Result<Row> {
    let now = state.now();
    store::challenges::sweep(state.pool(), now).await?;
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let id = URL_SAFE_NO_PAD.encode(bytes);
    store::challenges::insert(
        state.pool(),
        &store::challenges::NewRow {
            id: &id,
            purpose: new.purpose.as_str(),
            step: step_str(new.step),
            account_id: new.account_id,
            email: new.email.map(Email::as_str),
            phone: new.phone.map(PhoneNumber::as_str),
            password_hash: new.password_hash,
            decoy: new.decoy,
            session_hash: new.session_hash,
            created_at: now,
            expires_at: now + CHALLENGE_LIFETIME_SECONDS,
        },
    )
    .await?;
    load(state, &id, new.purpose).await
}

/// A live challenge of this purpose; finished, expired or unknown ones are all `unknown_challenge`.
pub async fn load(state: &AppState, id: &str, purpose: Purpose) -> Result<Row> {
    let row = store::challenges::find_live(state.pool(), id, purpose.as_str(), state.now()).await?;
    row.ok_or(ApiError::UnknownChallenge)
}

/// Moves to the next step with a clean slate (a new kind of code gets its own 5 tries); the
/// row read before is stale after this.
pub async fn advance(state: &AppState, row: &Row, step: Step) -> Result<()> {
    store::challenges::set_step(state.pool(), &row.id, step_str(step)).await?;
    Ok(())
}

fn parse_purpose(text: &str) -> Purpose {
    match text {
        "registration" => Purpose::Registration,
        "login" => Purpose::Login,
        "password_reset" => Purpose::PasswordReset,
        _ => Purpose::PhoneChange,
    }
}

/// Makes a new code for the current step (replacing any earlier one, keeping the wrong-try
/// count) and delivers it. The send is claimed in the database first (so of parallel resends
/// one sends and the others hear `resend_too_soon`) and an SMS is counted against its quotas
/// (`sms_quota`) before anything goes out. If delivery fails the challenge stays and nothing
/// is counted: `resend` may try again at once.
pub async fn send_code(state: &AppState, row: &Row, ip: IpAddr) -> Result<CodeSent> {
    let now = state.now();
    let step = row.step();
    let before = store::challenges::claim_send(
        state.pool(),
        &row.id,
        step_str(step),
        now,
        RESEND_COOLDOWN_SECONDS,
        MAX_SENDS_PER_STEP,
    )
    .await?;
    let Some(before) = before else {
        return Err(not_due(state, &row.id, row.purpose_kind()).await?);
    };
    let unclaim = || store::challenges::unclaim_send(state.pool(), &row.id, now, before);
    let mut quota = None;
    if step == Step::SmsCode {
        let phone = row.phone().ok_or(ApiError::UnknownChallenge)?;
        let owner = match (row.account_id, row.email()) {
            (Some(account_id), _) => format!("account:{account_id}"),
            (None, Some(email)) => hashed_key("sms_owner", email.as_str()),
            (None, None) => format!("challenge:{}", row.id),
        };
        match sms_quota::reserve(state, &owner, &phone, ip).await {
            Ok(reserved) => quota = Some(reserved),
            Err(refused) => {
                unclaim().await?;
                return Err(refused);
            }
        }
    }
    let new = otp::generate()?;
    store::challenges::set_code(
        state.pool(),
        &row.id,
        &new.stored.salt,
        &new.stored.hash,
        now + CODE_VALID_SECONDS,
    )
    .await?;
    if let Err(error) = deliver(state, row, &new.code).await {
        unclaim().await?;
        if let Some(mut quota) = quota {
            quota.give_back(state).await?;
        }
        return Err(match error {
            DeliveryError::Sms(_) => ApiError::SmsUnavailable { id: row.id.clone() },
            _ => ApiError::EmailUnavailable { id: row.id.clone() },
        });
    }
    Ok(CodeSent {
        resend_after: RESEND_COOLDOWN_SECONDS.unsigned_abs(),
        code_expires_in: CODE_VALID_SECONDS.unsigned_abs(),
    })
}

/// Why no send is due now, from the row as it is after the refused claim.
async fn not_due(state: &AppState, id: &str, purpose: Purpose) -> Result<ApiError> {
    let Some(row) =
        store::challenges::find_live(state.pool(), id, purpose.as_str(), state.now()).await?
    else {
        return Ok(ApiError::UnknownChallenge);
    };
    if row.sends >= MAX_SENDS_PER_STEP {
        return Ok(ApiError::TooManyAttempts);
    }
    let ready_at = row.code_sent_at.unwrap_or(0) + RESEND_COOLDOWN_SECONDS;
    Ok(ApiError::ResendTooSoon {
        retry_after: (ready_at - state.now()).max(1).unsigned_abs(),
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
            let mail = match (purpose, row.decoy != 0) {
                (Purpose::PasswordReset, true) => messages::no_account_to_reset(),
                (Purpose::PasswordReset, false) => messages::password_reset_code(code),
                (_, true) => messages::already_registered(),
                (Purpose::PhoneChange, false) => messages::phone_change_code(code),
                (Purpose::Login, false) => messages::login_code(code),
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
        Step::Password | Step::Done => Ok(()),
    }
}

/// `resend`: a new code for the current step, after the cooldown, within the send cap (both
/// decided in the database by [`send_code`]'s claim, not on this possibly stale row).
pub async fn resend(state: &AppState, row: &Row, ip: IpAddr) -> Result<CodeSent> {
    if row.failures >= MAX_WRONG_CODES {
        return Err(ApiError::TooManyAttempts);
    }
    send_code(state, row, ip).await
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
    let right = otp::matches(&stored, code) && row.decoy == 0;
    if !right {
        let failures =
            store::challenges::record_failure(state.pool(), &row.id, MAX_WRONG_CODES).await?;
        return match failures {
            Some(failures) => Err(ApiError::WrongCode {
                tries_left: u32::try_from(MAX_WRONG_CODES - failures).unwrap_or(0),
            }),
            None => Err(ApiError::TooManyAttempts),
        };
    }
    // Single use: only the request that clears this very code goes on.
    let used = store::challenges::use_code(state.pool(), &row.id, hash, MAX_WRONG_CODES).await?;
    if used {
        Ok(())
    } else {
        Err(ApiError::UnknownChallenge)
    }
}
