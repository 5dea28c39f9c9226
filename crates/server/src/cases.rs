//! "Min sida": the logged-in person's cases. Every session sees that each case exists and its
//! status; substantial and high assurance also see its events (decisions, documents asked for,
//! the case officer's messages), in Swedish or English.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use legitimera_protocol::{Assurance, Case, CaseEvent, CasesAnswer};
use serde::Deserialize;

use crate::error::Result;
use crate::sessions::Authenticated;
use crate::AppState;

/// What a low-assurance session does not see, named for the page to explain.
const HIDDEN_FROM_LOW: &[&str] = &["decisions", "document_requests", "officer_messages"];

#[derive(Debug, Deserialize)]
pub struct CasesQuery {
    lang: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    session: Authenticated,
    Query(query): Query<CasesQuery>,
    headers: HeaderMap,
) -> Result<Json<CasesAnswer>> {
    let lang = query
        .lang
        .as_deref()
        .and_then(supported)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(preferred_language)
        })
        .unwrap_or("sv");
    let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, reference, kind, status, opened_on, updated_on FROM cases
         WHERE person_id = ? ORDER BY updated_on DESC, id",
    )
    .bind(session.person_id)
    .fetch_all(state.pool())
    .await?;
    let show_details = session.assurance >= Assurance::Substantial;
    let mut cases = Vec::with_capacity(rows.len());
    for (id, reference, kind, status, opened_on, updated_on) in rows {
        let events = if show_details {
            let text_column = if lang == "en" { "text_en" } else { "text_sv" };
            let events: Vec<(String, String, String)> = sqlx::query_as(&format!(
                "SELECT kind, occurred_on, {text_column} FROM case_events
                 WHERE case_id = ? ORDER BY occurred_on DESC, id DESC"
            ))
            .bind(id)
            .fetch_all(state.pool())
            .await?;
            Some(
                events
                    .into_iter()
                    .map(|(kind, occurred_on, text)| CaseEvent {
                        kind,
                        occurred_on,
                        text,
                    })
                    .collect(),
            )
        } else {
            None
        };
        cases.push(Case {
            reference,
            kind,
            status,
            opened_on,
            updated_on,
            events,
        });
    }
    Ok(Json(CasesAnswer {
        assurance: session.assurance,
        lang: lang.to_owned(),
        details_hidden: !show_details,
        stronger_login_shows: if show_details {
            Vec::new()
        } else {
            HIDDEN_FROM_LOW.iter().map(|s| (*s).to_owned()).collect()
        },
        cases,
    }))
}

pub(crate) fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.as_str() {
        "sv" => Some("sv"),
        "en" => Some("en"),
        _ => None,
    }
}

/// The supported language the `Accept-Language` header likes best, by its q-values.
pub(crate) fn preferred_language(header: &str) -> Option<&'static str> {
    header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let lang = supported(parts.next()?)?;
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            Some((lang, quality))
        })
        .filter(|(_, quality)| *quality > 0.0)
        // The first of equally liked languages wins.
        .fold(
            None,
            |best: Option<(&'static str, f32)>, candidate| match best {
                Some(best) if best.1 >= candidate.1 => Some(best),
                _ => Some(candidate),
            },
        )
        .map(|(lang, _)| lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(preferred_language("en-GB,en;q=0.9,sv;q=0.8"), Some("en"));
        assert_eq!(
            preferred_language("de-DE, sv-SE;q=0.5, en;q=0.4"),
            Some("sv")
        );
        assert_eq!(preferred_language("fr, de"), None);
        assert_eq!(preferred_language("sv, en"), Some("sv"));
        assert_eq!(preferred_language("sv;q=0, en;q=0.1"), Some("en"));
    }
}
