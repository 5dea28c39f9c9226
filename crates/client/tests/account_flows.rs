//! The account flows through the client's public API against a fake backend on loopback and a
//! clock the test moves: logins, trust, forget, logout, the session clock, the server ending a
//! session, the wipe. 30 minutes pass in microseconds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use legitimera_client::keyring::{self, Keyring};
use legitimera_client::settings::{Method, Mode, SettingsStore};
use legitimera_client::{LoginOutcome, Phase, SettingsChange};
use legitimera_protocol::{Assurance, Email, ErrorCode};
use serde_json::json;
use support::*;

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

fn amiras_entry() -> String {
    keyring::entry_name(&email(AMIRA))
}

// ---- password logins -----------------------------------------------------------------------

#[tokio::test]
async fn a_password_login_without_two_step_is_a_low_session_at_once() {
    let h = Harness::new().await;
    let session = h.log_in_erik().await;
    assert_eq!(session.assurance, Assurance::Low);
    assert_eq!(h.client.phase(), Phase::LoggedIn);
    assert_eq!(h.backend.open_sessions(), 1);
}

#[tokio::test]
async fn a_two_step_account_waits_for_its_sms_code_before_it_is_logged_in() {
    let h = Harness::new().await;
    let outcome = h
        .client
        .login_password(AMIRA, PASSWORD.into())
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::SmsCode { .. }));
    assert_eq!(h.client.phase(), Phase::LoggingIn);
    assert_eq!(
        h.client.session_info().await.unwrap_err().code(),
        ErrorCode::Unauthorized
    );
}

#[tokio::test]
async fn the_right_sms_code_gives_a_substantial_session() {
    let h = Harness::new().await;
    let session = h.log_in_amira(false).await;
    assert_eq!(session.assurance, Assurance::Substantial);
    assert_eq!(h.client.phase(), Phase::LoggedIn);
    let cases = h.client.cases("sv").await.unwrap();
    assert!(!cases.details_hidden);
}

#[tokio::test]
async fn a_wrong_sms_code_says_so_and_the_login_can_go_on() {
    let h = Harness::new().await;
    let LoginOutcome::SmsCode { id, .. } = h
        .client
        .login_password(AMIRA, PASSWORD.into())
        .await
        .unwrap()
    else {
        panic!("expected an SMS step");
    };
    let wrong = h
        .client
        .login_sms(&id, &"654321".into(), false)
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::WrongCode);
    assert_eq!(h.client.phase(), Phase::LoggingIn);
    let session = h.client.login_sms(&id, &CODE.into(), false).await.unwrap();
    assert_eq!(session.assurance, Assurance::Substantial);
}

#[tokio::test]
async fn a_code_that_is_not_six_digits_is_refused_before_it_is_sent() {
    let h = Harness::new().await;
    let error = h
        .client
        .login_sms("login-1", &"12ab".into(), false)
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidCode);
    assert_eq!(h.backend.count("POST /api/v1/login/sms"), 0);
}

#[tokio::test]
async fn a_short_password_costs_no_round_trip_and_says_nothing_more_than_a_wrong_one() {
    let h = Harness::new().await;
    let short = h
        .client
        .login_password(ERIK, "kort".into())
        .await
        .unwrap_err();
    assert_eq!(short.code(), ErrorCode::InvalidCredentials);
    assert_eq!(h.backend.count("POST /api/v1/login/password"), 0);
    let wrong = h
        .client
        .login_password(ERIK, "fel-lösenord-9".into())
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::InvalidCredentials);
    assert_eq!(h.client.phase(), Phase::LoggedOut);
}

#[tokio::test]
async fn a_bad_address_is_refused_before_it_is_sent() {
    let h = Harness::new().await;
    let error = h
        .client
        .login_password("inte-en-adress", PASSWORD.into())
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidEmail);
    assert!(h.backend.world().requests.is_empty());
}

#[tokio::test]
async fn the_session_token_never_leaves_rust_and_goes_with_every_call() {
    let h = Harness::new().await;
    let session = h.log_in_erik().await;
    let json = serde_json::to_string(&session).unwrap();
    assert!(!json.contains("session-token"), "{json}");
    h.client.cases("sv").await.unwrap();
    let tokens = h.backend.world().bearer_tokens.clone();
    assert!(tokens.len() >= 2 && tokens.iter().all(|t| t == &tokens[0]));
}

#[tokio::test]
async fn sms_resend_answers_a_fresh_step() {
    let h = Harness::new().await;
    let LoginOutcome::SmsCode { id, .. } = h
        .client
        .login_password(AMIRA, PASSWORD.into())
        .await
        .unwrap()
    else {
        panic!("expected an SMS step");
    };
    let again = h.client.login_resend(&id).await.unwrap();
    assert!(matches!(again, LoginOutcome::SmsCode { id: ref again, .. } if *again == id));
}

// ---- trusted devices and what a computer remembers -----------------------------------------

#[tokio::test]
async fn on_a_personal_computer_trust_at_the_sms_step_keeps_the_token_in_the_keyring() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    assert_eq!(h.keyring.names(), vec![amiras_entry()]);
    assert!(h.client.settings().trusted);
    assert_eq!(h.backend.devices(), 1);
}

#[tokio::test]
async fn a_trusted_computer_logs_in_next_time_without_an_sms() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    h.client.logout().await.unwrap();
    let next = h.again();
    let outcome = next
        .client
        .login_password(AMIRA, PASSWORD.into())
        .await
        .unwrap();
    let LoginOutcome::Session { session } = outcome else {
        panic!("a trusted device must stand in for the SMS code: {outcome:?}");
    };
    assert_eq!(session.assurance, Assurance::Substantial);
    assert_eq!(h.backend.count("POST /api/v1/login/sms"), 1);
}

#[tokio::test]
async fn a_shared_computer_never_asks_for_trust_even_when_the_box_is_ticked() {
    let h = Harness::new().await;
    h.log_in_amira(true).await;
    assert!(h.keyring.names().is_empty());
    assert_eq!(h.backend.devices(), 0, "the server was asked for a token");
    assert!(!h.client.settings().trusted);
}

#[tokio::test]
async fn without_the_box_ticked_a_personal_computer_is_not_trusted() {
    let h = Harness::personal().await;
    h.log_in_amira(false).await;
    assert!(h.keyring.names().is_empty());
    assert_eq!(h.backend.devices(), 0);
}

#[tokio::test]
async fn a_token_the_server_refuses_is_deleted_here() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    h.client.logout().await.unwrap();
    h.backend.revoke_devices();
    let outcome = h
        .client
        .login_password(AMIRA, PASSWORD.into())
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::SmsCode { .. }));
    assert!(h.keyring.names().is_empty());
    assert!(!h.client.settings().trusted);
}

#[tokio::test]
async fn forgetting_the_computer_removes_token_and_address_and_tells_the_server() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    let forgotten = h.client.forget_device().await.unwrap();
    assert_eq!(forgotten.tokens, 1);
    assert!(forgotten.server_told);
    assert!(h.keyring.names().is_empty());
    assert_eq!(h.client.settings().remembered_email, None);
    assert_eq!(h.backend.devices(), 0);
    assert_eq!(h.backend.count("POST /api/v1/devices/forget"), 1);
}

#[tokio::test]
async fn forgetting_offline_still_forgets_here_and_says_the_server_did_not_hear() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    h.backend.set_down(true);
    let forgotten = h.client.forget_device().await.unwrap();
    assert_eq!(forgotten.tokens, 1);
    assert!(!forgotten.server_told);
    assert!(h.keyring.names().is_empty());
}

#[tokio::test]
async fn a_locked_keyring_is_a_clear_error_not_a_lost_login() {
    let h = Harness::personal().await;
    h.keyring.unavailable.store(true, Ordering::SeqCst);
    let LoginOutcome::SmsCode { id, .. } = h
        .client
        .login_password(AMIRA, PASSWORD.into())
        .await
        .unwrap()
    else {
        panic!("expected an SMS step");
    };
    let error = h
        .client
        .login_sms(&id, &CODE.into(), true)
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::KeyringUnavailable);
}

#[tokio::test]
async fn removing_this_computer_in_min_sida_takes_its_token_out_of_the_keyring() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    let devices = h.client.devices().await.unwrap().devices;
    assert_eq!(devices.len(), 1);
    h.client.remove_device(&devices[0].id, true).await.unwrap();
    assert!(h.keyring.names().is_empty());
    assert_eq!(h.backend.devices(), 0);
}

#[tokio::test]
async fn removing_another_device_leaves_this_computers_token() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    let id = h.client.devices().await.unwrap().devices[0].id.clone();
    h.client.remove_device(&id, false).await.unwrap();
    assert_eq!(h.keyring.names(), vec![amiras_entry()]);
    let unknown = h
        .client
        .remove_device("device-999", false)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn a_personal_computer_remembers_the_address_it_logged_in_with() {
    let h = Harness::personal().await;
    h.log_in_erik().await;
    assert_eq!(h.client.settings().remembered_email.as_deref(), Some(ERIK));
}

#[tokio::test]
async fn a_shared_computer_never_remembers_the_address() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.log_in_amira(false).await;
    assert_eq!(h.client.settings().remembered_email, None);
    assert_eq!(h.store.get("remembered_email"), None);
}

#[tokio::test]
async fn leaving_personal_mode_forgets_address_and_trust_here_and_at_the_server() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    let view = h
        .client
        .change_settings(SettingsChange {
            mode: Some(Mode::Shared),
            ..SettingsChange::default()
        })
        .await
        .unwrap();
    assert_eq!(view.mode, Mode::Shared);
    assert_eq!(view.remembered_email, None);
    assert!(!view.trusted);
    assert!(h.keyring.names().is_empty());
    assert_eq!(h.backend.devices(), 0);
}

#[tokio::test]
async fn settings_that_cannot_be_saved_say_so() {
    let h = Harness::new().await;
    h.store.fail_saves(true);
    let error = h
        .client
        .change_settings(SettingsChange {
            preferred_method: Some(Method::Password),
            ..SettingsChange::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::SettingsNotSaved);
}

#[tokio::test]
async fn a_language_choice_is_kept_and_used_for_what_rust_says() {
    let h = Harness::new().await;
    h.client
        .change_settings(SettingsChange {
            language: Some(legitimera_client::locale::Language::En),
            ..SettingsChange::default()
        })
        .await
        .unwrap();
    assert_eq!(h.client.language(), legitimera_client::locale::Language::En);
    assert_eq!(
        h.again().client.app_info().language,
        legitimera_client::locale::Language::En
    );
}

// ---- logout and the wipe ---------------------------------------------------------------------

#[tokio::test]
async fn logout_ends_the_session_at_the_server_and_wipes() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    assert!(h.marker().exists(), "the marker is written at login");
    h.client.logout().await.unwrap();
    assert_eq!(h.client.phase(), Phase::LoggedOut);
    assert_eq!(h.backend.open_sessions(), 0);
    assert_eq!(h.recorder.count("clear-webview-data"), 1);
    assert!(!h.marker().exists());
}

#[tokio::test]
async fn logout_offline_forgets_the_token_wipes_and_says_the_server_did_not_hear() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.backend.set_down(true);
    let error = h.client.logout().await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackendUnavailable);
    assert_eq!(h.client.phase(), Phase::LoggedOut);
    assert_eq!(h.recorder.count("clear-webview-data"), 1);
    h.backend.set_down(false);
    assert_eq!(
        h.client.cases("sv").await.unwrap_err().code(),
        ErrorCode::Unauthorized
    );
}

#[tokio::test]
async fn logging_out_twice_asks_the_server_once() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.client.logout().await.unwrap();
    h.client.logout().await.unwrap();
    assert_eq!(h.backend.count("DELETE /api/v1/session"), 1);
}

#[tokio::test]
async fn on_a_shared_computer_the_wipe_removes_personal_leftovers() {
    let h = Harness::new().await;
    // Left by a switch from personal mode that did not finish.
    h.store.set("remembered_email", json!(AMIRA));
    h.store.set("keyring_entries", json!([amiras_entry()]));
    h.keyring
        .set(&amiras_entry(), &"device-token-old".into())
        .unwrap();
    h.log_in_erik().await;
    h.client.logout().await.unwrap();
    assert_eq!(h.store.get("remembered_email"), None);
    assert_eq!(h.store.get("keyring_entries"), None);
    assert!(h.keyring.names().is_empty());
}

#[tokio::test]
async fn closing_cancels_logs_out_and_wipes_within_its_bound() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    let started = std::time::Instant::now();
    h.client.close().await;
    assert!(started.elapsed() < legitimera_client::CLOSING_BOUND);
    assert_eq!(h.backend.open_sessions(), 0);
    assert!(!h.marker().exists());
    assert_eq!(h.recorder.count("clear-webview-data"), 1);
}

// ---- the crash marker and the wipe at start -----------------------------------------------------

fn write(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "x").unwrap();
}

#[tokio::test]
async fn a_marker_found_at_start_on_a_shared_computer_removes_personal_settings_and_keyring() {
    let h = Harness::new().await;
    h.store.set("remembered_email", json!(AMIRA));
    h.store.set("keyring_entries", json!([amiras_entry()]));
    h.keyring
        .set(&amiras_entry(), &"device-token-old".into())
        .unwrap();
    write(&h.marker());
    write(&h.places.data.join("localstorage/amira.sqlite"));

    legitimera_client::wipe::at_start(&h.places, h.client.device());

    assert!(!h.marker().exists());
    assert!(!h.places.data.join("localstorage").exists());
    assert_eq!(h.store.get("keyring_entries"), None);
    assert_eq!(h.store.get("remembered_email"), None);
    assert!(h.keyring.names().is_empty());
}

#[tokio::test]
async fn a_personal_computer_keeps_its_trust_through_the_wipe_at_start() {
    let h = Harness::personal().await;
    h.log_in_amira(true).await;
    write(&h.marker());
    legitimera_client::wipe::at_start(&h.places, h.client.device());
    assert!(!h.marker().exists());
    assert_eq!(h.keyring.names(), vec![amiras_entry()]);
    assert_eq!(h.client.settings().remembered_email.as_deref(), Some(AMIRA));
}

#[tokio::test]
async fn the_marker_is_written_before_the_session_is_shown_and_kept_until_the_wipe() {
    let h = Harness::new().await;
    assert!(!h.marker().exists());
    h.log_in_erik().await;
    assert!(h.marker().exists());
    // A crash now leaves it for the next start.
    let next = h.again();
    drop(next);
    assert!(h.marker().exists());
}

// ---- the session clock -------------------------------------------------------------------------

#[tokio::test]
async fn the_warning_comes_at_25_minutes_with_the_time_left() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.after(Duration::from_secs(24 * 60 + 59)).await;
    assert_eq!(h.recorder.count("session-warning"), 0);
    h.after(Duration::from_secs(1)).await;
    assert_eq!(h.recorder.count("session-warning 300"), 1);
    assert_eq!(h.recorder.count("notify"), 1);
    assert_eq!(h.client.phase(), Phase::LoggedIn);
}

#[tokio::test]
async fn the_desktop_is_told_once_and_only_when_the_window_is_not_in_front() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.recorder.window_in_front.store(true, Ordering::SeqCst);
    h.after(Duration::from_secs(25 * 60)).await;
    h.after(Duration::from_secs(1)).await;
    assert_eq!(h.recorder.count("notify"), 0);
    assert_eq!(h.recorder.count("session-warning"), 2);

    let g = Harness::new().await;
    g.log_in_erik().await;
    g.after(Duration::from_secs(25 * 60)).await;
    g.after(Duration::from_secs(1)).await;
    g.after(Duration::from_secs(1)).await;
    assert_eq!(g.recorder.count("notify"), 1);
}

#[tokio::test]
async fn a_click_during_the_warning_takes_it_back_and_restarts_the_idle_time() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.after(Duration::from_secs(26 * 60)).await;
    h.client.user_activity().await.unwrap();
    h.after(Duration::from_secs(1)).await;
    assert!(h.recorder.told().ends_with(&["session-active".to_owned()]));
    h.after(Duration::from_secs(20 * 60)).await;
    assert_eq!(h.client.phase(), Phase::LoggedIn);
}

#[tokio::test]
async fn stay_logged_in_tells_the_server_at_once() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.after(Duration::from_secs(26 * 60)).await;
    let status = h.client.keep_session().await.unwrap();
    assert!(status.is_some());
    assert_eq!(h.backend.count("POST /api/v1/session/activity"), 1);
    assert_eq!(h.recorder.count("session-active"), 1);
}

#[tokio::test]
async fn clicks_reach_the_server_at_most_once_a_minute() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    // The first minute after login needs no report: the server's idle time starts fresh.
    assert!(h.client.user_activity().await.unwrap().is_none());
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(20));
        h.client.user_activity().await.unwrap();
    }
    assert_eq!(h.backend.count("POST /api/v1/session/activity"), 1);
}

#[tokio::test]
async fn thirty_idle_minutes_end_the_session_on_the_server_wipe_and_tell_the_ui() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.after(Duration::from_secs(25 * 60)).await;
    h.recorder.clear();
    h.after(Duration::from_secs(5 * 60)).await;
    assert_eq!(
        h.recorder.told(),
        vec![
            "clear-webview-data".to_owned(),
            "session-ended idle_timeout".to_owned()
        ]
    );
    assert_eq!(h.client.phase(), Phase::LoggedOut);
    assert_eq!(h.backend.open_sessions(), 0);
    assert!(!h.marker().exists());
    // Once: the next look finds nobody logged in.
    h.after(Duration::from_secs(1)).await;
    assert_eq!(h.recorder.count("session-ended"), 1);
}

#[tokio::test]
async fn the_absolute_limit_ends_even_a_busy_session() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    for _ in 0..(12 * 6) {
        h.clock.advance(Duration::from_secs(10 * 60));
        h.client.user_activity().await.unwrap();
        h.client.check_session_clock().await;
    }
    assert_eq!(h.recorder.count("session-ended absolute_timeout"), 1);
    assert_eq!(h.recorder.count("session-ended idle_timeout"), 0);
    assert_eq!(h.client.phase(), Phase::LoggedOut);
}

/// An idle app wakes for nothing: the session clock sleeps while nobody is logged in, and
/// wakes for a login whether it was already waiting or not.
#[tokio::test]
async fn the_session_clock_sleeps_until_someone_logs_in() {
    let h = Harness::new().await;
    let asleep = tokio::time::timeout(Duration::from_millis(200), h.client.until_logged_in()).await;
    assert!(asleep.is_err(), "nobody is logged in: the clock sleeps on");
    let client = Arc::clone(&h.client);
    let waiting = tokio::spawn(async move { client.until_logged_in().await });
    h.log_in_erik().await;
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("a login wakes the clock")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), h.client.until_logged_in())
        .await
        .expect("someone is logged in: no wait at all");
    h.client.logout().await.unwrap();
    let asleep = tokio::time::timeout(Duration::from_millis(200), h.client.until_logged_in()).await;
    assert!(asleep.is_err(), "after logout the clock sleeps again");
}

// ---- the server ending the session ---------------------------------------------------------------

#[tokio::test]
async fn the_server_ending_the_session_mid_use_wipes_and_tells_the_ui() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.backend.end_sessions(ErrorCode::SessionExpired);
    let error = h.client.cases("sv").await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::SessionExpired);
    assert_eq!(h.client.phase(), Phase::LoggedOut);
    assert_eq!(
        h.recorder.told(),
        vec![
            "clear-webview-data".to_owned(),
            "session-ended session_expired".to_owned()
        ]
    );
    assert!(!h.marker().exists());
}

#[tokio::test]
async fn an_unknown_token_ends_the_session_whichever_call_finds_out() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.backend.end_sessions(ErrorCode::Unauthorized);
    h.clock.advance(Duration::from_secs(61));
    let error = h.client.user_activity().await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::Unauthorized);
    assert_eq!(h.recorder.count("session-ended unauthorized"), 1);
    // Nothing more to end: later calls say nobody is logged in, and tell the UI nothing new.
    assert_eq!(
        h.client.devices().await.unwrap_err().code(),
        ErrorCode::Unauthorized
    );
    assert_eq!(h.recorder.count("session-ended"), 1);
}

#[tokio::test]
async fn an_old_sessions_refusal_does_not_end_the_new_session() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.backend.end_sessions(ErrorCode::SessionExpired);
    h.backend.world().slow = Some(("/api/v1/cases".into(), Duration::from_millis(300)));
    // A call of the first session, answered only after the second began.
    let late = {
        let client = h.client.clone();
        tokio::spawn(async move { client.cases("sv").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.log_in_amira(false).await;
    let late = late.await.unwrap().unwrap_err();
    assert_eq!(late.code(), ErrorCode::SessionExpired);
    assert_eq!(h.client.phase(), Phase::LoggedIn);
    assert_eq!(h.recorder.count("session-ended"), 0);
    h.backend.world().slow = None;
    assert!(h.client.cases("sv").await.is_ok());
}

#[tokio::test]
async fn a_failure_that_is_not_about_the_session_keeps_it() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    h.backend.set_down(true);
    assert_eq!(
        h.client.cases("sv").await.unwrap_err().code(),
        ErrorCode::BackendUnavailable
    );
    h.backend.set_down(false);
    assert_eq!(h.client.phase(), Phase::LoggedIn);
    assert!(h.client.cases("sv").await.is_ok());
    assert_eq!(h.recorder.count("session-ended"), 0);
}

// ---- registration and phone change -------------------------------------------------------------

#[tokio::test]
async fn registration_sends_the_parsed_address_and_number_and_needs_no_session() {
    let h = Harness::new().await;
    let sent = h
        .client
        .register(
            "Ny@Example.se",
            "ett-långt-lösenord".into(),
            Some("070-123 45 67"),
        )
        .await
        .unwrap();
    assert_eq!(sent.email.as_deref(), Some("ny@example.se"));
    assert_eq!(sent.phone.as_deref(), Some("+46701234567"));
    let done = h
        .client
        .submit_code(
            legitimera_client::CodeFlow::Registration,
            &sent.challenge.id,
            legitimera_client::CodeStep::Email,
            &CODE.into(),
        )
        .await
        .unwrap();
    assert_eq!(done.next, legitimera_protocol::Step::Done);
    assert!(h.backend.world().bearer_tokens.is_empty());
}

#[tokio::test]
async fn a_weak_password_or_bad_number_never_reaches_the_server() {
    let h = Harness::new().await;
    let weak = h
        .client
        .register("ny@example.se", "kort".into(), None)
        .await
        .unwrap_err();
    assert_eq!(weak.code(), ErrorCode::WeakPassword);
    let phone = h
        .client
        .register("ny@example.se", "ett-långt-lösenord".into(), Some("12"))
        .await
        .unwrap_err();
    assert_eq!(phone.code(), ErrorCode::InvalidPhone);
    assert!(h.backend.world().requests.is_empty());
}

#[tokio::test]
async fn a_phone_change_while_logged_in_goes_with_the_session() {
    let h = Harness::new().await;
    h.log_in_erik().await;
    let sent = h
        .client
        .start_phone_change("0701234568", None)
        .await
        .unwrap();
    assert_eq!(sent.challenge.next, legitimera_protocol::Step::SmsCode);
    let done = h
        .client
        .submit_code(
            legitimera_client::CodeFlow::PhoneChange,
            &sent.challenge.id,
            legitimera_client::CodeStep::Sms,
            &CODE.into(),
        )
        .await
        .unwrap();
    assert_eq!(done.next, legitimera_protocol::Step::Done);
}

#[tokio::test]
async fn a_phone_change_without_a_session_needs_the_address_and_password() {
    let h = Harness::new().await;
    let refused = h
        .client
        .start_phone_change("0701234568", None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Unauthorized);
    let sent = h
        .client
        .start_phone_change("0701234568", Some((AMIRA, PASSWORD.into())))
        .await
        .unwrap();
    assert_eq!(sent.challenge.next, legitimera_protocol::Step::EmailCode);
    assert!(h.backend.world().bearer_tokens.is_empty());
}

// ---- the backend's reachability --------------------------------------------------------------

#[tokio::test]
async fn the_ui_hears_when_the_backend_goes_and_comes_back() {
    let h = Harness::new().await;
    let mut reachability = legitimera_client::connectivity::Reachability::default();
    assert_eq!(
        h.client.check_backend(&mut reachability).await,
        Duration::from_secs(10)
    );
    h.client.check_backend(&mut reachability).await;
    h.backend.set_down(true);
    assert_eq!(
        h.client.check_backend(&mut reachability).await,
        Duration::from_secs(1)
    );
    h.client.check_backend(&mut reachability).await;
    h.backend.set_down(false);
    h.client.check_backend(&mut reachability).await;
    let told: Vec<_> = h
        .recorder
        .told()
        .into_iter()
        .filter(|t| t.starts_with("backend-status"))
        .collect();
    // The second healthy check changed nothing, so it told nothing; each retry's countdown
    // is news.
    assert_eq!(told.len(), 4, "{told:?}");
    assert!(told[1].contains("backend_unavailable") && told[1].contains("1000"));
    assert!(told[2].contains("2000"));
    assert!(told[3].contains("reachable"));
}

#[tokio::test]
async fn a_backend_that_is_not_there_is_unreachable_not_a_crash() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let api =
        legitimera_client::ApiClient::new(legitimera_client::BackendUrl::parse(&url).unwrap())
            .unwrap();
    let error = api.health().await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::BackendUnreachable);
}

#[tokio::test]
async fn the_demo_outbox_is_refused_by_a_backend_that_is_not_a_demo() {
    let h = Harness::new().await;
    let mut reachability = legitimera_client::connectivity::Reachability::default();
    h.client.check_backend(&mut reachability).await;
    assert_eq!(
        h.client.demo_outbox().await.unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(h.backend.count("GET /demo/outbox"), 0);
    h.backend.world().demo = true;
    h.client.check_backend(&mut reachability).await;
    assert!(h.client.demo_outbox().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_boot_script_hands_the_page_its_boot_and_the_start_language_catalog_as_json() {
    use legitimera_client::locale::Language;
    let h = Harness::new().await;
    for (language, file) in [(Language::Sv, "sv"), (Language::En, "en")] {
        let mut boot = h.client.boot();
        boot.info.language = language;
        let script = boot.script();
        assert!(script.starts_with("Object.defineProperty(window, '__LEGITIMERA_BOOT__'"));
        // JSON.parse(<string literal>) twice: each literal is a JSON string holding a JSON text.
        let literals: Vec<String> = script
            .split("JSON.parse(")
            .skip(1)
            .map(|rest| {
                let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
                stream.next().unwrap().unwrap()
            })
            .collect();
        assert_eq!(literals.len(), 2, "{script:.200}");
        let handed: serde_json::Value = serde_json::from_str(&literals[0]).unwrap();
        assert_eq!(handed, serde_json::to_value(&boot).unwrap());
        // The catalog the page would fetch on a language switch, as it is.
        let path = format!("{}/../../ui/i18n/{file}.json", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(literals[1], std::fs::read_to_string(path).unwrap());
        let catalog: serde_json::Value = serde_json::from_str(&literals[1]).unwrap();
        assert!(catalog.is_object());
    }
}
