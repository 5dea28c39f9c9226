//! What the app can leave on this computer, and its removal: the webview's data directory
//! (WebKitGTK and WebView2 create it even for an incognito webview), caches, the crash
//! marker; the store's personal entries and the keyring's are the settings' and the trusted
//! device's business (`settings`, `trusted`). Logs stay: they never hold personal data.
//!
//! The files are removed when the app exits (after the webview is gone) and again at every
//! start before the window exists, so a crash or `kill -9` leaves nothing for the next user.
//! The marker written at login says a session was open: at the next start its presence means
//! the last run ended without its wipe, and the personal entries go too. Knows nothing of Tauri.
//!
//! A wipe is a `Plan` (what exists and must go, computed from the directories) and its
//! execution, so what would be removed can be looked at without removing it.

use std::io;
use std::path::{Path, PathBuf};

/// The file whose presence means "a session was open and not yet wiped". Holds no data.
pub const MARKER: &str = "session-open";

/// The files in the configuration directory that survive a wipe: the settings, which hold
/// nothing personal in shared mode (see `settings`).
const KEEP_IN_CONFIG: &[&str] = &["settings.json"];

/// The app's own directories (each `…/se.legitimera.desktop`), and where the logs are.
#[derive(Debug, Clone)]
pub struct Places {
    pub config: PathBuf,
    pub data: PathBuf,
    pub local_data: PathBuf,
    pub cache: PathBuf,
    /// Kept; on Linux it lies inside `data`.
    pub logs: PathBuf,
}

/// What a wipe will remove: every path, in the order found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub paths: Vec<PathBuf>,
}

/// What a wipe did, for the log (counts and paths of the app's own directories only).
#[derive(Debug, Default)]
pub struct Outcome {
    pub removed: usize,
    pub failed: Vec<(PathBuf, io::Error)>,
}

impl Places {
    pub fn marker(&self) -> PathBuf {
        self.config.join(MARKER)
    }

    /// Every directory a wipe looks at (for the residue test and the log).
    pub fn all(&self) -> Vec<&Path> {
        let mut all: Vec<&Path> = Vec::new();
        for dir in [&self.config, &self.data, &self.local_data, &self.cache] {
            if !all.contains(&dir.as_path()) {
                all.push(dir);
            }
        }
        all
    }

    /// Everything in the app's directories but the logs and the settings. The marker is left
    /// alone: `SessionMarker::clear` removes it once the whole wipe is done. The directories
    /// may coincide (on Windows the config and data directories are one).
    pub fn plan(&self) -> Plan {
        let mut plan = Plan::default();
        for dir in self.all() {
            self.collect(dir, &mut plan);
        }
        plan
    }

    /// What a wipe keeps: the logs, the settings file, the marker (and the directories that
    /// lead to them, which are emptied around them instead).
    fn keeps(&self, path: &Path) -> bool {
        path == self.logs
            || path == self.marker()
            || (path.parent() == Some(self.config.as_path())
                && path
                    .file_name()
                    .is_some_and(|name| KEEP_IN_CONFIG.iter().any(|keep| name == *keep)))
    }

    /// Adds what is in `dir` to the plan, except what is kept (and the directories that lead
    /// to it, whose other contents are added instead).
    fn collect(&self, dir: &Path, plan: &mut Plan) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if self.keeps(&path) {
                continue;
            }
            if self.logs.starts_with(&path) || self.config.starts_with(&path) {
                self.collect(&path, plan);
            } else if !plan.paths.contains(&path) {
                plan.paths.push(path);
            }
        }
    }
}

impl Plan {
    /// Removes every planned path (a directory with what is in it).
    pub fn execute(self) -> Outcome {
        let mut outcome = Outcome::default();
        for path in &self.paths {
            remove(path, &mut outcome);
        }
        outcome
    }
}

fn remove(path: &Path, outcome: &mut Outcome) {
    let result = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => outcome.removed += 1,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => outcome.failed.push((path.to_path_buf(), error)),
    }
}

/// Removes the files, and the marker once nothing failed (a failure leaves the marker, so the
/// next start tries again).
pub fn remove_files_then_marker(places: &Places, marker: &SessionMarker) {
    let outcome = places.plan().execute();
    for (path, error) in &outcome.failed {
        tracing::warn!(path = %path.display(), %error, "could not remove a leftover");
    }
    if outcome.failed.is_empty() {
        if let Err(error) = marker.clear() {
            tracing::warn!(%error, "could not remove the session marker");
        }
    }
    tracing::debug!(removed = outcome.removed, "files wiped");
}

/// At start, before the window exists: whatever the last run left goes. A marker means that
/// run ended with a session open and no wipe (a crash, `kill -9`, power loss): on a shared
/// computer its personal settings and keyring entries go too.
pub fn at_start(places: &Places, device: &crate::device::Device) {
    let marker = SessionMarker::new(places.marker());
    let unclean = marker.is_set();
    if unclean {
        tracing::warn!("the last run ended with a session open: wiping what it left");
    }
    device.wipe_if_shared();
    remove_files_then_marker(places, &marker);
    if unclean {
        tracing::info!("the last run's leftovers are wiped");
    }
}

/// The crash marker: written when a session starts, removed after a clean wipe.
#[derive(Debug, Clone)]
pub struct SessionMarker {
    path: PathBuf,
}

impl SessionMarker {
    pub fn new(path: PathBuf) -> Self {
        SessionMarker { path }
    }

    /// A session started. Written (and synced) before anything personal is shown.
    pub fn set(&self) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(&self.path)?;
        file.sync_all()
    }

    pub fn is_set(&self) -> bool {
        self.path.exists()
    }

    pub fn clear(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    }

    fn linux_places(home: &Path) -> Places {
        let data = home.join("data/se.legitimera.desktop");
        Places {
            config: home.join("config/se.legitimera.desktop"),
            local_data: data.clone(),
            logs: data.join("logs"),
            data,
            cache: home.join("cache/se.legitimera.desktop"),
        }
    }

    #[test]
    fn removes_webview_data_and_caches_but_keeps_logs_settings_and_the_marker() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let places = linux_places(home.path());
        write(&places.logs.join("legitimera.log"), "started");
        write(&places.data.join("localstorage/file.sqlite"), "x");
        write(&places.data.join("hsts-storage.sqlite"), "x");
        write(&places.cache.join("WebKitCache/Version 16/blob"), "x");
        write(&places.config.join("settings.json"), "{}");
        write(&places.config.join("leftover.json"), "{}");
        write(&places.marker(), "");

        let outcome = places.plan().execute();

        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        assert_eq!(outcome.removed, 4);
        assert!(places.logs.join("legitimera.log").exists());
        assert!(places.config.join("settings.json").exists());
        assert!(places.marker().exists());
        assert!(!places.data.join("localstorage").exists());
        assert!(!places.data.join("hsts-storage.sqlite").exists());
        assert!(!places.cache.join("WebKitCache").exists());
        assert!(!places.config.join("leftover.json").exists());
    }

    #[test]
    fn where_config_and_data_are_one_directory_the_settings_and_marker_stay() {
        // Windows: {RoamingAppData}/{identifier} is both; logs are under local data.
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let roaming = home.path().join("Roaming/se.legitimera.desktop");
        let local = home.path().join("Local/se.legitimera.desktop");
        let places = Places {
            config: roaming.clone(),
            data: roaming.clone(),
            local_data: local.clone(),
            cache: local.clone(),
            logs: local.join("logs"),
        };
        write(&roaming.join("settings.json"), "{}");
        write(&places.marker(), "");
        write(&roaming.join("EBWebView/Default/Cookies"), "x");
        write(&local.join("EBWebView/Default/Cache"), "x");
        write(&local.join("logs/legitimera.log"), "started");

        let outcome = places.plan().execute();

        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        assert!(roaming.join("settings.json").exists());
        assert!(places.marker().exists());
        assert!(local.join("logs/legitimera.log").exists());
        assert!(!roaming.join("EBWebView").exists());
        assert!(!local.join("EBWebView").exists());
    }

    #[test]
    fn the_plan_lists_what_goes_and_removes_nothing_itself() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let places = linux_places(home.path());
        write(&places.data.join("localstorage/file.sqlite"), "x");
        write(&places.logs.join("legitimera.log"), "started");
        write(&places.config.join("settings.json"), "{}");
        let plan = places.plan();
        assert_eq!(plan.paths, vec![places.data.join("localstorage")]);
        assert!(places.data.join("localstorage/file.sqlite").exists());
        assert_eq!(plan.execute().removed, 1);
        assert_eq!(places.plan(), Plan::default());
    }

    #[test]
    fn missing_directories_are_nothing_to_do() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outcome = linux_places(home.path()).plan().execute();
        assert_eq!(outcome.removed, 0);
        assert!(outcome.failed.is_empty());
    }

    #[test]
    fn the_marker_is_set_and_cleared() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let marker = SessionMarker::new(home.path().join("config/x").join(MARKER));
        assert!(!marker.is_set());
        marker.set().unwrap_or_else(|e| panic!("{e}"));
        assert!(marker.is_set());
        marker.clear().unwrap_or_else(|e| panic!("{e}"));
        assert!(!marker.is_set());
        marker
            .clear()
            .unwrap_or_else(|e| panic!("clearing twice is fine: {e}"));
    }
}
