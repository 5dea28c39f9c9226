//! Every visible string comes from the catalogs: both languages have exactly the same keys,
//! none is empty, and every key the UI asks for (in HTML or JS) and every error code the app
//! or the server can send exists in both.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::path::Path;

use legitimera_testkit::catalog::{catalog, ui_dir, LANGUAGES};

fn files_with_extension(dir: &Path, extension: &str, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_with_extension(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// Every `"..."`/`'...'` literal right after `marker` (not inside a longer name such as
/// `split(`) in `text`, up to the closing quote.
fn quoted_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter(|(at, _)| {
            !text[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        })
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            let quote = rest.chars().next()?;
            if quote != '"' && quote != '\'' {
                return None;
            }
            let end = rest[1..].find(quote)?;
            Some(&rest[1..=end])
        })
        .collect()
}

/// A catalog key: dotted lowercase words such as `chooser.title` (so comments don't count).
fn looks_like_key(text: &str) -> bool {
    text.contains('.')
        && text.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// The keys the UI uses: data-i18n="key", data-i18n-attr="attr:key;…", and t('key') in JS.
fn keys_used_by_the_ui() -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut html = Vec::new();
    files_with_extension(&ui_dir(), "html", &mut html);
    let mut js = Vec::new();
    files_with_extension(&ui_dir(), "js", &mut js);
    for path in html.iter().chain(&js) {
        let text = std::fs::read_to_string(path).unwrap();
        for key in quoted_after(&text, "data-i18n=") {
            if looks_like_key(key) {
                used.insert(key.to_owned());
            }
        }
        for pairs in quoted_after(&text, "data-i18n-attr=") {
            for pair in pairs.split(';') {
                if let Some((_, key)) = pair.split_once(':') {
                    if looks_like_key(key.trim()) {
                        used.insert(key.trim().to_owned());
                    }
                }
            }
        }
        for key in quoted_after(&text, "t(") {
            if looks_like_key(key) {
                used.insert(key.to_owned());
            }
        }
    }
    // Code also passes keys to show(element, 'key', …) and keeps them in tables: in JS, every
    // single-quoted string shaped like a key is one.
    for path in &js {
        let text = std::fs::read_to_string(path).unwrap();
        for key in single_quoted(&text) {
            if looks_like_key(key) {
                used.insert(key.to_owned());
            }
        }
    }
    used
}

/// Every '…' string on one line (JS has no multi-line single-quoted strings).
fn single_quoted(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(start) = rest.find('\'') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('\'') else { break };
            found.push(&after[..end]);
            rest = &after[end + 1..];
        }
    }
    found
}

#[test]
fn both_catalogs_have_the_same_keys_and_no_empty_text() {
    let sv = catalog("sv").unwrap();
    let en = catalog("en").unwrap();
    let only_sv: Vec<_> = sv.keys().filter(|k| !en.contains_key(*k)).collect();
    let only_en: Vec<_> = en.keys().filter(|k| !sv.contains_key(*k)).collect();
    assert!(only_sv.is_empty(), "missing from en.json: {only_sv:?}");
    assert!(only_en.is_empty(), "missing from sv.json: {only_en:?}");
    for lang in LANGUAGES {
        for (key, text) in catalog(lang).unwrap() {
            assert!(!text.trim().is_empty(), "{lang}.json: {key} is empty");
        }
    }
}

#[test]
fn every_key_the_ui_uses_exists_in_both_catalogs() {
    let used = keys_used_by_the_ui();
    assert!(
        used.len() > 40,
        "found only {} keys: is the scan broken?",
        used.len()
    );
    for lang in LANGUAGES {
        let catalog = catalog(lang).unwrap();
        let missing: Vec<_> = used.iter().filter(|k| !catalog.contains_key(*k)).collect();
        assert!(
            missing.is_empty(),
            "{lang}.json lacks keys the UI uses: {missing:?}"
        );
    }
}

#[test]
fn every_error_code_has_a_message_in_both_languages() {
    for lang in LANGUAGES {
        let catalog = catalog(lang).unwrap();
        for code in legitimera_protocol::ErrorCode::ALL {
            assert!(
                catalog.contains_key(&format!("error.{code}")),
                "{lang}.json has no message for error code {code}"
            );
        }
    }
}

/// Values the server sends and the UI labels by building a key (`case.kind.${kind}`): the
/// static scan cannot see those keys, so the vocabularies of docs/api.md are listed here.
#[test]
fn every_value_the_server_sends_has_a_label() {
    let labelled = [
        (
            "case.kind",
            &["work_permit", "residence_permit_family", "citizenship"][..],
        ),
        (
            "case.statuses",
            &[
                "received",
                "in_progress",
                "waiting_for_applicant",
                "decided",
            ][..],
        ),
        (
            "case.event_kinds",
            &["decision", "document_request", "message"][..],
        ),
        (
            "minsida.hidden.kinds",
            &["decisions", "document_requests", "officer_messages"][..],
        ),
        ("minsida.level", &["low", "substantial", "high"][..]),
        ("outbox.channel", &["email", "sms"][..]),
        // BankID's recommended user messages, every code of docs/api.md and the reference's
        // table (`rfa.${message}` in bankid.js).
        (
            "rfa",
            &[
                "RFA1", "RFA2", "RFA3", "RFA4", "RFA5", "RFA6", "RFA8", "RFA9", "RFA13", "RFA15A",
                "RFA15B", "RFA16", "RFA17A", "RFA17B", "RFA21", "RFA22", "RFA23",
            ][..],
        ),
    ];
    for lang in LANGUAGES {
        let catalog = catalog(lang).unwrap();
        for (prefix, values) in labelled {
            for value in values {
                let key = format!("{prefix}.{value}");
                assert!(catalog.contains_key(&key), "{lang}.json lacks {key}");
            }
        }
    }
}

#[test]
fn the_scan_notices_a_missing_key() {
    // The scanner itself must find keys, or the tests above pass vacuously.
    assert_eq!(
        single_quoted("show(x, 'a.b', { n: 'c' }); const y = 'd.e';"),
        vec!["a.b", "c", "d.e"]
    );
    let html = r#"<p data-i18n="made.up.key"></p><b data-i18n-attr="title:other.key"></b>"#;
    assert_eq!(quoted_after(html, "data-i18n="), vec!["made.up.key"]);
    assert_eq!(
        quoted_after(html, "data-i18n-attr="),
        vec!["title:other.key"]
    );
    assert_eq!(
        quoted_after("t('a.b') + t(\"c.d\")", "t("),
        vec!["a.b", "c.d"]
    );
    assert!(!catalog("sv").unwrap().contains_key("made.up.key"));
}
