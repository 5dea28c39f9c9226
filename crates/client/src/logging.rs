//! Logging: tracing to stderr and to a daily file in the app's log directory.
//! Nothing personal is ever logged (see ARCHITECTURE.md), so the files may outlive a session.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

pub const LOG_ENV: &str = "LEGITIMERA_LOG";
pub const LOG_FILE_PREFIX: &str = "legitimera.log";

fn filter() -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Starts logging; keep the guard alive for the life of the app so the file is flushed.
/// When the log directory cannot be made, logs go to stderr only.
pub fn init(log_dir: &Path) -> Option<WorkerGuard> {
    // Colours only for a terminal: a desktop session's journal or a redirected file would
    // hold the escape codes.
    let stderr = fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        // When stderr is gone (whoever started the app stopped reading it), a line there is
        // lost, and nothing else. Said outright: a layer's default, but `fmt()`'s is to report
        // it with `eprintln!`, which panics on that same stderr in whatever thread logged
        // (the server had that: tests/logging.rs holds the app to this).
        .log_internal_errors(false)
        .with_filter(filter());
    let (file, guard) = match std::fs::create_dir_all(log_dir) {
        Ok(()) => {
            let appender = tracing_appender::rolling::daily(log_dir, LOG_FILE_PREFIX);
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter());
            (Some(layer), Some(guard))
        }
        Err(_) => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
    guard
}
