//! Server configuration: a TOML file, overridden by environment variables, overridden by the
//! command line. Resolution is pure (no I/O besides reading the named file) so it is testable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The address the server listens on when nothing else is said.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

/// What the config file may contain. Unknown keys are an error so a typo is not silently ignored.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Values given on the command line or in the environment (clap merges those two).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub demo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where the database lives. Demo mode uses a fresh temporary database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Url(String),
    Temporary,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: Database,
    pub tls: Option<Tls>,
    pub demo: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("a TLS certificate was given without its key, or the key without the certificate")]
    TlsHalf,
    #[error("demo mode only listens on loopback (127.0.0.1 or ::1), not {0}")]
    DemoNotLoopback(SocketAddr),
    #[error("no database: give --database-url (or LEGITIMERA_DATABASE_URL, or database_url in the config file), or run with --demo")]
    NoDatabase,
}

impl Config {
    pub fn resolve(file: FileConfig, over: Overrides) -> Result<Self, ConfigError> {
        let listen = over.listen.or(file.listen).unwrap_or_else(default_listen);
        let tls = match (
            over.tls_cert.or(file.tls_cert),
            over.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(Tls { cert, key }),
            (None, None) => None,
            _ => return Err(ConfigError::TlsHalf),
        };
        let database_url = over.database_url.or(file.database_url);
        let database = match (database_url, over.demo) {
            (Some(url), _) => Database::Url(url),
            (None, true) => Database::Temporary,
            (None, false) => return Err(ConfigError::NoDatabase),
        };
        if over.demo && !listen.ip().is_loopback() {
            return Err(ConfigError::DemoNotLoopback(listen));
        }
        Ok(Config {
            listen,
            database,
            tls,
            demo: over.demo,
        })
    }
}

fn default_listen() -> SocketAddr {
    // A constant that parses; covered by `defaults_apply` below.
    DEFAULT_LISTEN
        .parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8787)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let config = Config::resolve(
            FileConfig::default(),
            Overrides {
                demo: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.database, Database::Temporary);
        assert!(config.tls.is_none());
    }

    #[test]
    fn command_line_beats_file() {
        let file =
            FileConfig::parse("listen = \"127.0.0.1:9000\"\ndatabase_url = \"sqlite://file.db\"\n")
                .unwrap();
        let over = Overrides {
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            ..Default::default()
        };
        let config = Config::resolve(file, over).unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.database, Database::Url("sqlite://file.db".into()));
    }

    #[test]
    fn file_listen_is_used_when_not_overridden() {
        let file = FileConfig::parse("listen = \"127.0.0.1:9000\"").unwrap();
        let over = Overrides {
            demo: true,
            ..Default::default()
        };
        assert_eq!(Config::resolve(file, over).unwrap().listen.port(), 9000);
    }

    #[test]
    fn typo_in_config_file_is_an_error() {
        assert!(FileConfig::parse("lisen = \"127.0.0.1:9000\"").is_err());
    }

    #[test]
    fn half_a_tls_pair_is_refused() {
        let over = Overrides {
            demo: true,
            tls_cert: Some("cert.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::TlsHalf)
        );
    }

    #[test]
    fn demo_refuses_a_public_address() {
        let over = Overrides {
            demo: true,
            listen: Some("0.0.0.0:8787".parse().unwrap()),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve(FileConfig::default(), over),
            Err(ConfigError::DemoNotLoopback(_))
        ));
    }

    #[test]
    fn production_needs_a_database() {
        assert_eq!(
            Config::resolve(FileConfig::default(), Overrides::default()),
            Err(ConfigError::NoDatabase)
        );
    }
}
