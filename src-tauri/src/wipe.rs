//! What the app can leave on this computer, and its removal: the webview's data directory
//! (WebKitGTK and WebView2 create it even for an incognito webview), caches, the crash
//! marker; the store's personal entries and the keyring's are the settings' and the trusted
//! device's business (`settings`, `trusted`). Logs stay: they never hold personal data.
//!
//! The files are removed when the app exits (after the webview is gone) and again at every
//! start before the window exists, so a crash or `kill -9` leaves nothing for the next user.
//! The marker written at login says a session was open: at the next start its presence means
//! the last run ended without its wipe, and the personal entries go too. Knows nothing of Tauri.

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

    /// Removes everything in the app's directories but the logs and the settings. The marker
    /// is left alone: `SessionMarker::clear` removes it once the whole wipe is done. The
    /// directories may coincide (on Windows the config and data directories are one).
    pub fn remove_files(&self) -> Outcome {
        let mut outcome = Outcome::default();
        for dir in self.all() {
            self.empty(dir, &mut outcome);
        }
        outcome
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

    /// Empties `dir` except what is kept (and the directories that lead to it).
    fn empty(&self, dir: &Path, outcome: &mut Outcome) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if self.keeps(&path) {
                continue;
            }
            if self.logs.starts_with(&path) || self.config.starts_with(&path) {
                self.empty(&path, outcome);
            } else {
                remove(&path, outcome);
            }
        }
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

        let outcome = places.remove_files();

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

        let outcome = places.remove_files();

        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        assert!(roaming.join("settings.json").exists());
        assert!(places.marker().exists());
        assert!(local.join("logs/legitimera.log").exists());
        assert!(!roaming.join("EBWebView").exists());
        assert!(!local.join("EBWebView").exists());
    }

    #[test]
    fn missing_directories_are_nothing_to_do() {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outcome = linux_places(home.path()).remove_files();
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
