//! Desktop notifications (notify-rust): the session warning when the window is not in front.
//! Never personal data. Without a notification service (no daemon, a locked-down desktop) it
//! does nothing: the in-app dialog is the warning that counts.

use crate::locale::Language;

/// The texts, in the UI's language. Kept here (not in the UI catalogs): the UI is not asked.
pub fn session_warning_text(language: Language, seconds_left: u64) -> (&'static str, String) {
    let minutes = seconds_left.div_ceil(60);
    match language {
        Language::Sv => (
            "Legitimera: du loggas snart ut",
            if seconds_left >= 60 {
                format!("Du loggas ut om {minutes} min om du inte gör något. Öppna Legitimera och välj ”Fortsätt vara inloggad”.")
            } else {
                format!("Du loggas ut om {seconds_left} sekunder om du inte gör något. Öppna Legitimera och välj ”Fortsätt vara inloggad”.")
            },
        ),
        Language::En => (
            "Legitimera: you will be logged out soon",
            if seconds_left >= 60 {
                format!("You will be logged out in {minutes} min unless you do something. Open Legitimera and choose “Stay logged in”.")
            } else {
                format!("You will be logged out in {seconds_left} seconds unless you do something. Open Legitimera and choose “Stay logged in”.")
            },
        ),
    }
}

/// Shows a desktop notification through the OS's service, off the async workers (sending
/// talks D-Bus and may block). Does nothing when there is no service.
pub fn show(summary: &str, body: &str) {
    let (summary, body) = (summary.to_owned(), body.to_owned());
    std::thread::spawn(move || {
        if let Err(error) = notify_rust::Notification::new()
            .appname("Legitimera")
            .summary(&summary)
            .body(&body)
            .timeout(notify_rust::Timeout::Milliseconds(10_000))
            .show()
        {
            tracing::debug!(%error, "no desktop notification");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_counts_minutes_then_seconds_in_both_languages() {
        assert!(session_warning_text(Language::Sv, 300).1.contains("5 min"));
        assert!(session_warning_text(Language::Sv, 20)
            .1
            .contains("20 sekunder"));
        assert!(session_warning_text(Language::En, 61).1.contains("2 min"));
        assert!(session_warning_text(Language::En, 5)
            .1
            .contains("5 seconds"));
    }
}
