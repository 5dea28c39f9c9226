//! What the BankID RP API answers, as the client interprets it (`client::interpret`): `auth`
//! and `sign` orders, `collect` states, `cancel`, error bodies, rate limits, and anything that
//! is not JSON. The input: the endpoint byte, the status byte, a header value's length byte
//! and that many bytes (sent as Content-Type, Retry-After and RateLimit-Reset), then the body.
#![no_main]

use legitimera_bankid::internal::interpret;
use legitimera_bankid::{CollectResponse, Error, OrderResponse, UserDevice};
use legitimera_fuzz::BANKID_STATUSES;
use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

fn status(byte: u8) -> StatusCode {
    let code = BANKID_STATUSES
        .get(usize::from(byte))
        .copied()
        .unwrap_or(100 + u16::from(byte) * 2 % 500);
    StatusCode::from_u16(code).expect("100..=599 is a status code")
}

fn check<T>(status: StatusCode, result: &Result<T, Error>) {
    match result {
        Ok(_) => assert!(
            status.is_success(),
            "an error status was taken as an answer"
        ),
        Err(error) => {
            let _ = error.rfa();
            let _ = error.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [endpoint, status_byte, header_len, rest @ ..] = data else {
        return;
    };
    let status = status(*status_byte);
    let (header, body) = rest.split_at(usize::from(*header_len).min(rest.len()));
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(header) {
        headers.insert(CONTENT_TYPE, value.clone());
        headers.insert(RETRY_AFTER, value.clone());
        headers.insert("ratelimit-reset", value);
    }
    match endpoint % 3 {
        0 => {
            let answer = interpret::<OrderResponse>(status, &headers, body);
            check(status, &answer);
        }
        1 => {
            let answer = interpret::<CollectResponse>(status, &headers, body);
            check(status, &answer);
            if let Ok(answer) = answer {
                let _ = answer.rfa(UserDevice::ThisDevice);
                let _ = answer.rfa(UserDevice::OtherDevice);
            }
        }
        _ => {
            let answer = interpret::<serde::de::IgnoredAny>(status, &headers, body);
            check(status, &answer);
        }
    }
});
