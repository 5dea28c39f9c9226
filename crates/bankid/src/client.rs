//! The RP API client: `auth`, `sign`, `collect`, `cancel` over mutual TLS, and the mapping of
//! every answer (BankID's error body, a proxy's HTML page, 429, TLS failures) onto [`Error`].
//! It polls nothing by itself and retries nothing: the caller decides, per BankID's advice.

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::error::{ConfigError, Error, ErrorBody, Result};
use crate::fields::OrderRef;
use crate::tls::{client_tls_config, RpIdentity, ServerCa};
use crate::types::{AuthRequest, CollectResponse, OrderRefRequest, OrderResponse, SignRequest};

/// BankID's test environment.
pub const TEST_BASE_URL: &str = "https://appapi2.test.bankid.com/rp/v6.0/";
/// BankID's production environment.
pub const PRODUCTION_BASE_URL: &str = "https://appapi2.bankid.com/rp/v6.0/";

/// Where and as whom the client talks to BankID.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The RP API base, e.g. [`TEST_BASE_URL`]; a trailing slash is added if missing.
    pub base_url: Url,
    pub identity: RpIdentity,
    /// The only CA the server certificate may chain to.
    pub server_ca: ServerCa,
    /// For the whole request, connection included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl ClientConfig {
    pub fn new(base_url: Url, identity: RpIdentity, server_ca: ServerCa) -> Self {
        ClientConfig {
            base_url,
            identity,
            server_ca,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A BankID RP API v6.0 client. Cheap to clone; share one per RP identity.
#[derive(Debug, Clone)]
pub struct RpClient {
    http: reqwest::Client,
    base_url: Url,
}

impl RpClient {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let mut base_url = config.base_url;
        if base_url.scheme() != "https" || base_url.cannot_be_a_base() {
            return Err(ConfigError::BaseUrl(base_url.to_string()).into());
        }
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let tls = client_tls_config(&config.identity, &config.server_ca)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ConfigError::Http)?;
        Ok(RpClient { http, base_url })
    }

    /// `/auth`: start an identification.
    pub async fn auth(&self, request: &AuthRequest) -> Result<OrderResponse> {
        self.call("auth", request).await
    }

    /// `/sign`: start a signature.
    pub async fn sign(&self, request: &SignRequest) -> Result<OrderResponse> {
        self.call("sign", request).await
    }

    /// `/collect`: the order's current state. Call every 2 s while pending, and stop at
    /// `complete` or `failed`.
    pub async fn collect(&self, order_ref: &OrderRef) -> Result<CollectResponse> {
        self.call(
            "collect",
            &OrderRefRequest {
                order_ref: *order_ref,
            },
        )
        .await
    }

    /// `/cancel`: end a pending order. Cancelling an order BankID no longer has gives
    /// `invalidParameters`.
    pub async fn cancel(&self, order_ref: &OrderRef) -> Result<()> {
        let _: serde::de::IgnoredAny = self
            .call(
                "cancel",
                &OrderRefRequest {
                    order_ref: *order_ref,
                },
            )
            .await?;
        Ok(())
    }

    async fn call<B: Serialize, T: DeserializeOwned>(&self, endpoint: &str, body: &B) -> Result<T> {
        let url = self
            .base_url
            .join(endpoint)
            .map_err(|_| ConfigError::BaseUrl(self.base_url.to_string()))?;
        let response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(transport_error)?;
        tracing::debug!(endpoint, status = status.as_u16(), "BankID answered");
        interpret(status, &headers, &bytes)
    }
}

/// Turns one HTTP answer into the typed result. Pure, so every odd answer is unit-tested.
pub fn interpret<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T> {
    let content_type = || {
        headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("no content type")
            .to_owned()
    };
    if status.is_success() {
        return serde_json::from_slice(body).map_err(|_| Error::UnexpectedResponse {
            status: status.as_u16(),
            content_type: content_type(),
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(Error::RateLimited {
            retry_after: retry_after(headers),
        });
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => Err(Error::Rp {
            status: status.as_u16(),
            code: error.error_code,
            details: error.details,
        }),
        Err(_) => Err(Error::UnexpectedResponse {
            status: status.as_u16(),
            content_type: content_type(),
        }),
    }
}

/// Seconds from `Retry-After` or, as BankID sends it, `RateLimit-Reset`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    [RETRY_AFTER.as_str(), "ratelimit-reset"]
        .iter()
        .filter_map(|name| {
            headers
                .get(*name)?
                .to_str()
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(Duration::from_secs)
        .next()
}

/// Finds the TLS failure under reqwest's, hyper's and io's wrappers, so "wrong server CA" and
/// "client certificate refused" surface as [`Error::Tls`] rather than a generic transport error.
fn transport_error(error: reqwest::Error) -> Error {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Error::Tls(tls.clone());
        }
        cause = next_cause(current);
    }
    if error.is_timeout() {
        Error::Timeout(error)
    } else {
        Error::Transport(error)
    }
}

/// The next error down the chain. io::Error's `source()` skips the error it wraps, and hyper
/// nests io errors in io errors, so step into the wrapped one explicitly.
fn next_cause<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => error.source(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::rfa::RfaCode;
    use reqwest::header::HeaderValue;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    fn error_of(status: u16, headers: &HeaderMap, body: &str) -> Error {
        let status = StatusCode::from_u16(status).expect("valid status");
        match interpret::<serde_json::Value>(status, headers, body.as_bytes()) {
            Ok(value) => panic!("expected an error, got {value}"),
            Err(error) => error,
        }
    }

    #[test]
    fn every_documented_error_body_maps_to_its_code_and_message() {
        let table = [
            (400, "alreadyInProgress", RfaCode::Rfa4),
            (400, "invalidParameters", RfaCode::Rfa5),
            (401, "unauthorized", RfaCode::Rfa5),
            (404, "notFound", RfaCode::Rfa5),
            (405, "methodNotAllowed", RfaCode::Rfa5),
            (408, "requestTimeout", RfaCode::Rfa5),
            (415, "unsupportedMediaType", RfaCode::Rfa5),
            (500, "internalError", RfaCode::Rfa5),
            (503, "maintenance", RfaCode::Rfa5),
        ];
        for (status, code, rfa) in table {
            let body = format!(r#"{{"errorCode":"{code}","details":"d"}}"#);
            let error = error_of(status, &json_headers(), &body);
            match &error {
                Error::Rp {
                    status: got_status,
                    code: got_code,
                    details,
                } => {
                    assert_eq!(*got_status, status);
                    assert_eq!(got_code.as_str(), code);
                    assert!(
                        !matches!(got_code, ErrorCode::Unknown(_)),
                        "{code} is known"
                    );
                    assert_eq!(details, "d");
                }
                other => panic!("{code}: {other:?}"),
            }
            assert_eq!(error.rfa(), rfa, "{code}");
            assert_eq!(error.may_retry_quietly(), code == "maintenance");
        }
    }

    #[test]
    fn unknown_error_code_and_missing_details_are_kept() {
        let error = error_of(
            400,
            &json_headers(),
            r#"{"errorCode":"somethingNew","x":1}"#,
        );
        assert!(matches!(
            &error,
            Error::Rp { code: ErrorCode::Unknown(code), details, .. }
                if code == "somethingNew" && details.is_empty()
        ));
        assert_eq!(error.rfa(), RfaCode::Rfa22);
    }

    #[test]
    fn html_error_page_from_a_proxy_is_an_unexpected_response() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        let error = error_of(
            502,
            &headers,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        );
        assert!(matches!(
            &error,
            Error::UnexpectedResponse { status: 502, content_type } if content_type == "text/html"
        ));
        assert_eq!(error.rfa(), RfaCode::Rfa5);
    }

    #[test]
    fn success_status_with_a_body_that_is_not_json_is_an_unexpected_response() {
        let status = StatusCode::OK;
        let result = interpret::<OrderResponse>(status, &HeaderMap::new(), b"<html>login</html>");
        assert!(matches!(
            result,
            Err(Error::UnexpectedResponse { status: 200, .. })
        ));
    }

    #[test]
    fn rate_limit_is_typed_with_its_reset_time() {
        let mut headers = HeaderMap::new();
        headers.insert("RateLimit-Reset", HeaderValue::from_static("7"));
        let error = error_of(429, &headers, "Too Many Requests");
        assert!(matches!(
            error,
            Error::RateLimited { retry_after: Some(wait) } if wait == Duration::from_secs(7)
        ));
        let error = error_of(429, &HeaderMap::new(), "");
        assert!(matches!(error, Error::RateLimited { retry_after: None }));
        assert_eq!(error.rfa(), RfaCode::Rfa5);
    }

    #[test]
    fn cancel_answer_is_an_empty_object() {
        let result = interpret::<serde::de::IgnoredAny>(StatusCode::OK, &json_headers(), b"{}");
        assert!(result.is_ok());
    }
}
