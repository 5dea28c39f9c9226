//! Where the backend is. Parsed once at start-up from the command line (`--backend-url URL`),
//! the environment (`LEGITIMERA_BACKEND_URL`) or the default. Plain HTTP only to loopback:
//! anything that leaves the machine must be HTTPS.

use url::Url;

use crate::error::{AppError, Result};

/// The demo backend's address (`legitimera-server --demo`).
pub const DEFAULT_BACKEND_URL: &str = "http://127.0.0.1:8787/";
pub const BACKEND_URL_ENV: &str = "LEGITIMERA_BACKEND_URL";
pub const BACKEND_URL_ARG: &str = "--backend-url";

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

    /// From the command line, then the environment, then the default.
    pub fn from_args_and_env(
        args: impl IntoIterator<Item = String>,
        env: Option<String>,
    ) -> Result<Self> {
        let mut args = args.into_iter();
        let mut from_args = None;
        while let Some(arg) = args.next() {
            if arg == BACKEND_URL_ARG {
                from_args = args.next();
            } else if let Some(value) = arg.strip_prefix("--backend-url=") {
                from_args = Some(value.to_owned());
            }
        }
        let chosen = from_args
            .or(env)
            .unwrap_or_else(|| DEFAULT_BACKEND_URL.to_owned());
        Self::parse(&chosen)
    }
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

    #[test]
    fn command_line_beats_environment_beats_default() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let env = Some("http://127.0.0.1:1111".to_owned());
        let chosen = BackendUrl::from_args_and_env(
            args(&["legitimera", "--backend-url", "http://127.0.0.1:2222"]),
            env.clone(),
        )
        .unwrap();
        assert_eq!(chosen.as_str(), "http://127.0.0.1:2222/");
        let chosen = BackendUrl::from_args_and_env(
            args(&["legitimera", "--backend-url=http://127.0.0.1:3333"]),
            env.clone(),
        )
        .unwrap();
        assert_eq!(chosen.as_str(), "http://127.0.0.1:3333/");
        let chosen = BackendUrl::from_args_and_env(args(&["legitimera"]), env).unwrap();
        assert_eq!(chosen.as_str(), "http://127.0.0.1:1111/");
        let chosen = BackendUrl::from_args_and_env(args(&["legitimera"]), None).unwrap();
        assert_eq!(chosen.as_str(), DEFAULT_BACKEND_URL);
    }
}
