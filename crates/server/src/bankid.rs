//! BankID login: an order started at BankID's RP API, polled by one task per order every 2 s
//! until it ends, watched by the app through long-polls, and on completion turned into a
//! high-assurance session for the person BankID names. The personnummer, the `qrStartSecret`
//! and the session token stay here: never in an answer (but the token, once), never in a log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use legitimera_bankid::{
    qr_data, rfa, AuthRequest, AutoStartToken, CollectResponse, CompletionData, Error as RpError,
    ErrorCode, HintCode, OrderRef, Outcome, QrStartSecret, QrStartToken, RfaCode, RpClient, Status,
    UserDevice,
};
use legitimera_protocol::{
    Assurance, BankIdMode, BankIdOrder, BankIdOrderRequest, BankIdStatus, BankIdUser, SecretString,
};
use rand::rngs::OsRng;
use rand::RngCore as _;
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{ApiError, Result};
use crate::extract::{Body, ClientIp};
use crate::{sessions, store, AppState};

/// How often `/collect` is called while an order is pending, as BankID asks.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The longest `?wait=` a long-poll may ask for, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 25;
/// How long an ended order still answers `GET` (to show its outcome, or hand out the token).
const ENDED_RETENTION: time::Duration = time::Duration::minutes(3);
/// Collect failures in a row (timeouts, 5xx, connection) after which the order is given up.
const MAX_COLLECT_FAILURES: u32 = 3;

/// The BankID side of the server: the RP client and the orders in flight. In memory: an order
/// lives for minutes, and a restart only means the user starts a new one.
#[derive(Debug)]
pub struct BankId {
    client: RpClient,
    orders: Mutex<HashMap<String, Arc<Order>>>,
}

impl BankId {
    pub fn new(client: RpClient) -> Self {
        BankId {
            client,
            orders: Mutex::new(HashMap::new()),
        }
    }

    fn orders(&self) -> MutexGuard<'_, HashMap<String, Arc<Order>>> {
        // Every critical section is a single map operation: a poisoned map is still consistent.
        self.orders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn find(&self, id: &str) -> Result<Arc<Order>> {
        self.orders().get(id).cloned().ok_or(ApiError::NotFound)
    }

    /// Forgets orders that ended more than [`ENDED_RETENTION`] ago, and ends the sessions
    /// their app never collected.
    async fn sweep(&self, state: &AppState) -> Result<()> {
        let now = state.clock().now();
        let expired: Vec<Arc<Order>> = {
            let mut orders = self.orders();
            let expired: Vec<String> = orders
                .iter()
                .filter(|(_, order)| {
                    order
                        .state
                        .borrow()
                        .ended_at
                        .is_some_and(|ended| now >= ended + ENDED_RETENTION)
                })
                .map(|(id, _)| id.clone())
                .collect();
            expired.iter().filter_map(|id| orders.remove(id)).collect()
        };
        for order in expired {
            if let Some(token) = order.take_token() {
                sessions::revoke(state, &token).await?;
            }
        }
        Ok(())
    }
}

/// One login attempt. The poller task owns every BankID call for it after `/auth`.
#[derive(Debug)]
struct Order {
    id: String,
    mode: BankIdMode,
    order_ref: OrderRef,
    auto_start_token: AutoStartToken,
    qr_start_token: QrStartToken,
    qr_start_secret: QrStartSecret,
    /// When `/auth` answered, on the server's clock: second 0 of the animated QR.
    answered_at: OffsetDateTime,
    state: watch::Sender<OrderState>,
    /// Asks the poller to cancel at BankID; it answers when done.
    cancel: mpsc::Sender<oneshot::Sender<()>>,
}

#[derive(Debug, Clone)]
struct OrderState {
    status: BankIdStatus,
    version: u64,
    hint: Option<HintCode>,
    message: Option<RfaCode>,
    /// Until the app has been given it.
    token: Option<SecretString>,
    user: Option<BankIdUser>,
    ended_at: Option<OffsetDateTime>,
}

impl Order {
    fn flow(&self) -> UserDevice {
        match self.mode {
            BankIdMode::ThisDevice => UserDevice::ThisDevice,
            BankIdMode::OtherDevice => UserDevice::OtherDevice,
        }
    }

    /// Moves to a new state; the version (and long-polls) move only if the app would see a
    /// difference.
    fn update(
        &self,
        status: BankIdStatus,
        hint: Option<HintCode>,
        message: Option<RfaCode>,
        now: OffsetDateTime,
    ) {
        self.state.send_if_modified(|state| {
            if state.status == status && state.hint == hint && state.message == message {
                return false;
            }
            state.status = status;
            state.hint = hint;
            state.message = message;
            state.version += 1;
            if status != BankIdStatus::Pending {
                state.ended_at = Some(now);
            }
            true
        });
    }

    fn fail(&self, hint: Option<HintCode>, message: RfaCode, now: OffsetDateTime) {
        self.update(BankIdStatus::Failed, hint, Some(message), now);
    }

    fn complete(&self, token: SecretString, user: BankIdUser, now: OffsetDateTime) {
        self.state.send_modify(|state| {
            state.status = BankIdStatus::Complete;
            state.hint = None;
            state.message = None;
            state.token = Some(token);
            state.user = Some(user);
            state.version += 1;
            state.ended_at = Some(now);
        });
    }

    /// The token, once: whoever takes it first has it. Not a change long-polls wait for.
    fn take_token(&self) -> Option<SecretString> {
        let mut taken = None;
        self.state.send_if_modified(|state| {
            taken = state.token.take();
            false
        });
        taken
    }

    /// What the app sees at `now`; the session token is handed over if not yet.
    fn answer(&self, now: OffsetDateTime) -> BankIdOrder {
        let token = self.take_token();
        let state = self.state.borrow().clone();
        let pending = state.status == BankIdStatus::Pending;
        let qr = (self.mode == BankIdMode::OtherDevice && pending).then(|| {
            qr_data(
                &self.qr_start_token,
                &self.qr_start_secret,
                self.qr_seconds(now),
            )
        });
        BankIdOrder {
            id: self.id.clone(),
            mode: self.mode,
            status: state.status,
            version: state.version,
            hint: state.hint.map(|hint| hint.as_str().to_owned()),
            message: state.message.map(|message| message.as_str().to_owned()),
            autostarttoken: (self.mode == BankIdMode::ThisDevice)
                .then(|| self.auto_start_token.to_string()),
            qr,
            token,
            user: state.user,
        }
    }

    /// Whole seconds since `/auth` answered: the QR code's time.
    fn qr_seconds(&self, now: OffsetDateTime) -> u64 {
        u64::try_from((now - self.answered_at).whole_seconds()).unwrap_or(0)
    }

    /// Real time until the QR code changes, measured on the server's clock (at most 1 s).
    fn until_next_qr(&self, now: OffsetDateTime) -> Duration {
        let next = self.answered_at + time::Duration::seconds(self.qr_seconds(now) as i64 + 1);
        Duration::try_from(next - now)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(1))
    }
}

/// `POST /api/v1/bankid/orders`: starts an identification at BankID for the end user's IP.
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<BankIdOrderRequest>,
) -> Result<(StatusCode, Json<BankIdOrder>)> {
    let bankid = state
        .bankid()
        .ok_or(ApiError::BankIdUnavailable { rfa: RfaCode::Rfa5 })?;
    state
        .limits()
        .bankid_ip
        .reserve(&state, &ip.to_string())
        .await?;
    bankid.sweep(&state).await?;
    let answer = bankid
        .client
        .auth(&AuthRequest::new(ip))
        .await
        .map_err(auth_error)?;
    let answered_at = state.clock().now();
    let flow = match request.mode {
        BankIdMode::ThisDevice => UserDevice::ThisDevice,
        BankIdMode::OtherDevice => UserDevice::OtherDevice,
    };
    let hint = HintCode::OutstandingTransaction;
    let message = rfa(flow, Outcome::Pending(Some(&hint)));
    let (state_sender, _) = watch::channel(OrderState {
        status: BankIdStatus::Pending,
        version: 1,
        hint: Some(hint),
        message: Some(message),
        token: None,
        user: None,
        ended_at: None,
    });
    let (cancel, cancel_requests) = mpsc::channel(1);
    let order = Arc::new(Order {
        id: new_order_id(),
        mode: request.mode,
        order_ref: answer.order_ref,
        auto_start_token: answer.auto_start_token,
        qr_start_token: answer.qr_start_token,
        qr_start_secret: answer.qr_start_secret,
        answered_at,
        state: state_sender,
        cancel,
    });
    bankid.orders().insert(order.id.clone(), order.clone());
    tracing::info!(order_ref = %order.order_ref, mode = ?order.mode, "BankID order started");
    tokio::spawn(poll(state.clone(), bankid, order.clone(), cancel_requests));
    Ok((StatusCode::CREATED, Json(order.answer(answered_at))))
}

fn auth_error(error: RpError) -> ApiError {
    tracing::warn!(%error, "BankID refused or failed to start an order");
    match &error {
        RpError::Rp {
            code: ErrorCode::AlreadyInProgress,
            ..
        } => ApiError::BankIdAlreadyInProgress,
        _ => ApiError::BankIdUnavailable { rfa: RfaCode::Rfa5 },
    }
}

/// 32 random bytes, base64url: the order id is what entitles its holder to the session.
fn new_order_id() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, Deserialize)]
pub struct WaitQuery {
    /// Seconds to wait for a change (at most [`MAX_WAIT_SECONDS`]).
    wait: Option<u64>,
    /// The `version` the app already has.
    since: Option<u64>,
}

/// `GET /api/v1/bankid/orders/{id}`: the order now, or with `?wait=S&since=V` as soon as it
/// differs from version V (or, for a pending other-device order, when the QR code changes),
/// at the latest after S seconds.
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Json<BankIdOrder>> {
    let bankid = state.bankid().ok_or(ApiError::NotFound)?;
    let order = bankid.find(&id)?;
    if let (Some(wait), Some(since)) = (query.wait, query.since) {
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(wait.min(MAX_WAIT_SECONDS));
        let mut changes = order.state.subscribe();
        loop {
            let (version, pending) = {
                let current = changes.borrow_and_update();
                (current.version, current.status == BankIdStatus::Pending)
            };
            if version != since || !pending {
                break;
            }
            let mut until = deadline.saturating_duration_since(tokio::time::Instant::now());
            if order.mode == BankIdMode::OtherDevice {
                until = until.min(order.until_next_qr(state.clock().now()));
            }
            if until.is_zero() {
                break;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(until) => break,
            }
        }
    }
    // Answering a removed (cancelled) order would hand out nothing useful: it is gone.
    let order = bankid.find(&id)?;
    Ok(Json(order.answer(state.clock().now())))
}

/// `DELETE /api/v1/bankid/orders/{id}`: cancels the order at BankID (if still pending) and
/// forgets it; a session it ended in and the app never collected is ended too.
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let bankid = state.bankid().ok_or(ApiError::NotFound)?;
    let order = bankid.find(&id)?;
    let (done, cancelled) = oneshot::channel();
    if order.cancel.send(done).await.is_ok() {
        // The poller cancels at BankID between two collects and then stops; if it ended
        // meanwhile the reply is dropped, which is just as final.
        let _ = cancelled.await;
    }
    bankid.orders().remove(&id);
    if let Some(token) = order.take_token() {
        sessions::revoke(&state, &token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The order's one poller: `/collect` every [`POLL_INTERVAL`] until the order completes,
/// fails or is cancelled, then never again. Cancelling goes through here too, so a collect
/// can never follow the cancel.
async fn poll(
    state: AppState,
    bankid: Arc<BankId>,
    order: Arc<Order>,
    mut cancel_requests: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let flow = order.flow();
    let mut failures = 0;
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            request = cancel_requests.recv() => {
                if let Err(error) = bankid.client.cancel(&order.order_ref).await {
                    tracing::warn!(order_ref = %order.order_ref, %error, "BankID cancel failed");
                }
                let hint = HintCode::Cancelled;
                let message = rfa(flow, Outcome::Failed(Some(&hint)));
                order.fail(Some(hint), message, state.clock().now());
                tracing::info!(order_ref = %order.order_ref, "BankID order cancelled");
                if let Some(done) = request {
                    let _ = done.send(());
                }
                return;
            }
        }
        let answer = bankid.client.collect(&order.order_ref).await;
        let now = state.clock().now();
        match answer {
            Ok(answer) => {
                failures = 0;
                if settle(&state, &order, answer, flow, now).await {
                    return;
                }
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(order_ref = %order.order_ref, %error, failures, "BankID collect failed");
                if failures >= MAX_COLLECT_FAILURES || !transient(&error) {
                    order.fail(None, error.rfa(), now);
                    return;
                }
            }
        }
    }
}

/// Applies one collect answer; `true` when the order has ended.
async fn settle(
    state: &AppState,
    order: &Order,
    answer: CollectResponse,
    flow: UserDevice,
    now: OffsetDateTime,
) -> bool {
    let message = answer.rfa(flow);
    match (answer.status, answer.completion_data) {
        (Status::Pending, _) => {
            order.update(BankIdStatus::Pending, answer.hint_code, message, now);
            false
        }
        (Status::Complete, Some(data)) => {
            match log_in(state, &data).await {
                Ok((token, user)) => {
                    order.complete(token, user, now);
                    tracing::info!(order_ref = %order.order_ref, "BankID order complete");
                }
                Err(error) => {
                    tracing::error!(order_ref = %order.order_ref, %error, "BankID login could not be recorded");
                    order.fail(None, RfaCode::Rfa5, now);
                }
            }
            true
        }
        (Status::Complete, None) => {
            tracing::warn!(order_ref = %order.order_ref, "BankID said complete without completion data");
            order.fail(None, RfaCode::Rfa22, now);
            true
        }
        (Status::Failed, _) => {
            let message = message.unwrap_or(RfaCode::Rfa22);
            tracing::info!(
                order_ref = %order.order_ref,
                hint = answer.hint_code.as_ref().map(HintCode::as_str),
                "BankID order failed"
            );
            order.fail(answer.hint_code, message, now);
            true
        }
    }
}

/// Worth another collect 2 s later: no answer, BankID busy or in maintenance. A refusal
/// (`invalidParameters`, `unauthorized`…) will not change by asking again.
fn transient(error: &RpError) -> bool {
    match error {
        RpError::Rp { status, .. } => *status >= 500 || *status == 408,
        RpError::RateLimited { .. } | RpError::Timeout(_) | RpError::Transport(_) => true,
        RpError::UnexpectedResponse { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Finds (or records) the person BankID identified and opens a high-assurance session for
/// them. The personnummer goes into the database and nowhere else.
async fn log_in(state: &AppState, data: &CompletionData) -> Result<(SecretString, BankIdUser)> {
    let user = &data.user;
    let person_id = store::people::upsert_by_personal_number(
        state.pool(),
        user.personal_number.expose(),
        &user.given_name,
        &user.surname,
    )
    .await?;
    let session = sessions::create_for_person(state, person_id, Assurance::High).await?;
    Ok((
        session.token,
        BankIdUser {
            name: user.name.clone(),
            personal_number: user.personal_number.masked(),
        },
    ))
}

/// The demo simulator measures its timeouts on the server's clock, so a test moving the
/// server's `ManualClock` moves BankID's time with it.
#[derive(Debug)]
pub(crate) struct SimulatorClock(pub Arc<dyn crate::clock::Clock>);

impl legitimera_bankid::simulator::Clock for SimulatorClock {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }
}
