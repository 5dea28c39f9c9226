//! Logging in: e-mail + password gives a session (assurance low), or with two-step verification
//! an SMS code challenge whose right answer gives a session (substantial) and, if asked, a
//! trusted device whose token later stands in for the SMS code. One answer for an unknown
//! address and a wrong password; failures are limited per account and per address.

use axum::extract::State;
use axum::Json;
use legitimera_protocol::{
    Assurance, Email, LoginAnswer, LoginChallenge, LoginRequest, LoginResendRequest, OneTimeCode,
    Password, SecretString, Session, SmsLoginRequest, Step,
};

use crate::accounts::{self, Account};
use crate::challenges::{self, NewChallenge, Purpose};
use crate::devices::{self, DeviceLabel};
use crate::error::{ApiError, Result};
use crate::extract::{Body, ClientIp};
use crate::ratelimit::hashed_key;
use crate::{sessions, AppState};

pub async fn password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<LoginRequest>,
) -> Result<Json<LoginAnswer>> {
    let email = Email::parse(&request.email)?;
    let guard = Guard::new(&state, &email, ip);
    guard.reserve().await?;
    let account = verify_password(&state, &guard, &email, &request.password).await?;
    let Some(phone) = account.phone() else {
        // Without two-step verification there is no SMS code for a device token to replace.
        guard.succeeded().await?;
        let session = sessions::create(&state, account.id, Assurance::Low, None).await?;
        tracing::info!(assurance = "low", "logged in");
        return Ok(Json(LoginAnswer::Session(session)));
    };
    let device_refused = match &request.device_token {
        None => false,
        Some(token) => match devices::use_token(&state, account.id, token).await? {
            Some(device_id) => {
                guard.succeeded().await?;
                let session =
                    sessions::create(&state, account.id, Assurance::Substantial, Some(&device_id))
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
        &state,
        NewChallenge {
            purpose: Purpose::Login,
            step: Step::SmsCode,
            account_id: Some(account.id),
            email: None,
            phone: Some(&phone),
            password_hash: None,
            decoy: false,
        },
    )
    .await?;
    let sent = challenges::send_code(&state, &row).await?;
    Ok(Json(LoginAnswer::SmsCode(LoginChallenge {
        id: row.id,
        resend_after: sent.resend_after,
        code_expires_in: sent.code_expires_in,
        device_refused,
    })))
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
    let guard = Guard::new(&state, &email, ip);
    guard.reserve().await?;
    if let Err(error) = challenges::check_code(&state, &row, Step::SmsCode, &code).await {
        if !matches!(error, ApiError::WrongCode { .. }) {
            guard.release().await?;
        }
        return Err(error);
    }
    guard.release().await?;
    challenges::advance(&state, &row, Step::Done).await?;
    guard.succeeded().await?;
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
    Body(request): Body<LoginResendRequest>,
) -> Result<Json<LoginChallenge>> {
    let row = challenges::load(&state, &request.challenge_id, Purpose::Login).await?;
    let sent = challenges::resend(&state, &row).await?;
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
    let Ok(password) = Password::parse(password) else {
        // Too short to be anyone's password: a failure, without hashing.
        return Err(ApiError::InvalidCredentials);
    };
    let account = accounts::find_by_email(state, email).await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let matches = state.hasher().verify(password, stored).await?;
    match account {
        Some(account) if matches => {
            guard.release().await?;
            Ok(account)
        }
        _ => Err(ApiError::InvalidCredentials),
    }
}

/// The per-account and per-address failure limits around one login attempt. The attempt is
/// reserved against both before any work; it stays counted only if it fails.
#[derive(Debug)]
pub struct Guard<'a> {
    state: &'a AppState,
    account_key: String,
    ip_key: String,
}

impl<'a> Guard<'a> {
    pub fn new(state: &'a AppState, email: &Email, ip: std::net::IpAddr) -> Self {
        Guard {
            state,
            account_key: hashed_key("login", email.as_str()),
            ip_key: ip.to_string(),
        }
    }

    /// Counts this attempt as a failure until told otherwise; `rate_limited` when either
    /// window is full (and then nothing is counted).
    pub async fn reserve(&self) -> Result<()> {
        let limits = self.state.limits();
        limits
            .login_account
            .reserve(self.state, &self.account_key)
            .await?;
        if let Err(refused) = limits.login_ip.reserve(self.state, &self.ip_key).await {
            limits
                .login_account
                .release(self.state, &self.account_key)
                .await?;
            return Err(refused);
        }
        Ok(())
    }

    /// The attempt was no failure (a right password, a code step that was not a wrong code).
    pub async fn release(&self) -> Result<()> {
        let limits = self.state.limits();
        limits
            .login_account
            .release(self.state, &self.account_key)
            .await?;
        limits.login_ip.release(self.state, &self.ip_key).await
    }

    /// The owner got in: the account's window starts over (the address's does not).
    pub async fn succeeded(&self) -> Result<()> {
        self.state
            .limits()
            .login_account
            .clear(self.state, &self.account_key)
            .await
    }
}
