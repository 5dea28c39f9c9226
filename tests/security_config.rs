//! The webview's security settings as shipped: a strict CSP that allows nothing remote, an
//! incognito main window, and a capability that grants only the app's own commands and the
//! core event permissions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use serde_json::Value;

fn read_json(path: &str) -> Value {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap()
}

#[test]
fn csp_allows_nothing_remote_and_no_inline_script() {
    let config = read_json("tauri.conf.json");
    let csp = config["app"]["security"]["csp"]
        .as_object()
        .expect("app.security.csp must be set (Tauri has no CSP otherwise)");
    assert_eq!(csp["default-src"], "'self'");
    assert_eq!(csp["script-src"], "'self'");
    assert_eq!(csp["object-src"], "'none'");
    for (directive, sources) in csp {
        let sources = sources.as_str().unwrap();
        for source in sources.split_whitespace() {
            let local = matches!(
                source,
                "'self'" | "'none'" | "data:" | "ipc:" | "http://ipc.localhost"
            );
            assert!(
                local,
                "{directive} allows {source}: nothing remote may load"
            );
        }
        assert!(
            !sources.contains("unsafe-inline"),
            "{directive} allows inline code"
        );
        assert!(!sources.contains("unsafe-eval"), "{directive} allows eval");
    }
    assert!(
        config["build"].get("devUrl").is_none(),
        "the UI is never served from a URL"
    );
}

#[test]
fn main_window_is_incognito() {
    let config = read_json("tauri.conf.json");
    let windows = config["app"]["windows"].as_array().unwrap();
    let main = windows.iter().find(|w| w["label"] == "main").unwrap();
    assert_eq!(main["incognito"], true);
}

#[test]
fn capability_grants_only_the_apps_commands_and_core_events() {
    let capability = read_json("src-tauri/capabilities/main.json");
    assert_eq!(capability["windows"], serde_json::json!(["main"]));
    assert!(
        capability.get("remote").is_none(),
        "no remote URL may get IPC access"
    );
    let allowed_core = ["core:event:allow-listen", "core:event:allow-unlisten"];
    let permissions = capability["permissions"].as_array().unwrap();
    let commands = legitimera_lib::COMMANDS;
    for permission in permissions {
        let permission = permission
            .as_str()
            .expect("plain permission identifiers only");
        let own_command = permission
            .strip_prefix("allow-")
            .is_some_and(|c| commands.contains(&c.replace('-', "_").as_str()));
        assert!(
            own_command || allowed_core.contains(&permission),
            "the capability grants {permission}, which is neither an app command nor a core event"
        );
    }
    for command in commands {
        let permission = format!("allow-{}", command.replace('_', "-"));
        assert!(
            permissions.iter().any(|p| p == permission.as_str()),
            "command {command} is not granted to the main window"
        );
    }
}

#[test]
fn ui_has_no_inline_script_or_remote_reference() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut stack = vec![ui];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for remote in ["http://", "https://", "//cdn", "@import url("] {
                let hit = text
                    .match_indices(remote)
                    .any(|(at, _)| !text[at..].starts_with("http://www.w3.org/2000/svg"));
                assert!(!hit, "{} references {remote}", path.display());
            }
            if path.extension().is_some_and(|e| e == "html") {
                assert!(
                    !text.contains("<script>"),
                    "{}: inline script",
                    path.display()
                );
                assert!(
                    !text.contains(" onclick="),
                    "{}: inline handler",
                    path.display()
                );
                assert!(
                    !text.contains(" style="),
                    "{}: inline style",
                    path.display()
                );
            }
        }
    }
}

/// The first view waits for every module: index.html asks for all of them at once
/// (`modulepreload`) instead of discovering them import by import, and names nothing else.
#[test]
fn index_preloads_every_module_and_only_those() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let html = std::fs::read_to_string(ui.join("index.html")).unwrap();
    let mut modules: Vec<String> = std::fs::read_dir(ui.join("js"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".js"))
        .collect();
    modules.sort();
    let mut preloaded: Vec<String> = html
        .lines()
        .filter_map(|line| {
            let rest = line
                .trim()
                .strip_prefix("<link rel=\"modulepreload\" href=\"js/")?;
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect();
    preloaded.sort();
    assert_eq!(preloaded, modules, "ui/index.html's modulepreload links");
}
