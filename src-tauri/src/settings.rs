//! The user's settings: language, preferred login method, and whether this is a shared
//! computer (the default: nothing personal persists) or a personal one (the e-mail address may
//! be remembered, and devices trusted for two-step verification). Kept with
//! tauri-plugin-store in `{config}/settings.json`, which is plain JSON: in shared mode it holds
//! nothing personal, and leaving personal mode removes what it held.

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
