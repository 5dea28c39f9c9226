//! The client of the e-service backend: every network call the app makes goes through here
//! (the webview makes none). It knows HTTP and the wire types, nothing of Tauri. It never logs
//! a body: they carry e-mail addresses, passwords, codes and tokens.

use std::time::Duration;

use legitimera_protocol::{
    CasesAnswer, Challenge, CodeRequest, DevicesAnswer, EmailLoginRequest, ErrorBody, ErrorCode,
    ForgetDeviceRequest, Health, LoginAnswer, LoginChallenge, LoginRequest, LoginResendRequest,
    NewPasswordRequest, OutboxMessage, PasswordChangeRequest, PasswordResetRequest,
    PhoneChangeRequest, RegistrationRequest, SecretString, Session, SessionStatus, SithsChallenge,
    SithsCheck, SithsCheckRequest, SithsLoginRequest, SmsLoginRequest, StaffLanding,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::BackendUrl;
use crate::error::{AppError, Result};

#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: BackendUrl,
}

/// Which multi-step flow a code or a resend belongs to: the paths differ, the steps don't.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeFlow {
    Registration,
    PhoneChange,
    PasswordReset,
}

impl CodeFlow {
    fn collection(self) -> &'static str {
        match self {
            CodeFlow::Registration => "registrations",
            CodeFlow::PhoneChange => "phone-changes",
            CodeFlow::PasswordReset => "password-resets",
        }
    }
}

/// The step a code answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStep {
    Email,
    Sms,
}

impl ApiClient {
    pub fn new(base: BackendUrl) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Legitimera/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            // The server closes a kept-alive connection after 10 s without a request (its
            // header-read timeout) and the backend watcher asks every 10 s: a connection kept
            // longer here could be reused at the moment the server closes it, and the request
            // fail as "unreachable" (the soak bench saw it). Ours goes first.
            .pool_idle_timeout(Duration::from_secs(5))
            // Above the server's own SMTP and SMS timeouts, so their clear errors arrive first.
            .timeout(Duration::from_secs(30))
            // Redirects could take a bearer token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(AppError::BackendUnreachable)?;
        Ok(ApiClient { http, base })
    }

    pub fn base(&self) -> &BackendUrl {
        &self.base
    }

    /// `GET /api/v1/health`: Ok only when the backend and its database answer.
    pub async fn health(&self) -> Result<Health> {
        let response = self
            .request(Method::GET, "api/v1/health", None, None::<&()>)?
            // The watcher asks every 10 or 30 s, and a connection is kept for 5: closed with
            // the answer, not by the pool's reaper 5 s later (fewer wake-ups while idle).
            .header(reqwest::header::CONNECTION, "close")
            .send()
            .await
            .map_err(AppError::BackendUnreachable)?;
        let health: Health = decode(response).await?;
        if health.status == "ok" {
            Ok(health)
        } else {
            Err(AppError::BackendUnavailable { status: 200 })
        }
    }

    pub async fn register(&self, request: &RegistrationRequest) -> Result<Challenge> {
        self.call(Method::POST, "api/v1/registrations", None, Some(request))
            .await
    }

    /// Answers a code step of a registration or a phone change. A phone change started while
    /// logged in needs the session `token`.
    pub async fn submit_code(
        &self,
        flow: CodeFlow,
        id: &str,
        step: CodeStep,
        code: SecretString,
        token: Option<&SecretString>,
    ) -> Result<Challenge> {
        let step = match step {
            CodeStep::Email => "email-code",
            CodeStep::Sms => "sms-code",
        };
        let path = format!("api/v1/{}/{}/{step}", flow.collection(), segment(id)?);
        self.call(Method::POST, &path, token, Some(&CodeRequest { code }))
            .await
    }

    pub async fn resend(
        &self,
        flow: CodeFlow,
        id: &str,
        token: Option<&SecretString>,
    ) -> Result<Challenge> {
        let path = format!("api/v1/{}/{}/resend", flow.collection(), segment(id)?);
        self.call(Method::POST, &path, token, Some(&serde_json::json!({})))
            .await
    }

    pub async fn login_password(&self, request: &LoginRequest) -> Result<LoginAnswer> {
        self.call(Method::POST, "api/v1/login/password", None, Some(request))
            .await
    }

    pub async fn login_email_code(&self, request: &EmailLoginRequest) -> Result<LoginAnswer> {
        self.call(Method::POST, "api/v1/login/email-code", None, Some(request))
            .await
    }

    pub async fn login_sms(&self, request: &SmsLoginRequest) -> Result<Session> {
        self.call(Method::POST, "api/v1/login/sms", None, Some(request))
            .await
    }

    pub async fn login_resend(&self, challenge_id: &str) -> Result<LoginChallenge> {
        let request = LoginResendRequest {
            challenge_id: challenge_id.to_owned(),
        };
        self.call(Method::POST, "api/v1/login/resend", None, Some(&request))
            .await
    }

    pub async fn start_phone_change(
        &self,
        request: &PhoneChangeRequest,
        token: Option<&SecretString>,
    ) -> Result<Challenge> {
        self.call(Method::POST, "api/v1/phone-changes", token, Some(request))
            .await
    }

    /// "Glömt lösenordet?": a code goes to `email` (the same answer whether it has an account).
    pub async fn start_password_reset(&self, request: &PasswordResetRequest) -> Result<Challenge> {
        self.call(Method::POST, "api/v1/password-resets", None, Some(request))
            .await
    }

    /// The new password of a proven reset.
    pub async fn finish_password_reset(
        &self,
        id: &str,
        request: &NewPasswordRequest,
    ) -> Result<Challenge> {
        let path = format!("api/v1/password-resets/{}/password", segment(id)?);
        self.call(Method::POST, &path, None, Some(request)).await
    }

    /// Changes the logged-in account's password; the server ends its other sessions.
    pub async fn change_password(
        &self,
        token: &SecretString,
        request: &PasswordChangeRequest,
    ) -> Result<()> {
        self.no_content(
            Method::POST,
            "api/v1/session/password",
            Some(token),
            Some(request),
        )
        .await
    }

    pub async fn session(&self, token: &SecretString) -> Result<SessionStatus> {
        self.call(Method::GET, "api/v1/session", Some(token), None::<&()>)
            .await
    }

    pub async fn activity(&self, token: &SecretString) -> Result<SessionStatus> {
        self.call(
            Method::POST,
            "api/v1/session/activity",
            Some(token),
            None::<&()>,
        )
        .await
    }

    pub async fn logout(&self, token: &SecretString) -> Result<()> {
        self.no_content(Method::DELETE, "api/v1/session", Some(token), None::<&()>)
            .await
    }

    /// The account's trusted devices (personal computers' two-step tokens).
    pub async fn devices(&self, token: &SecretString) -> Result<DevicesAnswer> {
        self.call(Method::GET, "api/v1/devices", Some(token), None::<&()>)
            .await
    }

    /// Stops trusting the device `id` of the logged-in account.
    pub async fn remove_device(&self, token: &SecretString, id: &str) -> Result<()> {
        let path = format!("api/v1/devices/{}", segment(id)?);
        self.no_content(Method::DELETE, &path, Some(token), None::<&()>)
            .await
    }

    /// The device forgets itself, proven by its token (no session needed).
    pub async fn forget_device(&self, device_token: &SecretString) -> Result<()> {
        let request = ForgetDeviceRequest {
            device_token: device_token.clone(),
        };
        self.no_content(Method::POST, "api/v1/devices/forget", None, Some(&request))
            .await
    }

    /// A call answered by `204 No Content` (or an error body).
    async fn no_content<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
    ) -> Result<()> {
        let response = self
            .request(method, path, token, body)?
            .send()
            .await
            .map_err(AppError::BackendUnreachable)?;
        if response.status().is_success() {
            return Ok(());
        }
        decode::<serde_json::Value>(response).await.map(|_| ())
    }

    /// `GET /api/v1/cases?lang=…`.
    pub async fn cases(&self, token: &SecretString, lang: &str) -> Result<CasesAnswer> {
        let lang = if lang == "en" { "en" } else { "sv" };
        let path = format!("api/v1/cases?lang={lang}");
        self.call(Method::GET, &path, Some(token), None::<&()>)
            .await
    }

    /// `POST /api/v1/siths/challenges`: the bytes the card is to sign.
    pub async fn siths_challenge(&self) -> Result<SithsChallenge> {
        self.call(
            Method::POST,
            "api/v1/siths/challenges",
            None,
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// `POST /api/v1/siths/sessions`: the signed challenge, for a staff session.
    pub async fn siths_session(&self, request: &SithsLoginRequest) -> Result<Session> {
        self.call(Method::POST, "api/v1/siths/sessions", None, Some(request))
            .await
    }

    /// `POST /api/v1/siths/check`: what a login with this certificate would meet (revocation
    /// included), without a challenge or a session.
    pub async fn siths_check(&self, request: &SithsCheckRequest) -> Result<SithsCheck> {
        self.call(Method::POST, "api/v1/siths/check", None, Some(request))
            .await
    }

    /// `GET /api/v1/siths/landing?lang=…`: the staff landing page.
    pub async fn staff_landing(&self, token: &SecretString, lang: &str) -> Result<StaffLanding> {
        let lang = if lang == "en" { "en" } else { "sv" };
        let path = format!("api/v1/siths/landing?lang={lang}");
        self.call(Method::GET, &path, Some(token), None::<&()>)
            .await
    }

    /// `GET /demo/outbox`: only a demo backend has it.
    pub async fn demo_outbox(&self) -> Result<Vec<OutboxMessage>> {
        self.call(Method::GET, "demo/outbox", None, None::<&()>)
            .await
    }

    pub(crate) fn request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
    ) -> Result<reqwest::RequestBuilder> {
        let mut request = self.http.request(method, self.base.join(path)?);
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Ok(request)
    }

    pub(crate) async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
    ) -> Result<T> {
        let response = self
            .request(method, path, token, body)?
            .send()
            .await
            .map_err(AppError::BackendUnreachable)?;
        decode(response).await
    }
}

/// An id from the server, checked before it becomes a path segment: ids are URL-safe tokens,
/// and anything else (a `/`, `..`, `?`) must not reach another route.
pub(crate) fn segment(id: &str) -> Result<&str> {
    let safe = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if safe {
        Ok(id)
    } else {
        Err(AppError::backend(ErrorCode::UnknownChallenge, 404))
    }
}

/// Turns a response into `T`, or into the backend's error (see [`decode_body`]).
async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(AppError::BackendUnreachable)?;
    decode_body(status, &bytes)
}

/// Turns an answer's status and body into `T`, or into the backend's `{code, message}` error,
/// or — for anything that is not ours (a proxy's HTML page, a 502) and for a 503 that says the
/// service itself is down — into `backend_unavailable`. Pure: the fuzz target feeds it any bytes.
pub fn decode_body<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<T> {
    if status.is_success() {
        return serde_json::from_slice(bytes).map_err(|_| AppError::BackendUnavailable {
            status: status.as_u16(),
        });
    }
    match serde_json::from_slice::<ErrorBody>(bytes) {
        // Only a 503 about the service itself reads as the service being down; any other code
        // of ours under 503 (an e-mail not sent, BankID or a CRL out of reach) says more.
        Ok(body) if status != StatusCode::SERVICE_UNAVAILABLE || !service_down(body.code) => {
            Err(AppError::Backend {
                code: body.code,
                status: status.as_u16(),
                tries_left: body.tries_left,
                retry_after: body.retry_after,
                id: body.id,
            })
        }
        _ => Err(AppError::BackendUnavailable {
            status: status.as_u16(),
        }),
    }
}

/// The codes a 503 carries when the service as a whole cannot answer now: at its limit, or its
/// database gone.
fn service_down(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Overloaded | ErrorCode::DatabaseUnavailable | ErrorCode::Internal
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// The backend watcher's check asks for its connection to be closed with the answer, and
    /// closes it itself even when the server would keep it: no idle connection for the pool's
    /// reaper to wake for 5 s later, every 10 or 30 s.
    #[tokio::test]
    async fn the_health_check_closes_its_connection_with_the_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base =
            BackendUrl::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buffer = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = socket.read(&mut buffer).await.unwrap();
                assert!(read > 0, "the request ended early");
                head.extend_from_slice(&buffer[..read]);
            }
            let body = br#"{"status":"ok","version":"1","demo":false}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.write_all(body).await.unwrap();
            // The server keeps the connection; the client must end it, well before 5 s.
            let closed = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buffer))
                .await
                .map(|read| read.unwrap() == 0);
            (
                String::from_utf8(head).unwrap().to_ascii_lowercase(),
                closed,
            )
        });
        let client = ApiClient::new(base).unwrap();
        let health = client.health().await.unwrap();
        assert_eq!(health.status, "ok");
        let (head, closed) = server.await.unwrap();
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        assert_eq!(closed, Ok(true), "the connection was kept open");
        drop(client);
    }

    /// A SITHS login whose CRL was out of reach said "the service is down" (a 503 read as the
    /// whole backend): only the service-level codes mean that.
    #[test]
    fn only_a_service_level_503_reads_as_the_service_being_down() {
        let down = |body: &[u8]| {
            decode_body::<serde_json::Value>(StatusCode::SERVICE_UNAVAILABLE, body)
                .unwrap_err()
                .code()
        };
        for code in ["overloaded", "database_unavailable", "internal"] {
            let body = format!(r#"{{"code":"{code}","message":"m","retry_after":3}}"#);
            assert_eq!(
                down(body.as_bytes()),
                ErrorCode::BackendUnavailable,
                "{code}"
            );
        }
        assert_eq!(
            down(b"<html><body>503 Service Unavailable</body></html>"),
            ErrorCode::BackendUnavailable
        );
        assert_eq!(down(b""), ErrorCode::BackendUnavailable);
        for (code, expected) in [
            (
                "siths_revocation_unavailable",
                ErrorCode::SithsRevocationUnavailable,
            ),
            ("siths_unavailable", ErrorCode::SithsUnavailable),
            ("bankid_unavailable", ErrorCode::BankidUnavailable),
            ("email_unavailable", ErrorCode::EmailUnavailable),
            ("sms_unavailable", ErrorCode::SmsUnavailable),
            ("a_code_from_a_newer_server", ErrorCode::Unknown),
        ] {
            let body = format!(r#"{{"code":"{code}","message":"m"}}"#);
            assert_eq!(down(body.as_bytes()), expected, "{code}");
        }
    }

    #[test]
    fn ids_that_could_leave_their_route_are_refused() {
        assert_eq!(segment("Zk3c-_9").unwrap(), "Zk3c-_9");
        for bad in ["", "../session", "a/b", "a?b", "a b", &"x".repeat(200)] {
            assert!(segment(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn an_error_of_ours_keeps_its_code_and_extras() {
        let body = br#"{"code":"wrong_code","message":"wrong code","tries_left":2}"#;
        let error = decode_body::<serde_json::Value>(StatusCode::BAD_REQUEST, body).unwrap_err();
        assert_eq!(error.code(), ErrorCode::WrongCode);
        assert!(matches!(
            error,
            AppError::Backend {
                tries_left: Some(2),
                ..
            }
        ));
    }

    #[test]
    fn a_code_from_a_newer_server_is_unknown_not_a_broken_backend() {
        let body = br#"{"code":"quantum_flux","message":"new"}"#;
        let error = decode_body::<serde_json::Value>(StatusCode::CONFLICT, body).unwrap_err();
        assert_eq!(error.code(), ErrorCode::Unknown);
    }

    #[test]
    fn what_is_not_ours_is_an_unavailable_backend() {
        let html = b"<html>502 Bad Gateway</html>";
        let error = decode_body::<serde_json::Value>(StatusCode::BAD_GATEWAY, html).unwrap_err();
        assert_eq!(error.code(), ErrorCode::BackendUnavailable);
        // A 503 of ours about the service itself reads as the service being unavailable too.
        let ours = br#"{"code":"database_unavailable","message":"db"}"#;
        let error =
            decode_body::<serde_json::Value>(StatusCode::SERVICE_UNAVAILABLE, ours).unwrap_err();
        assert_eq!(error.code(), ErrorCode::BackendUnavailable);
        // The revocation check being out of reach is about the card's login, not the service:
        // the app says so ("Spärrkontrollen kunde inte göras").
        let revocation = br#"{"code":"siths_revocation_unavailable","message":"crl"}"#;
        let error = decode_body::<serde_json::Value>(StatusCode::SERVICE_UNAVAILABLE, revocation)
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::SithsRevocationUnavailable);
        // A success that is not the expected shape is not ours either.
        let error = decode_body::<Health>(StatusCode::OK, b"{}").unwrap_err();
        assert_eq!(error.code(), ErrorCode::BackendUnavailable);
    }
}
