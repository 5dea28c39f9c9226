//! What the client's flow tests run against: a fake backend on loopback that keeps the server's
//! contract (docs/api.md) for accounts, sessions and trusted devices, with the knobs a test
//! needs (end a session, refuse a device, go down); a clock the test moves; and recorders of
//! what the client told the UI and asked of the desktop.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use legitimera_client::bankid::BankIdView;
use legitimera_client::connectivity::BackendStatus;
use legitimera_client::device::Device;
use legitimera_client::keyring::MemoryKeyring;
use legitimera_client::session_timer::{Clock, Now};
use legitimera_client::settings::MemoryStore;
use legitimera_client::siths::CardView;
use legitimera_client::wipe::{Places, SessionMarker};
use legitimera_client::{
    ApiClient, BackendUrl, Client, Desktop, Events, Parts, Policy, SessionEnded, SessionWarning,
    Startup,
};
use legitimera_protocol::{
    Assurance, Challenge, DevicesAnswer, ErrorBody, ErrorCode, ForgetDeviceRequest, LoginAnswer,
    LoginChallenge, LoginRequest, Session, SessionStatus, SmsLoginRequest, Step, TrustedDevice,
};
use serde_json::{json, Value};

/// The SMS and e-mail code the fake backend sends, every time.
pub const CODE: &str = "123456";
pub const PASSWORD: &str = "rätt-lösenord-1";
/// An account without two-step verification, and one with it.
pub const ERIK: &str = "erik@example.se";
pub const AMIRA: &str = "amira@example.se";
pub const IDLE: Duration = Duration::from_secs(30 * 60);
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);

#[derive(Debug, Clone)]
struct FakeSession {
    email: String,
    assurance: Assurance,
    /// Set when the server ended it: the code it now answers with.
    ended: Option<ErrorCode>,
}

#[derive(Debug, Clone)]
struct FakeDevice {
    id: String,
    email: String,
    label: String,
}

#[derive(Debug, Default)]
pub struct World {
    /// email → phone (Some: two-step verification).
    accounts: HashMap<String, Option<String>>,
    sessions: HashMap<String, FakeSession>,
    /// SMS login challenge id → email.
    sms_logins: HashMap<String, String>,
    /// device token → device.
    devices: HashMap<String, FakeDevice>,
    next_id: u64,
    /// Every request: "METHOD /path".
    pub requests: Vec<String>,
    /// Every `Authorization: Bearer` token sent, in order.
    pub bearer_tokens: Vec<String>,
    /// Answer everything with a proxy's 502 page.
    pub down: bool,
    /// Answer requests to this path only after a while.
    pub slow: Option<(String, Duration)>,
    pub demo: bool,
}

impl World {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }
}

#[derive(Debug, Clone)]
pub struct FakeBackend {
    pub url: String,
    world: Arc<Mutex<World>>,
}

impl FakeBackend {
    pub async fn start() -> FakeBackend {
        let mut world = World::default();
        world.accounts.insert(ERIK.into(), None);
        world
            .accounts
            .insert(AMIRA.into(), Some("+46701234567".into()));
        let world = Arc::new(Mutex::new(world));
        let app = Router::new()
            .route("/api/v1/health", get(health))
            .route("/api/v1/login/password", post(login_password))
            .route("/api/v1/login/sms", post(login_sms))
            .route("/api/v1/login/resend", post(login_resend))
            .route(
                "/api/v1/session",
                get(session_status).delete(session_delete),
            )
            .route("/api/v1/session/activity", post(session_status))
            .route("/api/v1/cases", get(cases))
            .route("/api/v1/devices", get(devices))
            .route("/api/v1/devices/forget", post(forget_device))
            .route("/api/v1/devices/{id}", delete(remove_device))
            .route("/api/v1/registrations", post(register))
            .route("/api/v1/registrations/{id}/email-code", post(email_code))
            .route("/api/v1/phone-changes", post(phone_change))
            .route("/api/v1/phone-changes/{id}/sms-code", post(sms_code))
            .route("/demo/outbox", get(outbox))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(world.clone(), record))
            .with_state(world.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeBackend { url, world }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    /// How many requests were `what` ("POST /api/v1/login/password").
    pub fn count(&self, what: &str) -> usize {
        self.world().requests.iter().filter(|r| *r == what).count()
    }

    /// The server ends every open session by its own clock (or a logout elsewhere).
    pub fn end_sessions(&self, code: ErrorCode) {
        for session in self.world().sessions.values_mut() {
            session.ended.get_or_insert(code);
        }
    }

    pub fn open_sessions(&self) -> usize {
        self.world()
            .sessions
            .values()
            .filter(|s| s.ended.is_none())
            .count()
    }

    /// The server stops trusting every device (a phone change elsewhere).
    pub fn revoke_devices(&self) {
        self.world().devices.clear();
    }

    pub fn devices(&self) -> usize {
        self.world().devices.len()
    }

    pub fn set_down(&self, down: bool) {
        self.world().down = down;
    }
}

fn error(status: StatusCode, code: ErrorCode) -> Response {
    (status, Json(ErrorBody::new(code, code.as_str()))).into_response()
}

async fn record(
    State(world): State<Arc<Mutex<World>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let delay = {
        let mut world = world.lock().unwrap();
        world.requests.push(format!("{method} {}", uri.path()));
        if let Some(token) = bearer(&headers) {
            world.bearer_tokens.push(token);
        }
        if world.down {
            return (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response();
        }
        world
            .slow
            .as_ref()
            .filter(|(path, _)| path == uri.path())
            .map(|(_, delay)| *delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// The session of the request's token, or the error the server answers.
fn authorized(world: &World, headers: &HeaderMap) -> Result<(String, FakeSession), Response> {
    let token =
        bearer(headers).ok_or_else(|| error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized))?;
    let session = world
        .sessions
        .get(&token)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized))?;
    match session.ended {
        Some(code) => Err(error(StatusCode::UNAUTHORIZED, code)),
        None => Ok((token, session.clone())),
    }
}

fn status_of(world: &World, session: &FakeSession) -> SessionStatus {
    let phone = world.accounts.get(&session.email).cloned().flatten();
    SessionStatus {
        assurance: session.assurance,
        email: Some(session.email.clone()),
        two_step: phone.is_some(),
        phone,
        idle_expires_in: IDLE.as_secs(),
        absolute_expires_in: ABSOLUTE.as_secs(),
        idle_timeout: IDLE.as_secs(),
        absolute_timeout: ABSOLUTE.as_secs(),
        name: None,
        personal_number: None,
        staff: None,
    }
}

fn new_session(world: &mut World, email: &str, assurance: Assurance) -> Session {
    let token = world.id("session-token-");
    world.sessions.insert(
        token.clone(),
        FakeSession {
            email: email.to_owned(),
            assurance,
            ended: None,
        },
    );
    Session {
        token: token.into(),
        assurance,
        idle_expires_in: IDLE.as_secs(),
        absolute_expires_in: ABSOLUTE.as_secs(),
        device_token: None,
    }
}

async fn health(State(world): State<Arc<Mutex<World>>>) -> Json<Value> {
    let demo = world.lock().unwrap().demo;
    Json(json!({"status": "ok", "version": "fake", "demo": demo}))
}

async fn login_password(
    State(world): State<Arc<Mutex<World>>>,
    Json(request): Json<LoginRequest>,
) -> Response {
    let mut world = world.lock().unwrap();
    let Some(phone) = world.accounts.get(&request.email).cloned() else {
        return error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
    };
    if request.password.expose() != PASSWORD {
        return error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
    }
    if phone.is_none() {
        let session = new_session(&mut world, &request.email, Assurance::Low);
        return Json(LoginAnswer::Session(session)).into_response();
    }
    let trusted = request.device_token.as_ref().map(|token| {
        world
            .devices
            .get(token.expose())
            .is_some_and(|device| device.email == request.email)
    });
    if trusted == Some(true) {
        let session = new_session(&mut world, &request.email, Assurance::Substantial);
        return Json(LoginAnswer::Session(session)).into_response();
    }
    let id = world.id("login-");
    world.sms_logins.insert(id.clone(), request.email.clone());
    Json(LoginAnswer::SmsCode(LoginChallenge {
        id,
        resend_after: 30,
        code_expires_in: 600,
        device_refused: trusted == Some(false),
    }))
    .into_response()
}

async fn login_sms(
    State(world): State<Arc<Mutex<World>>>,
    Json(request): Json<SmsLoginRequest>,
) -> Response {
    let mut world = world.lock().unwrap();
    let Some(email) = world.sms_logins.get(&request.challenge_id).cloned() else {
        return error(StatusCode::NOT_FOUND, ErrorCode::UnknownChallenge);
    };
    if request.code.expose() != CODE {
        let mut body = ErrorBody::new(ErrorCode::WrongCode, "wrong code");
        body.tries_left = Some(4);
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    world.sms_logins.remove(&request.challenge_id);
    let mut session = new_session(&mut world, &email, Assurance::Substantial);
    if request.trust_device {
        let token = world.id("device-token-");
        let id = world.id("device-");
        let label = request.device_label.clone().unwrap_or_default();
        world
            .devices
            .insert(token.clone(), FakeDevice { id, email, label });
        session.device_token = Some(token.into());
    }
    Json(session).into_response()
}

async fn login_resend(
    State(world): State<Arc<Mutex<World>>>,
    Json(request): Json<Value>,
) -> Response {
    let world = world.lock().unwrap();
    let id = request["challenge_id"].as_str().unwrap_or_default();
    if !world.sms_logins.contains_key(id) {
        return error(StatusCode::NOT_FOUND, ErrorCode::UnknownChallenge);
    }
    Json(LoginChallenge {
        id: id.to_owned(),
        resend_after: 30,
        code_expires_in: 600,
        device_refused: false,
    })
    .into_response()
}

async fn session_status(State(world): State<Arc<Mutex<World>>>, headers: HeaderMap) -> Response {
    let world = world.lock().unwrap();
    match authorized(&world, &headers) {
        Ok((_, session)) => Json(status_of(&world, &session)).into_response(),
        Err(response) => response,
    }
}

async fn session_delete(State(world): State<Arc<Mutex<World>>>, headers: HeaderMap) -> Response {
    let mut world = world.lock().unwrap();
    match authorized(&world, &headers) {
        Ok((token, _)) => {
            if let Some(session) = world.sessions.get_mut(&token) {
                session.ended = Some(ErrorCode::Unauthorized);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(response) => response,
    }
}

async fn cases(State(world): State<Arc<Mutex<World>>>, headers: HeaderMap) -> Response {
    let world = world.lock().unwrap();
    match authorized(&world, &headers) {
        Ok((_, session)) => Json(json!({
            "assurance": session.assurance,
            "lang": "sv",
            "details_hidden": session.assurance == Assurance::Low,
            "stronger_login_shows": [],
            "cases": [],
        }))
        .into_response(),
        Err(response) => response,
    }
}

async fn devices(State(world): State<Arc<Mutex<World>>>, headers: HeaderMap) -> Response {
    let world = world.lock().unwrap();
    let (_, session) = match authorized(&world, &headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let devices = world
        .devices
        .values()
        .filter(|device| device.email == session.email)
        .map(|device| TrustedDevice {
            id: device.id.clone(),
            label: device.label.clone(),
            created_at: "2026-11-30T08:00:00Z".into(),
            expires_at: "2026-12-30T08:00:00Z".into(),
            last_used_at: None,
            current: false,
        })
        .collect();
    Json(DevicesAnswer { devices }).into_response()
}

async fn remove_device(
    State(world): State<Arc<Mutex<World>>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let mut world = world.lock().unwrap();
    let (_, session) = match authorized(&world, &headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let before = world.devices.len();
    world
        .devices
        .retain(|_, device| !(device.id == id && device.email == session.email));
    if world.devices.len() == before {
        return error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn forget_device(
    State(world): State<Arc<Mutex<World>>>,
    Json(request): Json<ForgetDeviceRequest>,
) -> StatusCode {
    world
        .lock()
        .unwrap()
        .devices
        .remove(request.device_token.expose());
    StatusCode::NO_CONTENT
}

async fn register(State(world): State<Arc<Mutex<World>>>, Json(request): Json<Value>) -> Response {
    let mut world = world.lock().unwrap();
    let email = request["email"].as_str().unwrap_or_default().to_owned();
    world.accounts.entry(email).or_insert(None);
    let id = world.id("registration-");
    Json(Challenge {
        id,
        next: Step::EmailCode,
        resend_after: Some(30),
        code_expires_in: Some(600),
    })
    .into_response()
}

async fn email_code(UrlPath(id): UrlPath<String>, Json(request): Json<Value>) -> Response {
    if request["code"] != CODE {
        return error(StatusCode::BAD_REQUEST, ErrorCode::WrongCode);
    }
    Json(Challenge {
        id,
        next: Step::Done,
        resend_after: None,
        code_expires_in: None,
    })
    .into_response()
}

async fn phone_change(
    State(world): State<Arc<Mutex<World>>>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    let mut world = world.lock().unwrap();
    let with_credentials = request.get("email").is_some() && request.get("password").is_some();
    if !with_credentials {
        if let Err(response) = authorized(&world, &headers) {
            return response;
        }
    }
    let id = world.id("phone-change-");
    Json(Challenge {
        id,
        next: if with_credentials {
            Step::EmailCode
        } else {
            Step::SmsCode
        },
        resend_after: Some(30),
        code_expires_in: Some(600),
    })
    .into_response()
}

async fn sms_code(
    State(world): State<Arc<Mutex<World>>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let world = world.lock().unwrap();
    if let Err(response) = authorized(&world, &headers) {
        return response;
    }
    Json(Challenge {
        id,
        next: Step::Done,
        resend_after: None,
        code_expires_in: None,
    })
    .into_response()
}

async fn outbox() -> Json<Value> {
    Json(json!([]))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, ErrorCode::NotFound)
}

/// A clock the test moves: monotonic and wall time advance together unless a test says not.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Now>,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock {
            now: Mutex::new(Now {
                monotonic: Instant::now(),
                wall: SystemTime::now(),
            }),
        })
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap();
        now.monotonic += by;
        now.wall += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Now {
        *self.now.lock().unwrap()
    }
}

/// What the client told the UI and asked of the desktop, in order.
#[derive(Debug, Default)]
pub struct Recorder {
    pub told: Mutex<Vec<String>>,
    pub window_in_front: std::sync::atomic::AtomicBool,
    /// `open_url` answers this (a BankID app is installed).
    pub opens_urls: std::sync::atomic::AtomicBool,
}

impl Recorder {
    fn tell(&self, what: String) {
        self.told.lock().unwrap().push(what);
    }

    pub fn told(&self) -> Vec<String> {
        self.told.lock().unwrap().clone()
    }

    /// How many things told start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.told().iter().filter(|t| t.starts_with(prefix)).count()
    }

    pub fn clear(&self) {
        self.told.lock().unwrap().clear();
    }
}

impl Events for Recorder {
    fn update_status(&self, view: &legitimera_client::UpdateView) {
        self.tell(format!(
            "update-status {}",
            serde_json::to_string(view).unwrap()
        ));
    }

    fn backend_status(&self, status: &BackendStatus) {
        self.tell(format!(
            "backend-status {}",
            serde_json::to_string(status).unwrap()
        ));
    }

    fn session_warning(&self, warning: SessionWarning) {
        self.tell(format!("session-warning {}", warning.seconds_left));
    }

    fn session_active(&self) {
        self.tell("session-active".into());
    }

    fn session_ended(&self, ended: SessionEnded) {
        self.tell(format!("session-ended {}", ended.code));
    }

    fn bankid_status(&self, view: &BankIdView) {
        self.tell(format!("bankid-status {:?}", view.status));
    }

    fn card_changed(&self, view: &CardView) {
        self.tell(format!("card-changed {:?}", view.state));
    }
}

#[async_trait::async_trait]
impl Desktop for Recorder {
    async fn clear_webview_data(&self) {
        self.tell("clear-webview-data".into());
    }

    fn window_in_front(&self) -> bool {
        self.window_in_front
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn notify(&self, summary: &str, _body: &str) {
        self.tell(format!("notify {summary}"));
    }

    async fn open_url(&self, url: String) -> bool {
        self.tell(format!(
            "open-url {}",
            url.split('?').next().unwrap_or_default()
        ));
        self.opens_urls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A client wired to fakes, with everything a test looks at.
pub struct Harness {
    pub backend: FakeBackend,
    pub client: Arc<Client>,
    pub clock: Arc<ManualClock>,
    pub recorder: Arc<Recorder>,
    pub store: Arc<MemoryStore>,
    pub keyring: Arc<MemoryKeyring>,
    pub places: Places,
    pub home: tempfile::TempDir,
}

/// The app's directories under `home`, laid out as on Linux.
pub fn linux_places(home: &Path) -> Places {
    let data = home.join("data/se.legitimera.desktop");
    Places {
        config: home.join("config/se.legitimera.desktop"),
        local_data: data.clone(),
        logs: data.join("logs"),
        data,
        cache: home.join("cache/se.legitimera.desktop"),
    }
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with(MemoryStore::default(), MemoryKeyring::default()).await
    }

    /// In personal mode (the user chose "Min egen dator").
    pub async fn personal() -> Harness {
        let store = MemoryStore::default();
        use legitimera_client::settings::SettingsStore;
        store.set("mode", json!("personal"));
        Harness::with(store, MemoryKeyring::default()).await
    }

    pub async fn with(store: MemoryStore, keyring: MemoryKeyring) -> Harness {
        let backend = FakeBackend::start().await;
        Harness::against(backend, store, keyring)
    }

    /// Another client on the same backend (the next start of the app, or another computer),
    /// keeping the settings and keyring of this computer.
    pub fn again(&self) -> Harness {
        Harness::against_with(
            self.backend.clone(),
            self.store.clone(),
            self.keyring.clone(),
        )
    }

    fn against(backend: FakeBackend, store: MemoryStore, keyring: MemoryKeyring) -> Harness {
        Harness::against_with(backend, Arc::new(store), Arc::new(keyring))
    }

    /// Under machine policy (`policies.json`'s text); its errors go to the client's report.
    pub async fn governed(policy: &str, store: MemoryStore) -> Harness {
        let (policy, policy_errors) = Policy::parse(policy);
        let backend = FakeBackend::start().await;
        let startup = Startup {
            policy_errors,
            ..Startup::default()
        };
        Harness::build(
            backend,
            Arc::new(store),
            Arc::new(MemoryKeyring::default()),
            policy,
            startup,
        )
    }

    /// A release build with no backend configured (the fake backend runs, and must not be
    /// asked anything).
    pub async fn without_backend() -> Harness {
        let backend = FakeBackend::start().await;
        let startup = Startup {
            backend_error: Some(ErrorCode::BackendNotConfigured),
            ..Startup::default()
        };
        Harness::build(
            backend,
            Arc::new(MemoryStore::default()),
            Arc::new(MemoryKeyring::default()),
            Policy::default(),
            startup,
        )
    }

    fn against_with(
        backend: FakeBackend,
        store: Arc<MemoryStore>,
        keyring: Arc<MemoryKeyring>,
    ) -> Harness {
        Harness::build(
            backend,
            store,
            keyring,
            Policy::default(),
            Startup::default(),
        )
    }

    fn build(
        backend: FakeBackend,
        store: Arc<MemoryStore>,
        keyring: Arc<MemoryKeyring>,
        policy: Policy,
        startup: Startup,
    ) -> Harness {
        let home = tempfile::tempdir().unwrap();
        let places = linux_places(home.path());
        let clock = ManualClock::new();
        let recorder = Arc::new(Recorder::default());
        let api = ApiClient::new(BackendUrl::parse(&backend.url).unwrap()).unwrap();
        let client = Client::new(Parts {
            api,
            clock: clock.clone(),
            device: Device::governed(store.clone(), keyring.clone(), policy),
            marker: SessionMarker::new(places.marker()),
            events: recorder.clone(),
            desktop: recorder.clone(),
            startup,
        });
        Harness {
            backend,
            client,
            clock,
            recorder,
            store,
            keyring,
            places,
            home,
        }
    }

    pub fn marker(&self) -> PathBuf {
        self.places.marker()
    }

    /// Logs Erik in (password, no two-step verification).
    pub async fn log_in_erik(&self) -> SessionStatus {
        match self
            .client
            .login_password(ERIK, PASSWORD.into())
            .await
            .unwrap()
        {
            legitimera_client::LoginOutcome::Session { session } => session,
            other => panic!("expected a session, got {other:?}"),
        }
    }

    /// Logs Amira in with her SMS code; `trust`: "trust this computer".
    pub async fn log_in_amira(&self, trust: bool) -> SessionStatus {
        let id = match self
            .client
            .login_password(AMIRA, PASSWORD.into())
            .await
            .unwrap()
        {
            legitimera_client::LoginOutcome::SmsCode { id, .. } => id,
            other => panic!("expected an SMS step, got {other:?}"),
        };
        self.client
            .login_sms(&id, &CODE.into(), trust)
            .await
            .unwrap()
    }

    /// Runs the session clock's check after `by` has passed.
    pub async fn after(&self, by: Duration) {
        self.clock.advance(by);
        self.client.check_session_clock().await;
    }
}
