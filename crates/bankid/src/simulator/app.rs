//! The "test BankID app": what a user's BankID app would do with an order — open it from an
//! autostart token or a scanned QR code (checked like the real app checks it), ask for the
//! security code, then identify as a test person or cancel. A Rust API for tests and the
//! server's demo mode, and the same as HTTP endpoints ([`TestApp::router`]).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::Shared;
use crate::fields::{AutoStartToken, OrderRef, Personnummer};

/// How the app found the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The QR data the camera read: `bankid.<qrStartToken>.<seconds>.<code>`.
    Qr(String),
    /// The token from `bankid:///?autostarttoken=…`.
    AutoStart(AutoStartToken),
}

/// Whose BankID is in the app.
#[derive(Clone, PartialEq, Eq)]
pub struct TestPerson {
    pub personal_number: Personnummer,
    pub given_name: String,
    pub surname: String,
}

/// The simulator's demo people: `(personnummer, given name, surname)`. The first is the
/// default. The numbers have valid check digits and are made up.
pub const DEMO_PEOPLE: &[(&str, &str, &str)] = &[
    ("199001012385", "Amira", "Demosson"),
    ("198112289874", "Erik", "Provsson"),
    ("200001010107", "Tess", "Testsson"),
];

impl TestPerson {
    pub fn new(personal_number: Personnummer, given_name: &str, surname: &str) -> Self {
        TestPerson {
            personal_number,
            given_name: given_name.to_owned(),
            surname: surname.to_owned(),
        }
    }

    /// The default demo person (the first of [`DEMO_PEOPLE`]).
    pub fn demo() -> Self {
        TestPerson::with_number(Personnummer::parse(DEMO_PEOPLE[0].0).unwrap_or_else(|_| {
            unreachable!("DEMO_PEOPLE holds valid numbers; a unit test checks it")
        }))
    }

    /// The demo person with this number, or "Test Testsson" for any other valid number.
    pub fn with_number(personal_number: Personnummer) -> Self {
        let (given_name, surname) = DEMO_PEOPLE
            .iter()
            .find(|(number, _, _)| *number == personal_number.expose())
            .map(|(_, given_name, surname)| (*given_name, *surname))
            .unwrap_or(("Test", "Testsson"));
        TestPerson::new(personal_number, given_name, surname)
    }
}

impl fmt::Debug for TestPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPerson")
            .field("personal_number", &self.personal_number)
            .finish_non_exhaustive()
    }
}

/// Why the test app could not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("this is not BankID QR data")]
    UnreadableQr,
    #[error("the QR code was not made with this order's secret")]
    InvalidQrCode,
    #[error("the QR code is too old (or from the future); scan the current one")]
    StaleQr,
    #[error("no order has this token")]
    NoSuchOrder,
    #[error("the order is no longer waiting for this step")]
    NotPending,
    #[error("the order requires another person's BankID")]
    WrongPerson,
}

impl AppError {
    /// A stable code for the HTTP control API.
    pub fn code(self) -> &'static str {
        match self {
            AppError::UnreadableQr => "unreadable_qr",
            AppError::InvalidQrCode => "invalid_qr_code",
            AppError::StaleQr => "stale_qr",
            AppError::NoSuchOrder => "no_such_order",
            AppError::NotPending => "order_not_pending",
            AppError::WrongPerson => "wrong_person",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            AppError::UnreadableQr | AppError::InvalidQrCode => StatusCode::BAD_REQUEST,
            AppError::NoSuchOrder => StatusCode::NOT_FOUND,
            AppError::StaleQr | AppError::NotPending => StatusCode::CONFLICT,
            AppError::WrongPerson => StatusCode::FORBIDDEN,
        }
    }
}

/// The test BankID app of one simulator. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub(crate) shared: Arc<Shared>,
}

impl TestApp {
    /// Opens the order (`started`) in a BankID app on the computer the RP saw: its
    /// `completionData.device.ipAddress` will be the `endUserIp` the RP sent. Use the returned
    /// handle to move it on step by step.
    pub fn open(&self, scan: &Scan, person: &TestPerson) -> Result<OpenedOrder, AppError> {
        self.open_at(scan, person, None)
    }

    /// Opens the order in a BankID app that reaches BankID from `device_ip`: another phone or
    /// computer, e.g. someone an autostart link was relayed to. BankID reports `device_ip` as
    /// `completionData.device.ipAddress`.
    pub fn open_from(
        &self,
        scan: &Scan,
        person: &TestPerson,
        device_ip: IpAddr,
    ) -> Result<OpenedOrder, AppError> {
        self.open_at(scan, person, Some(device_ip))
    }

    fn open_at(
        &self,
        scan: &Scan,
        person: &TestPerson,
        device_ip: Option<IpAddr>,
    ) -> Result<OpenedOrder, AppError> {
        let now = self.shared.clock.now();
        let order_ref = self.shared.orders().open(scan, person, device_ip, now)?;
        Ok(OpenedOrder {
            app: self.clone(),
            order_ref,
        })
    }

    /// Opens the order, asks for the security code (`userSign`) and identifies as `person`:
    /// the order is `complete` at once.
    pub fn sign(&self, scan: &Scan, person: &TestPerson) -> Result<OrderRef, AppError> {
        self.sign_at(scan, person, None)
    }

    /// [`TestApp::sign`] in a BankID app that reaches BankID from `device_ip`.
    pub fn sign_from(
        &self,
        scan: &Scan,
        person: &TestPerson,
        device_ip: IpAddr,
    ) -> Result<OrderRef, AppError> {
        self.sign_at(scan, person, Some(device_ip))
    }

    fn sign_at(
        &self,
        scan: &Scan,
        person: &TestPerson,
        device_ip: Option<IpAddr>,
    ) -> Result<OrderRef, AppError> {
        let opened = self.open_at(scan, person, device_ip)?;
        opened.ask_user()?;
        opened.complete()
    }

    /// Opens the order and presses Cancel: `failed`/`userCancel`.
    pub fn cancel(&self, scan: &Scan, person: &TestPerson) -> Result<OrderRef, AppError> {
        self.open(scan, person)?.cancel()
    }

    /// `POST /sign` and `POST /cancel` with `{"qr": "…"}` or `{"autostarttoken": "…"}`, an
    /// optional `"personal_number"` (the demo person by default) and an optional
    /// `"device_ip"` (where the BankID app reaches BankID from; by default the `endUserIp` the
    /// RP sent). Answers
    /// `{"order_ref": "…"}`, or `{"code", "message"}` with 400/403/404/409.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/sign", post(sign_handler))
            .route("/cancel", post(cancel_handler))
            .with_state(self.clone())
    }
}

/// An order open in the test app.
#[derive(Debug, Clone)]
pub struct OpenedOrder {
    app: TestApp,
    order_ref: OrderRef,
}

impl OpenedOrder {
    pub fn order_ref(&self) -> OrderRef {
        self.order_ref
    }

    /// The app asks for the security code: `userSign` (or `userMrtd` first when the order
    /// requires the ID document; call again to move on to `userSign`).
    pub fn ask_user(&self) -> Result<(), AppError> {
        let now = self.app.shared.clock.now();
        self.app.shared.orders().ask_user(&self.order_ref, now)
    }

    /// The user identifies: `complete`.
    pub fn complete(self) -> Result<OrderRef, AppError> {
        let now = self.app.shared.clock.now();
        self.app.shared.orders().complete(&self.order_ref, now)?;
        Ok(self.order_ref)
    }

    /// The user cancels in the app: `failed`/`userCancel`.
    pub fn cancel(self) -> Result<OrderRef, AppError> {
        let now = self.app.shared.clock.now();
        self.app.shared.orders().user_cancel(&self.order_ref, now)?;
        Ok(self.order_ref)
    }
}

/// The body of the HTTP control endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlRequest {
    #[serde(default)]
    qr: Option<String>,
    #[serde(default)]
    autostarttoken: Option<String>,
    #[serde(default)]
    personal_number: Option<String>,
    #[serde(default)]
    device_ip: Option<String>,
}

#[derive(Debug, Serialize)]
struct ControlAnswer {
    order_ref: OrderRef,
}

#[derive(Debug, Serialize)]
struct ControlError {
    code: &'static str,
    message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: String) -> Response {
    (status, Json(ControlError { code, message })).into_response()
}

/// A control request that is not understood: always 400.
struct BadControl {
    code: &'static str,
    message: String,
}

/// What a control request asks of the test app.
struct Control {
    scan: Scan,
    person: TestPerson,
    device_ip: Option<IpAddr>,
}

fn parse_control(
    request: Result<Json<ControlRequest>, JsonRejection>,
) -> Result<Control, BadControl> {
    let Json(request) = request.map_err(|rejection| BadControl {
        code: "invalid_request",
        message: rejection.body_text(),
    })?;
    let scan = match (request.qr, request.autostarttoken) {
        (Some(qr), None) => Scan::Qr(qr),
        (None, Some(token)) => Scan::AutoStart(token.parse().map_err(|_| BadControl {
            code: "invalid_request",
            message: "autostarttoken is not a UUID".into(),
        })?),
        _ => {
            return Err(BadControl {
                code: "invalid_request",
                message: "give exactly one of \"qr\" and \"autostarttoken\"".into(),
            })
        }
    };
    let person = match request.personal_number {
        None => TestPerson::demo(),
        Some(number) => {
            TestPerson::with_number(Personnummer::parse(&number).map_err(|error| BadControl {
                code: "invalid_personal_number",
                message: error.to_string(),
            })?)
        }
    };
    let device_ip = request
        .device_ip
        .map(|ip| {
            ip.parse().map_err(|_| BadControl {
                code: "invalid_request",
                message: "device_ip is not an IP address".into(),
            })
        })
        .transpose()?;
    Ok(Control {
        scan,
        person,
        device_ip,
    })
}

fn answer(result: Result<OrderRef, AppError>) -> Response {
    match result {
        Ok(order_ref) => Json(ControlAnswer { order_ref }).into_response(),
        Err(error) => refuse(error.status(), error.code(), error.to_string()),
    }
}

async fn sign_handler(
    State(app): State<TestApp>,
    request: Result<Json<ControlRequest>, JsonRejection>,
) -> Response {
    match parse_control(request) {
        Ok(control) => answer(app.sign_at(&control.scan, &control.person, control.device_ip)),
        Err(bad) => refuse(StatusCode::BAD_REQUEST, bad.code, bad.message),
    }
}

async fn cancel_handler(
    State(app): State<TestApp>,
    request: Result<Json<ControlRequest>, JsonRejection>,
) -> Response {
    match parse_control(request) {
        Ok(control) => answer(
            app.open_at(&control.scan, &control.person, control.device_ip)
                .and_then(OpenedOrder::cancel),
        ),
        Err(bad) => refuse(StatusCode::BAD_REQUEST, bad.code, bad.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_people_have_valid_numbers() {
        for (number, _, _) in DEMO_PEOPLE {
            assert!(Personnummer::parse(number).is_ok(), "{number}");
        }
        assert_eq!(
            TestPerson::demo().personal_number.expose(),
            DEMO_PEOPLE[0].0
        );
        assert_eq!(TestPerson::demo().given_name, "Amira");
    }

    #[test]
    fn unknown_valid_number_gets_generic_names() {
        let person = TestPerson::with_number(Personnummer::parse("190001010008").expect("valid"));
        assert_eq!(
            (person.given_name.as_str(), person.surname.as_str()),
            ("Test", "Testsson")
        );
    }
}
