//! SITHS card login for staff: single-use challenges, the signed challenge checked against the
//! configured trust anchors (see `verify`), staff identities by HSA-id, their sessions (same
//! token format and limits as every session, in `staff_sessions`) and the staff landing page.
//! Never logs an HSA-id, a name, a challenge or a token.

pub(crate) mod verify;

use std::time::Duration;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use legitimera_protocol::{
    Assurance, SecretString, Session, SessionStatus, SithsChallenge, SithsLoginRequest,
    StaffIdentity, StaffLanding, StaffService,
};
use rand::rngs::OsRng;
use rand::RngCore as _;
use rustls_pki_types::UnixTime;
use serde::Deserialize;

use crate::error::{ApiError, Result};
use crate::extract::{Body, ClientIp};
use crate::{cases, sessions, AppState};

pub use verify::{Rejection, TrustAnchors, MAX_CHAIN};

/// A challenge is good for this long (the user has to type the PIN in between).
pub const CHALLENGE_SECONDS: u64 = 120;

/// `POST /api/v1/siths/challenges`: 32 random bytes for the card to sign, usable once.
pub async fn create_challenge(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
) -> Result<(StatusCode, Json<SithsChallenge>)> {
    if state.siths_anchors().is_empty() {
        return Err(ApiError::SithsUnavailable);
    }
    let now = state.now();
    let ip_key = format!("siths:{ip}");
    let limiter = &state.limits().siths_ip;
    if let Some(retry_after) = limiter.retry_after(&ip_key, now) {
        return Err(ApiError::RateLimited { retry_after });
    }
    limiter.record(&ip_key, now);
    sqlx::query("DELETE FROM siths_challenges WHERE expires_at <= ?")
        .bind(now)
        .execute(state.pool())
        .await?;
    let mut id = [0u8; 16];
    OsRng.fill_bytes(&mut id);
    let id = URL_SAFE_NO_PAD.encode(id);
    let mut challenge = [0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    sqlx::query("INSERT INTO siths_challenges (id, challenge, expires_at) VALUES (?, ?, ?)")
        .bind(&id)
        .bind(challenge.as_slice())
        .bind(now.saturating_add(CHALLENGE_SECONDS as i64))
        .execute(state.pool())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SithsChallenge {
            id,
            challenge: STANDARD.encode(challenge),
            expires_in: CHALLENGE_SECONDS,
        }),
    ))
}

/// `POST /api/v1/siths/sessions`: the card's signature over a challenge → a high-assurance
/// session for the staff member the certificate names. The challenge is spent whatever the
/// outcome, so a refused attempt cannot be retried with it.
pub async fn log_in(
    State(state): State<AppState>,
    Body(request): Body<SithsLoginRequest>,
) -> Result<(StatusCode, Json<Session>)> {
    if state.siths_anchors().is_empty() {
        return Err(ApiError::SithsUnavailable);
    }
    let now = state.now();
    let spent: Option<(Vec<u8>, i64)> =
        sqlx::query_as("DELETE FROM siths_challenges WHERE id = ? RETURNING challenge, expires_at")
            .bind(&request.challenge_id)
            .fetch_optional(state.pool())
            .await?;
    let (challenge, expires_at) = spent.ok_or(ApiError::SithsUnknownChallenge)?;
    if expires_at <= now {
        return Err(ApiError::SithsChallengeExpired);
    }
    if request.certificates.len() > MAX_CHAIN {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_CHAIN} certificates"
        )));
    }
    let chain = request
        .certificates
        .iter()
        .map(|certificate| STANDARD.decode(certificate))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::BadRequest("certificates: not base64".into()))?;
    let signature = STANDARD
        .decode(&request.signature)
        .map_err(|_| ApiError::BadRequest("signature: not base64".into()))?;
    let staff = verify::verify(
        state.siths_anchors(),
        &chain,
        request.algorithm,
        &challenge,
        &signature,
        UnixTime::since_unix_epoch(Duration::from_secs(now.max(0).unsigned_abs())),
    )
    .map_err(|rejection| {
        tracing::info!(%rejection, "SITHS login refused");
        ApiError::Siths(rejection)
    })?;
    let staff_id: i64 = sqlx::query_scalar(
        "INSERT INTO staff (hsa_id, name, organisation, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (hsa_id) DO UPDATE SET name = excluded.name,
                                            organisation = excluded.organisation
         RETURNING id",
    )
    .bind(&staff.hsa_id)
    .bind(&staff.name)
    .bind(&staff.organisation)
    .bind(now)
    .fetch_one(state.pool())
    .await?;
    let session = create_session(&state, staff_id).await?;
    tracing::info!(algorithm = ?request.algorithm, "staff member logged in with SITHS");
    Ok((StatusCode::CREATED, Json(session)))
}

async fn create_session(state: &AppState, staff_id: i64) -> Result<Session> {
    let now = state.now();
    let timeouts = state.timeouts();
    let absolute = i64::try_from(timeouts.absolute.as_secs()).unwrap_or(i64::MAX);
    sqlx::query("DELETE FROM staff_sessions WHERE created_at < ?")
        .bind(now.saturating_sub(absolute.saturating_add(sessions::KEEP_EXPIRED_SECONDS)))
        .execute(state.pool())
        .await?;
    let token = sessions::new_token();
    sqlx::query(
        "INSERT INTO staff_sessions (token_hash, staff_id, assurance, created_at,
                                     last_activity_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(sessions::token_hash(token.expose()))
    .bind(staff_id)
    .bind(Assurance::High.as_str())
    .bind(now)
    .bind(now)
    .execute(state.pool())
    .await?;
    Ok(Session {
        token,
        assurance: Assurance::High,
        idle_expires_in: timeouts.idle.as_secs().min(timeouts.absolute.as_secs()),
        absolute_expires_in: timeouts.absolute.as_secs(),
        device_token: None,
    })
}

/// A live staff session, from `Authorization: Bearer <token>`; the same limits and answers
/// (`401 unauthorized`, `401 session_expired`) as an applicant's session.
#[derive(Debug)]
pub struct StaffSession {
    token_hash: Vec<u8>,
    pub staff_id: i64,
    pub assurance: Assurance,
    created_at: i64,
    last_activity_at: i64,
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = sessions::bearer(parts).ok_or(ApiError::Unauthorized)?;
        lookup(state, &token).await?.ok_or(ApiError::Unauthorized)
    }
}

/// The staff session with this token: `None` when the token is not a staff session's,
/// `session_expired` when it was but has run out.
pub async fn lookup(state: &AppState, token: &SecretString) -> Result<Option<StaffSession>> {
    let token_hash = sessions::token_hash(token.expose());
    let row: Option<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT assurance, staff_id, created_at, last_activity_at
         FROM staff_sessions WHERE token_hash = ?",
    )
    .bind(&token_hash)
    .fetch_optional(state.pool())
    .await?;
    let Some((assurance, staff_id, created_at, last_activity_at)) = row else {
        return Ok(None);
    };
    let session = StaffSession {
        token_hash,
        staff_id,
        assurance: Assurance::parse(&assurance).ok_or(ApiError::Unauthorized)?,
        created_at,
        last_activity_at,
    };
    let (idle_left, absolute_left) = session.remaining(state);
    if idle_left == 0 || absolute_left == 0 {
        return Err(ApiError::SessionExpired);
    }
    Ok(Some(session))
}

impl StaffSession {
    fn remaining(&self, state: &AppState) -> (u64, u64) {
        sessions::time_left(state, self.created_at, self.last_activity_at)
    }

    /// The user did something: the idle limit starts over.
    pub async fn touch(&mut self, state: &AppState) -> Result<()> {
        let now = state.now();
        sqlx::query("UPDATE staff_sessions SET last_activity_at = ? WHERE token_hash = ?")
            .bind(now)
            .bind(&self.token_hash)
            .execute(state.pool())
            .await?;
        self.last_activity_at = now;
        Ok(())
    }

    /// Logout: the token is unknown from now on.
    pub async fn end(self, state: &AppState) -> Result<()> {
        sqlx::query("DELETE FROM staff_sessions WHERE token_hash = ?")
            .bind(&self.token_hash)
            .execute(state.pool())
            .await?;
        Ok(())
    }

    /// `GET /session` for a staff member: no account, the identity from the certificate.
    pub async fn describe(&self, state: &AppState) -> Result<SessionStatus> {
        let staff = identity(state, self.staff_id).await?;
        let (idle_expires_in, absolute_expires_in) = self.remaining(state);
        let timeouts = state.timeouts();
        Ok(SessionStatus {
            assurance: self.assurance,
            email: None,
            phone: None,
            two_step: false,
            idle_expires_in,
            absolute_expires_in,
            idle_timeout: timeouts.idle.as_secs(),
            absolute_timeout: timeouts.absolute.as_secs(),
            name: None,
            personal_number: None,
            staff: Some(staff),
        })
    }
}

async fn identity(state: &AppState, staff_id: i64) -> Result<StaffIdentity> {
    let row: Option<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name, hsa_id, organisation FROM staff WHERE id = ?")
            .bind(staff_id)
            .fetch_optional(state.pool())
            .await?;
    let (name, hsa_id, organisation) = row.ok_or(ApiError::Unauthorized)?;
    Ok(StaffIdentity {
        name,
        hsa_id,
        organisation,
    })
}

/// The staff e-services on the landing page: the agency's cases by what they wait for.
const SERVICES: &[(&str, &str, &str, &[&str])] = &[
    (
        "cases_to_handle",
        "Ärenden att handlägga",
        "Cases to handle",
        &["received", "in_progress"],
    ),
    (
        "waiting_for_applicant",
        "Väntar på sökande",
        "Waiting for the applicant",
        &["waiting_for_applicant"],
    ),
    (
        "decided",
        "Beslutade ärenden",
        "Decided cases",
        &["decided"],
    ),
];

#[derive(Debug, Deserialize)]
pub struct LandingQuery {
    lang: Option<String>,
}

/// `GET /api/v1/siths/landing`: who is logged in and the staff e-services with their counts.
/// Only a staff session reaches it; an applicant's token is `401 unauthorized`.
pub async fn landing(
    State(state): State<AppState>,
    session: StaffSession,
    Query(query): Query<LandingQuery>,
    headers: HeaderMap,
) -> Result<Json<StaffLanding>> {
    let lang = query
        .lang
        .as_deref()
        .and_then(cases::supported)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(cases::preferred_language)
        })
        .unwrap_or("sv");
    let staff = identity(&state, session.staff_id).await?;
    let mut services = Vec::with_capacity(SERVICES.len());
    for (id, title_sv, title_en, statuses) in SERVICES {
        let mut count = 0u64;
        for status in *statuses {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE status = ?")
                .bind(status)
                .fetch_one(state.pool())
                .await?;
            count += n.max(0).unsigned_abs();
        }
        services.push(StaffService {
            id: (*id).to_owned(),
            title: if lang == "en" { title_en } else { title_sv }.to_string(),
            count,
        });
    }
    Ok(Json(StaffLanding {
        name: staff.name,
        hsa_id: staff.hsa_id,
        organisation: staff.organisation,
        assurance: session.assurance,
        lang: lang.to_owned(),
        services,
    }))
}
