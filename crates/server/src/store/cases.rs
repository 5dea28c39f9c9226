//! Cases and their events ("Min sida"), and the counts the staff landing page shows.

use sqlx::{AnyConnection, AnyPool};

/// `(id, reference, kind, status, opened_on, updated_on)`, newest update first.
pub type CaseRow = (i64, String, String, String, String, String);

pub async fn of_person(pool: &AnyPool, person_id: i64) -> sqlx::Result<Vec<CaseRow>> {
    sqlx::query_as(
        "SELECT id, reference, kind, status, opened_on, updated_on FROM cases
         WHERE person_id = $1 ORDER BY updated_on DESC, id",
    )
    .bind(person_id)
    .fetch_all(pool)
    .await
}

/// `(kind, occurred_on, text)` of a case's events in `lang` (`en`, else Swedish), newest first.
pub async fn events(
    pool: &AnyPool,
    case_id: i64,
    lang: &str,
) -> sqlx::Result<Vec<(String, String, String)>> {
    let sql = if lang == "en" {
        "SELECT kind, occurred_on, text_en FROM case_events
         WHERE case_id = $1 ORDER BY occurred_on DESC, id DESC"
    } else {
        "SELECT kind, occurred_on, text_sv FROM case_events
         WHERE case_id = $1 ORDER BY occurred_on DESC, id DESC"
    };
    sqlx::query_as(sql).bind(case_id).fetch_all(pool).await
}

pub async fn count_with_status(pool: &AnyPool, status: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE status = $1")
        .bind(status)
        .fetch_one(pool)
        .await
}

/// A case to insert (demo data).
#[derive(Debug)]
pub struct NewCase<'a> {
    pub reference: &'a str,
    pub kind: &'a str,
    pub status: &'a str,
    pub opened_on: &'a str,
    pub updated_on: &'a str,
    /// `(kind, occurred_on, text_sv, text_en)`
    pub events: &'a [(&'a str, &'a str, &'a str, &'a str)],
}

/// Inserts the case and its events; a reference already taken is left as it is (`false`), so
/// seeding twice, or by two instances at once, gives one copy.
pub async fn insert(
    connection: &mut AnyConnection,
    person_id: i64,
    case: &NewCase<'_>,
) -> sqlx::Result<bool> {
    let case_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO cases (person_id, reference, kind, status, opened_on, updated_on)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (reference) DO NOTHING RETURNING id",
    )
    .bind(person_id)
    .bind(case.reference)
    .bind(case.kind)
    .bind(case.status)
    .bind(case.opened_on)
    .bind(case.updated_on)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(case_id) = case_id else {
        return Ok(false);
    };
    for (kind, occurred_on, text_sv, text_en) in case.events {
        sqlx::query(
            "INSERT INTO case_events (case_id, kind, occurred_on, text_sv, text_en)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(case_id)
        .bind(kind)
        .bind(occurred_on)
        .bind(text_sv)
        .bind(text_en)
        .execute(&mut *connection)
        .await?;
    }
    Ok(true)
}
