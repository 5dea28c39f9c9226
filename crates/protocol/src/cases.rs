//! "Min sida" on the wire: the person's cases. A low-assurance session sees that each case
//! exists and its status; a stronger one also sees the events (decisions, documents asked for,
//! the case officer's messages).

use serde::{Deserialize, Serialize};

use crate::accounts::Assurance;

/// `GET /api/v1/cases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasesAnswer {
    /// The session's assurance the answer was cut to.
    pub assurance: Assurance,
    /// The language of event texts: `"sv"` or `"en"`.
    pub lang: String,
    /// True when events were left out because the login is not strong enough.
    pub details_hidden: bool,
    /// What a stronger login (password + SMS, BankID) would show: event kinds such as
    /// `decisions`, `document_requests`, `officer_messages`. Empty when nothing is hidden.
    pub stronger_login_shows: Vec<String>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// What the applicant quotes to the contact centre, e.g. `2026-104512`.
    pub reference: String,
    /// A stable code the app localizes: `work_permit`, `residence_permit_family`, `citizenship`…
    pub kind: String,
    /// A stable code: `received`, `in_progress`, `waiting_for_applicant`, `decided`.
    pub status: String,
    /// `YYYY-MM-DD`.
    pub opened_on: String,
    /// `YYYY-MM-DD`.
    pub updated_on: String,
    /// Newest first; absent when `details_hidden`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<CaseEvent>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// `decision`, `document_request` or `message`.
    pub kind: String,
    /// `YYYY-MM-DD`.
    pub occurred_on: String,
    /// In the answer's `lang`.
    pub text: String,
}
