//! What the backend answers, as the app's API client decodes it (`ApiClient`'s `decode_body`):
//! every answer type the app reads, under any status, with any body — ours, a proxy's HTML
//! page, a truncated JSON. The input: the answer-type byte, the status byte, then the body.
#![no_main]

use legitimera_client::bankid::BankIdView;
use legitimera_client::internal::decode_body;
use legitimera_client::{AppError, UiError};
use legitimera_fuzz::CLIENT_STATUSES;
use legitimera_protocol::{
    BankIdOrder, CasesAnswer, Challenge, DevicesAnswer, ErrorBody, Health, LoginAnswer,
    LoginChallenge, OutboxMessage, Session, SessionStatus, SithsChallenge, SithsCheck,
    SithsTestLoginAnswer, StaffLanding,
};
use libfuzzer_sys::fuzz_target;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

fn status(byte: u8) -> StatusCode {
    let code = CLIENT_STATUSES
        .get(usize::from(byte))
        .copied()
        .unwrap_or(100 + u16::from(byte) * 2 % 500);
    StatusCode::from_u16(code).expect("100..=599 is a status code")
}

/// Decodes `body` as `T` and checks what the app would do with the result.
fn decode<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Option<T> {
    match decode_body::<T>(status, body) {
        Ok(answer) => {
            assert!(
                status.is_success(),
                "an error status was taken as an answer"
            );
            Some(answer)
        }
        Err(error) => {
            check_error(status, body, &error);
            None
        }
    }
}

fn check_error(status: StatusCode, body: &[u8], error: &AppError) {
    let code = error.code();
    let _ = error.ends_session();
    let _ = error.to_string();
    // What the UI receives must serialize: the webview gets it as JSON.
    let ui = UiError::from(error);
    serde_json::to_string(&ui).expect("the UI's error serializes");
    // An error body of ours under an error status keeps its code (but a 503 about the service
    // itself is shown as the service being unavailable).
    if !status.is_success() && status != StatusCode::SERVICE_UNAVAILABLE {
        if let Ok(ours) = serde_json::from_slice::<ErrorBody>(body) {
            assert_eq!(code, ours.code, "the backend's code was replaced");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [kind, status_byte, body @ ..] = data else {
        return;
    };
    let status = status(*status_byte);
    match kind % 15 {
        0 => drop(decode::<Health>(status, body)),
        1 => drop(decode::<Challenge>(status, body)),
        2 => drop(decode::<LoginAnswer>(status, body)),
        3 => drop(decode::<Session>(status, body)),
        4 => drop(decode::<LoginChallenge>(status, body)),
        5 => drop(decode::<SessionStatus>(status, body)),
        6 => drop(decode::<DevicesAnswer>(status, body)),
        7 => drop(decode::<CasesAnswer>(status, body)),
        8 => drop(decode::<SithsChallenge>(status, body)),
        9 => drop(decode::<StaffLanding>(status, body)),
        10 => drop(decode::<Vec<OutboxMessage>>(status, body)),
        11 => {
            // A BankID order goes on to the view the UI draws, its QR code included.
            if let Some(order) = decode::<BankIdOrder>(status, body) {
                let view = BankIdView::of(1, &order);
                serde_json::to_string(&view).expect("the BankID view serializes");
            }
        }
        13 => drop(decode::<SithsCheck>(status, body)),
        14 => drop(decode::<SithsTestLoginAnswer>(status, body)),
        // 12: what the app asks only for the status of (BankID's cancel, 204 answers).
        _ => drop(decode::<serde_json::Value>(status, body)),
    }
});
