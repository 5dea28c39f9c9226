//! `legitimera --version` and `legitimera --policy-report [--json]` as an IT script runs them:
//! the real binary, no display and no session bus, machine policy from a folder standing in for
//! `/etc/legitimera/policies` (debug builds' `LEGITIMERA_POLICY_DIR`). The JSON is the issue's
//! contract: every key in `settings` with `value`, `source` and `locked`; a refused or clamped
//! value also in `errors`; a bad policy never stops the report.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;
use std::process::{Command, Output, Stdio};

use legitimera_client::policy::KEYS;
use serde_json::{json, Value};

const APP: &str = env!("CARGO_BIN_EXE_legitimera");

/// The app with only `PATH`, a fresh `HOME` and the policy folder.
fn app(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new(APP)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("LEGITIMERA_POLICY_DIR", dir.join("policies"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `--policy-report --json` with `policy` as policies.json (none when `None`).
fn report(policy: Option<&str>, env: &[(&str, &str)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    if let Some(text) = policy {
        std::fs::write(policies.join("policies.json"), text).unwrap();
    }
    let output = app(dir.path(), &["--policy-report", "--json"], env);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    check_shape(&json);
    json
}

/// Exactly `settings` and `errors`; every policy key, each exactly `value`, `source`, `locked`.
fn check_shape(json: &Value) {
    let top: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(top, ["errors", "settings"], "{json:#}");
    let settings = json["settings"].as_object().unwrap();
    let mut names: Vec<&str> = settings.keys().map(String::as_str).collect();
    let mut expected = KEYS.to_vec();
    names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for (key, entry) in settings {
        let fields: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["locked", "source", "value"], "{key}: {entry}");
        assert!(
            ["policy", "user", "default"].contains(&entry["source"].as_str().unwrap()),
            "{key}: {entry}"
        );
        assert!(entry["locked"].is_boolean(), "{key}: {entry}");
    }
    for error in json["errors"].as_array().unwrap() {
        let fields: Vec<&String> = error.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["key", "message"], "{error}");
    }
}

fn error_keys(json: &Value) -> Vec<&str> {
    json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect()
}

#[test]
fn version_needs_no_display() {
    let dir = tempfile::tempdir().unwrap();
    let output = app(dir.path(), &["--version"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("legitimera {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn without_policy_every_key_is_the_default() {
    let json = report(None, &[]);
    assert_eq!(json["errors"], json!([]));
    for (key, entry) in json["settings"].as_object().unwrap() {
        assert_eq!(entry["source"], "default", "{key}: {entry}");
        assert_eq!(entry["locked"], false, "{key}: {entry}");
    }
    assert_eq!(json["settings"]["IdleTimeoutMinutes"]["value"], json!(30));
    assert_eq!(
        json["settings"]["AllowBackendOverride"]["value"],
        json!(false)
    );
}

#[test]
fn a_good_policy_is_in_force_and_locked() {
    let json = report(
        Some(
            r#"{"policies": {
                "BackendUrl": "https://e-tjanster.example.se",
                "LoginMethods": ["siths"],
                "ComputerMode": "shared",
                "IdleTimeoutMinutes": 10,
                "Language": {"Value": "en", "Locked": true},
                "PreferredMethod": {"Value": "siths", "Locked": false}
            }}"#,
        ),
        &[],
    );
    assert_eq!(json["errors"], json!([]));
    let s = &json["settings"];
    assert_eq!(
        s["BackendUrl"],
        json!({"value": "https://e-tjanster.example.se/", "source": "policy", "locked": true})
    );
    assert_eq!(
        s["LoginMethods"],
        json!({"value": ["siths"], "source": "policy", "locked": true})
    );
    assert_eq!(
        s["ComputerMode"],
        json!({"value": "shared", "source": "policy", "locked": true})
    );
    assert_eq!(
        s["IdleTimeoutMinutes"],
        json!({"value": 10, "source": "policy", "locked": true})
    );
    assert_eq!(
        s["Language"],
        json!({"value": "en", "source": "policy", "locked": true})
    );
    assert_eq!(
        s["PreferredMethod"],
        json!({"value": "siths", "source": "policy", "locked": false})
    );
}

#[test]
fn idle_timeout_45_is_used_as_30_and_listed_in_errors() {
    let json = report(Some(r#"{"IdleTimeoutMinutes": 45}"#), &[]);
    assert_eq!(
        json["settings"]["IdleTimeoutMinutes"],
        json!({"value": 30, "source": "policy", "locked": true})
    );
    assert_eq!(error_keys(&json), ["IdleTimeoutMinutes"]);
    let message = json["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("45"), "{message}");
}

#[test]
fn a_bad_key_or_a_wrong_type_is_reported_and_loosens_nothing() {
    let json = report(
        Some(
            r#"{"policies": {"Homepage": "https://example.se", "AllowBackendOverride": "yes",
                "ComputerMode": 3, "BackendUrl": "http://evil.example.se"}}"#,
        ),
        &[("LEGITIMERA_BACKEND_URL", "http://127.0.0.1:1")],
    );
    let mut keys = error_keys(&json);
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "AllowBackendOverride",
            "BackendUrl",
            "ComputerMode",
            "Homepage"
        ]
    );
    let s = &json["settings"];
    assert_eq!(
        s["AllowBackendOverride"],
        json!({"value": false, "source": "default", "locked": false})
    );
    // An unreadable ComputerMode is the safe one.
    assert_eq!(
        s["ComputerMode"],
        json!({"value": "shared", "source": "policy", "locked": true})
    );
    assert_ne!(s["BackendUrl"]["value"], "http://evil.example.se/");
}

#[test]
fn an_unreadable_or_broken_policy_file_is_one_error_and_no_policy() {
    for text in ["{ not json", "[1, 2]"] {
        let json = report(Some(text), &[]);
        assert_eq!(error_keys(&json), [""], "{text}");
        assert_eq!(json["settings"]["ComputerMode"]["source"], "default");
    }
    // A folder where the file should be: cannot be read.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies").join("policies.json")).unwrap();
    let output = app(dir.path(), &["--policy-report", "--json"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    check_shape(&json);
    assert_eq!(error_keys(&json), [""]);
    let message = json["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("cannot be read"), "{message}");
}

#[test]
fn the_text_report_has_a_line_per_key_then_the_errors() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("policies.json"),
        r#"{"ComputerMode": "shared", "IdleTimeoutMinutes": 45}"#,
    )
    .unwrap();
    let output = app(dir.path(), &["--policy-report"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), KEYS.len() + 1, "{text}");
    for (line, key) in lines.iter().zip(KEYS) {
        assert!(line.starts_with(&format!("{key} = ")), "{line}");
    }
    assert!(
        lines[3].starts_with("ComputerMode = \"shared\" [policy, locked] ("),
        "{text}"
    );
    assert!(
        lines[KEYS.len()].starts_with("error: IdleTimeoutMinutes: "),
        "{text}"
    );
}

#[test]
fn an_allowed_override_is_reported_as_the_address_in_use() {
    let json = report(
        Some(r#"{"BackendUrl": "https://policy.example.se", "AllowBackendOverride": true}"#),
        &[("LEGITIMERA_BACKEND_URL", "https://test.example.se")],
    );
    assert_eq!(
        json["settings"]["BackendUrl"],
        json!({"value": "https://test.example.se/", "source": "user", "locked": false})
    );
}
