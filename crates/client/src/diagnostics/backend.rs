//! The backend side of the diagnostics: whether `/api/v1/health` answers and how fast, the
//! certificate check `POST /api/v1/siths/check` where the backend offers it, and the test login
//! (`POST /api/v1/siths/test-logins`: a real challenge signed by the card with the PIN, checked
//! as a login would be, with no session made). The PIN is used once and dropped.

use std::time::Instant;

use legitimera_card::Pin;
use legitimera_protocol::{ErrorCode, SithsTestLoginAnswer};
use reqwest::{Method, StatusCode};

use super::{tr, CheckId, Findings, Options, Outcome, Status};
use crate::api::{decode_body, ApiClient};
use crate::error::AppError;
use crate::locale::Language;

/// Where the backend offers the certificate check (the SITHS-trust issue's route).
pub const SITHS_CHECK_PATH: &str = "api/v1/siths/check";
/// Slower than this, the backend check warns.
const SLOW_MS: u128 = 3000;

pub use legitimera_protocol::SithsCheckRequest;

/// What the diagnostics make of the backend's answer (`legitimera_protocol::SithsCheck`):
/// whether the chain leads to an accepted issuer, the revocation status, and whether the
/// certificate is one the service accepts at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SithsCheckAnswer {
    pub trusted: bool,
    pub revoked: RevocationAnswer,
    pub policy: Option<bool>,
}

/// The revocation status as the diagnostics report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevocationAnswer {
    Good,
    Revoked,
    /// Unavailable, or not checked by this backend.
    #[default]
    Unknown,
}

impl From<legitimera_protocol::SithsCheck> for SithsCheckAnswer {
    fn from(check: legitimera_protocol::SithsCheck) -> Self {
        use legitimera_protocol::SithsRevocationStatus as Revocation;
        let revoked = match (check.code, check.revocation) {
            (Some(ErrorCode::SithsCertificateRevoked), _) | (_, Revocation::Revoked) => {
                RevocationAnswer::Revoked
            }
            (_, Revocation::Good) => RevocationAnswer::Good,
            _ => RevocationAnswer::Unknown,
        };
        // Refused for being revoked or unchecked is not refused for what the certificate is.
        let accepted = matches!(
            check.code,
            None | Some(ErrorCode::SithsCertificateRevoked | ErrorCode::SithsRevocationUnavailable)
        );
        SithsCheckAnswer {
            trusted: check.code != Some(ErrorCode::SithsUntrustedCertificate),
            revoked,
            policy: Some(accepted),
        }
    }
}

/// What became of asking for the certificate check.
#[derive(Debug)]
pub(super) enum SithsCheck {
    /// 404/405: this backend has no such route.
    NotOffered,
    Unavailable(String),
    Answered(SithsCheckAnswer),
}

pub(super) async fn siths_check(api: &ApiClient, certificates: &[String]) -> SithsCheck {
    let body = SithsCheckRequest {
        certificates: certificates.to_vec(),
    };
    let sent = match api.request(Method::POST, SITHS_CHECK_PATH, None, Some(&body)) {
        Ok(request) => request.send().await,
        Err(error) => return SithsCheck::Unavailable(error.to_string()),
    };
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            return SithsCheck::Unavailable(AppError::BackendUnreachable(error).to_string())
        }
    };
    let status = response.status();
    if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
        return SithsCheck::NotOffered;
    }
    let bytes = response.bytes().await.unwrap_or_default();
    match decode_body::<legitimera_protocol::SithsCheck>(status, &bytes) {
        Ok(answer) => SithsCheck::Answered(answer.into()),
        Err(error) => SithsCheck::Unavailable(error.code().to_string()),
    }
}

pub(super) async fn health(options: &Options, findings: &mut Findings) -> Outcome {
    let lang = options.language;
    let id = CheckId::Backend;
    let Some(api) = &options.api else {
        findings.backend_up = Some(false);
        return Outcome::new(
            id,
            lang,
            Status::Failed,
            tr!(
                lang,
                "Ingen adress till tjänsten är inställd",
                "No address of the service is configured"
            ),
        )
        .advice(tr!(
            lang,
            "Kontakta IT-supporten: Legitimera behöver tjänstens adress (policyn BackendUrl).",
            "Contact IT support: Legitimera needs the service's address (the BackendUrl policy)."
        ));
    };
    let url = api.base().as_str().to_owned();
    let started = Instant::now();
    let answer = api.health().await;
    let ms = started.elapsed().as_millis();
    findings.backend_up = Some(answer.is_ok());
    let tls = if url.starts_with("https://") {
        tr!(lang, "över TLS", "over TLS")
    } else {
        tr!(
            lang,
            "utan TLS (test- eller demotjänst)",
            "without TLS (a test or demo service)"
        )
    };
    match answer {
        Ok(_) if ms > SLOW_MS => Outcome::new(
            id,
            lang,
            Status::Warning,
            tr!(
                lang,
                "Tjänsten svarar, men långsamt ({ms} ms)",
                "The service answers, but slowly ({ms} ms)"
            ),
        )
        .detail(tr!(
            lang,
            "{url}api/v1/health svarade {tls} på {ms} ms",
            "{url}api/v1/health answered {tls} in {ms} ms"
        ))
        .advice(tr!(
            lang,
            "Nätverket eller tjänsten är långsam just nu; inloggningen kan ta tid.",
            "The network or the service is slow right now; logging in may take a while."
        )),
        Ok(_) => Outcome::new(
            id,
            lang,
            Status::Ok,
            tr!(
                lang,
                "Tjänsten svarar ({ms} ms)",
                "The service answers ({ms} ms)"
            ),
        )
        .detail(tr!(
            lang,
            "{url}api/v1/health svarade {tls} på {ms} ms",
            "{url}api/v1/health answered {tls} in {ms} ms"
        )),
        Err(error) => {
            let why = match &error {
                AppError::BackendUnreachable(source) => format!("{error}: {}", root_cause(source)),
                other => other.to_string(),
            };
            Outcome::new(id, lang, Status::Failed, tr!(lang, "Tjänsten svarar inte", "The service does not answer"))
                .detail(tr!(lang, "{url}api/v1/health efter {ms} ms: {why}", "{url}api/v1/health after {ms} ms: {why}"))
                .advice(tr!(
                    lang,
                    "Kontrollera att datorn är ansluten till nätverket. Fungerar andra webbplatser men inte tjänsten, kontakta kontaktcentret.",
                    "Check that the computer is connected to the network. If other websites work but the service does not, contact the contact centre."
                ))
        }
    }
}

/// The innermost error's text: reqwest's own says only "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

pub(super) async fn test_login(
    options: &Options,
    findings: &Findings,
    pin: Option<Pin>,
) -> Outcome {
    let lang = options.language;
    let id = CheckId::TestLogin;
    let Some(pin) = pin else {
        return Outcome::skipped(
            id,
            lang,
            tr!(
                lang,
                "Ingen testinloggning begärdes",
                "No test login was asked for"
            ),
        );
    };
    let Some((reader, _)) = &findings.card else {
        return Outcome::skipped(
            id,
            lang,
            tr!(
                lang,
                "Inget kort som går att logga in med",
                "No card to log in with"
            ),
        );
    };
    let (Some(api), Some(true)) = (&options.api, findings.backend_up) else {
        return Outcome::skipped(
            id,
            lang,
            tr!(lang, "Tjänsten svarar inte", "The service does not answer"),
        );
    };
    let signed = crate::siths::sign_challenge(api, reader, pin).await;
    let answer = match signed {
        Ok(request) => api.siths_test_login(&request).await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(SithsTestLoginAnswer { assurance, .. }) => {
            let assurance = serde_json::to_value(assurance)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            Outcome::new(id, lang, Status::Ok, tr!(lang, "En inloggning hade lyckats", "A login would have succeeded"))
                .detail(tr!(lang, "Kortet signerade och tjänsten godkände signaturen (tillitsnivå {assurance}). Ingen session skapades.", "The card signed and the service accepted the signature (assurance {assurance}). No session was made."))
        }
        Err(error) => failed_login(lang, &error),
    }
}

fn failed_login(lang: Language, error: &AppError) -> Outcome {
    let id = CheckId::TestLogin;
    let code = error.code();
    let (summary, advice) = match (code, error) {
        (
            ErrorCode::WrongPin | ErrorCode::WrongPinLast,
            AppError::Card(legitimera_card::Error::WrongPin { tries_left }),
        ) => (
            tr!(
                lang,
                "Fel PIN-kod, {tries_left} försök kvar",
                "Wrong PIN, {tries_left} tries left"
            ),
            if *tries_left == 1 {
                tr!(lang, "Nästa felaktiga PIN-kod spärrar kortet. Är du osäker, kontakta din kortadministratör.", "The next wrong PIN blocks the card. If you are not sure, contact your card administrator.")
            } else {
                tr!(
                    lang,
                    "Använd PIN-koden för legitimering (inte den för underskrift).",
                    "Use the PIN for authentication (not the one for signing)."
                )
            },
        ),
        (ErrorCode::PinBlocked, _) => (
            tr!(lang, "PIN-koden är spärrad", "The PIN is blocked"),
            tr!(
                lang,
                "Lås upp kortet med PUK-koden eller vänd dig till din kortadministratör.",
                "Unblock the card with the PUK or ask your card administrator."
            ),
        ),
        (ErrorCode::InvalidPin, _) => (
            tr!(
                lang,
                "PIN-koden ska vara 6 till 8 siffror",
                "The PIN is 6 to 8 digits"
            ),
            String::new(),
        ),
        _ => (
            tr!(
                lang,
                "En inloggning hade inte lyckats ({code})",
                "A login would not have succeeded ({code})"
            ),
            tr!(
                lang,
                "Kontakta kontaktcentret och skicka med rapporten.",
                "Contact the contact centre and include the report."
            ),
        ),
    };
    Outcome::new(id, lang, Status::Failed, summary)
        .detail(error.to_string())
        .advice(advice)
}

impl ApiClient {
    /// `POST /api/v1/siths/test-logins`: the signed challenge, checked as a login would be; no
    /// session is made.
    pub async fn siths_test_login(
        &self,
        request: &legitimera_protocol::SithsLoginRequest,
    ) -> crate::Result<SithsTestLoginAnswer> {
        self.call(
            Method::POST,
            "api/v1/siths/test-logins",
            None,
            Some(request),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_check_answer_becomes_the_diagnostics_verdict() {
        let answer = |json: &str| -> SithsCheckAnswer {
            serde_json::from_str::<legitimera_protocol::SithsCheck>(json)
                .unwrap_or_else(|e| panic!("{e}"))
                .into()
        };
        let good = answer(r#"{"revocation":"good","crl_updated_at":1764460800}"#);
        assert_eq!(
            (good.trusted, good.revoked, good.policy),
            (true, RevocationAnswer::Good, Some(true))
        );
        let revoked = answer(r#"{"code":"siths_certificate_revoked","revocation":"revoked"}"#);
        assert_eq!(
            (revoked.trusted, revoked.revoked, revoked.policy),
            (true, RevocationAnswer::Revoked, Some(true))
        );
        let foreign =
            answer(r#"{"code":"siths_untrusted_certificate","revocation":"not_checked"}"#);
        assert_eq!(
            (foreign.trusted, foreign.revoked, foreign.policy),
            (false, RevocationAnswer::Unknown, Some(false))
        );
        let unknown =
            answer(r#"{"code":"siths_revocation_unavailable","revocation":"unavailable"}"#);
        assert_eq!(
            (unknown.trusted, unknown.revoked, unknown.policy),
            (true, RevocationAnswer::Unknown, Some(true))
        );
    }

    #[test]
    fn a_wrong_pin_tells_the_tries_left() {
        let outcome = failed_login(
            Language::Sv,
            &AppError::Card(legitimera_card::Error::WrongPin { tries_left: 2 }),
        );
        assert_eq!(outcome.summary, "Fel PIN-kod, 2 försök kvar");
    }
}
