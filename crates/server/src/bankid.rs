//! BankID login: an order started at BankID's RP API, collected every 2 s until it ends by
//! exactly one instance (the holder of its lease in the database), watched by the app through
//! long-polls that any instance answers, and on completion turned into a high-assurance
//! session for the person BankID names, made when the app is first given the outcome (so
//! exactly once, by whichever instance answers). An instance that dies holding orders loses
//! their leases within [`LEASE`]; another takes them over. The personnummer, the
//! `qrStartSecret` and the session token stay server-side: never in an answer (but the token,
//! once), never in a log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use legitimera_bankid::{
    qr_data, rfa, AuthRequest, CollectResponse, CompletionData, Error as RpError, ErrorCode,
    HintCode, OrderRef, Outcome, QrStartSecret, QrStartToken, RfaCode, RpClient, Status,
    UserDevice, UserVisibleData,
};
use legitimera_protocol::{
    Assurance, BankIdMode, BankIdOrder, BankIdOrderRequest, BankIdStatus, BankIdUser,
    ErrorCode as ApiCode,
};
use rand::rngs::OsRng;
use rand::RngCore as _;
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};
use tokio::task::AbortHandle;

use crate::error::{ApiError, Result};
use crate::extract::{limit_key, Body, ClientIp};
use crate::store::bankid::{NewOrder, Row, Update};
use crate::{sessions, store, AppState, Inner};

/// How often `/collect` is called while an order is pending, as BankID asks.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The longest `?wait=` a long-poll may ask for, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 25;
/// How long an ended order still answers `GET` (to show its outcome, or hand out the token).
const ENDED_RETENTION: time::Duration = time::Duration::minutes(3);
/// A completed order whose outcome no app has fetched within this long is ended: its session
/// is never made (an app that went away must not leave a login waiting for anyone).
pub const UNCOLLECTED_COMPLETION: time::Duration = time::Duration::seconds(60);
/// Collect failures in a row (timeouts, 5xx, connection) after which the order is given up.
const MAX_COLLECT_FAILURES: u32 = 3;
/// How long a lease lasts unless renewed (before every collect): how soon another instance
/// takes over the orders of one that died.
pub const LEASE: Duration = Duration::from_millis(3_500);
/// A collect that takes longer counts as failed (and is tried again 2 s later), so the lease
/// never runs out while its holder lives: the 2 s wait and the collect stay within [`LEASE`].
const COLLECT_TIMEOUT: Duration = Duration::from_millis(1_200);
/// How often each instance looks for orders whose lease ran out: with [`LEASE`], an order of
/// an instance that died is collected again within 4 s.
const TAKEOVER_SCAN: Duration = Duration::from_millis(300);
/// How often a long-poll looks at the database for changes made by other instances (changes
/// made by this one wake it at once).
const LONG_POLL_RECHECK: Duration = Duration::from_millis(250);

/// The BankID side of the server: the RP client, this instance's name as a lease holder, and
/// the orders it collects now. The orders themselves are rows (`store::bankid`).
#[derive(Debug)]
pub struct BankId {
    client: RpClient,
    /// This process's name on its leases: random, new at every start.
    owner: String,
    /// Orders this instance collects: a wake-up for their collector (a cancel came) and its task.
    collecting: Mutex<HashMap<String, (Arc<Notify>, AbortHandle)>>,
    /// Moves whenever this instance changes an order, to wake its long-polls.
    changes: watch::Sender<u64>,
    takeover: Mutex<Option<AbortHandle>>,
}

impl BankId {
    pub fn new(client: RpClient) -> Self {
        let mut owner = [0u8; 12];
        OsRng.fill_bytes(&mut owner);
        BankId {
            client,
            owner: URL_SAFE_NO_PAD.encode(owner),
            collecting: Mutex::new(HashMap::new()),
            changes: watch::channel(0).0,
            takeover: Mutex::new(None),
        }
    }

    fn collecting(&self) -> MutexGuard<'_, HashMap<String, (Arc<Notify>, AbortHandle)>> {
        // Every critical section is a single map operation: a poisoned map is still consistent.
        self.collecting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Starts collecting `id` here (this instance holds its lease), the first time after
    /// `first_wait`.
    fn collect_here(self: &Arc<Self>, state: &AppState, id: String, first_wait: Duration) {
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(collect(
            state.clone(),
            self.clone(),
            id.clone(),
            wake.clone(),
            first_wait,
        ));
        self.collecting().insert(id, (wake, task.abort_handle()));
    }

    /// Looks for orders whose lease ran out (their instance died) and takes them over, for as
    /// long as the server runs. Holds the state weakly, so a dropped server ends it.
    pub(crate) fn start_takeover(self: &Arc<Self>, state: Weak<Inner>) {
        let bankid = self.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TAKEOVER_SCAN).await;
                let Some(inner) = state.upgrade() else { return };
                let state = AppState { inner };
                if let Err(error) = bankid.take_over_orphans(&state).await {
                    tracing::warn!(%error, "BankID take-over scan failed");
                }
            }
        });
        *self
            .takeover
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(task.abort_handle());
    }

    async fn take_over_orphans(self: &Arc<Self>, state: &AppState) -> Result<()> {
        let now = wall_ms();
        for id in store::bankid::orphans(state.pool(), now).await? {
            let lease_until = now + millis(LEASE);
            if store::bankid::take_over(state.pool(), &id, &self.owner, now, lease_until).await? {
                tracing::info!("BankID order taken over from an instance that stopped");
                // The last collect was at least a lease ago: BankID may be asked at once.
                self.collect_here(state, id, Duration::ZERO);
            }
        }
        Ok(())
    }

    /// Graceful shutdown: stops collecting and hands the leases back, so another instance
    /// takes the orders over at once instead of after [`LEASE`].
    pub async fn stop(&self, state: &AppState) {
        if let Some(task) = self
            .takeover
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        {
            task.abort();
        }
        for (_, (_, task)) in self.collecting().drain() {
            task.abort();
        }
        match store::bankid::release_leases(state.pool(), &self.owner).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "BankID leases handed back"),
            Err(error) => tracing::warn!(%error, "could not hand back BankID leases"),
        }
    }
}

/// Milliseconds on the wall clock, which every instance shares: what leases are measured in.
fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds on the server's clock (tests move it): what order times are measured in.
fn clock_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn mode_str(mode: BankIdMode) -> &'static str {
    match mode {
        BankIdMode::ThisDevice => "this_device",
        BankIdMode::OtherDevice => "other_device",
    }
}

fn status_str(status: BankIdStatus) -> &'static str {
    match status {
        BankIdStatus::Pending => "pending",
        BankIdStatus::Complete => "complete",
        BankIdStatus::Failed => "failed",
    }
}

/// One order as read from its row.
#[derive(Debug)]
struct Order {
    row: Arc<Row>,
    mode: BankIdMode,
    status: BankIdStatus,
    /// When `/auth` answered, on the server's clock: second 0 of the animated QR.
    answered_at: OffsetDateTime,
}

impl Order {
    fn from_row(row: Arc<Row>) -> Result<Self> {
        let mode = match row.mode.as_str() {
            "this_device" => BankIdMode::ThisDevice,
            _ => BankIdMode::OtherDevice,
        };
        let status = match row.status.as_str() {
            "pending" => BankIdStatus::Pending,
            "complete" => BankIdStatus::Complete,
            _ => BankIdStatus::Failed,
        };
        let answered_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(row.answered_at_ms) * 1_000_000)
                .map_err(anyhow::Error::from)?;
        Ok(Order {
            row,
            mode,
            status,
            answered_at,
        })
    }

    async fn load(state: &AppState, id: &str) -> Result<Self> {
        let row = store::bankid::find_in(state.store(), id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Order::from_row(row)
    }

    fn flow(&self) -> UserDevice {
        match self.mode {
            BankIdMode::ThisDevice => UserDevice::ThisDevice,
            BankIdMode::OtherDevice => UserDevice::OtherDevice,
        }
    }

    fn order_ref(&self) -> Result<OrderRef> {
        self.row
            .order_ref
            .parse()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("stored orderRef is not a UUID")))
    }

    /// What the app sees at `now`; the session is made and its token handed over if the
    /// order is complete and no one has been given it yet.
    async fn answer(&self, state: &AppState, now: OffsetDateTime) -> Result<BankIdOrder> {
        if self.status == BankIdStatus::Complete && self.row.token_handed_out == 0 {
            let cutoff = clock_ms(state.clock().now() - UNCOLLECTED_COMPLETION);
            if store::bankid::end_uncollected(state.pool(), &self.row.id, cutoff).await? {
                tracing::info!("completed BankID order not collected within 60 s: ended");
                let order = Order::load(state, &self.row.id).await?;
                return Box::pin(order.answer(state, now)).await;
            }
        }
        let token = match self.status {
            BankIdStatus::Complete if self.row.token_handed_out == 0 => {
                let cutoff = clock_ms(state.clock().now() - UNCOLLECTED_COMPLETION);
                match store::bankid::hand_out(state.pool(), &self.row.id, cutoff).await? {
                    Some(person_id) => Some(
                        sessions::create_for_person(state, person_id, Assurance::High)
                            .await?
                            .token,
                    ),
                    None => None,
                }
            }
            _ => None,
        };
        let pending = self.status == BankIdStatus::Pending;
        let qr = match (self.mode, pending) {
            (BankIdMode::OtherDevice, true) => {
                let qr_start_token: QrStartToken =
                    self.row.qr_start_token.parse().map_err(|_| {
                        ApiError::Internal(anyhow::anyhow!("stored qrStartToken is not a UUID"))
                    })?;
                let secret = QrStartSecret::new(self.row.qr_start_secret.clone());
                Some(qr_data(&qr_start_token, &secret, self.qr_seconds(now)))
            }
            _ => None,
        };
        let user = match (&self.row.user_name, &self.row.user_personal_number) {
            (Some(name), Some(personal_number)) => Some(BankIdUser {
                name: name.clone(),
                personal_number: personal_number.clone(),
            }),
            _ => None,
        };
        Ok(BankIdOrder {
            id: self.row.id.clone(),
            mode: self.mode,
            status: self.status,
            version: u64::try_from(self.row.version).unwrap_or(0),
            hint: self.row.hint.clone(),
            message: self.row.message.clone(),
            code: self.row.error_code.as_deref().map(ApiCode::parse),
            autostarttoken: (self.mode == BankIdMode::ThisDevice)
                .then(|| self.row.auto_start_token.clone()),
            qr,
            token,
            user,
        })
    }

    /// Whether the app, which has `since`, has something new to see: another version, or an
    /// order that ended.
    fn moved_past(&self, since: u64) -> bool {
        u64::try_from(self.row.version).unwrap_or(0) != since
            || self.status != BankIdStatus::Pending
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
        .reserve(&state, &limit_key(ip))
        .await?;
    store::bankid::sweep(
        state.pool(),
        clock_ms(state.clock().now() - ENDED_RETENTION),
    )
    .await?;
    let answer = bankid
        .client
        .auth(&auth_request(ip, state.bankid_user_visible_data()))
        .await
        .map_err(auth_error)?;
    let answered_at = state.clock().now();
    let flow = match request.mode {
        BankIdMode::ThisDevice => UserDevice::ThisDevice,
        BankIdMode::OtherDevice => UserDevice::OtherDevice,
    };
    let hint = HintCode::OutstandingTransaction;
    let message = rfa(flow, Outcome::Pending(Some(&hint)));
    let id = new_order_id();
    store::bankid::insert(
        state.pool(),
        &NewOrder {
            id: &id,
            mode: mode_str(request.mode),
            order_ref: &answer.order_ref.to_string(),
            auto_start_token: &answer.auto_start_token.to_string(),
            qr_start_token: &answer.qr_start_token.to_string(),
            qr_start_secret: answer.qr_start_secret.expose(),
            answered_at_ms: clock_ms(answered_at),
            end_user_ip: &ip.to_string(),
            hint: hint.as_str(),
            message: message.as_str(),
            owner: &bankid.owner,
            lease_until_ms: wall_ms() + millis(LEASE),
        },
    )
    .await?;
    tracing::info!(mode = ?request.mode, "BankID order started");
    bankid.collect_here(&state, id.clone(), POLL_INTERVAL);
    let order = Order::load(&state, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(order.answer(&state, answered_at).await?),
    ))
}

/// The `/auth` request: the end user's address, and the text the BankID app shows
/// ("Inloggning till …", from configuration).
fn auth_request(ip: std::net::IpAddr, visible: &UserVisibleData) -> AuthRequest {
    let mut request = AuthRequest::new(ip);
    request.user_visible_data = Some(visible.clone());
    request
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

/// `?wait=S&since=V`. Read by [`WaitQuery::parse`] as axum's `Query` reads it (the derived
/// `Deserialize` is that reading, kept for fuzz/ and the test that holds the two together).
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub struct WaitQuery {
    /// Seconds to wait for a change (at most [`MAX_WAIT_SECONDS`]).
    wait: Option<u64>,
    /// The `version` the app already has.
    since: Option<u64>,
}

impl WaitQuery {
    /// The query string as `Query<WaitQuery>` (serde_urlencoded) reads it — percent-decoded,
    /// `+` a space, other keys ignored, a key given twice or a value that is no `u64`
    /// refused (`None`) — without serde's machinery, which was a thousand instructions of
    /// every status answer (callgrind, `cargo xtask bench load`'s BankID status).
    pub fn parse(query: Option<&str>) -> Option<WaitQuery> {
        let mut read = WaitQuery::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let field = match &*key {
                "wait" => &mut read.wait,
                "since" => &mut read.since,
                _ => continue,
            };
            if field.is_some() {
                return None;
            }
            *field = Some(value.parse().ok()?);
        }
        Some(read)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WaitQuery {
    type Rejection = ApiError;

    /// Refused as a refused `Query` was (`http_limits::json_error` gave its `400` this body).
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        WaitQuery::parse(parts.uri.query()).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "the request was refused ({})",
                StatusCode::BAD_REQUEST
            ))
        })
    }
}

/// `GET /api/v1/bankid/orders/{id}`: the order now, or with `?wait=S&since=V` as soon as it
/// differs from version V (or, for a pending other-device order, when the QR code changes),
/// at the latest after S seconds.
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: WaitQuery,
) -> Result<Response> {
    let bankid = state.bankid().ok_or(ApiError::NotFound)?;
    let mut order = Order::load(&state, &id).await?;
    // Nothing to wait for (the app's version is old, or the order ended): answered at once,
    // without the clock reads and the subscription a wait needs.
    let wait_since = match (query.wait, query.since) {
        (Some(wait), Some(since)) if !order.moved_past(since) => Some((wait, since)),
        _ => None,
    };
    if let Some((wait, since)) = wait_since {
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(wait.min(MAX_WAIT_SECONDS));
        let mut answer_at = deadline;
        if order.mode == BankIdMode::OtherDevice {
            // The app shows each second's QR code: answer when it changes.
            answer_at = answer_at
                .min(tokio::time::Instant::now() + order.until_next_qr(state.clock().now()));
        }
        let mut changes = bankid.changes.subscribe();
        let mut waited = false;
        loop {
            changes.borrow_and_update();
            if order.moved_past(since) {
                break;
            }
            waited = true;
            let recheck_at = tokio::time::Instant::now() + LONG_POLL_RECHECK;
            if answer_at <= tokio::time::Instant::now() {
                break;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { break },
                () = tokio::time::sleep_until(answer_at.min(recheck_at)) => {
                    if answer_at <= recheck_at {
                        break;
                    }
                }
            }
            // Answering a removed (cancelled) order would hand out nothing useful: it is gone.
            order = Order::load(&state, &id).await?;
        }
        // After a wait, the order as it is now (an answer without a wait has just read it).
        if waited {
            order = Order::load(&state, &id).await?;
        }
    }
    order_json(&order.answer(&state, state.clock().now()).await?)
}

/// What a pending order's answer with its QR code takes as JSON, with room to spare.
const ORDER_JSON_CAPACITY: usize = 512;

/// `order` as `Json` answers it, but written into a buffer of its size at once (`Json` starts
/// at 128 bytes and grew twice for every poll of a pending "other device" order).
fn order_json(order: &BankIdOrder) -> Result<Response> {
    let mut body = Vec::with_capacity(ORDER_JSON_CAPACITY);
    serde_json::to_writer(&mut body, order).map_err(anyhow::Error::from)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// `DELETE /api/v1/bankid/orders/{id}`: cancels the order at BankID (if still pending) and
/// forgets it. Whichever instance collects it does the cancelling, so a collect can never
/// follow the cancel; if none does (it died), this one cancels. A session the order ended in
/// and the app never collected is never made.
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let bankid = state.bankid().ok_or(ApiError::NotFound)?;
    let order = Order::load(&state, &id).await?;
    if order.status == BankIdStatus::Pending {
        store::bankid::request_cancel(state.pool(), &id).await?;
        let local = bankid.collecting().get(&id).map(|(wake, _)| wake.clone());
        if let Some(wake) = local {
            wake.notify_one();
        }
        // The holder sees the request at its next renewal, at most POLL_INTERVAL away.
        let deadline = tokio::time::Instant::now() + POLL_INTERVAL + COLLECT_TIMEOUT;
        let mut changes = bankid.changes.subscribe();
        loop {
            let now = Order::load(&state, &id).await;
            match now {
                Ok(order) if order.status == BankIdStatus::Pending => {}
                _ => break,
            }
            if tokio::time::Instant::now() >= deadline {
                // Nobody collects it (its instance died, the lease not yet run out): cancel
                // here. A late collect by a holder coming back finds the order gone.
                if let Err(error) = bankid.client.cancel(&order.order_ref()?).await {
                    tracing::warn!(%error, "BankID cancel failed");
                }
                break;
            }
            tokio::select! {
                _ = changes.changed() => {}
                () = tokio::time::sleep(LONG_POLL_RECHECK) => {}
            }
        }
    }
    store::bankid::delete(state.pool(), &id).await?;
    bankid.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// The order's collector on the instance holding its lease: renews the lease and calls
/// `/collect` every [`POLL_INTERVAL`] until the order completes, fails or is cancelled, or the
/// lease is lost; then never again. Cancelling goes through here too, so a collect can never
/// follow the cancel.
async fn collect(
    state: AppState,
    bankid: Arc<BankId>,
    id: String,
    wake: Arc<Notify>,
    first_wait: Duration,
) {
    let outcome = collect_until_ended(&state, &bankid, &id, &wake, first_wait).await;
    bankid.collecting().remove(&id);
    if let Err(error) = outcome {
        tracing::warn!(%error, "BankID collector stopped");
    }
}

async fn collect_until_ended(
    state: &AppState,
    bankid: &BankId,
    id: &str,
    wake: &Notify,
    first_wait: Duration,
) -> Result<()> {
    let Ok(order) = Order::load(state, id).await else {
        return Ok(());
    };
    let flow = order.flow();
    let order_ref = order.order_ref()?;
    let end_user_ip = order.row.end_user_ip.clone();
    let mut failures = 0;
    let mut wait = first_wait;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
        }
        wait = POLL_INTERVAL;
        let lease_until = wall_ms() + millis(LEASE);
        let Some(cancel) =
            store::bankid::renew(state.pool(), id, &bankid.owner, lease_until).await?
        else {
            return Ok(());
        };
        if cancel {
            if let Err(error) = bankid.client.cancel(&order_ref).await {
                tracing::warn!(%error, "BankID cancel failed");
            }
            let hint = HintCode::Cancelled;
            let message = rfa(flow, Outcome::Failed(Some(&hint)));
            end(
                state,
                bankid,
                id,
                BankIdStatus::Failed,
                Some(hint),
                Some(message),
            )
            .await?;
            tracing::info!("BankID order cancelled");
            return Ok(());
        }
        let answer = tokio::time::timeout(COLLECT_TIMEOUT, bankid.client.collect(&order_ref)).await;
        match answer {
            Ok(Ok(answer)) => {
                failures = 0;
                if settle(state, bankid, id, answer, flow, &end_user_ip).await? {
                    return Ok(());
                }
            }
            Ok(Err(error)) => {
                failures += 1;
                tracing::warn!(%error, failures, "BankID collect failed");
                if failures >= MAX_COLLECT_FAILURES || !transient(&error) {
                    end(
                        state,
                        bankid,
                        id,
                        BankIdStatus::Failed,
                        None,
                        Some(error.rfa()),
                    )
                    .await?;
                    return Ok(());
                }
            }
            Err(_) => {
                failures += 1;
                tracing::warn!(failures, "BankID collect timed out");
                if failures >= MAX_COLLECT_FAILURES {
                    end(
                        state,
                        bankid,
                        id,
                        BankIdStatus::Failed,
                        None,
                        Some(RfaCode::Rfa5),
                    )
                    .await?;
                    return Ok(());
                }
            }
        }
    }
}

/// Records a new state of a pending order this instance holds; long-polls here wake at once.
async fn record(
    state: &AppState,
    bankid: &BankId,
    id: &str,
    status: BankIdStatus,
    hint: Option<HintCode>,
    message: Option<RfaCode>,
    user: Option<(i64, &BankIdUser)>,
) -> Result<()> {
    let ended = status != BankIdStatus::Pending;
    let changed = store::bankid::update(
        state.pool(),
        id,
        Some(&bankid.owner),
        &Update {
            status: status_str(status),
            hint: hint.as_ref().map(HintCode::as_str),
            message: message.map(RfaCode::as_str),
            error_code: None,
            ended_at_ms: ended.then(|| clock_ms(state.clock().now())),
            user: user.map(|(person_id, user)| {
                (person_id, user.name.as_str(), user.personal_number.as_str())
            }),
        },
    )
    .await?;
    if changed {
        bankid.changed();
    }
    Ok(())
}

async fn end(
    state: &AppState,
    bankid: &BankId,
    id: &str,
    status: BankIdStatus,
    hint: Option<HintCode>,
    message: Option<RfaCode>,
) -> Result<()> {
    record(state, bankid, id, status, hint, message, None).await
}

/// Ends an order BankID completed for another device than the one that started it: failed,
/// with our own code (the RFA22 fallback for clients that do not know it), and no session.
async fn refuse_relayed(state: &AppState, bankid: &BankId, id: &str) -> Result<()> {
    let changed = store::bankid::update(
        state.pool(),
        id,
        Some(&bankid.owner),
        &Update {
            status: status_str(BankIdStatus::Failed),
            hint: None,
            message: Some(RfaCode::Rfa22.as_str()),
            error_code: Some(ApiCode::BankidIpMismatch.as_str()),
            ended_at_ms: Some(clock_ms(state.clock().now())),
            user: None,
        },
    )
    .await?;
    if changed {
        bankid.changed();
    }
    Ok(())
}

/// Whether BankID's `device.ipAddress` is the address the order was started from. Compared as
/// addresses (an IPv4-mapped IPv6 address is its IPv4 one); anything unreadable differs.
fn same_device(end_user_ip: &str, device_ip: &str) -> bool {
    match (
        end_user_ip.parse::<std::net::IpAddr>(),
        device_ip.parse::<std::net::IpAddr>(),
    ) {
        (Ok(sent), Ok(device)) => sent.to_canonical() == device.to_canonical(),
        _ => false,
    }
}

/// Applies one collect answer; `true` when the order has ended. A "this computer" order
/// completed by a BankID app elsewhere (`device.ipAddress` is not the `endUserIp` sent) is
/// refused: the autostart link reached someone else's BankID (a relayed login). For
/// "another device" a differing address is the point, so it is not compared.
async fn settle(
    state: &AppState,
    bankid: &BankId,
    id: &str,
    answer: CollectResponse,
    flow: UserDevice,
    end_user_ip: &str,
) -> Result<bool> {
    let message = answer.rfa(flow);
    match (answer.status, answer.completion_data) {
        (Status::Complete, Some(data))
            if flow == UserDevice::ThisDevice
                && !same_device(end_user_ip, &data.device.ip_address) =>
        {
            // Neither address is logged: both are personal data.
            tracing::warn!("BankID on this computer completed from another address: refused");
            refuse_relayed(state, bankid, id).await?;
            Ok(true)
        }
        (Status::Pending, _) => {
            record(
                state,
                bankid,
                id,
                BankIdStatus::Pending,
                answer.hint_code,
                message,
                None,
            )
            .await?;
            Ok(false)
        }
        (Status::Complete, Some(data)) => {
            match log_in(state, &data).await {
                Ok((person_id, user)) => {
                    record(
                        state,
                        bankid,
                        id,
                        BankIdStatus::Complete,
                        None,
                        None,
                        Some((person_id, &user)),
                    )
                    .await?;
                    tracing::info!("BankID order complete");
                }
                Err(error) => {
                    tracing::error!(%error, "BankID login could not be recorded");
                    end(
                        state,
                        bankid,
                        id,
                        BankIdStatus::Failed,
                        None,
                        Some(RfaCode::Rfa5),
                    )
                    .await?;
                }
            }
            Ok(true)
        }
        (Status::Complete, None) => {
            tracing::warn!("BankID said complete without completion data");
            end(
                state,
                bankid,
                id,
                BankIdStatus::Failed,
                None,
                Some(RfaCode::Rfa22),
            )
            .await?;
            Ok(true)
        }
        (Status::Failed, _) => {
            let message = message.unwrap_or(RfaCode::Rfa22);
            tracing::info!(
                hint = answer.hint_code.as_ref().map(HintCode::as_str),
                "BankID order failed"
            );
            end(
                state,
                bankid,
                id,
                BankIdStatus::Failed,
                answer.hint_code,
                Some(message),
            )
            .await?;
            Ok(true)
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

/// Finds (or records) the person BankID identified; the session is made when the app is
/// given the outcome. The personnummer goes into the database and nowhere else.
async fn log_in(state: &AppState, data: &CompletionData) -> Result<(i64, BankIdUser)> {
    let user = &data.user;
    let person_id = store::people::upsert_by_personal_number(
        state.pool(),
        user.personal_number.expose(),
        &user.given_name,
        &user.surname,
    )
    .await?;
    Ok((
        person_id,
        BankIdUser {
            name: user.name.clone(),
            personal_number: user.personal_number.masked(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_request_carries_the_configured_user_visible_data() {
        let visible = UserVisibleData::new("Inloggning till Myndighetens e-tjänster").unwrap();
        let request = auth_request("192.0.2.7".parse().unwrap(), &visible);
        assert_eq!(request.end_user_ip.to_string(), "192.0.2.7");
        assert_eq!(
            request
                .user_visible_data
                .and_then(|v| v.decode())
                .as_deref(),
            Some("Inloggning till Myndighetens e-tjänster")
        );
    }

    /// The hand-written reading of `?wait=&since=` accepts, refuses and reads exactly what
    /// axum's `Query<WaitQuery>` (serde_urlencoded) does.
    #[test]
    fn the_wait_query_is_read_as_axum_query_reads_it() {
        let queries = [
            "",
            "wait=25&since=3",
            "since=3&wait=25",
            "wait=25",
            "since=0",
            "wait=0&since=18446744073709551615",
            "since=18446744073709551616",
            "wait=25&since=3&other=x",
            "other&wait=1",
            "wait=25&wait=3",
            "since=1&since=1",
            "wait=",
            "wait",
            "wait=-1",
            "wait=+5",
            "wait=%2B5",
            "wait=%32%35&since=%31",
            "w%61it=7",
            "wait=2%205",
            "wait=%205",
            "wait=5%20",
            "wait=0x10",
            "wait=1e3",
            "WAIT=5",
            "wait=5&&since=2&",
            "=5&wait=1",
            "wait=%FF",
            "%FF=1&since=2",
            "wait=%D9%A3",
            "wait=1;since=2",
        ];
        for query in queries {
            let uri: axum::http::Uri = format!("/o?{query}").parse().unwrap();
            let axum = axum::extract::Query::<WaitQuery>::try_from_uri(&uri)
                .ok()
                .map(|q| q.0);
            assert_eq!(WaitQuery::parse(uri.query()), axum, "?{query}");
        }
        let bare: axum::http::Uri = "/o".parse().unwrap();
        assert_eq!(WaitQuery::parse(bare.query()), Some(WaitQuery::default()));
        assert_eq!(
            WaitQuery::parse(Some("wait=25&since=3")),
            Some(WaitQuery {
                wait: Some(25),
                since: Some(3)
            })
        );
    }

    #[test]
    fn the_same_device_is_the_same_address_however_it_is_written() {
        assert!(same_device("192.0.2.7", "192.0.2.7"));
        assert!(same_device("192.0.2.7", "::ffff:192.0.2.7"));
        assert!(same_device("2001:db8::1", "2001:db8:0:0::1"));
        assert!(!same_device("192.0.2.7", "192.0.2.8"));
        assert!(!same_device("2001:db8::1", "2001:db8::2"));
        // An order older than the column, or an address BankID wrote oddly, counts as another.
        assert!(!same_device("", "192.0.2.7"));
        assert!(!same_device("192.0.2.7", "not an address"));
    }
}
