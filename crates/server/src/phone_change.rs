//! Changing the two-step phone number. Logged in: the new number gets an SMS code. Without a
//! session (the old phone is lost): e-mail + password first, then a code to the e-mail, then
//! the SMS code to the new number. Only then is the number replaced, and the old number is told.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use legitimera_protocol::{
    Challenge, CodeRequest, Email, OneTimeCode, PhoneChangeRequest, PhoneNumber, Step,
};

use crate::challenges::{self, NewChallenge, Purpose};
use crate::error::{ApiError, Result};
use crate::extract::{Body, ClientIp};
use crate::login::{self, Guard};
use crate::registration::waiting;
use crate::sessions::{self, MaybeAuthenticated};
use crate::{accounts, devices, messages, sms_quota, AppState};

pub async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    MaybeAuthenticated(session): MaybeAuthenticated,
    Body(request): Body<PhoneChangeRequest>,
) -> Result<(StatusCode, Json<Challenge>)> {
    let phone = PhoneNumber::parse(&request.phone)?;
    sms_quota::check_country(&state, &phone)?;
    let session_hash = session.as_ref().map(|s| s.token_hash.clone());
    let (account, step, email) = match session {
        Some(session) => {
            // A BankID session has no account, so no phone to change.
            let account_id = session.account_id.ok_or_else(|| {
                ApiError::BadRequest("this session has no account; log in with the account".into())
            })?;
            let account = login::account_of(&state, Some(account_id)).await?;
            (account, Step::SmsCode, None)
        }
        None => {
            let (Some(email), Some(password)) = (&request.email, &request.password) else {
                return Err(ApiError::BadRequest(
                    "without a session, give email and password".into(),
                ));
            };
            let email = Email::parse(email)?;
            let guard = Guard::new(&state, &email, ip);
            guard.reserve().await?;
            let account = login::verify_password(&state, &guard, &email, password).await?;
            (account, Step::EmailCode, Some(email))
        }
    };
    if account.phone().as_ref() == Some(&phone) {
        return Err(ApiError::SamePhone);
    }
    let row = challenges::create(
        &state,
        NewChallenge {
            purpose: Purpose::PhoneChange,
            step,
            account_id: Some(account.id),
            email: email.as_ref(),
            phone: Some(&phone),
            password_hash: None,
            decoy: false,
            session_hash: session_hash.as_deref(),
        },
    )
    .await?;
    let sent = challenges::send_code(&state, &row, ip).await?;
    Ok((StatusCode::CREATED, Json(waiting(&row.id, step, sent))))
}

pub async fn email_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Body(request): Body<CodeRequest>,
) -> Result<Json<Challenge>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let row = load(&state, &id).await?;
    challenges::check_code(&state, &row, Step::EmailCode, &code).await?;
    challenges::advance(&state, &row, Step::SmsCode).await?;
    let row = load(&state, &id).await?;
    let sent = challenges::send_code(&state, &row, ip).await?;
    Ok(Json(waiting(&id, Step::SmsCode, sent)))
}

pub async fn sms_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(request): Body<CodeRequest>,
) -> Result<Json<Challenge>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let row = load(&state, &id).await?;
    challenges::check_code(&state, &row, Step::SmsCode, &code).await?;
    let account = login::account_of(&state, row.account_id).await?;
    let new_phone = row.phone().ok_or(ApiError::UnknownChallenge)?;
    accounts::set_phone(&state, account.id, &new_phone).await?;
    challenges::advance(&state, &row, Step::Done).await?;
    if row.email().is_some() {
        // Proven by e-mail and password, not by a session: whoever held a session or a trusted
        // device before (perhaps with the lost phone) must log in again, with the new number.
        sessions::end_all(&state, account.id).await?;
        devices::revoke_all(&state, account.id).await?;
    } else if let Some(session_hash) = &row.session_hash {
        // Changed in a session: every other session must log in again, with the new number.
        sessions::end_all_but_hash(&state, account.id, session_hash).await?;
    }
    if let Some(old_phone) = account.phone() {
        if let Err(error) = state
            .sms()
            .send(&old_phone, &messages::phone_replaced())
            .await
        {
            // The number is replaced either way; the notice is a courtesy.
            tracing::warn!(%error, "could not tell the old number it was replaced");
        }
    }
    tracing::info!("two-step phone replaced");
    Ok(Json(Challenge {
        id,
        next: Step::Done,
        resend_after: None,
        code_expires_in: None,
    }))
}

/// A live phone change; one started in a session only while that session lives (after its
/// logout or expiry the change is `unknown_challenge`).
async fn load(state: &AppState, id: &str) -> Result<challenges::Row> {
    let row = challenges::load(state, id, Purpose::PhoneChange).await?;
    if let Some(session_hash) = &row.session_hash {
        if !sessions::is_live(state, session_hash).await? {
            return Err(ApiError::UnknownChallenge);
        }
    }
    Ok(row)
}

pub async fn resend(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Json<Challenge>> {
    let row = load(&state, &id).await?;
    let sent = challenges::resend(&state, &row, ip).await?;
    Ok(Json(waiting(&id, row.step(), sent)))
}
