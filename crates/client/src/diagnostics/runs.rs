//! The app's side of the diagnostics: one run at a time, the last report kept for "Kopiera
//! rapport" (in memory only, dropped by the wipe), and the copied text remembered so the wipe
//! can clear the clipboard if it still holds it.

use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use super::Report;
use crate::policy::ContactCentre;

/// What the view shows after a run: the checks and whom to call.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticsView {
    pub report: Report,
    pub contact_centre: Option<ContactCentre>,
}

/// The diagnostics' state in the running app.
#[derive(Debug, Default)]
pub struct Runs {
    pub(crate) running: tokio::sync::Mutex<()>,
    last: Mutex<Option<Report>>,
    copied: Mutex<Option<String>>,
}

impl Runs {
    pub(crate) fn finished(&self, report: Report) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
    }

    pub(crate) fn last(&self) -> Option<Report> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn copied(&self, text: String) {
        *self.copied.lock().unwrap_or_else(PoisonError::into_inner) = Some(text);
    }

    /// What the wipe must take off the clipboard (if it is still there), and forgets the report.
    pub(crate) fn take_for_wipe(&self) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.copied
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}
