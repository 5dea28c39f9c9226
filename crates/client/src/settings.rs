//! The user's settings: language, preferred login method, and whether this is a shared
//! computer (the default: nothing personal persists) or a personal one (the e-mail address may
//! be remembered, and devices trusted for two-step verification). Kept in a `SettingsStore`
//! (tauri-plugin-store's `{config}/settings.json` in the app, plain JSON: in shared mode it
//! holds nothing personal, and leaving personal mode removes what it held).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::locale::Language;

/// The file, in the app's configuration directory (which the wipe keeps).
pub const FILE: &str = "settings.json";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Shared or public computer: nothing about the user outlives the session.
    #[default]
    Shared,
    /// The user's own computer: may remember the e-mail address and trust this device.
    Personal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    BankidThis,
    BankidOther,
    Password,
    Siths,
}

/// Where the settings are kept: one JSON value per key, written out by `save`.
pub trait SettingsStore: Send + Sync {
    fn get(&self, key: &str) -> Option<Value>;
    fn set(&self, key: &str, value: Value);
    fn delete(&self, key: &str);
    /// Writes the entries out; the error says why not (disk full, no permission).
    fn save(&self) -> Result<(), String>;
}

/// Settings in memory: for tests, and for a run whose settings file cannot be opened.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, Value>>,
    /// Makes every `save` fail, as a full disk would.
    failing: AtomicBool,
}

impl MemoryStore {
    pub fn fail_saves(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SettingsStore for MemoryStore {
    fn get(&self, key: &str) -> Option<Value> {
        self.entries().get(key).cloned()
    }

    fn set(&self, key: &str, value: Value) {
        self.entries().insert(key.to_owned(), value);
    }

    fn delete(&self, key: &str) {
        self.entries().remove(key);
    }

    fn save(&self) -> Result<(), String> {
        if self.failing.load(Ordering::SeqCst) {
            Err("the disk is full".to_owned())
        } else {
            Ok(())
        }
    }
}

/// The settings as the UI shows them (the keyring's entry names stay in Rust), with what
/// machine policy decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsView {
    pub language: Option<Language>,
    pub preferred_method: Option<Method>,
    pub mode: Mode,
    pub remembered_email: Option<String>,
    /// This computer holds a trusted-device token.
    pub trusted: bool,
    pub managed: Managed,
}

/// What machine policy decides, for the UI: the locks ("Hanteras av din organisation") and
/// the values it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Managed {
    pub language_locked: bool,
    pub preferred_method_locked: bool,
    pub mode_locked: bool,
    /// The methods the chooser offers, in its order.
    pub login_methods: Vec<Method>,
    /// The policy's idle limit, when it sets one.
    pub idle_timeout_minutes: Option<u32>,
    pub contact_centre: Option<crate::policy::ContactCentre>,
    pub diagnostics_hosts: Vec<String>,
}

impl SettingsView {
    /// `settings`: the settings in force (policy already applied).
    pub fn new(settings: Settings, policy: &crate::policy::Policy) -> Self {
        SettingsView {
            trusted: !settings.keyring_entries.is_empty(),
            language: settings.language,
            preferred_method: settings.preferred_method,
            mode: settings.mode,
            remembered_email: settings.remembered_email,
            managed: Managed {
                language_locked: policy.language_locked(),
                preferred_method_locked: policy.preferred_method_locked(),
                mode_locked: policy.mode_locked(),
                login_methods: policy.login_methods(),
                idle_timeout_minutes: policy.idle_timeout_minutes,
                contact_centre: policy.contact_centre.clone(),
                diagnostics_hosts: policy.diagnostics_hosts.clone().unwrap_or_default(),
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `None`: follow the OS locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_method: Option<Method>,
    #[serde(default)]
    pub mode: Mode,
    /// Personal mode only: the address last logged in with, to fill in the login form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remembered_email: Option<String>,
    /// Personal mode only: the keyring entries this app made (their names, which hold no
    /// personal data), so that forgetting the device or leaving personal mode finds them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyring_entries: Vec<String>,
}

/// The store's keys, one per field.
pub const KEYS: &[&str] = &[
    "language",
    "preferred_method",
    "mode",
    "remembered_email",
    "keyring_entries",
];

impl Settings {
    /// Reads the settings from the store's entries. A value that does not parse (edited by
    /// hand, or from a newer version) falls back to its default on its own: one bad entry does
    /// not lose the others. Personal entries are ignored unless the mode is personal.
    pub fn from_entries(get: impl Fn(&str) -> Option<Value>) -> Settings {
        fn field<T: serde::de::DeserializeOwned>(
            get: &impl Fn(&str) -> Option<Value>,
            key: &str,
        ) -> Option<T> {
            let value = get(key)?;
            match serde_json::from_value(value) {
                Ok(parsed) => Some(parsed),
                Err(_) => {
                    tracing::warn!(key, "a setting has a value this version does not know");
                    None
                }
            }
        }
        let mode: Mode = field(&get, "mode").unwrap_or_default();
        let personal = mode == Mode::Personal;
        Settings {
            language: field(&get, "language"),
            preferred_method: field(&get, "preferred_method"),
            mode,
            remembered_email: field(&get, "remembered_email").filter(|_| personal),
            keyring_entries: field(&get, "keyring_entries").unwrap_or_default(),
        }
    }

    /// The settings in a store file (`settings.json`, plain JSON), read without the app (for
    /// `--policy-report`): no file or a bad one is the defaults.
    pub fn from_file(path: &std::path::Path) -> Settings {
        let entries: Value = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        Settings::from_entries(|key| entries.get(key).cloned())
    }

    /// The store's entries: `(key, Some(value))` to set, `(key, None)` to delete.
    pub fn to_entries(&self) -> Vec<(&'static str, Option<Value>)> {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        KEYS.iter()
            .map(|key| (*key, value.get(*key).cloned()))
            .collect()
    }

    /// What shared mode may keep: everything but the personal entries. Answers the keyring
    /// entries that must now be removed.
    pub fn drop_personal(&mut self) -> Vec<String> {
        self.remembered_email = None;
        std::mem::take(&mut self.keyring_entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from(map: Value) -> Settings {
        Settings::from_entries(|key| map.get(key).cloned())
    }

    #[test]
    fn defaults_to_shared_with_nothing_remembered() {
        let settings = from(json!({}));
        assert_eq!(settings.mode, Mode::Shared);
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn a_remembered_address_is_ignored_outside_personal_mode() {
        let shared = from(json!({"mode": "shared", "remembered_email": "a@example.se"}));
        assert_eq!(shared.remembered_email, None);
        let personal = from(json!({"mode": "personal", "remembered_email": "a@example.se"}));
        assert_eq!(personal.remembered_email.as_deref(), Some("a@example.se"));
    }

    #[test]
    fn a_bad_value_loses_only_itself() {
        let settings = from(
            json!({"language": "klingon", "mode": "personal", "preferred_method": "password"}),
        );
        assert_eq!(settings.language, None);
        assert_eq!(settings.mode, Mode::Personal);
        assert_eq!(settings.preferred_method, Some(Method::Password));
    }

    #[test]
    fn entries_round_trip_and_absent_fields_are_deleted() {
        let settings = Settings {
            language: Some(Language::En),
            preferred_method: Some(Method::BankidOther),
            mode: Mode::Personal,
            remembered_email: Some("a@example.se".into()),
            keyring_entries: vec!["trusted-device-00".into()],
        };
        let entries = settings.to_entries();
        assert_eq!(entries.len(), KEYS.len());
        let map: serde_json::Map<String, Value> = entries
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v)))
            .collect();
        assert_eq!(from(Value::Object(map)), settings);

        let mut shared = settings.clone();
        let to_remove = shared.drop_personal();
        assert_eq!(to_remove, vec!["trusted-device-00".to_owned()]);
        let deleted: Vec<_> = shared
            .to_entries()
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        assert_eq!(deleted, vec!["remembered_email", "keyring_entries"]);
    }
}
