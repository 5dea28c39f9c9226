//! The RP API v6.0 as the simulator serves it: request checks BankID makes (JSON content type,
//! required fields, lengths, a valid personnummer) and BankID's `{errorCode, details}` answers.
//! The rules of an order's life are in `orders`; this module only translates HTTP.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::de::DeserializeOwned;

use super::orders::{NewOrder, Refusal};
use super::Shared;
use crate::error::{ErrorBody, ErrorCode};
use crate::types::{AuthRequest, OrderRefRequest, SignRequest, UserVisibleData};

/// BankID's limits on the base64 text, in characters.
const AUTH_VISIBLE_MAX: usize = 1_500;
const SIGN_VISIBLE_MAX: usize = 40_000;
const NON_VISIBLE_MAX: usize = 200_000;
const RETURN_URL_MAX: usize = 512;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/rp/v6.0/auth", post(auth))
        .route("/rp/v6.0/sign", post(sign))
        .route("/rp/v6.0/collect", post(collect))
        .route("/rp/v6.0/cancel", post(cancel))
        .method_not_allowed_fallback(|| async {
            bankid_error(ErrorCode::MethodNotAllowed, "Method not allowed")
        })
        .fallback(|| async { bankid_error(ErrorCode::NotFound, "Not found") })
        .with_state(shared)
}

fn bankid_error(code: ErrorCode, details: &str) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = ErrorBody {
        error_code: code,
        details: details.to_owned(),
    };
    (status, Json(body)).into_response()
}

fn invalid(details: &'static str) -> Refusal {
    Refusal {
        code: ErrorCode::InvalidParameters,
        details,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        bankid_error(self.code, self.details)
    }
}

/// Reads the body as BankID does: JSON content type, then fields; anything wrong is
/// `invalidParameters` (or `unsupportedMediaType`).
fn read<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, Refusal> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !json {
        return Err(Refusal {
            code: ErrorCode::UnsupportedMediaType,
            details: "Content-Type must be application/json",
        });
    }
    serde_json::from_slice(body).map_err(|_| invalid("Invalid parameters"))
}

fn check_data(
    data: Option<&UserVisibleData>,
    max: usize,
    refusal: &'static str,
) -> Result<(), Refusal> {
    if let Some(data) = data {
        let encoded = data.encoded();
        if encoded.is_empty()
            || encoded.len() > max
            || base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .is_err()
        {
            return Err(invalid(refusal));
        }
    }
    Ok(())
}

fn check_return_url(url: Option<&String>) -> Result<(), Refusal> {
    match url {
        Some(url) if url.is_empty() || url.chars().count() > RETURN_URL_MAX => {
            Err(invalid("Invalid returnUrl"))
        }
        _ => Ok(()),
    }
}

async fn auth(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(code) = shared.take_refusal() {
        return bankid_error(code, "Refused by the simulator on request");
    }
    let request: AuthRequest = match read(&headers, &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let checks = check_data(
        request.user_visible_data.as_ref(),
        AUTH_VISIBLE_MAX,
        "Invalid userVisibleData",
    )
    .and_then(|()| {
        check_data(
            request.user_non_visible_data.as_ref(),
            NON_VISIBLE_MAX,
            "Invalid userNonVisibleData",
        )
    })
    .and_then(|()| check_return_url(request.return_url.as_ref()));
    if let Err(refusal) = checks {
        return refusal.into_response();
    }
    let requirement = request.requirement.unwrap_or_default();
    let order = NewOrder {
        end_user_ip: request.end_user_ip,
        required_person: requirement.personal_number,
        mrtd: requirement.mrtd.unwrap_or(false),
        return_risk: request.return_risk.unwrap_or(false),
        user_visible_data: request
            .user_visible_data
            .map(|data| data.encoded().to_owned()),
    };
    let now = shared.clock.now();
    let created = shared.orders().create(order, now);
    match created {
        Ok(response) => Json(response).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn sign(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(code) = shared.take_refusal() {
        return bankid_error(code, "Refused by the simulator on request");
    }
    let request: SignRequest = match read(&headers, &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let checks = check_data(
        Some(&request.user_visible_data),
        SIGN_VISIBLE_MAX,
        "Invalid userVisibleData",
    )
    .and_then(|()| {
        check_data(
            request.user_non_visible_data.as_ref(),
            NON_VISIBLE_MAX,
            "Invalid userNonVisibleData",
        )
    })
    .and_then(|()| check_return_url(request.return_url.as_ref()));
    if let Err(refusal) = checks {
        return refusal.into_response();
    }
    let requirement = request.requirement.unwrap_or_default();
    let order = NewOrder {
        end_user_ip: request.end_user_ip,
        required_person: requirement.personal_number,
        mrtd: requirement.mrtd.unwrap_or(false),
        return_risk: request.return_risk.unwrap_or(false),
        user_visible_data: Some(request.user_visible_data.encoded().to_owned()),
    };
    let now = shared.clock.now();
    let created = shared.orders().create(order, now);
    match created {
        Ok(response) => Json(response).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn collect(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.count_collect();
    let request: OrderRefRequest = match read(&headers, &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let now = shared.clock.now();
    let collected = shared.orders().collect(&request.order_ref, now);
    match collected {
        Ok(response) => Json(response).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn cancel(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request: OrderRefRequest = match read(&headers, &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let now = shared.clock.now();
    let cancelled = shared.orders().cancel(&request.order_ref, now);
    match cancelled {
        Ok(()) => Json(serde_json::json!({})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}
