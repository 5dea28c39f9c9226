//! The client of the e-service backend: every network call the app makes goes through here
//! (the webview makes none). It knows HTTP and the wire types, nothing of Tauri.

use std::time::Duration;

use legitimera_protocol::{ErrorBody, Health};
use reqwest::StatusCode;

use crate::config::BackendUrl;
use crate::error::{AppError, Result};

#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: BackendUrl,
}

impl ApiClient {
    pub fn new(base: BackendUrl) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Legitimera/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            // Redirects could take a bearer token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(AppError::BackendUnreachable)?;
        Ok(ApiClient { http, base })
    }

    pub fn base(&self) -> &BackendUrl {
        &self.base
    }

    /// `GET /api/v1/health`: Ok only when the backend and its database answer.
    pub async fn health(&self) -> Result<Health> {
        let url = self.base.join("api/v1/health")?;
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(AppError::BackendUnreachable)?;
        let health: Health = decode(response).await?;
        if health.status == "ok" {
            Ok(health)
        } else {
            Err(AppError::BackendUnavailable { status: 200 })
        }
    }
}

/// Turns a response into `T`, or into the backend's `{code, message}` error, or — for anything
/// that is not ours (a proxy's HTML page, a 502) — into `backend_unavailable`.
async fn decode<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(AppError::BackendUnreachable)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|_| AppError::BackendUnavailable {
            status: status.as_u16(),
        });
    }
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) if status != StatusCode::SERVICE_UNAVAILABLE => Err(AppError::Backend {
            code: body.code,
            status: status.as_u16(),
        }),
        _ => Err(AppError::BackendUnavailable {
            status: status.as_u16(),
        }),
    }
}
