//! Machine policy through the client, as the UI and `--policy-report` see it: policy over the
//! user's settings key by key, locked settings refused, a bad policy reported with the safe
//! defaults kept, and the policy's idle limit ending sessions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;

use legitimera_client::locale::Language;
use legitimera_client::policy::Source;
use legitimera_client::settings::{MemoryStore, Method, Mode, SettingsStore};
use legitimera_client::{Phase, SettingsChange};
use legitimera_protocol::ErrorCode;
use serde_json::json;
use support::*;

fn store(entries: serde_json::Value) -> MemoryStore {
    let store = MemoryStore::default();
    for (key, value) in entries.as_object().unwrap() {
        store.set(key, value.clone());
    }
    store
}

#[tokio::test]
async fn locked_policy_beats_the_users_settings_key_by_key() {
    let h = Harness::governed(
        r#"{"policies": {
            "ComputerMode": "shared",
            "Language": {"Value": "en", "Locked": true},
            "PreferredMethod": {"Value": "siths", "Locked": true},
            "LoginMethods": ["siths", "password"]
        }}"#,
        store(
            json!({"mode": "personal", "language": "sv", "preferred_method": "password",
                     "remembered_email": "erik@example.se"}),
        ),
    )
    .await;
    let view = h.client.settings();
    assert_eq!(view.mode, Mode::Shared);
    assert_eq!(view.language, Some(Language::En));
    assert_eq!(view.preferred_method, Some(Method::Siths));
    assert_eq!(view.remembered_email, None);
    assert!(view.managed.mode_locked && view.managed.language_locked);
    assert!(view.managed.preferred_method_locked);
    assert_eq!(
        view.managed.login_methods,
        vec![Method::Password, Method::Siths]
    );
    assert_eq!(h.client.app_info().language, Language::En);
}

#[tokio::test]
async fn an_unlocked_preset_is_a_default_the_user_may_change() {
    let h = Harness::governed(
        r#"{"Language": {"Value": "en", "Locked": false}, "ComputerMode": "user_choice"}"#,
        MemoryStore::default(),
    )
    .await;
    assert_eq!(h.client.settings().language, Some(Language::En));
    assert!(!h.client.settings().managed.mode_locked);
    let view = h
        .client
        .change_settings(SettingsChange {
            language: Some(Language::Sv),
            mode: Some(Mode::Personal),
            ..SettingsChange::default()
        })
        .await
        .unwrap();
    assert_eq!(view.language, Some(Language::Sv));
    assert_eq!(view.mode, Mode::Personal);
    let report = h.client.policy_report();
    assert_eq!(report.settings["Language"].source, Source::User);
    assert_eq!(report.settings["ComputerMode"].source, Source::User);
}

#[tokio::test]
async fn a_locked_setting_is_refused_through_the_client() {
    let h = Harness::governed(
        r#"{"ComputerMode": "shared", "Language": {"Value": "sv", "Locked": true},
            "PreferredMethod": {"Value": "siths", "Locked": true}}"#,
        MemoryStore::default(),
    )
    .await;
    for change in [
        SettingsChange {
            mode: Some(Mode::Personal),
            ..SettingsChange::default()
        },
        SettingsChange {
            language: Some(Language::En),
            ..SettingsChange::default()
        },
        SettingsChange {
            preferred_method: Some(Method::Password),
            ..SettingsChange::default()
        },
    ] {
        let error = h.client.change_settings(change).await.unwrap_err();
        assert_eq!(error.code(), ErrorCode::SettingLocked, "{change:?}");
    }
    assert!(h.store.get("mode").is_none());
    assert!(h.store.get("language").is_none());
    // Saving the form as it is (the locked values unchanged) is no change, and is accepted.
    let same = SettingsChange {
        mode: Some(Mode::Shared),
        language: Some(Language::Sv),
        preferred_method: Some(Method::Siths),
    };
    h.client.change_settings(same).await.unwrap();
    // Policy's values are never written into the user's settings.
    assert!(h.store.get("language").is_none());
}

#[tokio::test]
async fn a_method_policy_does_not_allow_cannot_be_preferred() {
    let h = Harness::governed(r#"{"LoginMethods": ["siths"]}"#, MemoryStore::default()).await;
    let error = h
        .client
        .change_settings(SettingsChange {
            preferred_method: Some(Method::Password),
            ..SettingsChange::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::SettingLocked);
}

#[tokio::test]
async fn an_invalid_policy_is_reported_and_the_app_starts_with_safe_defaults() {
    let h = Harness::governed(
        r#"{"policies": {"ComputerMode": "personl", "LoginMethods": "all",
            "IdleTimeoutMinutes": "thirty", "Homepage": "x"}}"#,
        store(json!({"mode": "personal", "remembered_email": "erik@example.se"})),
    )
    .await;
    let view = h.client.settings();
    assert_eq!(
        view.mode,
        Mode::Shared,
        "an unreadable ComputerMode is read as shared"
    );
    assert_eq!(view.remembered_email, None);
    assert_eq!(view.managed.login_methods.len(), 4);
    let report = h.client.policy_report();
    let keys: Vec<&str> = report.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "ComputerMode",
            "Homepage",
            "IdleTimeoutMinutes",
            "LoginMethods"
        ]
    );
    assert_eq!(report.settings["IdleTimeoutMinutes"].value, json!(30));
    assert_eq!(
        report.settings["IdleTimeoutMinutes"].source,
        Source::Default
    );
    // And it still logs in.
    h.log_in_erik().await;
    assert_eq!(h.client.phase(), Phase::LoggedIn);
}

#[tokio::test]
async fn idle_timeout_45_is_clamped_to_30_with_a_warning() {
    let h = Harness::governed(r#"{"IdleTimeoutMinutes": 45}"#, MemoryStore::default()).await;
    let report = h.client.policy_report();
    assert_eq!(report.settings["IdleTimeoutMinutes"].value, json!(30));
    assert_eq!(report.settings["IdleTimeoutMinutes"].source, Source::Policy);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].key, "IdleTimeoutMinutes");
    assert_eq!(h.client.settings().managed.idle_timeout_minutes, Some(30));
}

#[tokio::test]
async fn a_shorter_policy_idle_limit_warns_and_ends_the_session_sooner() {
    let h = Harness::governed(r#"{"IdleTimeoutMinutes": 10}"#, MemoryStore::default()).await;
    h.log_in_erik().await;
    // The warning comes at a quarter of the limit before it: 7:30 of 10:00.
    h.after(Duration::from_secs(8 * 60)).await;
    assert!(h.recorder.count("session-warning") >= 1);
    h.after(Duration::from_secs(2 * 60)).await;
    assert_eq!(h.recorder.count("session-ended idle_timeout"), 1);
    assert_eq!(h.client.phase(), Phase::LoggedOut);
    assert_eq!(h.backend.open_sessions(), 0);
}

#[tokio::test]
async fn the_report_lists_every_key_with_its_source() {
    let h = Harness::governed(
        r#"{"LoginMethods": ["siths"], "ContactCentre": {"Name": "IT", "Phone": "010-1"},
            "DiagnosticsHosts": ["e-tjanster.example.se"],
            "Updates": {"Enabled": false}}"#,
        store(json!({"language": "en"})),
    )
    .await;
    let report = serde_json::to_value(h.client.policy_report()).unwrap();
    let settings = report["settings"].as_object().unwrap();
    for key in legitimera_client::policy::KEYS {
        let entry = &settings[*key];
        assert!(entry.get("value").is_some(), "{key}");
        assert!(entry["locked"].is_boolean(), "{key}");
    }
    assert_eq!(settings.len(), legitimera_client::policy::KEYS.len());
    assert_eq!(
        settings["LoginMethods"],
        json!({"value": ["siths"], "source": "policy", "locked": true})
    );
    assert_eq!(settings["Language"]["source"], "user");
    assert_eq!(settings["ComputerMode"]["source"], "default");
    assert_eq!(settings["ContactCentre"]["value"]["Name"], "IT");
    assert_eq!(
        settings["Updates"]["value"],
        json!({"Enabled": false, "Endpoint": null})
    );
    assert_eq!(report["errors"], json!([]));
}

#[tokio::test]
async fn a_release_build_without_a_backend_says_so_and_asks_nobody() {
    let h = Harness::without_backend().await;
    let mut reachability = legitimera_client::connectivity::Reachability::default();
    h.client.check_backend(&mut reachability).await;
    h.client.check_backend(&mut reachability).await;
    assert_eq!(
        h.client.backend_status(),
        legitimera_client::connectivity::BackendStatus::Unreachable {
            code: ErrorCode::BackendNotConfigured,
            retry_in_ms: 0
        }
    );
    // Told once, and nothing was sent anywhere.
    assert_eq!(h.recorder.count("backend-status"), 1);
    assert!(h.backend.world().requests.is_empty());
    let about = h.client.about();
    assert_eq!(about.backend_url, None);
    assert_eq!(about.report.settings["BackendUrl"].value, json!(null));
}
