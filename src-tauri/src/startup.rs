//! The start-up timeline: when each step from `main` to the first view the user can operate
//! happened, in milliseconds since `main`. Rust marks its own steps; the webview reports its
//! own (`ui_ready`, in wall-clock milliseconds, which are turned into the same scale), once.
//!
//! The timeline goes to the log (info). With `LEGITIMERA_STARTUP_TIMELINE=1` it is also printed
//! as one JSON line on stdout, for `cargo xtask bench app`. It holds times and step names only.

use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

/// Set (to anything but empty) to have the timeline printed on stdout.
pub const TIMELINE_ENV: &str = "LEGITIMERA_STARTUP_TIMELINE";

/// The first line of stdout's timeline, so a reader can find it among other output.
pub const TIMELINE_PREFIX: &str = "legitimera-startup ";

struct Timeline {
    started: Instant,
    /// `started` as wall-clock milliseconds since the epoch: the webview reports in those.
    started_epoch_ms: f64,
    marks: Mutex<Vec<(String, f64)>>,
    reported: std::sync::atomic::AtomicBool,
}

static TIMELINE: OnceLock<Timeline> = OnceLock::new();

/// Told when the webview reports its first view (`ui_ready`).
static FIRST_VIEW: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Once the first view is up (3 s at most): for work it does not need, which would compete with it.
pub async fn first_view() {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), FIRST_VIEW.notified()).await;
}

fn timeline() -> &'static Timeline {
    TIMELINE.get_or_init(|| Timeline {
        started: Instant::now(),
        started_epoch_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0),
        marks: Mutex::new(Vec::new()),
        reported: std::sync::atomic::AtomicBool::new(false),
    })
}

/// Starts the clock: the first thing `run` does.
pub fn begin() {
    mark("main");
}

/// Records that the step `name` has just finished.
pub fn mark(name: &str) {
    let timeline = timeline();
    let at = timeline.started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(mut marks) = timeline.marks.lock() {
        marks.push((name.to_owned(), at));
    }
}

/// What the webview reports: its steps, each in wall-clock milliseconds since the epoch
/// (`performance.timeOrigin + performance.now()`).
#[derive(Debug, Deserialize)]
pub struct UiMarks {
    pub marks: Vec<UiMark>,
}

#[derive(Debug, Deserialize)]
pub struct UiMark {
    pub name: String,
    pub at: f64,
}

/// The webview's first view can be operated: adds its steps, then logs (and maybe prints)
/// the whole timeline. Only the first report counts (a reload reports again).
pub fn ui_ready(ui: UiMarks) {
    let timeline = timeline();
    if timeline
        .reported
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        return;
    }
    FIRST_VIEW.notify_one();
    let now = timeline.started.elapsed().as_secs_f64() * 1000.0;
    let mut marks = match timeline.marks.lock() {
        Ok(marks) => marks.clone(),
        Err(_) => return,
    };
    for mark in ui.marks.into_iter().take(32) {
        let name: String = mark
            .name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        let at = mark.at - timeline.started_epoch_ms;
        if at.is_finite() {
            marks.push((format!("ui_{name}"), at));
        }
    }
    marks.push(("ready".to_owned(), now));
    marks.sort_by(|a, b| a.1.total_cmp(&b.1));
    let line = render(now, &marks);
    tracing::info!(timeline = %line, "first view ready after {now:.0} ms");
    if std::env::var_os(TIMELINE_ENV).is_some_and(|v| !v.is_empty()) {
        println!("{TIMELINE_PREFIX}{line}");
    }
}

/// `{"ready_ms": …, "marks": [["name", ms], …]}`.
fn render(ready: f64, marks: &[(String, f64)]) -> String {
    let marks: Vec<(String, f64)> = marks
        .iter()
        .map(|(name, at)| (name.clone(), (at * 10.0).round() / 10.0))
        .collect();
    serde_json::json!({ "ready_ms": (ready * 10.0).round() / 10.0, "marks": marks }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_is_one_json_line_of_names_and_times() {
        let line = render(
            812.34,
            &[("main".into(), 0.0), ("window_created".into(), 123.456)],
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["ready_ms"], 812.3);
        assert_eq!(value["marks"][1][0], "window_created");
        assert_eq!(value["marks"][1][1], 123.5);
        assert!(!line.contains('\n'));
    }
}
