//! Whether an outgoing proxy is configured: in the environment (`HTTPS_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, upper or lower case) and in the OS settings where they can be read without a
//! session bus (GNOME through `gsettings`, KDE's `kioslaverc`, Windows' WinINet registry and
//! WinHTTP, macOS `scutil --proxy`). A proxy is a warning: it is where TLS inspection happens.
//! Passwords in proxy addresses never reach a report.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{tr, CheckId, Outcome, Status};
use crate::locale::Language;

/// The variables read, each in upper and lower case.
const VARIABLES: [&str; 4] = ["HTTPS_PROXY", "ALL_PROXY", "HTTP_PROXY", "NO_PROXY"];

/// The proxy variables of an environment, taken once (tests build their own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `(name as set, value)`, passwords included: only [`ProxySetting`] shows them, masked.
    pub variables: Vec<(String, String)>,
    /// Where KDE keeps its proxy settings (`~/.config/kioslaverc`).
    pub kde_file: Option<PathBuf>,
    /// Whether to ask the OS (GNOME, Windows, macOS); tests leave it off.
    pub ask_os: bool,
}

impl ProxyEnv {
    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok(), true)
    }

    /// From any lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, ask_os: bool) -> Self {
        let mut variables = Vec::new();
        for name in VARIABLES {
            for spelled in [name.to_owned(), name.to_ascii_lowercase()] {
                if let Some(value) = lookup(&spelled).filter(|v| !v.trim().is_empty()) {
                    variables.push((spelled, value));
                }
            }
        }
        let config = lookup("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| lookup("HOME").map(|home| PathBuf::from(home).join(".config")));
        ProxyEnv {
            variables,
            kde_file: config.map(|dir| dir.join("kioslaverc")),
            ask_os,
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        let lower = name.to_ascii_lowercase();
        self.variables
            .iter()
            .find(|(spelled, _)| *spelled == lower)
            .or_else(|| self.variables.iter().find(|(spelled, _)| spelled == name))
            .map(|(_, value)| value.as_str())
    }

    /// The `host:port` of the HTTP proxy that HTTPS to `host` goes through (env only), if any.
    pub fn https_proxy_for(&self, host: &str) -> Option<String> {
        let proxy = self.get("HTTPS_PROXY").or_else(|| self.get("ALL_PROXY"))?;
        if self.bypassed(host) {
            return None;
        }
        let rest = match proxy.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return None,
            None => proxy,
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        if authority.is_empty() {
            return None;
        }
        Some(
            if authority
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
            {
                authority.to_owned()
            } else {
                format!("{authority}:80")
            },
        )
    }

    /// Whether `NO_PROXY` leaves `host` out.
    fn bypassed(&self, host: &str) -> bool {
        let Some(no_proxy) = self.get("NO_PROXY") else {
            return false;
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        no_proxy
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .any(|entry| {
                let entry = entry
                    .split(':')
                    .next()
                    .unwrap_or(entry)
                    .to_ascii_lowercase();
                let bare = entry.trim_start_matches("*.").trim_start_matches('.');
                entry == "*" || host == bare || host.ends_with(&format!(".{bare}"))
            })
    }
}

/// One proxy setting found, as the report shows it (password masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySetting {
    pub source: String,
    pub value: String,
}

/// `http://user:secret@proxy:8080` → `http://user:***@proxy:8080`.
pub(super) fn mask(value: &str) -> String {
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), value),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}{user}:***@{host}{path}")
        }
        None => value.to_owned(),
    }
}

/// Every proxy setting the environment and the OS show.
pub(super) fn settings(env: &ProxyEnv) -> Vec<ProxySetting> {
    let mut found: Vec<ProxySetting> = env
        .variables
        .iter()
        .map(|(name, value)| ProxySetting {
            source: name.clone(),
            value: if name.eq_ignore_ascii_case("NO_PROXY") {
                value.clone()
            } else {
                mask(value)
            },
        })
        .collect();
    if let Some(file) = &env.kde_file {
        found.extend(kde(file));
    }
    if env.ask_os {
        found.extend(gnome());
        found.extend(windows());
        found.extend(macos());
    }
    found
}

pub(super) async fn check(lang: Language, env: &ProxyEnv) -> Outcome {
    let env = env.clone();
    let found = tokio::task::spawn_blocking(move || settings(&env))
        .await
        .unwrap_or_default();
    let id = CheckId::Proxy;
    let proxies: Vec<&ProxySetting> = found
        .iter()
        .filter(|setting| !setting.source.eq_ignore_ascii_case("NO_PROXY"))
        .collect();
    let lines: Vec<String> = found
        .iter()
        .map(|s| format!("{}: {}", s.source, s.value))
        .collect();
    if proxies.is_empty() {
        return Outcome::new(
            id,
            lang,
            Status::Ok,
            tr!(lang, "Ingen proxy är inställd", "No proxy is configured"),
        )
        .detail(lines.join("\n"));
    }
    Outcome::new(id, lang, Status::Warning, tr!(lang, "En utgående proxy är inställd", "An outgoing proxy is configured"))
        .detail(lines.join("\n"))
        .advice(tr!(
            lang,
            "Inspekterar proxyn TLS-trafik misslyckas inloggningen; se kontrollen TLS-inspektion. Be IT-supporten undanta tjänstens adresser från inspektion.",
            "If the proxy inspects TLS traffic, logins fail; see the TLS inspection check. Ask IT support to exempt the service's addresses from inspection."
        ))
}

/// KDE: `[Proxy Settings]` in kioslaverc; `ProxyType` 0 is none.
fn kde(file: &std::path::Path) -> Vec<ProxySetting> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let mut in_section = false;
    let mut kind = None;
    let mut values = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[Proxy Settings]";
            continue;
        }
        let Some((key, value)) = line.split_once('=').filter(|_| in_section) else {
            continue;
        };
        match key.trim() {
            "ProxyType" => kind = Some(value.trim().to_owned()),
            "httpsProxy" | "httpProxy" | "Proxy Config Script" if !value.trim().is_empty() => {
                values.push((key.trim().to_owned(), mask(value.trim())));
            }
            _ => {}
        }
    }
    if kind.as_deref().is_none_or(|kind| kind == "0") {
        return Vec::new();
    }
    values
        .into_iter()
        .map(|(key, value)| ProxySetting {
            source: format!("KDE {key}"),
            value,
        })
        .collect()
}

/// Runs `program` with `args`, its standard output if it ends well within two seconds.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut text).ok()?;
    Some(text.trim().to_owned())
}

/// GNOME: `org.gnome.system.proxy` (gsettings reads dconf's file without a session bus).
fn gnome() -> Vec<ProxySetting> {
    if !cfg!(target_os = "linux") {
        return Vec::new();
    }
    let Some(mode) = output("gsettings", &["get", "org.gnome.system.proxy", "mode"]) else {
        return Vec::new();
    };
    let mode = mode.trim_matches('\'').to_owned();
    match mode.as_str() {
        "manual" => {
            let host = output(
                "gsettings",
                &["get", "org.gnome.system.proxy.https", "host"],
            )
            .unwrap_or_default();
            let port = output(
                "gsettings",
                &["get", "org.gnome.system.proxy.https", "port"],
            )
            .unwrap_or_default();
            vec![ProxySetting {
                source: "GNOME (manual)".into(),
                value: format!("{}:{}", host.trim_matches('\''), port),
            }]
        }
        "auto" => vec![ProxySetting {
            source: "GNOME (auto)".into(),
            value: output(
                "gsettings",
                &["get", "org.gnome.system.proxy", "autoconfig-url"],
            )
            .unwrap_or_default()
            .trim_matches('\'')
            .to_owned(),
        }],
        _ => Vec::new(),
    }
}

#[cfg(target_os = "windows")]
fn windows() -> Vec<ProxySetting> {
    use winreg::enums::HKEY_CURRENT_USER;
    use winreg::RegKey;
    let mut found = Vec::new();
    if let Ok(key) = RegKey::predef(HKEY_CURRENT_USER)
        .open_subkey(r"Software\Microsoft\Windows\CurrentVersion\Internet Settings")
    {
        if key.get_value::<u32, _>("ProxyEnable").unwrap_or(0) == 1 {
            if let Ok(server) = key.get_value::<String, _>("ProxyServer") {
                found.push(ProxySetting {
                    source: "WinINet ProxyServer".into(),
                    value: mask(&server),
                });
            }
        }
        if let Ok(script) = key.get_value::<String, _>("AutoConfigURL") {
            found.push(ProxySetting {
                source: "WinINet AutoConfigURL".into(),
                value: script,
            });
        }
    }
    if let Some(text) = output("netsh", &["winhttp", "show", "proxy"]) {
        if let Some(line) = text
            .lines()
            .find(|line| line.trim_start().starts_with("Proxy Server"))
        {
            found.push(ProxySetting {
                source: "WinHTTP".into(),
                value: line.trim().to_owned(),
            });
        }
    }
    found
}

#[cfg(not(target_os = "windows"))]
fn windows() -> Vec<ProxySetting> {
    Vec::new()
}

#[cfg(target_os = "macos")]
fn macos() -> Vec<ProxySetting> {
    let Some(text) = output("scutil", &["--proxy"]) else {
        return Vec::new();
    };
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    let mut found = Vec::new();
    if value("HTTPSEnable").as_deref() == Some("1") {
        found.push(ProxySetting {
            source: "macOS HTTPS".into(),
            value: format!(
                "{}:{}",
                value("HTTPSProxy").unwrap_or_default(),
                value("HTTPSPort").unwrap_or_default()
            ),
        });
    }
    if value("ProxyAutoConfigEnable").as_deref() == Some("1") {
        found.push(ProxySetting {
            source: "macOS PAC".into(),
            value: value("ProxyAutoConfigURLString").unwrap_or_default(),
        });
    }
    found
}

#[cfg(not(target_os = "macos"))]
fn macos() -> Vec<ProxySetting> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ProxyEnv {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyEnv::from_lookup(
            |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            },
            false,
        )
    }

    #[tokio::test]
    async fn a_proxy_in_the_environment_is_a_warning_without_its_password() {
        let env = env(&[
            ("HTTPS_PROXY", "http://anna:hemligt@proxy.region.se:8080"),
            ("no_proxy", "localhost,.region.se"),
        ]);
        let outcome = check(Language::Sv, &env).await;
        assert_eq!(outcome.status, Status::Warning);
        assert!(
            outcome
                .detail
                .contains("HTTPS_PROXY: http://anna:***@proxy.region.se:8080"),
            "{}",
            outcome.detail
        );
        assert!(
            outcome.detail.contains("no_proxy: localhost,.region.se"),
            "{}",
            outcome.detail
        );
        assert!(!outcome.detail.contains("hemligt"));
        assert_eq!(
            env.https_proxy_for("dss.underskriftstjanst.se").as_deref(),
            Some("proxy.region.se:8080")
        );
        assert_eq!(env.https_proxy_for("intranet.region.se"), None);
    }

    #[tokio::test]
    async fn no_proxy_anywhere_is_ok() {
        let outcome = check(Language::En, &env(&[])).await;
        assert_eq!(outcome.status, Status::Ok);
        assert_eq!(outcome.summary, "No proxy is configured");
    }

    #[test]
    fn kde_settings_are_read_when_a_proxy_type_is_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("kioslaverc");
        std::fs::write(
            &file,
            "[Proxy Settings]\nProxyType=1\nhttpsProxy=http://proxy.kde.se 3128\n",
        )
        .expect("write");
        let found = kde(&file);
        assert_eq!(found.len(), 1, "{found:?}");
        std::fs::write(
            &file,
            "[Proxy Settings]\nProxyType=0\nhttpsProxy=http://proxy.kde.se 3128\n",
        )
        .expect("write");
        assert!(kde(&file).is_empty());
    }
}
