//! The account flows and the one session the app holds: registration, password and SMS login,
//! phone change, Min sida's data, activity and logout. Owns the session token, which lives in
//! Rust memory only (zeroized when dropped) and never reaches the webview. Knows nothing of
//! Tauri; never logs what the user typed.

use legitimera_protocol::ErrorCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use legitimera_protocol::{
    CasesAnswer, Challenge, DevicesAnswer, Email, LoginAnswer, LoginRequest, OneTimeCode, Password,
    PhoneChangeRequest, PhoneNumber, RegistrationRequest, SecretString, SessionStatus,
    SmsLoginRequest, StaffLanding,
};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::api::{ApiClient, CodeStep, Flow};
use crate::error::{AppError, Result};
use crate::session_timer::{Clock, Limit, SessionTimer, TimerState};
use crate::wipe::SessionMarker;

/// How often a click may be reported to the server as activity: the idle limit is minutes
/// long, so once a minute is enough and keeps a busy user from flooding the server.
pub const ACTIVITY_INTERVAL: Duration = Duration::from_secs(60);

/// What the login view is told after a correct password.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum LoginOutcome {
    /// Logged in (no two-step verification).
    Session { session: SessionStatus },
    /// An SMS code went to the account's phone: answer it with `login_sms`.
    SmsCode {
        id: String,
        resend_after: u64,
        code_expires_in: u64,
        /// The trusted-device token sent along was refused: forget it (not for the UI).
        #[serde(skip)]
        device_refused: bool,
    },
}

/// A finished SMS login: the session, and the new trusted-device token when one was asked for.
#[derive(Debug)]
pub struct SmsLogin {
    pub session: SessionStatus,
    pub trusted: Option<(Email, SecretString)>,
}

/// A registration or phone change that started: where it is, and where its codes go, written
/// as the server will use them (the address lowercased, the number in E.164).
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    #[serde(flatten)]
    pub challenge: Challenge,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Lets through at most one activity report per `interval`. Pure: the caller passes `now`.
#[derive(Debug, Clone)]
pub struct ActivityThrottle {
    interval: Duration,
    last_reported: Option<Instant>,
}

impl ActivityThrottle {
    pub fn new(interval: Duration) -> Self {
        ActivityThrottle {
            interval,
            last_reported: None,
        }
    }

    /// Whether activity at `now` should be reported; if so, it counts as reported.
    pub fn should_report(&mut self, now: Instant) -> bool {
        let due = self
            .last_reported
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if due {
            self.last_reported = Some(now);
        }
        due
    }

    /// A new session starts with its idle limit fresh: the next click need not be reported.
    pub fn restart(&mut self, now: Instant) {
        self.last_reported = Some(now);
    }
}

pub struct Account {
    api: ApiClient,
    token: Mutex<Option<SecretString>>,
    activity: std::sync::Mutex<ActivityThrottle>,
    timer: std::sync::Mutex<Option<SessionTimer>>,
    clock: Arc<dyn Clock>,
    marker: SessionMarker,
    /// The address of the login waiting for its SMS code (to file a trusted-device token).
    pending_login: std::sync::Mutex<Option<(String, Email)>>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").finish_non_exhaustive()
    }
}

/// Locks a std mutex whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Account {
    pub fn new(api: ApiClient, clock: Arc<dyn Clock>, marker: SessionMarker) -> Self {
        Account {
            api,
            token: Mutex::new(None),
            activity: std::sync::Mutex::new(ActivityThrottle::new(ACTIVITY_INTERVAL)),
            timer: std::sync::Mutex::new(None),
            clock,
            marker,
            pending_login: std::sync::Mutex::new(None),
        }
    }

    /// Where the session stands on this side's clock; `None` when nobody is logged in.
    pub fn tick(&self) -> Option<TimerState> {
        let now = self.clock.now();
        lock(&self.timer).as_ref().map(|timer| timer.state(now))
    }

    /// Ends a session that ran out of time: on the server first (best effort: it has ended it
    /// by its own clock anyway), then here.
    pub async fn expire(&self, limit: Limit) {
        lock(&self.timer).take();
        let Some(token) = self.token.lock().await.take() else {
            return;
        };
        let limit = match limit {
            Limit::Idle => "idle",
            Limit::Absolute => "absolute",
        };
        tracing::info!(limit, "the session ran out of time");
        if let Err(error) = self.api.logout(&token).await {
            if !error.ends_session() {
                tracing::warn!(
                    code = %error.code(),
                    "could not end the session on the server"
                );
            }
        }
    }

    pub async fn register(
        &self,
        email: &str,
        password: SecretString,
        phone: Option<&str>,
    ) -> Result<Started> {
        let email = Email::parse(email)?;
        let password = Password::parse(&password)?;
        let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
            Some(phone) => Some(PhoneNumber::parse(phone)?),
            None => None,
        };
        let request = RegistrationRequest {
            email: email.as_str().to_owned(),
            password: SecretString::new(password.expose()),
            phone: phone.as_ref().map(|p| p.as_str().to_owned()),
        };
        let challenge = self.api.register(&request).await?;
        Ok(Started {
            challenge,
            email: Some(request.email),
            phone: request.phone,
        })
    }

    /// Answers a code of a registration or a phone change.
    pub async fn submit_code(
        &self,
        flow: Flow,
        id: &str,
        step: CodeStep,
        code: &SecretString,
    ) -> Result<Challenge> {
        let code = SecretString::new(OneTimeCode::parse(code.expose())?.expose());
        let token = self.token_for(flow).await;
        self.api
            .submit_code(flow, id, step, code, token.as_ref())
            .await
    }

    pub async fn resend(&self, flow: Flow, id: &str) -> Result<Challenge> {
        let token = self.token_for(flow).await;
        self.api.resend(flow, id, token.as_ref()).await
    }

    /// `device_token`: this computer's trusted-device token for the address, if it has one.
    pub async fn login_password(
        &self,
        email: &Email,
        password: SecretString,
        device_token: Option<SecretString>,
    ) -> Result<LoginOutcome> {
        // The server's rule, checked here too so a short password costs no round trip and
        // no rate-limit try; a wrong one gets the same generic answer as an unknown address.
        Password::parse(&password).map_err(|_| AppError::Backend {
            code: ErrorCode::InvalidCredentials,
            status: 401,
            tries_left: None,
            retry_after: None,
            id: None,
        })?;
        let request = LoginRequest {
            email: email.as_str().to_owned(),
            password,
            device_token,
        };
        match self.api.login_password(&request).await? {
            LoginAnswer::Session(session) => Ok(LoginOutcome::Session {
                session: self.begin(session.token).await?,
            }),
            LoginAnswer::SmsCode(challenge) => {
                *lock(&self.pending_login) = Some((challenge.id.clone(), email.clone()));
                Ok(LoginOutcome::SmsCode {
                    id: challenge.id,
                    resend_after: challenge.resend_after,
                    code_expires_in: challenge.code_expires_in,
                    device_refused: challenge.device_refused,
                })
            }
        }
    }

    /// `trust_as`: "trust this device", under this label in the account's list of devices.
    pub async fn login_sms(
        &self,
        challenge_id: &str,
        code: &SecretString,
        trust_as: Option<String>,
    ) -> Result<SmsLogin> {
        let code = SecretString::new(OneTimeCode::parse(code.expose())?.expose());
        let request = SmsLoginRequest {
            challenge_id: challenge_id.to_owned(),
            code,
            trust_device: trust_as.is_some(),
            device_label: trust_as,
        };
        let session = self.api.login_sms(&request).await?;
        let email = lock(&self.pending_login)
            .take()
            .filter(|(id, _)| id == challenge_id)
            .map(|(_, email)| email);
        let trusted = email.zip(session.device_token);
        Ok(SmsLogin {
            session: self.begin(session.token).await?,
            trusted,
        })
    }

    pub async fn login_resend(&self, challenge_id: &str) -> Result<LoginOutcome> {
        let challenge = self.api.login_resend(challenge_id).await?;
        Ok(LoginOutcome::SmsCode {
            id: challenge.id,
            resend_after: challenge.resend_after,
            code_expires_in: challenge.code_expires_in,
            device_refused: false,
        })
    }

    /// Logged in: only the new `phone`. Without a session (the old phone is lost): `email`
    /// and `password` too, and the e-mail is proven by a code first.
    pub async fn start_phone_change(
        &self,
        phone: &str,
        credentials: Option<(&str, SecretString)>,
    ) -> Result<Started> {
        let phone = PhoneNumber::parse(phone)?;
        let (email, password, token) = match credentials {
            Some((email, password)) => {
                let email = Email::parse(email)?;
                (Some(email.as_str().to_owned()), Some(password), None)
            }
            None => (None, None, Some(self.token().await?)),
        };
        let request = PhoneChangeRequest {
            phone: phone.as_str().to_owned(),
            email,
            password,
        };
        let challenge = self
            .authorized(self.api.start_phone_change(&request, token.as_ref()).await)
            .await?;
        Ok(Started {
            challenge,
            email: request.email.clone(),
            phone: Some(request.phone.clone()),
        })
    }

    pub async fn session(&self) -> Result<SessionStatus> {
        let token = self.token().await?;
        self.authorized(self.api.session(&token).await).await
    }

    pub async fn devices(&self) -> Result<DevicesAnswer> {
        let token = self.token().await?;
        self.authorized(self.api.devices(&token).await).await
    }

    pub async fn remove_device(&self, id: &str) -> Result<()> {
        let token = self.token().await?;
        self.authorized(self.api.remove_device(&token, id).await)
            .await
    }

    /// The staff landing page of a SITHS session.
    pub async fn staff_landing(&self, lang: &str) -> Result<StaffLanding> {
        let token = self.token().await?;
        self.authorized(self.api.staff_landing(&token, lang).await)
            .await
    }

    pub async fn cases(&self, lang: &str) -> Result<CasesAnswer> {
        let token = self.token().await?;
        self.authorized(self.api.cases(&token, lang).await).await
    }

    /// The user clicked a button or a link (or saved): the idle time starts again here, and the
    /// server is told at most once a minute — or at once when `now_or_never` (the warning's
    /// "stay logged in" button, which must reach the server before its limit). Answers the
    /// fresh session status when the server was told, `None` when throttled or logged out.
    pub async fn activity(&self, now_or_never: bool) -> Result<Option<SessionStatus>> {
        let Some(token) = self.token.lock().await.clone() else {
            return Ok(None);
        };
        let now = self.clock.now();
        if let Some(timer) = lock(&self.timer).as_mut() {
            timer.activity(now);
        }
        let due = lock(&self.activity).should_report(now.monotonic) || now_or_never;
        if !due {
            return Ok(None);
        }
        self.authorized(self.api.activity(&token).await)
            .await
            .map(Some)
    }

    /// Ends the session on the server and forgets the token. The token is forgotten even when
    /// the server cannot be reached: its idle limit ends it there.
    pub async fn logout(&self) -> Result<()> {
        lock(&self.timer).take();
        let Some(token) = self.token.lock().await.take() else {
            return Ok(());
        };
        match self.api.logout(&token).await {
            Ok(()) => Ok(()),
            Err(error) if error.ends_session() => Ok(()),
            Err(error) => {
                tracing::warn!(code = %error.code(), "logout did not reach the server");
                Err(error)
            }
        }
    }

    /// Forgets the session locally (the server has already ended it).
    pub async fn forget(&self) {
        lock(&self.timer).take();
        self.token.lock().await.take();
    }

    /// Starts the session a BankID or SITHS login ended in (the token came from the completed
    /// order, or from the server once it checked the card's signature).
    pub async fn begin_with_token(&self, token: SecretString) -> Result<SessionStatus> {
        self.begin(token).await
    }

    async fn begin(&self, token: SecretString) -> Result<SessionStatus> {
        // Before anything personal can reach the screen: should the app not get to wipe, the
        // next start knows to.
        if let Err(error) = self.marker.set() {
            tracing::warn!(%error, "could not write the session marker");
        }
        let status = self.api.session(&token).await?;
        *self.token.lock().await = Some(token);
        let now = self.clock.now();
        lock(&self.activity).restart(now.monotonic);
        *lock(&self.timer) = Some(SessionTimer::start(
            now,
            Duration::from_secs(status.idle_timeout),
            Duration::from_secs(status.absolute_expires_in),
        ));
        tracing::info!(assurance = status.assurance.as_str(), "logged in");
        Ok(status)
    }

    async fn token(&self) -> Result<SecretString> {
        self.token.lock().await.clone().ok_or(AppError::NotLoggedIn)
    }

    /// A registration never uses the session; a phone change does when one exists.
    async fn token_for(&self, flow: Flow) -> Option<SecretString> {
        match flow {
            Flow::Registration => None,
            Flow::PhoneChange => self.token.lock().await.clone(),
        }
    }

    /// Passes `result` on; when it says the server no longer knows the session, forgets it.
    async fn authorized<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result {
            if error.ends_session() {
                self.forget().await;
                tracing::info!(code = %error.code(), "the server ended the session");
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_reported_at_most_once_per_interval() {
        let start = Instant::now();
        let mut throttle = ActivityThrottle::new(ACTIVITY_INTERVAL);
        assert!(throttle.should_report(start));
        assert!(!throttle.should_report(start + Duration::from_secs(1)));
        assert!(!throttle.should_report(start + Duration::from_secs(59)));
        assert!(throttle.should_report(start + Duration::from_secs(60)));
        assert!(!throttle.should_report(start + Duration::from_secs(90)));
        assert!(throttle.should_report(start + Duration::from_secs(121)));
    }

    #[test]
    fn a_new_session_needs_no_report_for_its_first_minute() {
        let start = Instant::now();
        let mut throttle = ActivityThrottle::new(ACTIVITY_INTERVAL);
        throttle.restart(start);
        assert!(!throttle.should_report(start + Duration::from_secs(30)));
        assert!(throttle.should_report(start + Duration::from_secs(61)));
    }
}
