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

/// The modules `file` imports: statically (`… from './x.js'`, which it waits for) or later
/// (`import('./x.js')`).
fn imports_of(js: &str) -> (Vec<String>, Vec<String>) {
    let (mut static_, mut dynamic) = (Vec::new(), Vec::new());
    for line in js.lines() {
        let line = line.trim();
        if line.starts_with("import ") {
            if let Some(rest) = line.split("from './").nth(1) {
                static_.push(rest[..rest.find('\'').unwrap()].to_owned());
            }
        }
        for rest in line.split("import('./").skip(1) {
            dynamic.push(rest[..rest.find('\'').unwrap()].to_owned());
        }
    }
    (static_, dynamic)
}

/// The first view waits only for its own modules, and index.html asks for all of them at once
/// (`modulepreload`) instead of discovering them import by import: the preloads are exactly
/// main.js's static import graph. Every other module is reached by a later `import()`.
#[test]
fn index_preloads_the_first_views_modules_and_every_module_is_reached() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let html = std::fs::read_to_string(ui.join("index.html")).unwrap();
    let read = |name: &str| std::fs::read_to_string(ui.join("js").join(name)).unwrap();
    let mut modules: Vec<String> = std::fs::read_dir(ui.join("js"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".js"))
        .collect();
    modules.sort();
    // main.js's static graph, and everything reached from it at all.
    let (mut first_view, mut reached) = (vec!["main.js".to_owned()], vec!["main.js".to_owned()]);
    let mut todo = vec![("main.js".to_owned(), true)];
    while let Some((name, is_static)) = todo.pop() {
        let (static_, dynamic) = imports_of(&read(&name));
        for (next, next_static) in static_
            .into_iter()
            .map(|n| (n, is_static))
            .chain(dynamic.into_iter().map(|n| (n, false)))
        {
            if next_static && !first_view.contains(&next) {
                first_view.push(next.clone());
                todo.push((next.clone(), true));
            }
            if !reached.contains(&next) {
                reached.push(next.clone());
                todo.push((next, false));
            }
        }
    }
    first_view.sort();
    reached.sort();
    assert_eq!(reached, modules, "modules that main.js never reaches");
    assert!(
        first_view.len() < modules.len(),
        "the first view waits for every module: {first_view:?}"
    );
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
    assert_eq!(
        preloaded, first_view,
        "ui/index.html's modulepreload links against main.js's static imports"
    );
}

/// index.html holds the first view alone (the chooser) so the window shows it sooner; every
/// other view is in views.html, which main.js puts into the page after the first paint. No id
/// is in both, or one of them would be unreachable by `getElementById`.
#[test]
fn index_holds_the_first_view_alone_and_views_html_the_rest() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let values = |file: &str, attribute: &str| -> Vec<String> {
        let html = std::fs::read_to_string(ui.join(file)).unwrap();
        let marker = format!(" {attribute}=\"");
        html.match_indices(&marker)
            .map(|(at, _)| {
                let rest = &html[at + marker.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect()
    };
    assert_eq!(values("index.html", "data-view"), ["chooser"]);
    let others = values("views.html", "data-view");
    for view in [
        "password", "code", "min-sida", "siths", "settings", "help", "about",
    ] {
        assert!(
            others.iter().any(|v| v == view),
            "{view} is not in views.html"
        );
    }
    let first = values("index.html", "id");
    let duplicated: Vec<_> = values("views.html", "id")
        .into_iter()
        .filter(|id| first.contains(id))
        .collect();
    assert!(duplicated.is_empty(), "ids in both files: {duplicated:?}");
}
