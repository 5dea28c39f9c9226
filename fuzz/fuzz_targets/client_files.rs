//! The files the app reads from disk that someone else may have written: its settings store
//! (`settings.json`, edited by hand or left by another version) and the machine policy
//! (`policies.json`, written by IT — or broken by a bad deployment). The input: a selector
//! byte, then the file's bytes.
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use legitimera_client::internal::{Policy, Settings};
use legitimera_client::settings::Mode;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The settings store's file as the app reads it: one bad entry falls back on its own.
fn settings_file(bytes: &[u8]) -> Settings {
    let entries: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    Settings::from_entries(|key| entries.get(key).cloned())
}

fn check_settings(settings: &Settings) {
    // Only a personal computer remembers an address.
    if settings.mode != Mode::Personal {
        assert_eq!(
            settings.remembered_email, None,
            "shared mode remembered an address"
        );
    }
    // What is saved reads back the same.
    let saved: BTreeMap<&str, Value> = settings
        .to_entries()
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
    let again = Settings::from_entries(|key| saved.get(key).cloned());
    assert_eq!(&again, settings, "saved settings read back differently");
}

fn check_policy(text: &str) {
    let (policy, errors) = Policy::parse(text);
    if let Some(limit) = policy.idle_limit() {
        assert!(
            (Duration::from_secs(60)..=Duration::from_secs(30 * 60)).contains(&limit),
            "an idle limit of {limit:?} got through"
        );
    }
    if let Some(url) = &policy.backend_url {
        assert!(
            url.as_str().starts_with("https://"),
            "a backend over {url:?}"
        );
    }
    for user in [
        Settings::default(),
        settings_file(br#"{"mode":"personal","remembered_email":"a@example.se","language":"en","preferred_method":"password"}"#),
    ] {
        let applied = policy.apply(user.clone());
        if policy.mode_locked() && applied.mode == Mode::Shared {
            assert_eq!(applied.remembered_email, None, "a forced shared mode kept an address");
        }
        if let Some(method) = applied.preferred_method {
            assert!(policy.allows(method), "a method policy forbids is preferred");
        }
        let report = policy.report(&errors, &user, None);
        serde_json::to_string(&report).expect("the policy report serializes");
        let _ = report.to_text(&BTreeMap::new());
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, file @ ..] = data else {
        return;
    };
    if selector % 2 == 0 {
        check_settings(&settings_file(file));
    } else if let Ok(text) = std::str::from_utf8(file) {
        check_policy(text);
    }
});
