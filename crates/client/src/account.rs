//! The one session the app holds, as one state machine behind one lock: logged out → logging in
//! → logged in → ending. The token, the session timer, the activity throttle and a login's
//! pending SMS step are parts of the state they belong to, so they cannot disagree. Owns the
//! token, which lives in Rust memory only (zeroized when dropped) and never reaches the webview.
//! The lock is never held across a network call; every session carries a generation, so an
//! answer about an older session cannot end a newer one. Never logs what the user typed.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use legitimera_protocol::{
    CasesAnswer, Challenge, DevicesAnswer, Email, EmailLoginRequest, ErrorCode, LoginAnswer,
    LoginRequest, NewPasswordRequest, OneTimeCode, Password, PasswordChangeRequest,
    PasswordResetRequest, PhoneChangeRequest, PhoneNumber, RegistrationRequest, SecretString,
    SessionStatus, SmsLoginRequest, StaffLanding,
};
use serde::Serialize;

use crate::api::{ApiClient, CodeFlow, CodeStep};
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
    /// Logged in (no two-step verification, or a trusted device stood in for it).
    Session { session: SessionStatus },
    /// The password was right, but many wrong ones came before it: a code went to the
    /// account's e-mail. Answer it with `login_email_code`; a new one with `login_resend`.
    EmailCode { id: String },
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

/// A finished SMS login: the session, the address it was for, and the new trusted-device
/// token when one was asked for.
#[derive(Debug)]
pub struct SmsLogin {
    pub session: SessionStatus,
    pub email: Option<Email>,
    pub device_token: Option<SecretString>,
}

/// A registration or phone change whose code went out: where it is, and where its codes go,
/// written as the server will use them (the address lowercased, the number in E.164).
#[derive(Debug, Clone, Serialize)]
pub struct CodeSent {
    #[serde(flatten)]
    pub challenge: Challenge,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Where the session stands, for callers that must not see its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    LoggedOut,
    LoggingIn,
    LoggedIn,
    Ending,
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
}

/// A logged-in session's parts.
#[derive(Debug)]
struct Active {
    generation: u64,
    token: SecretString,
    timer: SessionTimer,
    activity: ActivityThrottle,
}

/// A password login waiting for its SMS code: the address, to file a trusted-device token.
#[derive(Debug)]
struct PendingSms {
    challenge_id: String,
    email: Email,
}

#[derive(Debug)]
enum Session {
    LoggedOut,
    /// A password was right and a code (by e-mail after many wrong passwords, or by SMS) is
    /// awaited (`pending`), or a token from a login is
    /// being checked with the server (`checking`, that login's generation).
    LoggingIn {
        pending: Option<PendingSms>,
        checking: Option<u64>,
    },
    LoggedIn(Active),
    /// The session is being ended on the server; nothing may use its token any more.
    Ending,
}

/// A session's token with the generation it belongs to.
type Current = (u64, SecretString);

pub struct Account {
    api: ApiClient,
    clock: Arc<dyn Clock>,
    marker: SessionMarker,
    session: Mutex<Session>,
    generations: std::sync::atomic::AtomicU64,
    /// Machine policy's idle limit: a session ends at the smaller of this and the server's.
    idle_limit: Option<Duration>,
    /// Told when a session starts, so the session clock sleeps while nobody is logged in.
    session_started: tokio::sync::Notify,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

/// The session ended on the server's word: what the caller must tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedByServer(pub ErrorCode);

impl Account {
    pub fn new(api: ApiClient, clock: Arc<dyn Clock>, marker: SessionMarker) -> Self {
        Account {
            api,
            clock,
            marker,
            session: Mutex::new(Session::LoggedOut),
            generations: std::sync::atomic::AtomicU64::new(0),
            idle_limit: None,
            session_started: tokio::sync::Notify::new(),
        }
    }

    /// Ends sessions after `limit` without activity when that is shorter than the server's.
    pub fn with_idle_limit(mut self, limit: Option<Duration>) -> Self {
        self.idle_limit = limit;
        self
    }

    fn state(&self) -> MutexGuard<'_, Session> {
        // The state is replaced whole under the lock, so a panicking holder leaves it whole.
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn phase(&self) -> Phase {
        match &*self.state() {
            Session::LoggedOut => Phase::LoggedOut,
            Session::LoggingIn { .. } => Phase::LoggingIn,
            Session::LoggedIn(_) => Phase::LoggedIn,
            Session::Ending => Phase::Ending,
        }
    }

    /// How long until the session's state may change by time alone (`SessionTimer::
    /// next_change`); `None` when nobody is logged in.
    pub fn next_clock_change(&self) -> Option<Duration> {
        let now = self.clock.now();
        match &*self.state() {
            Session::LoggedIn(active) => Some(active.timer.next_change(now)),
            _ => None,
        }
    }

    /// Where the session stands on this side's clock; `None` when nobody is logged in.
    pub fn tick(&self) -> Option<TimerState> {
        let now = self.clock.now();
        match &*self.state() {
            Session::LoggedIn(active) => Some(active.timer.state(now)),
            _ => None,
        }
    }

    pub async fn register(
        &self,
        email: &str,
        password: SecretString,
        phone: Option<&str>,
    ) -> Result<CodeSent> {
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
        Ok(CodeSent {
            challenge,
            email: Some(request.email),
            phone: request.phone,
        })
    }

    /// Answers a code of a registration or a phone change.
    pub async fn submit_code(
        &self,
        flow: CodeFlow,
        id: &str,
        step: CodeStep,
        code: &SecretString,
    ) -> Result<Challenge, Ended> {
        let code = SecretString::new(OneTimeCode::parse(code.expose())?.expose());
        let current = self.current_for(flow);
        let token = current.as_ref().map(|(_, token)| token);
        let result = self.api.submit_code(flow, id, step, code, token).await;
        self.authorized(current.map(|(generation, _)| generation), result)
    }

    pub async fn resend(&self, flow: CodeFlow, id: &str) -> Result<Challenge, Ended> {
        let current = self.current_for(flow);
        let token = current.as_ref().map(|(_, token)| token);
        let result = self.api.resend(flow, id, token).await;
        self.authorized(current.map(|(generation, _)| generation), result)
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
        Password::parse(&password)
            .map_err(|_| AppError::backend(ErrorCode::InvalidCredentials, 401))?;
        let request = LoginRequest {
            email: email.as_str().to_owned(),
            password,
            device_token,
        };
        match self.api.login_password(&request).await {
            Ok(answer) => self.login_answered(email, answer).await,
            Err(AppError::Backend {
                code: ErrorCode::EmailCodeRequired,
                id: Some(id),
                ..
            }) => {
                *self.state() = Session::LoggingIn {
                    pending: Some(PendingSms {
                        challenge_id: id.clone(),
                        email: email.clone(),
                    }),
                    checking: None,
                };
                Ok(LoginOutcome::EmailCode { id })
            }
            Err(error) => Err(error),
        }
    }

    /// After `email_code_required`: the code from the e-mail. The login then goes on as after
    /// a right password: a session, or an SMS code with two-step verification.
    pub async fn login_email_code(
        &self,
        challenge_id: &str,
        code: &SecretString,
    ) -> Result<LoginOutcome> {
        let code = SecretString::new(OneTimeCode::parse(code.expose())?.expose());
        let email = match &*self.state() {
            Session::LoggingIn {
                pending: Some(pending),
                ..
            } if pending.challenge_id == challenge_id => Some(pending.email.clone()),
            _ => None,
        }
        .ok_or_else(|| AppError::backend(ErrorCode::UnknownChallenge, 404))?;
        let request = EmailLoginRequest {
            challenge_id: challenge_id.to_owned(),
            code,
        };
        let answer = self.api.login_email_code(&request).await?;
        self.login_answered(&email, answer).await
    }

    /// A right password (or e-mail code) answered: the session, or an SMS code awaited.
    async fn login_answered(&self, email: &Email, answer: LoginAnswer) -> Result<LoginOutcome> {
        match answer {
            LoginAnswer::Session(session) => Ok(LoginOutcome::Session {
                session: self.begin(session.token).await?,
            }),
            LoginAnswer::SmsCode(challenge) => {
                *self.state() = Session::LoggingIn {
                    pending: Some(PendingSms {
                        challenge_id: challenge.id.clone(),
                        email: email.clone(),
                    }),
                    checking: None,
                };
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
        let email = match &*self.state() {
            Session::LoggingIn {
                pending: Some(pending),
                ..
            } if pending.challenge_id == challenge_id => Some(pending.email.clone()),
            _ => None,
        };
        Ok(SmsLogin {
            session: self.begin(session.token).await?,
            email,
            device_token: session.device_token,
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
    /// "Glömt lösenordet?": the same answer whether or not the address has an account.
    pub async fn start_password_reset(&self, email: &str) -> Result<CodeSent> {
        let email = Email::parse(email)?;
        let request = PasswordResetRequest {
            email: email.as_str().to_owned(),
        };
        let challenge = self.api.start_password_reset(&request).await?;
        Ok(CodeSent {
            challenge,
            email: Some(request.email),
            phone: None,
        })
    }

    /// The new password of a reset whose codes were answered.
    pub async fn finish_password_reset(
        &self,
        id: &str,
        password: SecretString,
    ) -> Result<Challenge> {
        let password = Password::parse(&password)?;
        let request = NewPasswordRequest {
            password: SecretString::new(password.expose()),
        };
        self.api.finish_password_reset(id, &request).await
    }

    /// "Byt lösenord" on Min sida: the current password and a new one. A wrong current
    /// password is `invalid_credentials`, not the end of the session.
    pub async fn change_password(
        &self,
        current: SecretString,
        new: SecretString,
    ) -> Result<(), Ended> {
        let new = Password::parse(&new)?;
        let (generation, token) = self.current()?;
        let request = PasswordChangeRequest {
            current,
            new: SecretString::new(new.expose()),
        };
        let result = self.api.change_password(&token, &request).await;
        self.authorized(Some(generation), result)
    }

    pub async fn start_phone_change(
        &self,
        phone: &str,
        credentials: Option<(&str, SecretString)>,
    ) -> Result<CodeSent, Ended> {
        let phone = PhoneNumber::parse(phone)?;
        let (email, password, current) = match credentials {
            Some((email, password)) => {
                let email = Email::parse(email)?;
                (Some(email.as_str().to_owned()), Some(password), None)
            }
            None => (None, None, Some(self.current()?)),
        };
        let request = PhoneChangeRequest {
            phone: phone.as_str().to_owned(),
            email,
            password,
        };
        let token = current.as_ref().map(|(_, token)| token);
        let result = self.api.start_phone_change(&request, token).await;
        let challenge = self.authorized(current.map(|(generation, _)| generation), result)?;
        Ok(CodeSent {
            challenge,
            email: request.email.clone(),
            phone: Some(request.phone.clone()),
        })
    }

    pub async fn session(&self) -> Result<SessionStatus, Ended> {
        let (generation, token) = self.current()?;
        let result = self.api.session(&token).await;
        self.authorized(Some(generation), result)
    }

    pub async fn devices(&self) -> Result<DevicesAnswer, Ended> {
        let (generation, token) = self.current()?;
        let result = self.api.devices(&token).await;
        self.authorized(Some(generation), result)
    }

    pub async fn remove_device(&self, id: &str) -> Result<(), Ended> {
        let (generation, token) = self.current()?;
        let result = self.api.remove_device(&token, id).await;
        self.authorized(Some(generation), result)
    }

    /// The staff landing page of a SITHS session.
    pub async fn staff_landing(&self, lang: &str) -> Result<StaffLanding, Ended> {
        let (generation, token) = self.current()?;
        let result = self.api.staff_landing(&token, lang).await;
        self.authorized(Some(generation), result)
    }

    pub async fn cases(&self, lang: &str) -> Result<CasesAnswer, Ended> {
        let (generation, token) = self.current()?;
        let result = self.api.cases(&token, lang).await;
        self.authorized(Some(generation), result)
    }

    /// The user clicked a button or a link (or saved): the idle time starts again here, and the
    /// server is told at most once a minute — or at once when `now_or_never` (the warning's
    /// "stay logged in" button, which must reach the server before its limit). Answers the
    /// fresh session status when the server was told, `None` when throttled or logged out.
    pub async fn activity(&self, now_or_never: bool) -> Result<Option<SessionStatus>, Ended> {
        let now = self.clock.now();
        let (generation, token) = {
            let mut state = self.state();
            let Session::LoggedIn(active) = &mut *state else {
                return Ok(None);
            };
            active.timer.activity(now);
            let due = active.activity.should_report(now.monotonic) || now_or_never;
            if !due {
                return Ok(None);
            }
            (active.generation, active.token.clone())
        };
        let result = self.api.activity(&token).await;
        self.authorized(Some(generation), result).map(Some)
    }

    /// Ends the session on the server and forgets the token. The token is forgotten even when
    /// the server cannot be reached: its idle limit ends it there.
    pub async fn logout(&self) -> Result<()> {
        let Some(token) = self.take_token() else {
            return Ok(());
        };
        let result = match self.api.logout(&token).await {
            Ok(()) => Ok(()),
            Err(error) if error.ends_session() => Ok(()),
            Err(error) => {
                tracing::warn!(code = %error.code(), "logout did not reach the server");
                Err(error)
            }
        };
        self.finish_ending();
        result
    }

    /// Ends a session that ran out of time: on the server first (best effort: it has ended it
    /// by its own clock anyway), then here.
    pub async fn expire(&self, limit: Limit) {
        let Some(token) = self.take_token() else {
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
        self.finish_ending();
    }

    /// Starts the session a login ended in: a password login without SMS, the SMS step, a
    /// completed BankID order, or the server's answer to a card's signature.
    pub async fn begin(&self, token: SecretString) -> Result<SessionStatus> {
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        *self.state() = Session::LoggingIn {
            pending: None,
            checking: Some(generation),
        };
        // Before anything personal can reach the screen: should the app not get to wipe, the
        // next start knows to.
        if let Err(error) = self.marker.set() {
            tracing::warn!(%error, "could not write the session marker");
        }
        let status = self.api.session(&token).await?;
        let now = self.clock.now();
        {
            let mut state = self.state();
            let still_ours = matches!(
                &*state,
                Session::LoggingIn { checking: Some(checking), .. } if *checking == generation
            );
            if !still_ours {
                // Logged out (or another login began) while this one was checked.
                return Err(AppError::NotLoggedIn);
            }
            let mut activity = ActivityThrottle::new(ACTIVITY_INTERVAL);
            // A new session starts with its idle limit fresh: the first click need not be told.
            activity.should_report(now.monotonic);
            *state = Session::LoggedIn(Active {
                generation,
                token,
                timer: SessionTimer::start(
                    now,
                    self.idle_limit
                        .map_or(Duration::from_secs(status.idle_timeout), |limit| {
                            limit.min(Duration::from_secs(status.idle_timeout))
                        }),
                    Duration::from_secs(status.absolute_expires_in),
                ),
                activity,
            });
        }
        // A permit is kept if the clock is not waiting yet: the start is never missed.
        self.session_started.notify_one();
        tracing::info!(assurance = status.assurance.as_str(), "logged in");
        Ok(status)
    }

    /// Returns once someone is logged in (at once if someone is).
    pub async fn logged_in(&self) {
        loop {
            let started = self.session_started.notified();
            if matches!(&*self.state(), Session::LoggedIn(_)) {
                return;
            }
            started.await;
        }
    }

    /// The token of the session, when logged in.
    fn current(&self) -> Result<Current> {
        match &*self.state() {
            Session::LoggedIn(active) => Ok((active.generation, active.token.clone())),
            _ => Err(AppError::NotLoggedIn),
        }
    }

    /// A registration never uses the session; a phone change does when one exists.
    fn current_for(&self, flow: CodeFlow) -> Option<Current> {
        match flow {
            CodeFlow::Registration | CodeFlow::PasswordReset => None,
            CodeFlow::PhoneChange => self.current().ok(),
        }
    }

    /// Logged in → ending: the token leaves the state (for the caller to end it on the server).
    fn take_token(&self) -> Option<SecretString> {
        let mut state = self.state();
        match std::mem::replace(&mut *state, Session::Ending) {
            Session::LoggedIn(active) => Some(active.token),
            other => {
                *state = other;
                None
            }
        }
    }

    fn finish_ending(&self) {
        let mut state = self.state();
        if matches!(*state, Session::Ending) {
            *state = Session::LoggedOut;
        }
    }

    /// Passes `result` on; when it says the server no longer knows the session `generation`,
    /// forgets that session (a newer one stays) and says so.
    fn authorized<T>(&self, generation: Option<u64>, result: Result<T>) -> Result<T, Ended> {
        let error = match result {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if !error.ends_session() {
            return Err(Ended::No(error));
        }
        let forgot = {
            let mut state = self.state();
            let ours = match (&*state, generation) {
                (Session::LoggedIn(active), Some(generation)) => active.generation == generation,
                _ => false,
            };
            if ours {
                *state = Session::LoggedOut;
            }
            ours
        };
        if forgot {
            tracing::info!(code = %error.code(), "the server ended the session");
            Err(Ended::Yes(error))
        } else {
            Err(Ended::No(error))
        }
    }
}

/// A failure of a call that used the session: whether it ended the session here (the caller
/// must then wipe and tell the user), and the error either way.
#[derive(Debug)]
pub enum Ended {
    Yes(AppError),
    No(AppError),
}

impl Ended {
    pub fn into_error(self) -> AppError {
        match self {
            Ended::Yes(error) | Ended::No(error) => error,
        }
    }
}

impl From<AppError> for Ended {
    fn from(error: AppError) -> Self {
        Ended::No(error)
    }
}

impl From<legitimera_protocol::FieldError> for Ended {
    fn from(error: legitimera_protocol::FieldError) -> Self {
        Ended::No(error.into())
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
}
