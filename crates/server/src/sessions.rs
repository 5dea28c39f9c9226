//! Sessions: an opaque random bearer token (32 bytes, base64url) stored only as its SHA-256,
//! with the assurance of the login. A session belongs to a person: through an account
//! (password logins) or directly (BankID, the person found by personnummer). The server enforces the idle and absolute limits; only
//! `POST /session/activity` counts as activity. Never logs a token.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use legitimera_protocol::{Assurance, SecretString, Session, SessionStatus};
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{ApiError, Result};
use crate::AppState;
use crate::{accounts, siths};

/// Expired sessions are kept this long past the absolute limit (so they answer
/// `session_expired`, not `unauthorized`), then swept.
pub(crate) const KEEP_EXPIRED_SECONDS: i64 = 24 * 60 * 60;

/// A session for an account (password logins): it shows the account's person's cases.
/// `device_id`: the trusted device the login used or made, if any.
pub async fn create(
    state: &AppState,
    account_id: i64,
    assurance: Assurance,
    device_id: Option<&str>,
) -> Result<Session> {
    let person_id: i64 = sqlx::query_scalar("SELECT person_id FROM accounts WHERE id = ?")
        .bind(account_id)
        .fetch_optional(state.pool())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    insert(state, person_id, Some(account_id), assurance, device_id).await
}

/// A session for a person without an account (BankID logins).
pub async fn create_for_person(
    state: &AppState,
    person_id: i64,
    assurance: Assurance,
) -> Result<Session> {
    insert(state, person_id, None, assurance, None).await
}

async fn insert(
    state: &AppState,
    person_id: i64,
    account_id: Option<i64>,
    assurance: Assurance,
    device_id: Option<&str>,
) -> Result<Session> {
    let now = state.now();
    let timeouts = state.timeouts();
    let absolute = i64::try_from(timeouts.absolute.as_secs()).unwrap_or(i64::MAX);
    sqlx::query("DELETE FROM sessions WHERE created_at < ?")
        .bind(now.saturating_sub(absolute.saturating_add(KEEP_EXPIRED_SECONDS)))
        .execute(state.pool())
        .await?;
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    let token = SecretString::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()));
    sqlx::query(
        "INSERT INTO sessions (token_hash, person_id, account_id, assurance, created_at,
                               last_activity_at, device_id)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token_hash(token.expose()))
    .bind(person_id)
    .bind(account_id)
    .bind(assurance.as_str())
    .bind(now)
    .bind(now)
    .bind(device_id)
    .execute(state.pool())
    .await?;
    Ok(Session {
        token,
        assurance,
        idle_expires_in: timeouts.idle.as_secs().min(timeouts.absolute.as_secs()),
        absolute_expires_in: timeouts.absolute.as_secs(),
        device_token: None,
    })
}

/// Ends the session with this token (one that was never handed out, say).
pub async fn revoke(state: &AppState, token: &SecretString) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash(token.expose()))
        .execute(state.pool())
        .await?;
    Ok(())
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new bearer token (for staff sessions, which live in their own table; see `siths`).
pub(crate) fn new_token() -> SecretString {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    SecretString::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

/// A live session, from `Authorization: Bearer <token>`. No header or an unknown token is
/// `401 unauthorized`; a session past either limit is `401 session_expired`.
#[derive(Debug)]
pub struct Authenticated {
    token_hash: Vec<u8>,
    pub person_id: i64,
    /// `None` for a BankID session.
    pub account_id: Option<i64>,
    pub assurance: Assurance,
    /// The trusted device the login used or made, if any.
    pub device_id: Option<String>,
    created_at: i64,
    last_activity_at: i64,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        lookup(state, &token).await
    }
}

/// A session if the request carries one; a request with a bad token is refused, not treated
/// as anonymous.
#[derive(Debug)]
pub struct MaybeAuthenticated(pub Option<Authenticated>);

impl FromRequestParts<AppState> for MaybeAuthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        match bearer(parts) {
            None => Ok(MaybeAuthenticated(None)),
            Some(token) => Ok(MaybeAuthenticated(Some(lookup(state, &token).await?))),
        }
    }
}

pub fn bearer(parts: &Parts) -> Option<SecretString> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| SecretString::new(token.trim()))
}

/// A `sessions` row as [`lookup`] reads it.
#[derive(sqlx::FromRow)]
struct SessionRow {
    assurance: String,
    person_id: i64,
    account_id: Option<i64>,
    created_at: i64,
    last_activity_at: i64,
    device_id: Option<String>,
}

async fn lookup(state: &AppState, token: &SecretString) -> Result<Authenticated> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT assurance, person_id, account_id, created_at, last_activity_at, device_id
         FROM sessions WHERE token_hash = ?",
    )
    .bind(token_hash(token.expose()))
    .fetch_optional(state.pool())
    .await?;
    let row = row.ok_or(ApiError::Unauthorized)?;
    let session = Authenticated {
        token_hash: token_hash(token.expose()),
        person_id: row.person_id,
        account_id: row.account_id,
        assurance: Assurance::parse(&row.assurance).ok_or(ApiError::Unauthorized)?,
        device_id: row.device_id,
        created_at: row.created_at,
        last_activity_at: row.last_activity_at,
    };
    let (idle_left, absolute_left) = session.remaining(state);
    if idle_left == 0 || absolute_left == 0 {
        return Err(ApiError::SessionExpired);
    }
    Ok(session)
}

impl Authenticated {
    /// Seconds left before the idle and the absolute limit (0 = expired).
    fn remaining(&self, state: &AppState) -> (u64, u64) {
        time_left(state, self.created_at, self.last_activity_at)
    }
}

/// Seconds left before the idle and the absolute limit (0 = expired) of a session created and
/// last active at these times: one rule for applicants' and staff sessions.
pub(crate) fn time_left(state: &AppState, created_at: i64, last_activity_at: i64) -> (u64, u64) {
    let now = state.now();
    let timeouts = state.timeouts();
    let left = |since: i64, limit: u64| {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        (since.saturating_add(limit) - now).max(0).unsigned_abs()
    };
    let absolute = left(created_at, timeouts.absolute.as_secs());
    let idle = left(last_activity_at, timeouts.idle.as_secs()).min(absolute);
    (idle, absolute)
}

/// Whoever a bearer token belongs to: an applicant (account) or a staff member (SITHS). The
/// session endpoints take this; everything about cases takes [`Authenticated`] only.
#[derive(Debug)]
pub enum AnySession {
    Applicant(Authenticated),
    Staff(siths::StaffSession),
}

impl FromRequestParts<AppState> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        match siths::lookup(state, &token).await? {
            Some(staff) => Ok(AnySession::Staff(staff)),
            None => lookup(state, &token).await.map(AnySession::Applicant),
        }
    }
}

/// `GET /api/v1/session`: what the session is and how long it has left. Not activity.
pub async fn status(
    State(state): State<AppState>,
    session: AnySession,
) -> Result<Json<SessionStatus>> {
    match session {
        AnySession::Applicant(session) => describe(&state, &session).await.map(Json),
        AnySession::Staff(staff) => staff.describe(&state).await.map(Json),
    }
}

/// `POST /api/v1/session/activity`: the user did something; the idle limit starts over.
pub async fn activity(
    State(state): State<AppState>,
    session: AnySession,
) -> Result<Json<SessionStatus>> {
    let mut session = match session {
        AnySession::Applicant(session) => session,
        AnySession::Staff(mut staff) => {
            staff.touch(&state).await?;
            return staff.describe(&state).await.map(Json);
        }
    };
    let now = state.now();
    sqlx::query("UPDATE sessions SET last_activity_at = ? WHERE token_hash = ?")
        .bind(now)
        .bind(&session.token_hash)
        .execute(state.pool())
        .await?;
    session.last_activity_at = now;
    describe(&state, &session).await.map(Json)
}

/// `DELETE /api/v1/session`: logout; the token is unknown from now on.
pub async fn logout(State(state): State<AppState>, session: AnySession) -> Result<StatusCode> {
    let session = match session {
        AnySession::Applicant(session) => session,
        AnySession::Staff(staff) => {
            staff.end(&state).await?;
            tracing::info!("logged out");
            return Ok(StatusCode::NO_CONTENT);
        }
    };
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(&session.token_hash)
        .execute(state.pool())
        .await?;
    tracing::info!("logged out");
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of an account (after its phone was replaced without a session).
pub async fn end_all(state: &AppState, account_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE account_id = ?")
        .bind(account_id)
        .execute(state.pool())
        .await?;
    Ok(())
}

async fn describe(state: &AppState, session: &Authenticated) -> Result<SessionStatus> {
    let (idle_expires_in, absolute_expires_in) = session.remaining(state);
    let timeouts = state.timeouts();
    let mut status = SessionStatus {
        assurance: session.assurance,
        email: None,
        two_step: false,
        phone: None,
        idle_expires_in,
        absolute_expires_in,
        idle_timeout: timeouts.idle.as_secs(),
        absolute_timeout: timeouts.absolute.as_secs(),
        name: None,
        personal_number: None,
        staff: None,
    };
    match session.account_id {
        Some(account_id) => {
            let account = accounts::find_by_id(state, account_id)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            let phone = account.phone();
            status.email = Some(account.email.clone());
            status.two_step = phone.is_some();
            status.phone = phone.map(|p| p.masked());
        }
        None => {
            let person: Option<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT given_name, surname, personal_number FROM people WHERE id = ?",
            )
            .bind(session.person_id)
            .fetch_optional(state.pool())
            .await?;
            let (given_name, surname, personal_number) = person.ok_or(ApiError::Unauthorized)?;
            status.name = Some(format!("{given_name} {surname}"));
            status.personal_number = personal_number.as_deref().map(mask_personal_number);
        }
    }
    Ok(status)
}

/// `YYYYMMDD-****`: enough for a person to recognise their own number.
pub fn mask_personal_number(number: &str) -> String {
    let birth_date: String = number.chars().take(8).collect();
    format!("{birth_date}-****")
}
