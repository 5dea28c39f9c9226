//! `legitimera --diagnose [--json] [--test-login] [--include-identity]`: the troubleshooting
//! checks for IT, over SSH: no window, no display, no D-Bus session. Prints the report (or its
//! JSON) and exits 0 when nothing failed, 1 when a check failed, 2 when the diagnostics could
//! not run. The PIN for `--test-login` is read from the terminal without echo (or, when the
//! standard input is not a terminal, as its first line). The checks are `legitimera_client`'s.

use std::io::{BufRead, IsTerminal, Write};

use legitimera_client::diagnostics::{self, Options, Pin, Status};
use legitimera_client::locale::Language;
use zeroize::Zeroizing;

use crate::start;

/// The flags `--diagnose` takes.
const FLAGS: [&str; 4] = ["--diagnose", "--json", "--test-login", "--include-identity"];

/// Runs the diagnostics and answers the exit code.
pub fn run(args: &[String]) -> i32 {
    match diagnose(args) {
        Ok(code) => code,
        Err(why) => {
            eprintln!("legitimera --diagnose: {why}");
            2
        }
    }
}

fn diagnose(args: &[String]) -> Result<i32, String> {
    // The backend flag and its value are `configure`'s; anything else is a mistake.
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if arg == "--backend-url" {
            rest.next();
        } else if !FLAGS.contains(&arg.as_str()) && !arg.starts_with("--backend-url=") {
            return Err(format!("unknown argument {arg:?}"));
        }
    }
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let start = start::configure(args);
    let user = start::user_settings().unwrap_or_default();
    let language = start
        .policy
        .language
        .filter(|preset| preset.locked)
        .map(|preset| preset.value)
        .or(user.language)
        .or_else(|| start.policy.language.map(|preset| preset.value))
        .unwrap_or_else(Language::from_os);
    let api = start.startup.backend_error.is_none().then_some(start.api);
    let options =
        Options::for_this_machine(language, api, start.policy.diagnostics_hosts.as_deref());
    let pin = if has("--test-login") {
        Some(read_pin(language)?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .map_err(|e| format!("could not start: {e}"))?;
    let json = has("--json");
    let report = runtime.block_on(diagnostics::run(&options, pin, |progress| {
        // Progress on stderr for a person watching; stdout stays the report.
        if let (false, diagnostics::Progress::Finished { outcome }) = (json, progress) {
            if std::io::stderr().is_terminal() {
                eprintln!("{}: {}", outcome.title, outcome.status.word(language));
            }
        }
    }));
    let include_identity = has("--include-identity");
    let text = if json {
        serde_json::to_string_pretty(&report.to_json(include_identity))
            .map_err(|e| e.to_string())?
            + "\n"
    } else {
        report.to_text(language, include_identity)
    };
    // A closed pipe (`| head`) is the reader's choice.
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(
        if report.checks.iter().any(|c| c.status == Status::Failed) {
            1
        } else {
            0
        },
    )
}

/// The PIN, without echo from a terminal, or the first line of a piped standard input.
fn read_pin(language: Language) -> Result<Pin, String> {
    let prompt = match language {
        Language::Sv => "PIN-kod för legitimering (visas inte): ",
        Language::En => "PIN for authentication (not shown): ",
    };
    let typed = Zeroizing::new(if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|e| format!("could not read the PIN: {e}"))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("could not read the PIN: {e}"))?;
        let line = Zeroizing::new(line);
        line.trim_end_matches(['\r', '\n']).to_owned()
    });
    Pin::parse(&typed).map_err(|_| match language {
        Language::Sv => "en PIN-kod är 6 till 8 siffror".to_owned(),
        Language::En => "a PIN is 6 to 8 digits".to_owned(),
    })
}
