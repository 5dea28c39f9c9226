//! The accessibility audit of the end-to-end tests: axe-core (the npm package, fetched by
//! `cargo xtask` into the target directory, never shipped) runs in the page on every view a
//! test reaches, in Swedish and in English, against WCAG 2.0/2.1 A and AA and WCAG 2.2 AA.
//! Each audit is recorded; the run ends with `axe: N views audited, M violations` and fails on
//! any violation (`summary`). How it is injected: ../shared/reference/accessibility.md.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::e2e::App;
use crate::AXE_ENV;

/// The rules that count: every WCAG A and AA success criterion axe checks.
pub const TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
/// The languages every view is audited in.
const LANGUAGES: [&str; 2] = ["sv", "en"];

/// One view audited in one language.
#[derive(Debug, Clone)]
struct Audit {
    view: String,
    language: String,
    violations: usize,
}

static AUDITS: Mutex<Vec<Audit>> = Mutex::new(Vec::new());

fn axe_source() -> Result<String> {
    let path = std::env::var_os(AXE_ENV).with_context(|| {
        format!("{AXE_ENV} is not set: run the end-to-end tests with `cargo xtask e2e` or `cargo xtask test`, which fetch axe-core")
    })?;
    std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read axe-core from {}", path.to_string_lossy()))
}

/// Switches the page's language the way the UI's own switch does (every string, `lang`, the
/// title), without touching the user's stored choice.
async fn set_page_language(app: &App, language: &str) -> Result<()> {
    app.client
        .execute_async(
            "const [lang, done] = arguments; \
             import('./js/i18n.js').then((i18n) => i18n.setLanguage(lang)).then(() => done(null), (e) => done(String(e)));",
            vec![json!(language)],
        )
        .await
        .context("switching the page's language")?
        .as_str()
        .map_or(Ok(()), |error| bail!("the page could not switch to {language}: {error}"))
}

async fn run_axe(app: &App) -> Result<Value> {
    let loaded = app
        .exec("return typeof window.axe === 'object'", vec![])
        .await?;
    if loaded != json!(true) {
        app.exec(&axe_source()?, vec![])
            .await
            .context("injecting axe-core")?;
    }
    let answer = app
        .client
        .execute_async(
            "const [tags, done] = arguments; \
             window.axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations', 'incomplete']}) \
               .then((r) => done({violations: r.violations, incomplete: r.incomplete}), (e) => done({error: String(e)}));",
            vec![json!(TAGS)],
        )
        .await
        .context("running axe-core")?;
    if let Some(error) = answer.get("error") {
        bail!("axe-core failed: {error}");
    }
    Ok(answer)
}

fn print_items(kind: &str, items: &[Value]) {
    for item in items {
        println!(
            "    axe {kind}: {} ({}) {}\n      {}",
            item["id"].as_str().unwrap_or("?"),
            item["impact"].as_str().unwrap_or("-"),
            item["help"].as_str().unwrap_or(""),
            item["helpUrl"].as_str().unwrap_or(""),
        );
        for node in item["nodes"].as_array().into_iter().flatten().take(5) {
            println!(
                "      at {} {}",
                node["target"],
                node["html"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(160)
                    .collect::<String>()
            );
            if kind == "violation" {
                if let Some(summary) = node["failureSummary"].as_str() {
                    println!("        {}", summary.replace('\n', "\n        "));
                }
            }
        }
    }
}

impl App {
    /// Audits the view on screen in Swedish and in English (then puts the language back) and
    /// records the result; violations are printed here and fail the run at the end
    /// ([`summary`]). `view` names what is audited ("chooser", "password: wrong password"…).
    pub async fn audit(&self, view: &str) -> Result<()> {
        let script_timeout = Duration::from_secs(60);
        let mut timeouts = self.client.get_timeouts().await?;
        timeouts.set_script(Some(script_timeout));
        self.client.update_timeouts(timeouts).await?;
        let original = self
            .exec("return document.documentElement.lang || 'sv'", vec![])
            .await?
            .as_str()
            .unwrap_or("sv")
            .to_owned();
        let mut order: Vec<&str> = vec![&original];
        order.extend(LANGUAGES.iter().filter(|l| **l != original));
        for language in order {
            if language != original {
                set_page_language(self, language).await?;
            }
            let answer = run_axe(self).await?;
            let violations = answer["violations"].as_array().cloned().unwrap_or_default();
            let incomplete = answer["incomplete"].as_array().cloned().unwrap_or_default();
            if !violations.is_empty() {
                println!(
                    "    axe: {} violation(s) on \"{view}\" ({language}):",
                    violations.len()
                );
                print_items("violation", &violations);
            }
            if !incomplete.is_empty() && std::env::var_os("LEGITIMERA_AXE_INCOMPLETE").is_some() {
                println!(
                    "    axe: {} item(s) to check by hand on \"{view}\" ({language}):",
                    incomplete.len()
                );
                print_items("incomplete", &incomplete);
            }
            let count: usize = violations
                .iter()
                .map(|v| v["nodes"].as_array().map_or(1, Vec::len))
                .sum();
            if let Ok(mut audits) = AUDITS.lock() {
                audits.push(Audit {
                    view: view.to_owned(),
                    language: language.to_owned(),
                    violations: count,
                });
            }
        }
        set_page_language(self, &original).await
    }
}

/// The line that ends the audit: `axe: N views audited, M violations` (N counts each view in
/// each language; M each element that breaks a rule). `Err` when there is a violation, or when
/// nothing was audited in a run that should have audited.
pub fn summary() -> (String, Result<()>) {
    let audits = AUDITS.lock().map(|a| a.clone()).unwrap_or_default();
    let views: BTreeSet<(&str, &str)> = audits
        .iter()
        .map(|a| (a.view.as_str(), a.language.as_str()))
        .collect();
    let violations: usize = audits.iter().map(|a| a.violations).sum();
    let line = format!(
        "axe: {} views audited, {violations} violations",
        views.len()
    );
    let failing: Vec<String> = audits
        .iter()
        .filter(|a| a.violations > 0)
        .map(|a| format!("{} ({})", a.view, a.language))
        .collect();
    let result = if violations > 0 {
        Err(anyhow::anyhow!("violations on: {}", failing.join(", ")))
    } else {
        Ok(())
    };
    (line, result)
}

/// Whether any view was audited in this run.
pub fn any() -> bool {
    AUDITS.lock().map(|a| !a.is_empty()).unwrap_or(false)
}
