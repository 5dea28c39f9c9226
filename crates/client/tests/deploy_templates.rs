//! The templates IT deploys (deploy/): the JSON Schema covers exactly the keys the app reads,
//! the example policies are valid by the schema and by the app's own parser, and the ADMX and
//! the macOS profile name every key. The schema check is a small hand-written walk of the
//! keywords the schema uses, not a full JSON Schema validator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::PathBuf;

use legitimera_client::policy::{Policy, KEYS};
use serde_json::Value;

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(deploy().join("policies.schema.json")).unwrap())
        .unwrap()
}

/// Checks `value` against `schema` for the keywords policies.schema.json uses.
fn check(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        return check(root, &root["$defs"][name], value, at, errors);
    }
    let mut fail = |why: String| errors.push(format!("{at}: {why}"));
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("the check does not know type {other}"),
        };
        if !ok {
            return fail(format!("is not {kind}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            fail(format!("{value} is not one of {options:?}"));
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        let text = value.as_str().unwrap_or_default();
        let ok = match pattern {
            "^https://" => text.starts_with("https://"),
            "^[^/ ]+$" => !text.is_empty() && !text.contains(['/', ' ']),
            other => panic!("the check does not know pattern {other}"),
        };
        if !ok {
            fail(format!("{text:?} does not match {pattern}"));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_i64),
        value.as_i64(),
    ) {
        if n < min {
            fail(format!("{n} < {min}"));
        }
    }
    if let (Some(max), Some(n)) = (
        schema.get("maximum").and_then(Value::as_i64),
        value.as_i64(),
    ) {
        if n > max {
            fail(format!("{n} > {max}"));
        }
    }
    if let (Some(min), Some(items)) = (
        schema.get("minItems").and_then(Value::as_u64),
        value.as_array(),
    ) {
        if (items.len() as u64) < min {
            fail(format!("fewer than {min} items"));
        }
    }
    if let (Some(item_schema), Some(items)) = (schema.get("items"), value.as_array()) {
        for (i, item) in items.iter().enumerate() {
            check(root, item_schema, item, &format!("{at}[{i}]"), errors);
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(required.as_str().unwrap()) {
                errors.push(format!("{at}: {required} is missing"));
            }
        }
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(root, property, item, &format!("{at}.{key}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unknown key {key}"));
                }
                None => {}
            }
        }
    }
}

fn schema_errors(value: &Value) -> Vec<String> {
    let schema = schema();
    let mut errors = Vec::new();
    check(&schema, &schema, value, "$", &mut errors);
    errors
}

#[test]
fn the_schema_describes_exactly_the_keys_the_app_reads() {
    let schema = schema();
    let mut described: Vec<&str> = schema["properties"]["policies"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut read = KEYS.to_vec();
    described.sort_unstable();
    read.sort_unstable();
    assert_eq!(described, read);
}

#[test]
fn the_example_policies_are_valid_by_the_schema_and_the_app() {
    let mut examples = 0;
    for entry in std::fs::read_dir(deploy().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            schema_errors(&value),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        let (_, errors) = Policy::parse(&text);
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        examples += 1;
    }
    assert!(examples >= 2);
}

#[test]
fn the_schema_check_notices_what_the_app_refuses() {
    let bad = serde_json::json!({"policies": {
        "BackendUrl": "http://example.se",
        "IdleTimeoutMinutes": 45,
        "LoginMethods": ["magic"],
        "Language": {"Locked": true},
        "Homepage": "x"
    }});
    assert_eq!(schema_errors(&bad).len(), 5, "{:?}", schema_errors(&bad));
    let (_, errors) = Policy::parse(&bad.to_string());
    assert_eq!(errors.len(), 5, "{errors:?}");
}

#[test]
fn group_policy_and_the_macos_profile_name_every_key() {
    let admx = std::fs::read_to_string(deploy().join("windows/Legitimera.admx")).unwrap();
    let profile =
        std::fs::read_to_string(deploy().join("macos/se.legitimera.desktop.mobileconfig")).unwrap();
    for key in KEYS {
        assert!(
            admx.contains(&format!("<policy name=\"{key}\"")),
            "ADMX lacks {key}"
        );
    }
    for key in [
        "BackendUrl",
        "ComputerMode",
        "LoginMethods",
        "IdleTimeoutMinutes",
    ] {
        assert!(
            profile.contains(&format!("<key>{key}</key>")),
            "profile lacks {key}"
        );
    }
    for lang in ["sv-SE", "en-US"] {
        let adml =
            std::fs::read_to_string(deploy().join(format!("windows/{lang}/Legitimera.adml")))
                .unwrap();
        for key in KEYS {
            assert!(
                adml.contains(&format!("<string id=\"{key}\">")),
                "{lang} lacks {key}"
            );
        }
    }
}
