//! What the process learns before any window: machine policy, the backend address, and the
//! command-line answers that need no display (`--version`, `--policy-report [--json]`). The
//! rules (which places, which address wins) are `legitimera_client`'s.

use legitimera_client::config::{BACKEND_URL_ENV, NOT_CONFIGURED_URL};
use legitimera_client::policy::{self, POLICY_DIR_ENV};
use legitimera_client::settings::{self, Settings};
use legitimera_client::{
    choose_backend, ApiClient, AppError, BackendUrl, BuildKind, Policy, Startup,
};

/// The app's identifier (tauri.conf.json): its configuration directory's name.
const IDENTIFIER: &str = "se.legitimera.desktop";

pub struct Start {
    pub api: ApiClient,
    pub policy: Policy,
    pub startup: Startup,
    pub updater: UpdaterOverride,
}

/// Debug builds only: the update address and public key from the command line
/// (`--update-endpoint URL`, `--updater-pubkey KEY`, KEY as `plugins.updater.pubkey` holds it),
/// so a test points the real updater at a local server with a key it made. Machine policy
/// still decides whether updates are on. A release build takes both from its config only.
#[derive(Debug, Default, Clone)]
pub struct UpdaterOverride {
    pub endpoint: Option<String>,
    pub pubkey: Option<String>,
}

impl UpdaterOverride {
    fn from_args(args: &[String]) -> Self {
        if !cfg!(debug_assertions) {
            return UpdaterOverride::default();
        }
        let value = |flag: &str| {
            args.iter()
                .position(|arg| arg == flag)
                .and_then(|at| args.get(at + 1))
                .cloned()
        };
        UpdaterOverride {
            endpoint: value("--update-endpoint"),
            pubkey: value("--updater-pubkey"),
        }
    }
}

/// Reads the policy and chooses the backend. A bad address ends the process with the reason;
/// no address at all (a release build without one) is shown on the first screen instead.
pub fn configure(args: &[String]) -> Start {
    let build = BuildKind::current();
    let (policy, policy_errors) = policy::read(policy::dir_override(
        build,
        std::env::var_os(POLICY_DIR_ENV),
    ));
    let chosen = choose_backend(
        build,
        &policy,
        args.iter().cloned(),
        std::env::var(BACKEND_URL_ENV).ok(),
    );
    let (url, backend_source, backend_error) = match chosen {
        Ok((url, source)) => (url, Some(source), None),
        Err(error @ AppError::NoBackendConfigured) => {
            let placeholder = BackendUrl::parse(NOT_CONFIGURED_URL).unwrap_or_else(|e| fail(&e));
            (placeholder, None, Some(error.code()))
        }
        Err(error) => fail(&error),
    };
    let api = ApiClient::new(url).unwrap_or_else(|error| fail(&error));
    Start {
        api,
        policy,
        startup: Startup {
            policy_errors,
            backend_source,
            backend_error,
        },
        updater: UpdaterOverride::from_args(args),
    }
}

/// The user's own settings file, read without Tauri (the commands that need no display).
pub fn user_settings() -> Option<Settings> {
    dirs::config_dir().map(|dir| Settings::from_file(&dir.join(IDENTIFIER).join(settings::FILE)))
}

/// `--version`, `--policy-report [--json]` and `--diagnose …`: answers the exit code when the
/// command line asked for one of them.
pub fn answer_without_window(args: &[String]) -> Option<i32> {
    if args.iter().any(|a| a == "--version") {
        println!("legitimera {}", env!("CARGO_PKG_VERSION"));
        return Some(0);
    }
    if args.iter().any(|a| a == "--diagnose") {
        return Some(crate::diagnose::run(args));
    }
    if !args.iter().any(|a| a == "--policy-report") {
        return None;
    }
    let start = configure(args);
    let user = user_settings().unwrap_or_default();
    let backend = start
        .startup
        .backend_source
        .map(|source| (start.api.base(), source));
    let report = start
        .policy
        .report(&start.startup.policy_errors, &user, backend);
    let text = if args.iter().any(|a| a == "--json") {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("legitimera: {error}");
                return Some(1);
            }
        }
    } else {
        report.to_text(&start.policy.origins)
    };
    // A closed pipe (`| head`) is the reader's choice, not a failure worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Some(0)
}

fn fail(error: &AppError) -> ! {
    eprintln!("legitimera: {error}");
    std::process::exit(2);
}
