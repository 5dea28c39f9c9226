//! A forgotten password ("Glömt lösenordet?"): e-mail → code by e-mail → with two-step, the
//! SMS code too → a new password (same rules as registration). Then every session of the
//! account ends, every trusted device is revoked, the wrong passwords in a row are forgotten
//! (the owner proved the address), and the account is told its password was changed. An
//! address without an account gets the same answers and a "no account" e-mail instead of a
//! code. Also the logged-in change of password (`POST /session/password`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use legitimera_protocol::{
    Challenge, CodeRequest, Email, NewPasswordRequest, OneTimeCode, PasswordChangeRequest,
    PasswordResetRequest, Step,
};

use crate::challenges::{self, NewChallenge, Purpose};
use crate::error::{ApiError, Result};
use crate::extract::{limit_key, Body, ClientIp};
use crate::login::{self, Guard};
use crate::registration::waiting;
use crate::sessions::{self, LiveSession};
use crate::{accounts, devices, messages, passwords, store, AppState};

/// `POST /api/v1/password-resets`.
pub async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<PasswordResetRequest>,
) -> Result<(StatusCode, Json<Challenge>)> {
    let email = Email::parse(&request.email)?;
    state
        .limits()
        .password_reset_ip
        .reserve(&state, &limit_key(ip))
        .await?;
    let account = accounts::find_by_email(&state, &email).await?;
    let row = challenges::create(
        &state,
        NewChallenge {
            purpose: Purpose::PasswordReset,
            step: Step::EmailCode,
            account_id: account.as_ref().map(|a| a.id),
            email: Some(&email),
            phone: account.as_ref().and_then(|a| a.phone()).as_ref(),
            password_hash: None,
            decoy: account.is_none(),
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

/// `POST /api/v1/password-resets/{id}/email-code`.
pub async fn email_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Body(request): Body<CodeRequest>,
) -> Result<Json<Challenge>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let row = challenges::load(&state, &id, Purpose::PasswordReset).await?;
    challenges::check_code(&state, &row, Step::EmailCode, &code).await?;
    if row.phone().is_some() {
        // Two-step: the phone proves the owner too (a lost phone: change it first).
        challenges::advance(&state, &row, Step::SmsCode).await?;
        let row = challenges::load(&state, &id, Purpose::PasswordReset).await?;
        let sent = challenges::send_code(&state, &row, ip).await?;
        return Ok(Json(waiting(&id, Step::SmsCode, sent)));
    }
    challenges::advance(&state, &row, Step::Password).await?;
    Ok(Json(proven(&id)))
}

/// `POST /api/v1/password-resets/{id}/sms-code`.
pub async fn sms_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(request): Body<CodeRequest>,
) -> Result<Json<Challenge>> {
    let code = OneTimeCode::parse(request.code.expose())?;
    let row = challenges::load(&state, &id, Purpose::PasswordReset).await?;
    challenges::check_code(&state, &row, Step::SmsCode, &code).await?;
    challenges::advance(&state, &row, Step::Password).await?;
    Ok(Json(proven(&id)))
}

/// `POST /api/v1/password-resets/{id}/password`.
pub async fn password(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(request): Body<NewPasswordRequest>,
) -> Result<Json<Challenge>> {
    let row = challenges::load(&state, &id, Purpose::PasswordReset).await?;
    if row.step() != Step::Password {
        return Err(ApiError::WrongStep);
    }
    let account = login::account_of(&state, row.account_id).await?;
    let hash = new_password_hash(&state, &request.password).await?;
    challenges::advance(&state, &row, Step::Done).await?;
    store::accounts::set_password_hash(state.pool(), account.id, &hash).await?;
    sessions::end_all(&state, account.id).await?;
    devices::revoke_all(&state, account.id).await?;
    // The owner proved the address: earlier wrong passwords no longer count against them.
    store::accounts::clear_failed_logins(state.pool(), account.id).await?;
    let email = Email::parse(&account.email)?;
    state
        .limits()
        .login_account
        .clear(
            &state,
            &crate::ratelimit::hashed_key("login", email.as_str()),
        )
        .await?;
    tell_owner(&state, &email).await;
    tracing::info!("password reset");
    Ok(Json(Challenge {
        id,
        next: Step::Done,
        resend_after: None,
        code_expires_in: None,
    }))
}

/// `POST /api/v1/password-resets/{id}/resend`.
pub async fn resend(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Json<Challenge>> {
    let row = challenges::load(&state, &id, Purpose::PasswordReset).await?;
    if row.step() == Step::Password {
        return Err(ApiError::WrongStep);
    }
    let sent = challenges::resend(&state, &row, ip).await?;
    Ok(Json(waiting(&id, row.step(), sent)))
}

/// `POST /api/v1/session/password`: the current password and a new one; every other session
/// of the account ends (this one stays).
pub async fn change(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: LiveSession,
    Body(request): Body<PasswordChangeRequest>,
) -> Result<StatusCode> {
    let account_id = session.account_id().ok_or_else(|| {
        ApiError::BadRequest("this session has no password; log in with the account".into())
    })?;
    let account = login::account_of(&state, Some(account_id)).await?;
    let email = Email::parse(&account.email)?;
    let guard = Guard::new(&state, &email, ip);
    guard.reserve().await?;
    login::verify_password(&state, &guard, &email, &request.current).await?;
    let hash = new_password_hash(&state, &request.new).await?;
    store::accounts::set_password_hash(state.pool(), account.id, &hash).await?;
    sessions::end_all_but(&state, account.id, &session).await?;
    tell_owner(&state, &email).await;
    tracing::info!("password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// The reset is proven: the new password is next.
fn proven(id: &str) -> Challenge {
    Challenge {
        id: id.to_owned(),
        next: Step::Password,
        resend_after: None,
        code_expires_in: None,
    }
}

/// A new password under the registration rules (normalized, long enough, not common), hashed.
async fn new_password_hash(
    state: &AppState,
    password: &legitimera_protocol::SecretString,
) -> Result<String> {
    let password = passwords::normalize(password)?;
    if passwords::is_common(&password) {
        return Err(ApiError::CommonPassword);
    }
    Ok(state.hasher().hash(password).await?)
}

async fn tell_owner(state: &AppState, email: &Email) {
    let mail = messages::password_changed();
    if let Err(error) = state.mailer().send(email, mail.subject, &mail.body).await {
        // The password is changed either way; the notice is a courtesy.
        tracing::warn!(%error, "could not tell the owner the password was changed");
    }
}
