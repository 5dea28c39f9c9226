//! What one client, or many, can make the server hold: how long a request header may take
//! (hyper's timer, set where connections are served in `lib.rs`), how long a request may take,
//! how many run at once (the rest are shed with `503 overloaded` at once, not queued without
//! end), and how large a body may be. Also the last word on errors: whatever answers an error
//! without JSON (axum's 405, a rejected query, a layer) is given the API's `{code, message}`
//! (what hyper refuses before the router, in `parse_errors`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::config::HttpLimits;
use crate::error::ApiError;

/// The BankID long poll: it answers within its own bound (`bankid::MAX_WAIT_SECONDS`), so the
/// request timeout does not cut it short.
const LONG_POLL_ROUTE: &str = "/api/v1/bankid/orders/{id}";

/// What a shed request is told to wait before trying again, in seconds.
const OVERLOADED_RETRY_AFTER: u64 = 1;

/// The shared state of the request limits.
#[derive(Debug, Clone)]
pub struct Gate {
    permits: Arc<Semaphore>,
    request_timeout: Duration,
    long_poll_timeout: Duration,
    max_body_bytes: usize,
}

impl Gate {
    pub fn new(limits: &HttpLimits) -> Self {
        Gate {
            permits: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
            request_timeout: limits.request_timeout,
            long_poll_timeout: Duration::from_secs(crate::bankid::MAX_WAIT_SECONDS)
                + limits.request_timeout,
            max_body_bytes: limits.max_body_bytes,
        }
    }
}

/// Every request, in one layer (each layer of its own cost a few per cent of a session check
/// under load, `cargo xtask bench load`): its span, with only the method and the route
/// pattern (a path or query may carry personal data); [`limit`]; [`json_error`]; a DEBUG line
/// with the status and latency of every answer, and an error line for a 5xx one, as
/// tower-http's trace layer wrote them (operators and the end-to-end tests read them).
pub async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let span = {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("(unmatched)", MatchedPath::as_str);
        tracing::info_span!("request", method = %request.method(), route)
    };
    async move {
        let started = Instant::now();
        let response = json_error(limit(&gate, request, next).await);
        let latency = started.elapsed().as_millis();
        tracing::debug!(
            latency = %format_args!("{latency} ms"),
            status = response.status().as_u16(),
            "finished processing request"
        );
        if response.status().is_server_error() {
            tracing::error!(
                classification = %format_args!("Status code: {}", response.status()),
                latency = %format_args!("{latency} ms"),
                "response failed"
            );
        }
        response
    }
    .instrument(span)
    .await
}

/// At most `max_concurrent_requests` requests in the handlers at once, each for at most
/// `request_timeout`; a request over the limit is `503 overloaded` with `Retry-After`. A body
/// declared larger than `max_body_bytes` is `413` at once: the body limit itself only counts
/// what arrives, so a client announcing 1 GB and sending nothing held a permit until the
/// request timeout and was told `408`.
async fn limit(gate: &Gate, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > gate.max_body_bytes as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    let Ok(_permit) = gate.permits.clone().try_acquire_owned() else {
        tracing::warn!("overloaded: request shed");
        return ApiError::Overloaded {
            retry_after: OVERLOADED_RETRY_AFTER,
        }
        .into_response();
    };
    let long_poll = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| path.as_str() == LONG_POLL_ROUTE);
    let timeout = if long_poll {
        gate.long_poll_timeout
    } else {
        gate.request_timeout
    };
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request timed out");
            ApiError::RequestTimeout.into_response()
        }
    }
}

/// Gives an error answer without a JSON body the API's `{code, message}`.
fn json_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::URI_TOO_LONG => ApiError::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::HeadersTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => ApiError::Overloaded {
            retry_after: OVERLOADED_RETRY_AFTER,
        },
        // The text may quote what the client sent (a query string): not repeated.
        s if s.is_client_error() => ApiError::BadRequest(format!("the request was refused ({s})")),
        _ => ApiError::Internal(anyhow::anyhow!("an error answer without a body ({status})")),
    };
    let mut answer = error.into_response();
    // Keep what the original said about the method or the wait (Allow, Retry-After).
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    *answer.status_mut() = status;
    answer
}

fn is_json(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
