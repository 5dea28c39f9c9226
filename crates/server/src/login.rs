//! Logging in: e-mail + password gives a session (assurance low), or with two-step verification
//! an SMS code challenge whose right answer gives a session (substantial) and, if asked, a
//! trusted device whose token later stands in for the SMS code. One answer for an unknown
//! address and a wrong password; failures are limited per account and per address. After
//! [`EMAIL_CODE_AFTER_FAILURES`] wrong passwords in a row a right one also needs a code sent to
//! the account's e-mail: guessing never ends in a session, and the owner is never locked out.

use axum::extract::State;
use axum::Json;
use legitimera_protocol::{
    Assurance, Email, EmailLoginRequest, LoginAnswer, LoginChallenge, LoginRequest,
    LoginResendRequest, OneTimeCode, Password, SecretString, Session, SmsLoginRequest, Step,
};

use crate::accounts::{self, Account};
use crate::challenges::{self, NewChallenge, Purpose};
use crate::devices::{self, DeviceLabel};
use crate::error::{ApiError, Result};
use crate::extract::{limit_key, Body, ClientIp};
use crate::passwords::Verified;
use crate::ratelimit::{hashed_key, Limiter};
use crate::{messages, sessions, store, AppState};

/// Wrong passwords in a row (since the last login that got through) after which a right
/// password also needs a code by e-mail (NIST SP 800-63B §5.2.2: at most 100).
pub const EMAIL_CODE_AFTER_FAILURES: i64 = 100;
/// The owner is told of many wrong passwords at most this often.
const FAILURE_WARNING_EVERY_SECONDS: i64 = 24 * 60 * 60;

pub async fn password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<LoginRequest>,
) -> Result<Json<LoginAnswer>> {
    let email = Email::parse(&request.email)?;
    let guard = Guard::new(&state, &email, ip);
    guard.reserve().await?;
    let account = verify_password(&state, &guard, &email, &request.password).await?;
    if account.failed_logins >= EMAIL_CODE_AFTER_FAILURES {
        // Many wrong passwords came before this right one: prove the e-mail too.
        let row = challenges::create(
            &state,
            NewChallenge {
                purpose: Purpose::Login,
                step: Step::EmailCode,
                account_id: Some(account.id),
                email: Some(&email),
                phone: account.phone().as_ref(),
                password_hash: None,
                decoy: false,
                session_hash: None,
            },
        )
        .await?;
        challenges::send_code(&state, &row, ip).await?;
        tracing::info!("right password after many wrong ones: e-mail code sent");
        return Err(ApiError::EmailCodeRequired { id: row.id });
    }
    finish_password(&state, &guard, &account, request.device_token.as_ref(), ip).await
}

/// The password (and the e-mail code, when one was needed) is right: a session for an account
/// without two-step, or with a trusted device; otherwise an SMS code.
async fn finish_password(
    state: &AppState,
    guard: &Guard<'_>,
    account: &Account,
    device_token: Option<&SecretString>,
    ip: std::net::IpAddr,
) -> Result<Json<LoginAnswer>> {
    let Some(phone) = account.phone() else {
        // Without two-step verification there is no SMS code for a device token to replace.
        guard.succeeded(account).await?;
        let session = sessions::create(state, account.id, Assurance::Low, None).await?;
        tracing::info!(assurance = "low", "logged in");
        return Ok(Json(LoginAnswer::Session(session)));
    };
    let device_refused = match device_token {
        None => false,
        Some(token) => match devices::use_token(state, account.id, token).await? {
            Some(device_id) => {
                guard.succeeded(account).await?;
                let session =
                    sessions::create(state, account.id, Assurance::Substantial, Some(&device_id))
                        .await?;
                tracing::info!(
                    assurance = "substantial",
                    trusted_device = true,
                    "logged in"
                );
                return Ok(Json(LoginAnswer::Session(session)));
            }
            None => {
                tracing::info!("trusted device refused; SMS code instead");
                true
            }
        },
    };
    let row = challenges::create(
        state,
        NewChallenge {
            purpose: Purpose::Login,
            step: Step::SmsCode,
            account_id: Some(account.id),
            email: None,
            phone: Some(&phone),
            password_hash: None,
            decoy: false,
            session_hash: None,
        },
    )
    .await?;
    let sent = challenges::send_code(state, &row, ip).await?;
    Ok(Json(LoginAnswer::SmsCode(LoginChallenge {
        id: row.id,
        resend_after: sent.resend_after,
        code_expires_in: sent.code_expires_in,
        device_refused,
    })))
}

/// `POST /api/v1/login/email-code`: the code sent after `email_code_required`. Then the login
/// goes on as after a right password: a session, or the SMS code with two-step.
pub async fn email_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<EmailLoginRequest>,
) -> Result<Json<LoginAnswer>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let row = challenges::load(&state, &request.challenge_id, Purpose::Login).await?;
    let account = account_of(&state, row.account_id).await?;
    let email = Email::parse(&account.email)?;
    challenges::check_code(&state, &row, Step::EmailCode, &code).await?;
    challenges::advance(&state, &row, Step::Done).await?;
    // The e-mail is proven: the wrong passwords before no longer count against the owner.
    store::accounts::clear_failed_logins(state.pool(), account.id).await?;
    let account = account_of(&state, Some(account.id)).await?;
    let guard = Guard::new(&state, &email, ip);
    finish_password(&state, &guard, &account, None, ip).await
}

pub async fn sms(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<SmsLoginRequest>,
) -> Result<Json<Session>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let label = DeviceLabel::from_request(request.device_label.as_deref());
    let row = challenges::load(&state, &request.challenge_id, Purpose::Login).await?;
    let account = account_of(&state, row.account_id).await?;
    let email = Email::parse(&account.email)?;
    let guard = Guard::for_sms_code(&state, &email, ip);
    guard.reserve().await?;
    if let Err(error) = challenges::check_code(&state, &row, Step::SmsCode, &code).await {
        if !matches!(error, ApiError::WrongCode { .. }) {
            guard.release().await?;
        }
        return Err(error);
    }
    guard.release().await?;
    challenges::advance(&state, &row, Step::Done).await?;
    guard.succeeded(&account).await?;
    Guard::new(&state, &email, ip).succeeded(&account).await?;
    let device = if request.trust_device {
        Some(devices::create(&state, account.id, &label).await?)
    } else {
        None
    };
    let mut session = sessions::create(
        &state,
        account.id,
        Assurance::Substantial,
        device.as_ref().map(|d| d.id.as_str()),
    )
    .await?;
    session.device_token = device.map(|d| d.token);
    tracing::info!(
        assurance = "substantial",
        device_trusted = session.device_token.is_some(),
        "logged in"
    );
    Ok(Json(session))
}

pub async fn resend(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<LoginResendRequest>,
) -> Result<Json<LoginChallenge>> {
    let row = challenges::load(&state, &request.challenge_id, Purpose::Login).await?;
    let sent = challenges::resend(&state, &row, ip).await?;
    Ok(Json(LoginChallenge {
        id: row.id,
        resend_after: sent.resend_after,
        code_expires_in: sent.code_expires_in,
        device_refused: false,
    }))
}

pub async fn account_of(state: &AppState, account_id: Option<i64>) -> Result<Account> {
    let id = account_id.ok_or(ApiError::UnknownChallenge)?;
    accounts::find_by_id(state, id)
        .await?
        .ok_or(ApiError::UnknownChallenge)
}

/// Checks e-mail + password after `guard` reserved the attempt; `invalid_credentials` for an
/// unknown address or a wrong password alike, after the same argon2 work, and the attempt
/// stays counted. A right password gives the attempt back but does not clear the account's
/// failures: only a finished login does (else knowing the password would give unlimited SMS
/// code guesses).
pub async fn verify_password(
    state: &AppState,
    guard: &Guard<'_>,
    email: &Email,
    password: &SecretString,
) -> Result<Account> {
    if Password::parse(password).is_err() {
        // Too short to be anyone's password: a failure, without hashing.
        return Err(ApiError::InvalidCredentials);
    }
    let account = accounts::find_by_email(state, email).await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let verified = state.hasher().verify_login(password, stored).await?;
    match (account, verified) {
        (Some(account), Verified::Right { rehash }) => {
            guard.release().await?;
            if let Some(password) = rehash {
                // Older parameters, or hashed before passwords were normalized: today's hash.
                let hash = state.hasher().hash(password).await?;
                store::accounts::set_password_hash(state.pool(), account.id, &hash).await?;
                tracing::info!("password rehashed with today's parameters");
            }
            Ok(account)
        }
        (Some(account), Verified::Wrong) => {
            failed(state, &account).await?;
            Err(ApiError::InvalidCredentials)
        }
        (None, _) => Err(ApiError::InvalidCredentials),
    }
}

/// Counts a wrong password for `account` in a row; from the hundredth on, the owner is told
/// (at most once a day) that many wrong passwords were tried.
async fn failed(state: &AppState, account: &Account) -> Result<()> {
    let failures = store::accounts::record_failed_login(state.pool(), account.id).await?;
    if failures < EMAIL_CODE_AFTER_FAILURES {
        return Ok(());
    }
    let now = state.now();
    let warn = store::accounts::claim_failure_warning(
        state.pool(),
        account.id,
        now,
        FAILURE_WARNING_EVERY_SECONDS,
    )
    .await?;
    if warn {
        let mail = messages::many_failed_logins();
        match Email::parse(&account.email) {
            Ok(email) => {
                if let Err(error) = state.mailer().send(&email, mail.subject, &mail.body).await {
                    // The limits hold either way; the warning is a courtesy.
                    tracing::warn!(%error, "could not warn of many wrong passwords");
                }
            }
            Err(_) => tracing::warn!("stored address does not parse; no warning sent"),
        }
        tracing::info!(failures, "many wrong passwords in a row; owner warned");
    }
    Ok(())
}

/// The per-account and per-address failure limits around one login attempt. The attempt is
/// reserved against both before any work; it stays counted only if it fails. The password
/// and the SMS code count per account separately, so wrong passwords from anyone do not block
/// the owner's right SMS code.
#[derive(Debug)]
pub struct Guard<'a> {
    state: &'a AppState,
    account: Limiter,
    account_key: String,
    ip_key: String,
}

impl<'a> Guard<'a> {
    /// For a password.
    pub fn new(state: &'a AppState, email: &Email, ip: std::net::IpAddr) -> Self {
        Guard {
            state,
            account: state.limits().login_account,
            account_key: hashed_key("login", email.as_str()),
            ip_key: limit_key(ip),
        }
    }

    /// For the SMS code of a login.
    pub fn for_sms_code(state: &'a AppState, email: &Email, ip: std::net::IpAddr) -> Self {
        Guard {
            state,
            account: state.limits().login_sms_account,
            account_key: hashed_key("login_sms", email.as_str()),
            ip_key: limit_key(ip),
        }
    }

    /// Counts this attempt as a failure until told otherwise; `rate_limited` when either
    /// window is full (and then nothing is counted).
    pub async fn reserve(&self) -> Result<()> {
        let limits = self.state.limits();
        self.account.reserve(self.state, &self.account_key).await?;
        if let Err(refused) = limits.login_ip.reserve(self.state, &self.ip_key).await {
            self.account.release(self.state, &self.account_key).await?;
            return Err(refused);
        }
        Ok(())
    }

    /// The attempt was no failure (a right password, a code step that was not a wrong code).
    pub async fn release(&self) -> Result<()> {
        self.account.release(self.state, &self.account_key).await?;
        self.state
            .limits()
            .login_ip
            .release(self.state, &self.ip_key)
            .await
    }

    /// The owner got in: the account's window starts over (the address's does not), and the
    /// wrong passwords in a row are forgotten (a write only when the account, as read for this
    /// login, had any: a wrong one that came in between still counts).
    pub async fn succeeded(&self, account: &Account) -> Result<()> {
        self.account.clear(self.state, &self.account_key).await?;
        if account.failed_logins > 0 {
            store::accounts::clear_failed_logins(self.state.pool(), account.id).await?;
        }
        Ok(())
    }
}
