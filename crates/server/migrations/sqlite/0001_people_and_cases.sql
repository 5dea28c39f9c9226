-- People the agency knows, and their cases ("Min sida").
-- Personal data lives only here: never copy it into logs.

CREATE TABLE people (
    id              INTEGER PRIMARY KEY,
    given_name      TEXT NOT NULL,
    surname         TEXT NOT NULL,
    -- 12 digits (YYYYMMDDNNNC), for BankID and SITHS logins; NULL for account-only people.
    personal_number TEXT UNIQUE,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    -- What the applicant sees and quotes to the contact centre, e.g. "2026-104512".
    reference   TEXT NOT NULL UNIQUE,
    -- Stable codes the app localizes: work_permit, residence_permit_family, citizenship, ...
    kind        TEXT NOT NULL,
    -- Stable codes: received, in_progress, waiting_for_applicant, decided
    status      TEXT NOT NULL,
    opened_on   TEXT NOT NULL,
    updated_on  TEXT NOT NULL
);
CREATE INDEX cases_by_person ON cases(person_id);

-- What only a stronger login may see: decisions, documents asked for, the case officer's messages.
CREATE TABLE case_events (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    -- decision | document_request | message
    kind        TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    text_sv     TEXT NOT NULL,
    text_en     TEXT NOT NULL
);
CREATE INDEX case_events_by_case ON case_events(case_id);
