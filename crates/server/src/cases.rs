//! "Min sida": the logged-in person's cases. Every session sees that each case exists and its
//! status; substantial and high assurance also see its events (decisions, documents asked for,
//! the case officer's messages), in Swedish or English.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use legitimera_protocol::{Assurance, Case, CaseEvent, CasesAnswer};
use serde::Deserialize;

use crate::error::Result;
use crate::sessions::Authenticated;
use crate::{language, store, AppState};

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
    let lang = language::negotiate(query.lang.as_deref(), &headers);
    let rows = store::cases::of_person(state.pool(), session.person_id).await?;
    let show_details = session.assurance >= Assurance::Substantial;
    let mut cases = Vec::with_capacity(rows.len());
    for (id, reference, kind, status, opened_on, updated_on) in rows {
        let events = if show_details {
            let events = store::cases::events(state.pool(), id, lang).await?;
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
