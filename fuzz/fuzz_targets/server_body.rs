//! Every JSON request body the server takes, through the extractor its routes use
//! (`extract::Body`), then the field parsers the handlers apply. The first byte picks the
//! request type (low nibble) and the Content-Type (bits 4–5); the rest is the body. Whatever
//! the extractor accepts must serialize and parse back to the same value.
#![no_main]

use std::fmt::Debug;

use axum::extract::{FromRequest as _, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use legitimera_fuzz::ready;
use legitimera_protocol::{
    BankIdOrderRequest, CodeRequest, Email, EmailLoginRequest, ForgetDeviceRequest, LoginRequest,
    LoginResendRequest, NewPasswordRequest, OneTimeCode, Password, PasswordChangeRequest,
    PasswordResetRequest, PhoneChangeRequest, PhoneNumber, RegistrationRequest, SithsCheckRequest,
    SithsLoginRequest, SmsLoginRequest,
};
use legitimera_server::internal::Body;
use legitimera_server::passwords;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    None,
];

fn extract<T>(content_type: Option<&str>, body: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let mut request = Request::builder().method("POST").uri("/api/v1/fuzz");
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let request = request
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a constant method, URI and header make a request");
    match ready(Body::<T>::from_request(request, &())) {
        Ok(Body(value)) => {
            let json = serde_json::to_vec(&value).expect("a request type serializes");
            let again: T = serde_json::from_slice(&json).expect("its own JSON parses");
            assert_eq!(again, value, "the round trip changed the request");
            Some(value)
        }
        Err(rejection) => {
            let _ = rejection.into_response();
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector >> 4) % CONTENT_TYPES.len()];
    match selector & 0x0F {
        0 => {
            if let Some(request) = extract::<RegistrationRequest>(content_type, body) {
                let _ = Email::parse(&request.email);
                let _ = Password::parse(&request.password);
                request.phone.as_deref().map(PhoneNumber::parse);
            }
        }
        1 => {
            if let Some(request) = extract::<CodeRequest>(content_type, body) {
                let _ = OneTimeCode::parse(request.code.expose());
            }
        }
        2 => {
            if let Some(request) = extract::<LoginRequest>(content_type, body) {
                let _ = Email::parse(&request.email);
            }
        }
        3 => {
            if let Some(request) = extract::<SmsLoginRequest>(content_type, body) {
                let _ = OneTimeCode::parse(request.code.expose());
            }
        }
        4 => {
            extract::<LoginResendRequest>(content_type, body);
        }
        5 => {
            if let Some(request) = extract::<PhoneChangeRequest>(content_type, body) {
                let _ = PhoneNumber::parse(&request.phone);
                request.email.as_deref().map(Email::parse);
            }
        }
        6 => {
            extract::<ForgetDeviceRequest>(content_type, body);
        }
        7 => {
            extract::<BankIdOrderRequest>(content_type, body);
        }
        9 => {
            if let Some(request) = extract::<EmailLoginRequest>(content_type, body) {
                let _ = OneTimeCode::parse(request.code.expose());
            }
        }
        10 => {
            if let Some(request) = extract::<PasswordResetRequest>(content_type, body) {
                let _ = Email::parse(&request.email);
            }
        }
        11 => {
            if let Some(request) = extract::<NewPasswordRequest>(content_type, body) {
                let _ = passwords::normalize(&request.password);
            }
        }
        12 => {
            if let Some(request) = extract::<PasswordChangeRequest>(content_type, body) {
                let _ = passwords::normalize(&request.new);
            }
        }
        13 => {
            // The chain as `siths::check` decodes it; what it then checks is `siths_login`'s.
            if let Some(request) = extract::<SithsCheckRequest>(content_type, body) {
                for certificate in &request.certificates {
                    let _ = STANDARD.decode(certificate);
                }
            }
        }
        // 8, 14, 15.
        _ => {
            extract::<SithsLoginRequest>(content_type, body);
        }
    }
});
