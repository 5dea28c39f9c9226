//! `POST /api/v1/siths/test-logins`: the diagnostics' test login. The card's signature over a
//! challenge is checked exactly as a SITHS login checks it (`siths::verify_signed_challenge`:
//! the challenge is spent, the chain and the signature verified) and answered as a login would
//! have been — the same errors — but no staff row is written and no session is made. Never logs
//! who it was.

use axum::extract::State;
use axum::Json;
use legitimera_protocol::{Assurance, SithsLoginRequest, SithsTestLoginAnswer};

use crate::error::Result;
use crate::extract::Body;
use crate::{siths, AppState};

pub async fn test_login(
    State(state): State<AppState>,
    Body(request): Body<SithsLoginRequest>,
) -> Result<Json<SithsTestLoginAnswer>> {
    siths::verify_signed_challenge(&state, &request).await?;
    tracing::info!(algorithm = ?request.algorithm, "SITHS test login would have succeeded");
    Ok(Json(SithsTestLoginAnswer {
        would_log_in: true,
        // What `sessions::create_for_staff` gives every SITHS session.
        assurance: Assurance::High,
    }))
}
