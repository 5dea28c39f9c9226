//! The foundation's flows: the chooser, keyboard navigation, the language switch, the help
//! view, and recovering when the backend goes away and comes back.

use std::time::Duration;

use anyhow::{ensure, Result};
use legitimera_testkit::catalog::{catalog, LANGUAGES};
use legitimera_testkit::e2e::{keys, App, Harness};
use serde_json::json;

use crate::TestFn;

pub fn tests() -> Vec<(&'static str, TestFn)> {
    vec![
        ("starts_with_the_four_methods_in_swedish", |h| {
            Box::pin(starts_with_the_four_methods_in_swedish(h))
        }),
        ("every_view_is_reached_and_left_by_keyboard", |h| {
            Box::pin(every_view_is_reached_and_left_by_keyboard(h))
        }),
        ("language_switch_changes_every_string_and_lang", |h| {
            Box::pin(language_switch_changes_every_string_and_lang(h))
        }),
        ("help_view_explains_e_legitimation", |h| {
            Box::pin(help_view_explains_e_legitimation(h))
        }),
        ("no_view_shows_a_raw_key", |h| {
            Box::pin(no_view_shows_a_raw_key(h))
        }),
        ("fits_from_320_px_to_full_screen", |h| {
            Box::pin(fits_from_320_px_to_full_screen(h))
        }),
        ("backend_down_shows_message_and_recovers", |h| {
            Box::pin(backend_down_shows_message_and_recovers(h))
        }),
    ]
}

/// The views reachable from the chooser, and the control that opens each.
const METHOD_VIEWS: [(&str, &str); 5] = [
    ("method-bankid-this", "bankid-this"),
    ("method-bankid-other", "bankid-other"),
    ("method-password", "password"),
    ("method-siths", "siths"),
    ("chooser-help", "help"),
];

async fn starts_with_the_four_methods_in_swedish(harness: &Harness) -> Result<()> {
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    ensure!(
        app.view().await? == "chooser",
        "the first screen is not the chooser"
    );
    let lang = app
        .exec("return document.documentElement.lang", vec![])
        .await?;
    ensure!(lang == json!("sv"), "lang is {lang}, not sv");
    app.audit("chooser").await?;
    let titles = app
        .exec(
            "return [...document.querySelectorAll('.method .method__title')].map(e => e.textContent)",
            vec![],
        )
        .await?;
    ensure!(
        titles
            == json!([
                "BankID på den här datorn",
                "Mobilt BankID på annan enhet",
                "Användarnamn och lösenord",
                "E-tjänstelegitimation (SITHS-kort)"
            ]),
        "the chooser lists {titles}"
    );
    ensure!(
        !app.is_visible("#backend-banner").await?,
        "the unreachable banner shows while the backend is up"
    );
    Ok(())
}

async fn every_view_is_reached_and_left_by_keyboard(harness: &Harness) -> Result<()> {
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    for (control, view) in METHOD_VIEWS {
        app.tab_to(control).await?;
        app.press(keys::ENTER).await?;
        ensure!(
            app.view().await? == view,
            "Enter on #{control} did not open {view}"
        );
        let focused_heading = app
            .exec("return document.activeElement.tagName", vec![])
            .await?;
        ensure!(
            focused_heading == json!("H1"),
            "focus did not move to the {view} heading"
        );
        let back = app
            .exec(
                "return document.querySelector('[data-view=\"' + arguments[0] + '\"] [data-back]').id \
                 || (document.querySelector('[data-view=\"' + arguments[0] + '\"] [data-back]').id = 'back-' + arguments[0])",
                vec![json!(view)],
            )
            .await?;
        app.tab_to(back.as_str().unwrap_or_default()).await?;
        app.press(keys::ENTER).await?;
        ensure!(
            app.view().await? == "chooser",
            "Back from {view} did not return to the chooser"
        );
        // Escape also leaves a view.
        app.tab_to(control).await?;
        app.press(keys::ENTER).await?;
        app.press(keys::ESCAPE).await?;
        ensure!(
            app.view().await? == "chooser",
            "Escape did not leave {view}"
        );
    }
    // A form's button keeps the focus through its work (it is disabled meanwhile, which drops
    // the focus to the page): Enter on Save in the settings, and the next Tab goes on from
    // there, to Back, not from the top of the page.
    app.tab_to("settings-button").await?;
    app.press(keys::ENTER).await?;
    app.wait_for_view("settings").await?;
    app.tab_to("settings-save").await?;
    app.press(keys::ENTER).await?;
    app.wait_until("the saved notice", Duration::from_secs(10), || {
        app.is_visible("#settings-saved")
    })
    .await?;
    let focused = app.focused_id().await?;
    ensure!(
        focused == "settings-save",
        "after saving, the focus is on #{focused}, not on Save"
    );
    app.press(keys::TAB).await?;
    let on_back = app
        .exec(
            "return document.activeElement.hasAttribute('data-back')",
            vec![],
        )
        .await?;
    ensure!(on_back == json!(true), "Tab after Save did not reach Back");
    app.press(keys::ENTER).await?;
    app.wait_for_view("chooser").await?;
    // The language switch is reachable and usable by keyboard too.
    app.tab_to("language-switch").await?;
    app.press(keys::ENTER).await?;
    app.wait_until(
        "English after Enter on the switch",
        Duration::from_secs(5),
        || async {
            Ok(app
                .exec("return document.documentElement.lang", vec![])
                .await?
                == json!("en"))
        },
    )
    .await?;
    // Focus is drawn: the focused control has an outline.
    let outline = app
        .exec(
            "return getComputedStyle(document.activeElement).outlineStyle",
            vec![],
        )
        .await?;
    ensure!(
        outline != json!("none"),
        "no visible focus on the focused control"
    );
    Ok(())
}

/// Every `data-i18n` element and attribute shows the current catalog's text.
async fn check_strings(app: &App, lang: &str) -> Result<()> {
    let expected = catalog(lang)?;
    let shown = app
        .exec(
            "const out = [];
             for (const e of document.querySelectorAll('[data-i18n]')) out.push([e.dataset.i18n, e.textContent]);
             for (const e of document.querySelectorAll('[data-i18n-attr]'))
               for (const pair of e.dataset.i18nAttr.split(';')) {
                 const [attr, key] = pair.split(':');
                 out.push([key.trim(), e.getAttribute(attr.trim())]);
               }
             return out;",
            vec![],
        )
        .await?;
    let pairs = shown.as_array().cloned().unwrap_or_default();
    ensure!(
        pairs.len() > 40,
        "only {} translated strings found",
        pairs.len()
    );
    for pair in pairs {
        let key = pair[0].as_str().unwrap_or_default();
        let text = pair[1].as_str().unwrap_or_default();
        let want = expected.get(key).map(String::as_str).unwrap_or("<missing>");
        ensure!(
            text == want,
            "{key} shows {text:?}, the {lang} catalog says {want:?}"
        );
    }
    let lang_attr = app
        .exec("return document.documentElement.lang", vec![])
        .await?;
    ensure!(
        lang_attr == json!(lang),
        "lang attribute is {lang_attr}, not {lang}"
    );
    Ok(())
}

async fn language_switch_changes_every_string_and_lang(harness: &Harness) -> Result<()> {
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    check_strings(&app, "sv").await?;
    app.click("#language-switch").await?;
    app.wait_until("lang=en", Duration::from_secs(5), || async {
        Ok(app
            .exec("return document.documentElement.lang", vec![])
            .await?
            == json!("en"))
    })
    .await?;
    check_strings(&app, "en").await?;
    // Text set from code follows too.
    let footer = app.text("#footer-version").await?;
    ensure!(
        footer.starts_with("Legitimera version"),
        "footer says {footer:?}"
    );
    let body = app.exec("return document.body.innerText", vec![]).await?;
    let body = body.as_str().unwrap_or_default();
    let sv = catalog("sv")?;
    let en = catalog("en")?;
    for (key, text) in &sv {
        let differs = en.get(key).is_some_and(|e| e != text);
        ensure!(
            !(differs && text.split_whitespace().count() >= 3 && body.contains(text.as_str())),
            "Swedish text of {key} still visible in English: {text:?}"
        );
    }
    app.click("#language-switch").await?;
    app.wait_until("lang=sv", Duration::from_secs(5), || async {
        Ok(app
            .exec("return document.documentElement.lang", vec![])
            .await?
            == json!("sv"))
    })
    .await?;
    check_strings(&app, "sv").await
}

async fn help_view_explains_e_legitimation(harness: &Harness) -> Result<()> {
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    app.click("#help-button").await?;
    ensure!(
        app.view().await? == "help",
        "the help button did not open help"
    );
    let text = app.text("[data-view=help]").await?;
    for needle in [
        "e-legitimation",
        "Mobilt BankID",
        "personnummer",
        "folkbokförd",
        "internetbanken",
        "kostar ingenting",
        "e-postadress och lösenord",
    ] {
        ensure!(
            text.contains(needle),
            "the help view does not mention {needle:?}"
        );
    }
    app.audit("help").await?;
    app.click("[data-view=help] [data-back]").await?;
    ensure!(
        app.view().await? == "chooser",
        "Back from help did not return"
    );
    Ok(())
}

async fn no_view_shows_a_raw_key(harness: &Harness) -> Result<()> {
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    for lang in LANGUAGES {
        let keys: Vec<String> = catalog(lang)?.into_keys().collect();
        if app
            .exec("return document.documentElement.lang", vec![])
            .await?
            != json!(lang)
        {
            app.click("#language-switch").await?;
        }
        for view in std::iter::once("chooser").chain(METHOD_VIEWS.iter().map(|(_, v)| *v)) {
            if view != "chooser" {
                app.click(&format!("[data-route='{view}']")).await?;
                // Audited in both languages at once: once is enough.
                if lang == LANGUAGES[0] {
                    app.audit(view).await?;
                }
            }
            let text = app.exec("return document.body.innerText", vec![]).await?;
            let text = text.as_str().unwrap_or_default();
            for line in text.lines().map(str::trim) {
                ensure!(
                    !keys.iter().any(|k| k == line),
                    "view {view} ({lang}) shows the raw key {line:?}"
                );
            }
            if view != "chooser" {
                app.press(keys::ESCAPE).await?;
            }
        }
    }
    Ok(())
}

async fn backend_down_shows_message_and_recovers(harness: &Harness) -> Result<()> {
    let mut server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    ensure!(
        !app.is_visible("#backend-banner").await?,
        "banner shown while up"
    );
    server.stop();
    // The app checks a healthy backend every 10 s; a failure is noticed by the next check.
    app.wait_until(
        "the cannot-reach message",
        Duration::from_secs(25),
        || async { app.is_visible("#backend-banner").await },
    )
    .await?;
    let banner = app.text("#backend-banner").await?;
    ensure!(
        banner.contains("Tjänsten kan inte nås just nu"),
        "banner says {banner:?}"
    );
    app.audit("chooser: backend unreachable").await?;
    ensure!(
        app.view().await? == "chooser",
        "the chooser is gone while offline"
    );
    server.restart()?;
    // Retries back off to at most 4 s, so recovery shows within a few seconds, with no restart.
    app.wait_until("the banner to go away", Duration::from_secs(15), || async {
        Ok(!app.is_visible("#backend-banner").await?)
    })
    .await?;
    let announced = app
        .exec(
            "return document.getElementById('announcer').textContent",
            vec![],
        )
        .await?;
    ensure!(
        announced == json!("Tjänsten kan nås igen."),
        "recovery was not announced to screen readers: {announced}"
    );
    Ok(())
}

/// WCAG 1.4.10 (Reflow): 320 CSS px wide — what 200 % zoom makes of a 640 px window, or
/// 400 % of 1280 px — needs no sideways scrolling on any view, nor does a full screen.
async fn fits_from_320_px_to_full_screen(harness: &Harness) -> Result<()> {
    let server = harness.server()?;
    let app = harness.launch(&server.url()).await?;
    for (width, height) in [(320, 640), (1280, 900)] {
        app.client.set_window_size(width, height).await?;
        app.wait_until("the new size", Duration::from_secs(5), || async {
            let inner = app.exec("return window.innerWidth", vec![]).await?;
            Ok(inner
                .as_u64()
                .is_some_and(|w| w.abs_diff(u64::from(width)) < 40))
        })
        .await?;
        for view in std::iter::once("chooser").chain(METHOD_VIEWS.iter().map(|(_, v)| *v)) {
            if view != "chooser" {
                app.click(&format!("[data-route='{view}']")).await?;
            }
            let overflow = app
                .exec(
                    "return document.documentElement.scrollWidth - window.innerWidth",
                    vec![],
                )
                .await?;
            ensure!(
                overflow.as_i64().unwrap_or(i64::MAX) <= 0,
                "{view} scrolls sideways by {overflow} px at {width} px wide"
            );
            if view != "chooser" {
                app.press(keys::ESCAPE).await?;
            }
        }
    }
    Ok(())
}
