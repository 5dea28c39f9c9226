//! Everything a test process logs through `tracing`, at TRACE from every crate, kept in memory
//! for the log-scan tests (no personal data or secret may appear). Plain text without
//! timestamps: a timestamp's runs of digits could look like a code.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The captured log; clones share it.
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs the capturing subscriber for the whole process (once per test binary: a second
    /// call panics, as `tracing_subscriber`'s `init` does).
    pub fn start() -> Self {
        let capture = LogCapture::default();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(capture.clone())
            .init();
        capture
    }

    /// What has been logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        // A test that panicked while logging leaves whole lines behind: keep reading.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
