//! The HTTP surface: routes under `/api/v1`, request tracing without personal data, and JSON
//! errors for everything, including unknown routes.

use axum::extract::{MatchedPath, State};
use axum::http::Request;
use axum::routing::get;
use axum::{Json, Router};
use legitimera_protocol::Health;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, Result};
use crate::AppState;

pub fn router(state: AppState) -> Router {
    let api = Router::new().route("/health", get(health));
    Router::new()
        .nest(legitimera_protocol::API_PREFIX, api)
        .fallback(not_found)
        .layer(
            // Only the method and the route pattern: a path or query may carry personal data.
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "(unmatched)".to_owned());
                tracing::info_span!("request", method = %request.method(), route)
            }),
        )
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Result<Json<Health>> {
    sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(state.pool())
        .await
        .map_err(ApiError::DatabaseUnavailable)?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        demo: state.demo(),
    }))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
