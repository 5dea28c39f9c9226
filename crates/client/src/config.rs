//! Where the backend is, decided once at start-up by `choose_backend`: a release build trusts
//! only machine policy and the address built in; the command line (`--backend-url URL`) and the
//! environment (`LEGITIMERA_BACKEND_URL`) count only in debug builds or where policy says
//! `AllowBackendOverride`. Plain HTTP only to loopback: anything that leaves the machine must be
//! HTTPS. A release build never falls back to loopback, where any local user could listen.

use serde::Serialize;
use url::Url;

use crate::error::{AppError, Result};
use crate::policy::Policy;

/// The demo backend's address (`legitimera-server --demo`): debug builds' default only.
pub const DEFAULT_BACKEND_URL: &str = "http://127.0.0.1:8787/";
/// Read at build time: the release build's own backend (https).
pub const BUILT_IN_BACKEND_ENV: &str = "LEGITIMERA_DEFAULT_BACKEND_URL";
pub const BACKEND_URL_ENV: &str = "LEGITIMERA_BACKEND_URL";
pub const BACKEND_URL_ARG: &str = "--backend-url";
/// What the API client is given when no backend is configured: `.invalid` never resolves
/// (RFC 2606), and the client asks nothing of it anyway (`Startup::backend_error`).
pub const NOT_CONFIGURED_URL: &str = "https://backend.invalid/";

/// A backend base URL that is HTTPS, or HTTP on loopback; always ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl(Url);

impl BackendUrl {
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |why: &str| AppError::InvalidBackendUrl(format!("{text}: {why}"));
        let mut url = Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(invalid("plain http is only allowed to this computer")),
            _ => return Err(invalid("must be an https address")),
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(invalid("no query, fragment or credentials"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(BackendUrl(url))
    }

    /// The URL of an API path such as `api/v1/health` (relative: no leading slash).
    pub fn join(&self, path: &str) -> Result<Url> {
        self.0
            .join(path)
            .map_err(|e| AppError::InvalidBackendUrl(e.to_string()))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `scheme://host[:port]` (the scheme's default port left out, no path, no trailing slash):
    /// what the SITHS card signs with the challenge, so its signature is for this backend only.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    fn parse_https(text: &str) -> Result<Self> {
        let url = Self::parse(text)?;
        if url.0.scheme() != "https" {
            return Err(AppError::InvalidBackendUrl(format!(
                "{text}: must be an https address"
            )));
        }
        Ok(url)
    }
}

/// How the running app was built, as far as choosing the backend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKind {
    Debug,
    /// `built_in`: `LEGITIMERA_DEFAULT_BACKEND_URL` as it was at build time.
    Release {
        built_in: Option<&'static str>,
    },
}

impl BuildKind {
    pub fn current() -> BuildKind {
        if cfg!(debug_assertions) {
            BuildKind::Debug
        } else {
            BuildKind::Release {
                built_in: option_env!("LEGITIMERA_DEFAULT_BACKEND_URL"),
            }
        }
    }
}

/// Where the chosen backend address came from (shown in "Om Legitimera").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendSource {
    CommandLine,
    Environment,
    Policy,
    BuiltIn,
    /// Debug builds: the demo backend on this computer.
    Demo,
}

/// The backend to use: from policy or the built-in address in release builds; the command
/// line and the environment first where overriding is allowed (debug builds, or policy's
/// `AllowBackendOverride: true`). A release build with none of these answers
/// `backend_not_configured`; a bad address answers `invalid_backend_url`.
pub fn choose_backend(
    build: BuildKind,
    policy: &Policy,
    args: impl IntoIterator<Item = String>,
    env: Option<String>,
) -> Result<(BackendUrl, BackendSource)> {
    let override_allowed = build == BuildKind::Debug || policy.allow_backend_override == Some(true);
    if override_allowed {
        if let Some(text) = backend_arg(args) {
            return Ok((BackendUrl::parse(&text)?, BackendSource::CommandLine));
        }
        if let Some(text) = env.filter(|text| !text.trim().is_empty()) {
            return Ok((BackendUrl::parse(&text)?, BackendSource::Environment));
        }
    }
    if let Some(url) = &policy.backend_url {
        return Ok((url.clone(), BackendSource::Policy));
    }
    match build {
        BuildKind::Release {
            built_in: Some(text),
        } => Ok((BackendUrl::parse_https(text)?, BackendSource::BuiltIn)),
        BuildKind::Release { built_in: None } => Err(AppError::NoBackendConfigured),
        BuildKind::Debug => Ok((BackendUrl::parse(DEFAULT_BACKEND_URL)?, BackendSource::Demo)),
    }
}

/// `--backend-url URL` or `--backend-url=URL`, the last one given.
fn backend_arg(args: impl IntoIterator<Item = String>) -> Option<String> {
    let mut args = args.into_iter();
    let mut found = None;
    while let Some(arg) = args.next() {
        if arg == BACKEND_URL_ARG {
            found = args.next();
        } else if let Some(value) = arg.strip_prefix("--backend-url=") {
            found = Some(value.to_owned());
        }
    }
    found
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_to_loopback() {
        assert!(BackendUrl::parse("https://e-tjanster.example.se").is_ok());
        assert!(BackendUrl::parse("http://127.0.0.1:8787").is_ok());
        assert!(BackendUrl::parse("http://[::1]:8787").is_ok());
        assert!(BackendUrl::parse("http://localhost:8787").is_ok());
        assert!(BackendUrl::parse("http://e-tjanster.example.se").is_err());
        assert!(BackendUrl::parse("ftp://127.0.0.1").is_err());
        assert!(BackendUrl::parse("https://user:pw@example.se").is_err());
        assert!(BackendUrl::parse("not a url").is_err());
    }

    #[test]
    fn joins_api_paths_below_a_base_path() {
        let base = BackendUrl::parse("https://example.se/legitimera").unwrap();
        assert_eq!(
            base.join("api/v1/health").unwrap().as_str(),
            "https://example.se/legitimera/api/v1/health"
        );
    }

    fn args(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    const RELEASE: BuildKind = BuildKind::Release {
        built_in: Some("https://built-in.example.se"),
    };

    fn policy(value: serde_json::Value) -> Policy {
        let (policy, errors) = Policy::parse(&value.to_string());
        assert!(errors.is_empty(), "{errors:?}");
        policy
    }

    #[test]
    fn debug_builds_take_command_line_then_environment_then_policy_then_demo() {
        let env = Some("http://127.0.0.1:1111".to_owned());
        let none = Policy::default();
        let chosen = |a: &[&str], env: Option<String>, p: &Policy| {
            let (url, source) = choose_backend(BuildKind::Debug, p, args(a), env).unwrap();
            (url.as_str().to_owned(), source)
        };
        assert_eq!(
            chosen(
                &["legitimera", "--backend-url", "http://127.0.0.1:2222"],
                env.clone(),
                &none
            ),
            ("http://127.0.0.1:2222/".into(), BackendSource::CommandLine)
        );
        assert_eq!(
            chosen(
                &["legitimera", "--backend-url=http://127.0.0.1:3333"],
                env.clone(),
                &none
            ),
            ("http://127.0.0.1:3333/".into(), BackendSource::CommandLine)
        );
        assert_eq!(
            chosen(&["legitimera"], env, &none),
            ("http://127.0.0.1:1111/".into(), BackendSource::Environment)
        );
        let managed = policy(serde_json::json!({"BackendUrl": "https://policy.example.se"}));
        assert_eq!(
            chosen(&["legitimera"], None, &managed),
            ("https://policy.example.se/".into(), BackendSource::Policy)
        );
        assert_eq!(
            chosen(&["legitimera"], None, &none),
            (DEFAULT_BACKEND_URL.into(), BackendSource::Demo)
        );
    }

    #[test]
    fn a_release_configured_build_ignores_legitimera_backend_url() {
        let (url, source) = choose_backend(
            RELEASE,
            &Policy::default(),
            args(&["legitimera", "--backend-url", "http://127.0.0.1:8787"]),
            Some("http://127.0.0.1:8787".to_owned()),
        )
        .unwrap();
        assert_eq!(url.as_str(), "https://built-in.example.se/");
        assert_eq!(source, BackendSource::BuiltIn);
    }

    #[test]
    fn in_release_policy_beats_the_built_in_address() {
        let managed = policy(serde_json::json!({"BackendUrl": "https://policy.example.se"}));
        let (url, source) = choose_backend(
            RELEASE,
            &managed,
            args(&["legitimera"]),
            Some("https://env.example.se".to_owned()),
        )
        .unwrap();
        assert_eq!(url.as_str(), "https://policy.example.se/");
        assert_eq!(source, BackendSource::Policy);
    }

    #[test]
    fn allow_backend_override_lets_release_builds_honour_the_environment() {
        let open = policy(serde_json::json!({"AllowBackendOverride": true}));
        let (url, source) = choose_backend(
            RELEASE,
            &open,
            args(&["legitimera"]),
            Some("https://test.example.se".to_owned()),
        )
        .unwrap();
        assert_eq!(url.as_str(), "https://test.example.se/");
        assert_eq!(source, BackendSource::Environment);
    }

    #[test]
    fn a_release_build_without_a_backend_says_so_and_never_tries_loopback() {
        let error = choose_backend(
            BuildKind::Release { built_in: None },
            &Policy::default(),
            args(&["legitimera", "--backend-url", "http://127.0.0.1:8787"]),
            Some("http://127.0.0.1:8787".to_owned()),
        )
        .unwrap_err();
        assert_eq!(
            error.code(),
            legitimera_protocol::ErrorCode::BackendNotConfigured
        );
        // A plain-http address built in is refused too.
        let error = choose_backend(
            BuildKind::Release {
                built_in: Some("http://127.0.0.1:8787"),
            },
            &Policy::default(),
            args(&["legitimera"]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            error.code(),
            legitimera_protocol::ErrorCode::InvalidBackendUrl
        );
    }
}
