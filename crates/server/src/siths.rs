//! SITHS card login for staff: single-use challenges, the signed challenge checked against the
//! configured trust anchors (see `verify`), staff identities by HSA-id, their sessions (same
//! token format and limits as every session, in `staff_sessions`) and the staff landing page.
//! Never logs an HSA-id, a name, a challenge or a token.

pub mod revocation;
pub(crate) mod verify;

use std::time::Duration;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use legitimera_protocol::{
    Assurance, Session, SithsAlgorithm, SithsChallenge, SithsCheck, SithsCheckRequest,
    SithsLoginRequest, SithsRevocationStatus, StaffLanding, StaffService, SITHS_CHALLENGE_LEN,
};
use rand::rngs::OsRng;
use rand::RngCore as _;
use rustls_pki_types::UnixTime;
use serde::Deserialize;

use crate::config::RevocationMode;
use crate::error::{ApiError, Result};
use crate::extract::{limit_key, Body, ClientIp};
use crate::sessions::{LiveSession, Principal};
use crate::{language, sessions, store, AppState};

pub use revocation::CrlCache;
pub use verify::{CertificatePolicy, Rejection, Staff, TrustAnchors, MAX_CHAIN};

/// How SITHS login is set up: whom to trust and how to check revocation.
#[derive(Debug)]
pub struct SithsSetup {
    /// Empty when SITHS login is off.
    pub anchors: TrustAnchors,
    pub policy: CertificatePolicy,
    pub revocation: RevocationMode,
    pub crls: std::sync::Arc<CrlCache>,
}

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
    let mut challenge = [0u8; SITHS_CHALLENGE_LEN];
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
    let staff = verify_signed_challenge(&state, &request).await?;
    let now = state.now();
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

/// What a SITHS login checks before it makes a session — the challenge (spent whatever the
/// outcome), the chain and the signature — shared with the test login (`siths_test_logins`),
/// which must answer what a login would have.
pub(crate) async fn verify_signed_challenge(
    state: &AppState,
    request: &SithsLoginRequest,
) -> Result<verify::Staff> {
    if state.siths_anchors().is_empty() {
        return Err(ApiError::SithsUnavailable);
    }
    let now = state.now();
    let spent = store::siths::spend_challenge(state.pool(), &request.challenge_id).await?;
    let (challenge, expires_at) = spent.ok_or(ApiError::SithsUnknownChallenge)?;
    if expires_at <= now {
        return Err(ApiError::SithsChallengeExpired);
    }
    let chain = decode_chain(&request.certificates)?;
    let signature = STANDARD
        .decode(&request.signature)
        .map_err(|_| ApiError::BadRequest("signature: not base64".into()))?;
    // The server made every challenge 32 bytes; a stored one of another length is no challenge.
    let challenge: [u8; SITHS_CHALLENGE_LEN] = challenge
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::SithsUnknownChallenge)?;
    verify_login(state, &chain, request.algorithm, &challenge, &signature)
        .await
        .map(|verified| verified.staff)
        .map_err(|rejection| {
            tracing::info!(%rejection, "SITHS login refused");
            ApiError::from(rejection)
        })
}

/// What the revocation check said about a chain that is otherwise accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationOutcome {
    /// Checked against the CRLs; `crl_updated_at` is the oldest thisUpdate among them.
    Good { crl_updated_at: i64 },
    /// No fresh answer, and `siths_revocation = "prefer"` lets the login go on.
    Unavailable,
    /// `siths_revocation = "off"`.
    NotChecked,
}

/// A chain a login would accept (the signature aside): whom it names and its revocation.
#[derive(Debug, Clone)]
pub struct Verified {
    pub staff: verify::Staff,
    pub revocation: RevocationOutcome,
}

fn unix_time(now: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(now.max(0).unsigned_abs()))
}

/// Checks `chain` (leaf first, DER) as a login does, all but the signature: trust, validity,
/// issuing CA and policy, key usage, HSA-id, then revocation as `siths_revocation` says. The
/// one check behind `POST /siths/sessions` and `POST /siths/check`.
pub async fn check_certificate(state: &AppState, chain: &[Vec<u8>]) -> Result<Verified, Rejection> {
    let now = state.now();
    let siths = state.siths();
    let checked = verify::check_chain(&siths.anchors, &siths.policy, chain, unix_time(now))?;
    let revocation = revocation(state, chain, &checked, now).await?;
    Ok(Verified {
        staff: checked.staff,
        revocation,
    })
}

/// Accepts a login: `signature` over the login message for this server's origin and
/// `challenge` with the key of `chain`'s leaf, and the chain as [`check_certificate`] has it.
/// The signature is checked before revocation, so a forged login costs no CRL download.
pub async fn verify_login(
    state: &AppState,
    chain: &[Vec<u8>],
    algorithm: SithsAlgorithm,
    challenge: &[u8; SITHS_CHALLENGE_LEN],
    signature: &[u8],
) -> Result<Verified, Rejection> {
    let now = state.now();
    let siths = state.siths();
    let checked = verify::check_chain(&siths.anchors, &siths.policy, chain, unix_time(now))?;
    let leaf = chain
        .first()
        .ok_or_else(|| Rejection::Untrusted("no certificate".into()))?;
    verify::check_signature(leaf, algorithm, state.public_origin(), challenge, signature)?;
    let revocation = revocation(state, chain, &checked, now).await?;
    Ok(Verified {
        staff: checked.staff,
        revocation,
    })
}

/// The revocation verdict under `siths_revocation`: `require` refuses without a fresh answer,
/// `prefer` logs and goes on, `off` does not ask. A revoked certificate is refused unless off.
async fn revocation(
    state: &AppState,
    chain: &[Vec<u8>],
    checked: &verify::CheckedChain,
    now: i64,
) -> Result<RevocationOutcome, Rejection> {
    let siths = state.siths();
    if siths.revocation == RevocationMode::Off {
        return Ok(RevocationOutcome::NotChecked);
    }
    match revocation_answer(state, chain, checked, now).await {
        Ok(crl_updated_at) => Ok(RevocationOutcome::Good { crl_updated_at }),
        Err(Rejection::RevocationUnavailable(reason))
            if siths.revocation == RevocationMode::Prefer =>
        {
            tracing::warn!(
                %reason,
                "SITHS revocation could not be checked; let in (siths_revocation = prefer)"
            );
            Ok(RevocationOutcome::Unavailable)
        }
        Err(rejection) => Err(rejection),
    }
}

/// The CRL of every certificate on the path (the first of its distribution points that
/// answers), then webpki's verdict with them; the oldest thisUpdate when none is revoked.
async fn revocation_answer(
    state: &AppState,
    chain: &[Vec<u8>],
    checked: &verify::CheckedChain,
    now: i64,
) -> Result<i64, Rejection> {
    let siths = state.siths();
    let mut lists = Vec::with_capacity(checked.revocable.len());
    let mut urls = Vec::with_capacity(checked.revocable.len());
    for certificate in &checked.revocable {
        let mut failure = "the certificate names no CRL distribution point".to_owned();
        let mut found = None;
        for url in &certificate.distribution_points {
            match siths.crls.get(url, &certificate.issuer, now).await {
                Ok(list) => {
                    found = Some((url.clone(), list));
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "a SITHS CRL could not be had");
                    failure = error.to_string();
                }
            }
        }
        let (url, list) = found.ok_or(Rejection::RevocationUnavailable(failure))?;
        urls.push(url);
        lists.push(list);
    }
    match revocation_verdict(&siths.anchors, chain, &lists, now) {
        Ok(crl_updated_at) => Ok(crl_updated_at),
        Err(Rejection::RevocationUnavailable(reason)) => {
            // A list that fails its signature (or its issuer) must not stay cached.
            for url in &urls {
                siths.crls.forget(url).await;
            }
            Err(Rejection::RevocationUnavailable(reason))
        }
        Err(rejection) => Err(rejection),
    }
}

/// webpki's verdict on `chain` with the lists had for its certificates (signatures checked
/// against the issuers on the verified path); the oldest thisUpdate when none is revoked. No
/// I/O: also the fuzzer's (`internal::crl_verdict`).
pub fn revocation_verdict(
    anchors: &TrustAnchors,
    chain: &[Vec<u8>],
    lists: &[revocation::Cached],
    now: i64,
) -> Result<i64, Rejection> {
    let crls: Vec<&webpki::CertRevocationList<'_>> =
        lists.iter().map(|list| list.crl.as_ref()).collect();
    verify::check_revocation(anchors, chain, &crls, unix_time(now))?;
    Ok(lists
        .iter()
        .map(|list| list.this_update)
        .min()
        .unwrap_or(now))
}

/// `POST /api/v1/siths/check`: what a login with this certificate would meet (chain,
/// validity, issuing CA and policy, revocation), without a challenge and without a session.
/// For the app's card view before the PIN, and for diagnostics.
pub async fn check(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<SithsCheckRequest>,
) -> Result<Json<SithsCheck>> {
    if state.siths_anchors().is_empty() {
        return Err(ApiError::SithsUnavailable);
    }
    state
        .limits()
        .siths_ip
        .reserve(&state, &ip.to_string())
        .await?;
    let chain = decode_chain(&request.certificates)?;
    let answer = match check_certificate(&state, &chain).await {
        Ok(verified) => match verified.revocation {
            RevocationOutcome::Good { crl_updated_at } => SithsCheck {
                code: None,
                revocation: SithsRevocationStatus::Good,
                crl_updated_at: Some(crl_updated_at),
            },
            RevocationOutcome::Unavailable => SithsCheck {
                code: None,
                revocation: SithsRevocationStatus::Unavailable,
                crl_updated_at: None,
            },
            RevocationOutcome::NotChecked => SithsCheck {
                code: None,
                revocation: SithsRevocationStatus::NotChecked,
                crl_updated_at: None,
            },
        },
        Err(rejection) => {
            tracing::info!(%rejection, "SITHS certificate check: would be refused");
            SithsCheck {
                code: Some(rejection.code()),
                revocation: match rejection {
                    Rejection::Revoked => SithsRevocationStatus::Revoked,
                    Rejection::RevocationUnavailable(_) => SithsRevocationStatus::Unavailable,
                    _ => SithsRevocationStatus::NotChecked,
                },
                crl_updated_at: None,
            }
        }
    };
    Ok(Json(answer))
}

/// The request's certificates as DER: at most [`MAX_CHAIN`], each standard base64.
fn decode_chain(certificates: &[String]) -> Result<Vec<Vec<u8>>> {
    if certificates.len() > MAX_CHAIN {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_CHAIN} certificates"
        )));
    }
    certificates
        .iter()
        .map(|certificate| STANDARD.decode(certificate))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::BadRequest("certificates: not base64".into()))
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
