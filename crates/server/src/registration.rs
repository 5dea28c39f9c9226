//! Creating an account: e-mail + password (+ phone for two-step) → code by e-mail → (code by
//! SMS) → the account exists. An address that already has an account gets the same answers,
//! and a "you already have an account" e-mail instead of a code: nothing tells them apart.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use legitimera_protocol::{
    Challenge, CodeRequest, Email, OneTimeCode, PhoneNumber, RegistrationRequest, Step,
};

use crate::challenges::{self, CodeSent, NewChallenge, Purpose, Row};
use crate::error::{ApiError, Result};
use crate::extract::{limit_key, Body, ClientIp};
use crate::{accounts, passwords, sms_quota, store, AppState};

pub async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<RegistrationRequest>,
) -> Result<(StatusCode, Json<Challenge>)> {
    let email = Email::parse(&request.email)?;
    let password = passwords::normalize(&request.password)?;
    if passwords::is_common(&password) {
        return Err(ApiError::CommonPassword);
    }
    let phone = match request.phone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(PhoneNumber::parse(text)?),
    };
    if let Some(phone) = &phone {
        sms_quota::check_country(&state, phone)?;
    }
    state
        .limits()
        .registration_ip
        .reserve(&state, &limit_key(ip))
        .await?;

    // Hash whether or not the address is taken, so both answers take the same time.
    let password_hash = state.hasher().hash(password).await?;
    let taken = accounts::find_by_email(&state, &email).await?.is_some();
    let row = challenges::create(
        &state,
        NewChallenge {
            purpose: Purpose::Registration,
            step: Step::EmailCode,
            account_id: None,
            email: Some(&email),
            phone: phone.as_ref().filter(|_| !taken),
            password_hash: (!taken).then_some(password_hash.as_str()),
            decoy: taken,
            session_hash: None,
        },
    )
    .await?;
    let sent = challenges::send_code(&state, &row, ip).await?;
    Ok((
        StatusCode::CREATED,
        Json(waiting(&row.id, Step::EmailCode, sent)),
    ))
}

pub async fn email_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Body(request): Body<CodeRequest>,
) -> Result<Json<Challenge>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let row = challenges::load(&state, &id, Purpose::Registration).await?;
    challenges::check_code(&state, &row, Step::EmailCode, &code).await?;
    if row.phone().is_some() {
        challenges::advance(&state, &row, Step::SmsCode).await?;
        let row = challenges::load(&state, &id, Purpose::Registration).await?;
        let sent = challenges::send_code(&state, &row, ip).await?;
        return Ok(Json(waiting(&id, Step::SmsCode, sent)));
    }
    finish(&state, &row).await
}

pub async fn sms_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(request): Body<CodeRequest>,
) -> Result<Json<Challenge>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let row = challenges::load(&state, &id, Purpose::Registration).await?;
    challenges::check_code(&state, &row, Step::SmsCode, &code).await?;
    finish(&state, &row).await
}

pub async fn resend(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Json<Challenge>> {
    let row = challenges::load(&state, &id, Purpose::Registration).await?;
    let sent = challenges::resend(&state, &row, ip).await?;
    Ok(Json(waiting(&id, row.step(), sent)))
}

async fn finish(state: &AppState, row: &Row) -> Result<Json<Challenge>> {
    let (Some(email), Some(password_hash)) = (row.email(), row.password_hash.as_deref()) else {
        // A decoy never gets here: its codes cannot match.
        return Err(ApiError::UnknownChallenge);
    };
    let phone = row.phone();
    let created = store::accounts::create(
        state.pool(),
        email.as_str(),
        password_hash,
        phone.as_ref().map(PhoneNumber::as_str),
        None,
        state.now(),
    )
    .await?;
    if let (true, Some(person_id)) = (state.demo(), created) {
        crate::demo::give_sample_case(state.pool(), person_id).await?;
    }
    challenges::advance(state, row, Step::Done).await?;
    tracing::info!(two_step = phone.is_some(), "account created");
    Ok(Json(Challenge {
        id: row.id.clone(),
        next: Step::Done,
        resend_after: None,
        code_expires_in: None,
    }))
}

pub fn waiting(id: &str, next: Step, sent: CodeSent) -> Challenge {
    Challenge {
        id: id.to_owned(),
        next,
        resend_after: Some(sent.resend_after),
        code_expires_in: Some(sent.code_expires_in),
    }
}
