//! Sessions, one kind for everyone: an opaque random bearer token (32 bytes, base64url) stored
//! only as its SHA-256, with the principal (a person, through an account or directly by
//! BankID, or a staff member by SITHS) and the assurance of the login. The server enforces the
//! idle and absolute limits; only `POST /session/activity` counts as activity. Never logs a
//! token.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use legitimera_protocol::{Assurance, SecretString, Session, SessionStatus, StaffIdentity};
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::time::Duration;
use zeroize::Zeroizing;

use crate::config::Timeouts;
use crate::error::{ApiError, Result};
pub use crate::store::sessions::Principal;
use crate::{accounts, store, AppState};

/// Expired sessions are kept this long past the absolute limit (so they answer
/// `session_expired`, not `unauthorized`), then swept.
pub(crate) const KEEP_EXPIRED_SECONDS: i64 = 24 * 60 * 60;

/// Removes the sessions created longer ago than the absolute limit and
/// [`KEEP_EXPIRED_SECONDS`] (the server's maintenance, once a minute).
pub(crate) async fn sweep(pool: &sqlx::AnyPool, now: i64, absolute: Duration) -> sqlx::Result<()> {
    let absolute = i64::try_from(absolute.as_secs()).unwrap_or(i64::MAX);
    store::sessions::sweep(
        pool,
        now.saturating_sub(absolute.saturating_add(KEEP_EXPIRED_SECONDS)),
    )
    .await
}

/// A session for an account (password logins): it shows the account's person's cases.
/// `device_id`: the trusted device the login used or made, if any.
pub async fn create(
    state: &AppState,
    account_id: i64,
    assurance: Assurance,
    device_id: Option<&str>,
) -> Result<Session> {
    let person_id = store::accounts::person_of(state.pool(), account_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let principal = Principal::Person {
        person_id,
        account_id: Some(account_id),
    };
    open(state, principal, assurance, device_id).await
}

/// A session for a person without an account (BankID logins).
pub async fn create_for_person(
    state: &AppState,
    person_id: i64,
    assurance: Assurance,
) -> Result<Session> {
    let principal = Principal::Person {
        person_id,
        account_id: None,
    };
    open(state, principal, assurance, None).await
}

/// A session for a staff member (SITHS logins: always high assurance).
pub async fn create_for_staff(state: &AppState, staff_id: i64) -> Result<Session> {
    open(state, Principal::Staff { staff_id }, Assurance::High, None).await
}

async fn open(
    state: &AppState,
    principal: Principal,
    assurance: Assurance,
    device_id: Option<&str>,
) -> Result<Session> {
    let now = state.now();
    let timeouts = state.timeouts();
    let token = new_token();
    store::sessions::insert(
        state.pool(),
        &token_hash(token.expose()),
        principal,
        assurance.as_str(),
        device_id,
        now,
    )
    .await?;
    Ok(Session {
        token,
        assurance,
        idle_expires_in: timeouts.idle.as_secs().min(timeouts.absolute.as_secs()),
        absolute_expires_in: timeouts.absolute.as_secs(),
        device_token: None,
    })
}

/// Ends every session of an account (after its phone was replaced without a session, or its
/// password reset).
pub async fn end_all(state: &AppState, account_id: i64) -> Result<()> {
    store::sessions::delete_for_account(state.pool(), account_id).await?;
    Ok(())
}

/// Ends every session of an account but `keep` (a password changed, or a phone replaced, in
/// that session).
pub async fn end_all_but(state: &AppState, account_id: i64, keep: &LiveSession) -> Result<()> {
    end_all_but_hash(state, account_id, &keep.token_hash).await
}

pub(crate) async fn end_all_but_hash(
    state: &AppState,
    account_id: i64,
    keep_hash: &[u8],
) -> Result<()> {
    store::sessions::delete_for_account_except(state.pool(), account_id, keep_hash).await?;
    Ok(())
}

/// Whether the session with this token hash is still live (not logged out, not expired): a
/// phone change started in a session ends with it.
pub(crate) async fn is_live(state: &AppState, token_hash: &[u8]) -> Result<bool> {
    let Some(row) = store::sessions::find_in(state.store(), token_hash).await? else {
        return Ok(false);
    };
    let (idle, absolute) = time_left(
        state.now(),
        row.created_at,
        row.last_activity_at,
        state.timeouts(),
    );
    Ok(idle > 0 && absolute > 0)
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new bearer token (sessions, trusted devices): 32 random bytes, base64url.
pub(crate) fn new_token() -> SecretString {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    SecretString::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

/// Seconds left before the idle and the absolute limit (0 = expired) of a session created and
/// last active at these times, at `now`: one rule for every session.
pub fn time_left(
    now: i64,
    created_at: i64,
    last_activity_at: i64,
    timeouts: Timeouts,
) -> (u64, u64) {
    let left = |since: i64, limit: u64| {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        (since.saturating_add(limit) - now).max(0).unsigned_abs()
    };
    let absolute = left(created_at, timeouts.absolute.as_secs());
    let idle = left(last_activity_at, timeouts.idle.as_secs()).min(absolute);
    (idle, absolute)
}

/// A live session of anyone, from `Authorization: Bearer <token>`. No header or an unknown
/// token is `401 unauthorized`; a session past either limit is `401 session_expired`. The
/// session endpoints take this; cases take [`Authenticated`], the staff page `StaffSession`.
#[derive(Debug)]
pub struct LiveSession {
    token_hash: Vec<u8>,
    pub principal: Principal,
    pub assurance: Assurance,
    /// The trusted device the login used or made, if any.
    pub device_id: Option<String>,
    created_at: i64,
    last_activity_at: i64,
    /// The account's e-mail and phone, read with the session (an account's session).
    account: Option<store::sessions::AccountContact>,
}

impl FromRequestParts<AppState> for LiveSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        lookup(state, &token).await
    }
}

impl LiveSession {
    /// Seconds left before the idle and the absolute limit (0 = expired).
    fn remaining(&self, state: &AppState) -> (u64, u64) {
        time_left(
            state.now(),
            self.created_at,
            self.last_activity_at,
            state.timeouts(),
        )
    }

    /// The account logged in to, if the session is a password login's.
    pub fn account_id(&self) -> Option<i64> {
        match self.principal {
            Principal::Person { account_id, .. } => account_id,
            Principal::Staff { .. } => None,
        }
    }
}

async fn lookup(state: &AppState, token: &SecretString) -> Result<LiveSession> {
    let token_hash = token_hash(token.expose());
    let row = store::sessions::find_in(state.store(), &token_hash)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let session = LiveSession {
        token_hash,
        principal: row.principal,
        assurance: Assurance::parse(&row.assurance).ok_or(ApiError::Unauthorized)?,
        device_id: row.device_id,
        created_at: row.created_at,
        last_activity_at: row.last_activity_at,
        account: row.account,
    };
    let (idle_left, absolute_left) = session.remaining(state);
    if idle_left == 0 || absolute_left == 0 {
        return Err(ApiError::SessionExpired);
    }
    Ok(session)
}

/// A live applicant's session (a person's, not staff): a staff token is `401 unauthorized`.
#[derive(Debug)]
pub struct Authenticated {
    /// The session's token hash (what a phone change started in it is bound to).
    pub token_hash: Vec<u8>,
    pub person_id: i64,
    /// `None` for a BankID session.
    pub account_id: Option<i64>,
    pub assurance: Assurance,
}

impl TryFrom<LiveSession> for Authenticated {
    type Error = ApiError;

    fn try_from(session: LiveSession) -> Result<Self> {
        match session.principal {
            Principal::Person {
                person_id,
                account_id,
            } => Ok(Authenticated {
                token_hash: session.token_hash,
                person_id,
                account_id,
                assurance: session.assurance,
            }),
            Principal::Staff { .. } => Err(ApiError::Unauthorized),
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        LiveSession::from_request_parts(parts, state)
            .await?
            .try_into()
    }
}

/// An applicant's session if the request carries one; a request with a bad token is refused,
/// not treated as anonymous.
#[derive(Debug)]
pub struct MaybeAuthenticated(pub Option<Authenticated>);

impl FromRequestParts<AppState> for MaybeAuthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        match bearer(parts) {
            None => Ok(MaybeAuthenticated(None)),
            Some(token) => Ok(MaybeAuthenticated(Some(
                lookup(state, &token).await?.try_into()?,
            ))),
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

/// `GET /api/v1/session`: what the session is and how long it has left. Not activity.
pub async fn status(
    State(state): State<AppState>,
    session: LiveSession,
) -> Result<Json<SessionStatus>> {
    describe(&state, &session).await.map(Json)
}

/// `POST /api/v1/session/activity`: the user did something; the idle limit starts over.
pub async fn activity(
    State(state): State<AppState>,
    mut session: LiveSession,
) -> Result<Json<SessionStatus>> {
    let now = state.now();
    store::sessions::touch(state.pool(), &session.token_hash, now).await?;
    session.last_activity_at = now;
    describe(&state, &session).await.map(Json)
}

/// `DELETE /api/v1/session`: logout; the token is unknown from now on.
pub async fn logout(State(state): State<AppState>, session: LiveSession) -> Result<StatusCode> {
    store::sessions::delete(state.pool(), &session.token_hash).await?;
    tracing::info!("logged out");
    Ok(StatusCode::NO_CONTENT)
}

async fn describe(state: &AppState, session: &LiveSession) -> Result<SessionStatus> {
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
    match session.principal {
        Principal::Person {
            account_id: Some(account_id),
            ..
        } => {
            // Read with the session; a session whose account is gone is nobody's.
            let (email, phone) = match &session.account {
                Some(contact) => (contact.email.clone(), contact.phone.clone()),
                None => {
                    let account = accounts::find_by_id(state, account_id)
                        .await?
                        .ok_or(ApiError::Unauthorized)?;
                    (account.email, account.phone)
                }
            };
            let phone = phone
                .as_deref()
                .and_then(|p| legitimera_protocol::PhoneNumber::parse(p).ok());
            status.email = Some(email);
            status.two_step = phone.is_some();
            status.phone = phone.map(|p| p.masked());
        }
        Principal::Person {
            person_id,
            account_id: None,
        } => {
            let (given_name, surname, personal_number) =
                store::people::names(state.pool(), person_id)
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
            status.name = Some(format!("{given_name} {surname}"));
            status.personal_number = personal_number.as_deref().map(mask_personal_number);
        }
        Principal::Staff { staff_id } => {
            status.staff = Some(staff_identity(state, staff_id).await?);
        }
    }
    Ok(status)
}

/// Who a staff session is for, as the latest login's certificate said.
pub(crate) async fn staff_identity(state: &AppState, staff_id: i64) -> Result<StaffIdentity> {
    let (name, hsa_id, organisation) = store::siths::staff(state.pool(), staff_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(StaffIdentity {
        name,
        hsa_id,
        organisation,
    })
}

/// `YYYYMMDD-****`: enough for a person to recognise their own number.
pub fn mask_personal_number(number: &str) -> String {
    let birth_date: String = number.chars().take(8).collect();
    format!("{birth_date}-****")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Database;
    use crate::store::Store;

    /// The maintenance sweep removes a session once it is past the absolute limit and the
    /// day it is kept to answer `session_expired`, and not a second before.
    #[tokio::test]
    async fn old_sessions_are_swept_a_day_after_their_absolute_limit() {
        let store = Store::open(&Database::Temporary).await.unwrap();
        let pool = store.pool();
        sqlx::query("INSERT INTO people (id, given_name, surname) VALUES (1, 'A', 'B')")
            .execute(pool)
            .await
            .unwrap();
        let absolute = Duration::from_secs(12 * 60 * 60);
        let person = store::sessions::Principal::Person {
            person_id: 1,
            account_id: None,
        };
        let (old, kept) = (b"old".as_slice(), b"kept".as_slice());
        store::sessions::insert(pool, old, person, "high", None, 0)
            .await
            .unwrap();
        store::sessions::insert(pool, kept, person, "high", None, 1)
            .await
            .unwrap();
        let limit = 12 * 60 * 60 + KEEP_EXPIRED_SECONDS;
        sweep(pool, limit, absolute).await.unwrap();
        assert!(store::sessions::find(pool, old).await.unwrap().is_some());
        sweep(pool, limit + 1, absolute).await.unwrap();
        assert!(store::sessions::find(pool, old).await.unwrap().is_none());
        assert!(store::sessions::find(pool, kept).await.unwrap().is_some());
    }
}
