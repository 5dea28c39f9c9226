//! Request extractors that answer in the API's error shape: a JSON body whose rejection is a
//! `bad_request`, and the client's address for rate limits.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::AppState;

/// A JSON request body; a malformed one is `400 bad_request` as JSON, like every other error.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Body(value))
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
                // A body that stopped arriving: the request timeout (or the client) ended it.
                StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout,
                _ => ApiError::BadRequest(rejection.body_text()),
            })
    }
}

/// The client's address: the peer of the connection, or, when a trusted reverse proxy is
/// configured (`trusted_proxy_header`), the right-most address in that header (the one the
/// proxy itself added; anything left of it the client could have written). Without the header
/// the peer is used. Behind a proxy that is not configured, every client shares the proxy's
/// address, which is why the limits per address are generous.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state.trusted_proxy_header().and_then(|name| {
            let last = parts.headers.get_all(name).iter().next_back()?;
            rightmost_address(last.to_str().ok()?)
        });
        let ip = forwarded
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip())
            })
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(ip.to_canonical()))
    }
}

/// What the limits per address count by: an IPv4 address as it is, an IPv6 address by its
/// /64. One subscriber usually gets a whole /64 and picks addresses in it freely, so counting
/// each /128 would give one client 2^64 fresh allowances.
pub fn limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}

/// The last entry of a comma-separated address list such as `X-Forwarded-For`, with or
/// without a port (`192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`).
pub fn rightmost_address(list: &str) -> Option<IpAddr> {
    let entry = list.rsplit(',').next()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_per_64_and_ipv4_per_address() {
        let key = |text: &str| limit_key(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(
            key("::ffff:192.0.2.7"),
            "192.0.2.7",
            "IPv4-mapped counts as IPv4"
        );
    }

    #[test]
    fn rightmost_forwarded_address_wins_with_or_without_port() {
        assert_eq!(
            rightmost_address("203.0.113.9, 198.51.100.7"),
            Some(IpAddr::from([198, 51, 100, 7]))
        );
        assert_eq!(
            rightmost_address("198.51.100.7:4711"),
            Some(IpAddr::from([198, 51, 100, 7]))
        );
        assert_eq!(
            rightmost_address("[2001:db8::1]:4711"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(rightmost_address("2001:db8::1"), "2001:db8::1".parse().ok());
        assert_eq!(rightmost_address("198.51.100.7, unknown"), None);
    }
}
