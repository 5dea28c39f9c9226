//! People the agency knows (applicants): found by id or by personnummer. Personal data: the
//! callers never log what these return.

use sqlx::{Any, AnyPool, Executor};

/// Names and personnummer of a person, for `GET /session`.
pub async fn names(
    pool: &AnyPool,
    person_id: i64,
) -> sqlx::Result<Option<(String, String, Option<String>)>> {
    sqlx::query_as("SELECT given_name, surname, personal_number FROM people WHERE id = $1")
        .bind(person_id)
        .fetch_optional(pool)
        .await
}

/// The person with this personnummer, recorded with these names if new; their id.
pub async fn upsert_by_personal_number<'e>(
    db: impl Executor<'e, Database = Any>,
    personal_number: &str,
    given_name: &str,
    surname: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO people (personal_number, given_name, surname) VALUES ($1, $2, $3)
         ON CONFLICT (personal_number) DO UPDATE SET personal_number = excluded.personal_number
         RETURNING id",
    )
    .bind(personal_number)
    .bind(given_name)
    .bind(surname)
    .fetch_one(db)
    .await
}
