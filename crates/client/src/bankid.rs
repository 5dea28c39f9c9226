//! BankID login from the app's side: starts an order at the backend, follows it with the
//! long-poll until it ends, renders the server's QR data as SVG and cancels what the user leaves.
//! Knows nothing of Tauri. Never logs the order id, the autostart token, the QR data or the
//! session token: whoever holds one of them can take the login over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use legitimera_bankid::{desktop_launch_url, AutoStartToken};
use legitimera_protocol::{
    BankIdMode, BankIdOrder, BankIdOrderRequest, BankIdStatus, ErrorCode, SecretString,
    SessionStatus,
};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::api::{segment, ApiClient};
use crate::error::{AppError, Result};

/// How long one long-poll may wait at the server (it caps at 25 s; the client times out at 30).
pub const LONG_POLL_SECONDS: u64 = 20;
/// Failed polls in a row before the login is given up with RFA5.
const MAX_POLL_FAILURES: u32 = 3;

/// What the `bankid-status` event tells the UI: everything it shows, computed here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankIdView {
    /// Which start this belongs to: the UI ignores news of an attempt it has left.
    pub attempt: u64,
    pub mode: BankIdMode,
    pub status: BankIdStatus,
    /// The recommended user message (`RFA1`, `RFA13`…), absent once complete.
    pub message: Option<String>,
    /// Failed for a reason of the service's (`bankid_ip_mismatch`): the UI shows this code's
    /// message (`error.<code>`) instead of `message`.
    pub code: Option<ErrorCode>,
    /// BankID's hint code, for diagnostics and tests; the UI shows `message`.
    pub hint: Option<String>,
    /// The QR code to show now, as an SVG document (other device, while pending).
    pub qr_svg: Option<String>,
    /// Once logged in: the session, for Min sida.
    pub session: Option<SessionStatus>,
}

impl BankIdView {
    /// The view of `order`, with its QR data drawn as SVG.
    pub fn of(attempt: u64, order: &BankIdOrder) -> Self {
        BankIdView {
            attempt,
            mode: order.mode,
            status: order.status,
            message: order.message.clone(),
            code: order.code,
            hint: order.hint.clone(),
            qr_svg: order.qr.as_deref().and_then(qr_svg),
            session: None,
        }
    }

    /// An attempt that ended on the app's side (no answer, no launcher) with `message`.
    pub fn failed(attempt: u64, mode: BankIdMode, message: &str) -> Self {
        BankIdView {
            attempt,
            mode,
            status: BankIdStatus::Failed,
            message: Some(message.to_owned()),
            code: None,
            hint: None,
            qr_svg: None,
            session: None,
        }
    }

    pub fn logged_in(attempt: u64, mode: BankIdMode, session: SessionStatus) -> Self {
        BankIdView {
            attempt,
            mode,
            status: BankIdStatus::Complete,
            message: None,
            code: None,
            hint: None,
            qr_svg: None,
            session: Some(session),
        }
    }
}

/// Draws QR data as an SVG document (black on white, with the quiet zone a reader needs).
/// `None` only for data too long for any QR code, which the server never sends.
pub fn qr_svg(data: &str) -> Option<String> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
    )
}

/// `bankid:///?autostarttoken=…&redirect=null` for the order's token; `None` for a token that
/// is not the UUID BankID issues (nothing else may reach the OS's URL handler).
pub fn launch_url(autostarttoken: &str) -> Option<String> {
    let token: AutoStartToken = autostarttoken.parse().ok()?;
    Some(desktop_launch_url(&token))
}

/// Asks the OS to open `url` (`bankid:///?autostarttoken=…`). False when nothing handles it.
pub async fn open_with_os(url: String) -> bool {
    match tokio::task::spawn_blocking(move || opener::open(url)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            // The error names the URL's handler, never the URL itself.
            let kind = match error {
                opener::OpenError::Io(_) => "io",
                opener::OpenError::ExitStatus { .. } => "exit_status",
                _ => "other",
            };
            tracing::warn!(kind, "the BankID app could not be opened");
            false
        }
        Err(_) => false,
    }
}

/// What the demo backend's test BankID app is asked to do with the open order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoAction {
    Sign,
    Cancel,
}

/// A started order: its first state, and the attempt it is.
#[derive(Debug)]
pub struct OrderStarted {
    pub attempt: u64,
    pub order: BankIdOrder,
}

/// The order being shown. Its id, autostart token and QR data are secrets (see the top).
#[derive(Debug)]
struct OpenOrder {
    attempt: u64,
    id: SecretString,
    mode: BankIdMode,
    autostarttoken: Option<SecretString>,
    qr: Option<SecretString>,
    follower: Option<tokio::task::AbortHandle>,
}

#[derive(Debug)]
pub struct BankId {
    api: ApiClient,
    open: Mutex<Option<OpenOrder>>,
    attempts: AtomicU64,
}

impl BankId {
    pub fn new(api: ApiClient) -> Self {
        BankId {
            api,
            open: Mutex::new(None),
            attempts: AtomicU64::new(0),
        }
    }

    /// Starts an order in `mode`, first cancelling any order still open.
    pub async fn start(&self, mode: BankIdMode) -> Result<OrderStarted> {
        self.cancel(None).await;
        let order: BankIdOrder = self
            .api
            .call(
                Method::POST,
                "api/v1/bankid/orders",
                None,
                Some(&BankIdOrderRequest { mode }),
            )
            .await?;
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let superseded = lock(&self.open).replace(OpenOrder {
            attempt,
            id: SecretString::new(order.id.clone()),
            mode,
            autostarttoken: order.autostarttoken.clone().map(SecretString::new),
            qr: order.qr.clone().map(SecretString::new),
            follower: None,
        });
        // Two starts at once: the one that lost is cancelled too.
        if let Some(superseded) = superseded {
            self.end_at_server(superseded).await;
        }
        tracing::info!(mode = mode_name(mode), attempt, "BankID order started");
        Ok(OrderStarted { attempt, order })
    }

    /// Records the task following `attempt`, so a cancel can stop it. A task for an attempt
    /// that is no longer open is stopped at once.
    pub fn set_follower(&self, attempt: u64, follower: tokio::task::AbortHandle) {
        let mut open = lock(&self.open);
        match open.as_mut() {
            Some(order) if order.attempt == attempt => order.follower = Some(follower),
            _ => follower.abort(),
        }
    }

    /// The launch URL of the open this-device order.
    pub fn open_launch_url(&self, attempt: u64) -> Option<String> {
        let open = lock(&self.open);
        let order = open.as_ref().filter(|order| order.attempt == attempt)?;
        launch_url(order.autostarttoken.as_ref()?.expose())
    }

    /// Follows `attempt` from its first state until it ends, handing each change to `emit`.
    /// Answers the session token when the order completed; `None` when it failed, was cancelled
    /// or superseded (the failure was emitted).
    pub async fn follow(
        &self,
        attempt: u64,
        mut order: BankIdOrder,
        emit: impl Fn(BankIdView),
    ) -> Option<SecretString> {
        let mode = order.mode;
        let mut failures = 0;
        while order.status == BankIdStatus::Pending {
            match self.poll(&order).await {
                Ok(next) => {
                    failures = 0;
                    let changed = next.version != order.version || next.qr != order.qr;
                    order = next;
                    if !self.update(attempt, &order) {
                        return None;
                    }
                    if changed && order.status != BankIdStatus::Complete {
                        emit(BankIdView::of(attempt, &order));
                    }
                }
                // The order is gone at the server (cancelled elsewhere, or forgotten).
                Err(error) if error.code() == ErrorCode::NotFound => {
                    if self.forget(attempt) {
                        emit(BankIdView::failed(attempt, mode, "RFA3"));
                    }
                    return None;
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(code = %error.code(), failures, "BankID poll failed");
                    if failures >= MAX_POLL_FAILURES {
                        if let Some(mut open) = self.take(attempt) {
                            // This task is the follower: aborting it would stop the cancel.
                            open.follower = None;
                            self.end_at_server(open).await;
                            emit(BankIdView::failed(attempt, mode, "RFA5"));
                        }
                        return None;
                    }
                    tokio::time::sleep(Duration::from_secs(u64::from(failures))).await;
                }
            }
        }
        self.forget(attempt);
        tracing::info!(
            status = status_name(order.status),
            message = order.message.as_deref().unwrap_or(""),
            attempt,
            "BankID order ended"
        );
        match (order.status, order.token.take()) {
            (BankIdStatus::Complete, Some(token)) => Some(token),
            // Complete, but the token went to another answer: this app cannot log in with it.
            (BankIdStatus::Complete, None) => {
                emit(BankIdView::failed(attempt, mode, "RFA5"));
                None
            }
            _ => None,
        }
    }

    /// Cancels the open order (only if it is `attempt`, when given): stops following it and
    /// deletes it at the server, which cancels it at BankID. Best effort: failures are logged.
    pub async fn cancel(&self, attempt: Option<u64>) {
        let open = {
            let mut open = lock(&self.open);
            match (open.as_ref(), attempt) {
                (Some(order), Some(attempt)) if order.attempt != attempt => None,
                _ => open.take(),
            }
        };
        if let Some(open) = open {
            tracing::info!(attempt = open.attempt, "BankID order cancelled");
            self.end_at_server(open).await;
        }
    }

    /// Demo backends only (the caller checks): plays the user's BankID app for the open order,
    /// by its autostart token (this device) or the QR code on screen now (other device).
    pub async fn demo_app(&self, action: DemoAction) -> Result<()> {
        let body = {
            let open = lock(&self.open);
            let order = open.as_ref().ok_or_else(no_open_order)?;
            match order.mode {
                BankIdMode::ThisDevice => serde_json::json!({
                    "autostarttoken": order.autostarttoken.as_ref().ok_or_else(no_open_order)?.expose()
                }),
                BankIdMode::OtherDevice => serde_json::json!({
                    "qr": order.qr.as_ref().ok_or_else(no_open_order)?.expose()
                }),
            }
        };
        let path = match action {
            DemoAction::Sign => "demo/bankid/sign",
            DemoAction::Cancel => "demo/bankid/cancel",
        };
        let _: serde_json::Value = self.api.call(Method::POST, path, None, Some(&body)).await?;
        Ok(())
    }

    /// `GET …/orders/{id}?wait=…&since=…`: answers when the order changed (or its QR code did).
    async fn poll(&self, order: &BankIdOrder) -> Result<BankIdOrder> {
        let path = format!(
            "api/v1/bankid/orders/{}?wait={LONG_POLL_SECONDS}&since={}",
            segment(&order.id)?,
            order.version
        );
        self.api.call(Method::GET, &path, None, None::<&()>).await
    }

    /// Keeps the open order's autostart token and QR data current. False when `attempt` is no
    /// longer the open order (cancelled or superseded): its follower stops.
    fn update(&self, attempt: u64, order: &BankIdOrder) -> bool {
        let mut open = lock(&self.open);
        match open.as_mut() {
            Some(open) if open.attempt == attempt => {
                open.qr = order.qr.clone().map(SecretString::new);
                if order.autostarttoken.is_some() {
                    open.autostarttoken = order.autostarttoken.clone().map(SecretString::new);
                }
                true
            }
            _ => false,
        }
    }

    /// Forgets `attempt` without cancelling it (it ended). True when it was the open order.
    fn forget(&self, attempt: u64) -> bool {
        self.take(attempt).is_some()
    }

    fn take(&self, attempt: u64) -> Option<OpenOrder> {
        let mut open = lock(&self.open);
        if open.as_ref().is_some_and(|order| order.attempt == attempt) {
            open.take()
        } else {
            None
        }
    }

    /// Stops following `open` and deletes it at the server (a 404 means it is gone already).
    async fn end_at_server(&self, open: OpenOrder) {
        if let Some(follower) = &open.follower {
            follower.abort();
        }
        let Ok(id) = segment(open.id.expose()) else {
            return;
        };
        let path = format!("api/v1/bankid/orders/{id}");
        let sent = match self.api.request(Method::DELETE, &path, None, None::<&()>) {
            Ok(request) => request.send().await.map_err(AppError::BackendUnreachable),
            Err(error) => Err(error),
        };
        match sent {
            Ok(response)
                if response.status().is_success() || response.status() == StatusCode::NOT_FOUND => {
            }
            Ok(response) => {
                tracing::warn!(
                    status = response.status().as_u16(),
                    "the BankID order could not be cancelled"
                );
            }
            Err(error) => {
                tracing::warn!(
                    code = %error.code(),
                    "the BankID order could not be cancelled"
                );
            }
        }
    }
}

fn no_open_order() -> AppError {
    AppError::backend(ErrorCode::NotFound, 404)
}

/// A poisoned lock only means another thread panicked while holding it; the data stays usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn mode_name(mode: BankIdMode) -> &'static str {
    match mode {
        BankIdMode::ThisDevice => "this_device",
        BankIdMode::OtherDevice => "other_device",
    }
}

fn status_name(status: BankIdStatus) -> &'static str {
    match status {
        BankIdStatus::Pending => "pending",
        BankIdStatus::Failed => "failed",
        BankIdStatus::Complete => "complete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use legitimera_testkit::qr;

    const QR: &str = "bankid.67df3917-fa0d-44e5-b327-edcc928297f8.0.dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8";

    fn order(mode: BankIdMode, status: BankIdStatus) -> BankIdOrder {
        BankIdOrder {
            id: "abc".into(),
            mode,
            status,
            version: 3,
            hint: Some("outstandingTransaction".into()),
            message: Some("RFA1".into()),
            code: None,
            autostarttoken: None,
            qr: Some(QR.into()),
            token: Some("session-token".into()),
            user: None,
        }
    }

    #[test]
    fn qr_data_becomes_an_svg_that_decodes_back_to_it() {
        let svg = qr_svg(QR).expect("fits a QR code");
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
        assert_eq!(qr::read_svg_qr(&svg).expect("readable"), QR);
        // Different data, different picture: the code is drawn from the data, not a fixed image.
        let next = QR.replace(".0.", ".1.");
        assert_ne!(qr_svg(&next), Some(svg));
    }

    #[test]
    fn a_pending_other_device_order_shows_its_message_and_qr_but_no_secret() {
        let view = BankIdView::of(7, &order(BankIdMode::OtherDevice, BankIdStatus::Pending));
        assert_eq!(view.attempt, 7);
        assert_eq!(view.message.as_deref(), Some("RFA1"));
        assert_eq!(view.hint.as_deref(), Some("outstandingTransaction"));
        assert!(view.qr_svg.is_some());
        let json = serde_json::to_string(&view).expect("serializes");
        for secret in ["session-token", "abc", QR] {
            assert!(!json.contains(secret), "{secret} reaches the UI");
        }
        assert!(json.contains(r#""mode":"other_device""#));
        assert!(json.contains(r#""status":"pending""#));
    }

    #[test]
    fn a_this_device_order_has_no_qr_and_failures_carry_their_message() {
        let mut this_device = order(BankIdMode::ThisDevice, BankIdStatus::Pending);
        this_device.qr = None;
        assert_eq!(BankIdView::of(1, &this_device).qr_svg, None);
        let failed = BankIdView::failed(2, BankIdMode::ThisDevice, "RFA17A");
        assert_eq!(failed.status, BankIdStatus::Failed);
        assert_eq!(failed.message.as_deref(), Some("RFA17A"));
    }

    /// The server's refusal of a relayed "this computer" login reaches the UI as its code, so
    /// the view says what happened rather than BankID's generic RFA22.
    #[test]
    fn a_relayed_login_refused_by_the_server_reaches_the_ui_as_its_code() {
        let wire = r#"{"id": "abc", "mode": "this_device", "status": "failed", "version": 3,
                       "message": "RFA22", "code": "bankid_ip_mismatch"}"#;
        let refused: BankIdOrder = serde_json::from_str(wire).expect("parses");
        let view = BankIdView::of(4, &refused);
        assert_eq!(view.status, BankIdStatus::Failed);
        assert_eq!(view.code, Some(ErrorCode::BankidIpMismatch));
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(json["code"], "bankid_ip_mismatch");
        assert_eq!(json["message"], "RFA22");
        // An order failed by BankID itself carries no code of ours.
        let plain = BankIdView::of(5, &order(BankIdMode::ThisDevice, BankIdStatus::Failed));
        assert_eq!(
            serde_json::to_value(&plain).expect("serializes")["code"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn only_a_real_autostart_token_becomes_a_launch_url() {
        assert_eq!(
            launch_url("7c40b5c9-fa3e-4e4a-9e4d-5c0d83f0c8b8").as_deref(),
            Some("bankid:///?autostarttoken=7c40b5c9-fa3e-4e4a-9e4d-5c0d83f0c8b8&redirect=null")
        );
        for bad in ["", "x&redirect=https://evil", "../../etc", "7c40b5c9"] {
            assert_eq!(launch_url(bad), None, "{bad:?} accepted");
        }
    }

    #[test]
    fn demo_actions_are_the_two_the_test_app_has() {
        let sign: DemoAction = serde_json::from_str(r#""sign""#).expect("sign");
        let cancel: DemoAction = serde_json::from_str(r#""cancel""#).expect("cancel");
        assert_eq!((sign, cancel), (DemoAction::Sign, DemoAction::Cancel));
        assert!(serde_json::from_str::<DemoAction>(r#""approve""#).is_err());
    }

    /// A backend that answers the order's long-polls from a script, and counts what it got.
    mod fake_backend {
        use std::collections::VecDeque;
        use std::sync::{Arc, Mutex};

        use axum::extract::{Query, State};
        use axum::http::StatusCode;
        use axum::routing::{delete, get, post};
        use axum::{Json, Router};
        use serde_json::{json, Value};

        #[derive(Default)]
        pub struct Script {
            pub first: Value,
            pub answers: VecDeque<Value>,
            /// `since` of every GET, in order.
            pub polls: Vec<u64>,
            pub deletes: usize,
            /// A GET with nothing scripted waits this long (a pending order's long-poll).
            pub hold_ms: u64,
        }

        pub type Shared = Arc<Mutex<Script>>;

        pub async fn start(script: Script) -> (String, Shared) {
            let shared = Arc::new(Mutex::new(script));
            let app = Router::new()
                .route("/api/v1/bankid/orders", post(create))
                .route("/api/v1/bankid/orders/{id}", get(poll))
                .route("/api/v1/bankid/orders/{id}", delete(cancel))
                .with_state(shared.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, app).await });
            (format!("http://{addr}/"), shared)
        }

        async fn create(State(script): State<Shared>) -> (StatusCode, Json<Value>) {
            let first = script.lock().expect("lock").first.clone();
            (StatusCode::CREATED, Json(first))
        }

        async fn poll(
            State(script): State<Shared>,
            Query(query): Query<std::collections::HashMap<String, String>>,
        ) -> (StatusCode, Json<Value>) {
            let (next, hold) = {
                let mut script = script.lock().expect("lock");
                let since = query.get("since").and_then(|s| s.parse().ok()).unwrap_or(0);
                script.polls.push(since);
                (script.answers.pop_front(), script.hold_ms)
            };
            match next {
                Some(answer) => (StatusCode::OK, Json(answer)),
                None => {
                    tokio::time::sleep(std::time::Duration::from_millis(hold)).await;
                    (
                        StatusCode::NOT_FOUND,
                        Json(json!({"code": "not_found", "message": "-"})),
                    )
                }
            }
        }

        async fn cancel(State(script): State<Shared>) -> StatusCode {
            script.lock().expect("lock").deletes += 1;
            StatusCode::NO_CONTENT
        }
    }

    fn order_json(
        version: u64,
        status: &str,
        message: Option<&str>,
        qr_second: u64,
    ) -> serde_json::Value {
        let mut order = serde_json::json!({
            "id": "order-1", "mode": "other_device", "status": status, "version": version,
        });
        if let Some(message) = message {
            order["message"] = message.into();
            order["hint"] = "x".into();
        }
        if status == "pending" {
            order["qr"] = QR.replace(".0.", &format!(".{qr_second}.")).into();
        }
        if status == "complete" {
            order["token"] = "session-token".into();
        }
        order
    }

    async fn bankid_for(script: fake_backend::Script) -> (BankId, fake_backend::Shared) {
        let (url, shared) = fake_backend::start(script).await;
        let api =
            ApiClient::new(crate::config::BackendUrl::parse(&url).expect("url")).expect("client");
        (BankId::new(api), shared)
    }

    #[tokio::test]
    async fn follow_shows_each_change_and_stops_polling_at_the_end() {
        let script = fake_backend::Script {
            first: order_json(1, "pending", Some("RFA1"), 0),
            answers: [
                order_json(1, "pending", Some("RFA1"), 1),
                order_json(2, "pending", Some("RFA15A"), 2),
                order_json(3, "complete", None, 0),
            ]
            .into(),
            ..Default::default()
        };
        let (bankid, shared) = bankid_for(script).await;
        let OrderStarted { attempt, order } =
            bankid.start(BankIdMode::OtherDevice).await.expect("start");
        let seen = Mutex::new(Vec::new());
        let token = bankid
            .follow(attempt, order, |view| lock(&seen).push(view))
            .await;
        assert_eq!(
            token.as_ref().map(SecretString::expose),
            Some("session-token")
        );
        let seen = seen.into_inner().expect("lock");
        let messages: Vec<_> = seen.iter().map(|v| v.message.as_deref()).collect();
        assert_eq!(
            messages,
            [Some("RFA1"), Some("RFA15A")],
            "a new QR code, then a new message"
        );
        assert!(seen
            .iter()
            .all(|v| v.qr_svg.is_some() && v.attempt == attempt));
        let script = shared.lock().expect("lock");
        assert_eq!(
            script.polls,
            [1, 1, 2],
            "each poll waits for news after what it has"
        );
        assert_eq!(script.deletes, 0, "a completed order is not cancelled");
        drop(script);
        // The order is over: nothing is left to cancel or for the demo test app to act on.
        assert!(lock(&bankid.open).is_none());
    }

    #[tokio::test]
    async fn a_failed_order_is_shown_and_not_polled_again() {
        let script = fake_backend::Script {
            first: order_json(1, "pending", Some("RFA1"), 0),
            answers: [order_json(2, "failed", Some("RFA17B"), 0)].into(),
            ..Default::default()
        };
        let (bankid, shared) = bankid_for(script).await;
        let OrderStarted { attempt, order } =
            bankid.start(BankIdMode::OtherDevice).await.expect("start");
        let seen = Mutex::new(Vec::new());
        let token = bankid
            .follow(attempt, order, |view| lock(&seen).push(view))
            .await;
        assert!(token.is_none());
        let seen = seen.into_inner().expect("lock");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].status, BankIdStatus::Failed);
        assert_eq!(seen[0].message.as_deref(), Some("RFA17B"));
        assert_eq!(seen[0].qr_svg, None, "no QR code for an order that ended");
        assert_eq!(shared.lock().expect("lock").polls.len(), 1);
    }

    #[tokio::test]
    async fn cancel_stops_the_follower_and_deletes_the_order_once() {
        let script = fake_backend::Script {
            first: order_json(1, "pending", Some("RFA13"), 0),
            hold_ms: 10_000,
            ..Default::default()
        };
        let (bankid, shared) = bankid_for(script).await;
        let bankid = std::sync::Arc::new(bankid);
        let OrderStarted { attempt, order } =
            bankid.start(BankIdMode::ThisDevice).await.expect("start");
        let following = bankid.clone();
        let follower = tokio::spawn(async move { following.follow(attempt, order, |_| {}).await });
        bankid.set_follower(attempt, follower.abort_handle());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            shared.lock().expect("lock").polls,
            [1],
            "the follower is waiting"
        );
        // A cancel for an older attempt (a view left long ago) leaves this one alone.
        bankid.cancel(Some(attempt - 1)).await;
        assert_eq!(shared.lock().expect("lock").deletes, 0);
        bankid.cancel(Some(attempt)).await;
        let stopped = tokio::time::timeout(Duration::from_secs(2), follower).await;
        assert!(
            matches!(stopped, Ok(Err(error)) if error.is_cancelled()),
            "the follower still runs"
        );
        bankid.cancel(None).await;
        assert_eq!(shared.lock().expect("lock").deletes, 1);
    }
}
