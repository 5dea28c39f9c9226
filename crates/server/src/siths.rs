//! SITHS card login for staff: single-use challenges, the signed challenge checked against the
//! configured trust anchors (see `verify`), staff identities by HSA-id, their sessions (same
//! token format and limits as every session, in `staff_sessions`) and the staff landing page.
//! Never logs an HSA-id, a name, a challenge or a token.

pub(crate) mod verify;

use std::time::Duration;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use legitimera_protocol::{
    Assurance, Session, SithsChallenge, SithsLoginRequest, StaffLanding, StaffService,
};
use rand::rngs::OsRng;
use rand::RngCore as _;
use rustls_pki_types::UnixTime;
use serde::Deserialize;

use crate::error::{ApiError, Result};
use crate::extract::{limit_key, Body, ClientIp};
use crate::sessions::{LiveSession, Principal};
use crate::{language, sessions, store, AppState};

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
    state
        .limits()
        .siths_ip
        .reserve(&state, &limit_key(ip))
        .await?;
    store::siths::sweep_challenges(state.pool(), now).await?;
    let mut id = [0u8; 16];
    OsRng.fill_bytes(&mut id);
    let id = URL_SAFE_NO_PAD.encode(id);
    let mut challenge = [0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    store::siths::insert_challenge(
        state.pool(),
        &id,
        &challenge,
        now.saturating_add(CHALLENGE_SECONDS as i64),
    )
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
    let spent = store::siths::spend_challenge(state.pool(), &request.challenge_id).await?;
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
        ApiError::from(rejection)
    })?;
    let staff_id = store::siths::upsert_staff(
        state.pool(),
        &staff.hsa_id,
        &staff.name,
        staff.organisation.as_deref(),
        now,
    )
    .await?;
    let session = sessions::create_for_staff(&state, staff_id).await?;
    tracing::info!(algorithm = ?request.algorithm, "staff member logged in with SITHS");
    Ok((StatusCode::CREATED, Json(session)))
}

/// A live staff session: an applicant's token is `401 unauthorized`, and the limits and
/// answers are every session's (`sessions::LiveSession`).
#[derive(Debug)]
pub struct StaffSession {
    pub staff_id: i64,
    pub assurance: Assurance,
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let session = LiveSession::from_request_parts(parts, state).await?;
        match session.principal {
            Principal::Staff { staff_id } => Ok(StaffSession {
                staff_id,
                assurance: session.assurance,
            }),
            Principal::Person { .. } => Err(ApiError::Unauthorized),
        }
    }
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
    let lang = language::negotiate(query.lang.as_deref(), &headers);
    let staff = sessions::staff_identity(&state, session.staff_id).await?;
    let mut services = Vec::with_capacity(SERVICES.len());
    for (id, title_sv, title_en, statuses) in SERVICES {
        let mut count = 0u64;
        for status in *statuses {
            let n = store::cases::count_with_status(state.pool(), status).await?;
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
