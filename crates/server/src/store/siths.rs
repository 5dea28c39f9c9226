//! SITHS: single-use challenges and staff members by HSA-id. Personal data (names, HSA-ids):
//! callers never log what these return.

use sqlx::AnyPool;

pub async fn sweep_challenges(pool: &AnyPool, now: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM siths_challenges WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn insert_challenge(
    pool: &AnyPool,
    id: &str,
    challenge: &[u8],
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO siths_challenges (id, challenge, expires_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(challenge)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes the challenge and answers `(challenge, expires_at)`: whoever spends it first has it.
pub async fn spend_challenge(pool: &AnyPool, id: &str) -> sqlx::Result<Option<(Vec<u8>, i64)>> {
    sqlx::query_as("DELETE FROM siths_challenges WHERE id = $1 RETURNING challenge, expires_at")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Records the staff member (names as the latest certificate says); their id.
pub async fn upsert_staff(
    pool: &AnyPool,
    hsa_id: &str,
    name: &str,
    organisation: Option<&str>,
    now: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO staff (hsa_id, name, organisation, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (hsa_id) DO UPDATE SET name = excluded.name,
                                            organisation = excluded.organisation
         RETURNING id",
    )
    .bind(hsa_id)
    .bind(name)
    .bind(organisation)
    .bind(now)
    .fetch_one(pool)
    .await
}

/// `(name, hsa_id, organisation)`
pub async fn staff(
    pool: &AnyPool,
    staff_id: i64,
) -> sqlx::Result<Option<(String, String, Option<String>)>> {
    sqlx::query_as("SELECT name, hsa_id, organisation FROM staff WHERE id = $1")
        .bind(staff_id)
        .fetch_optional(pool)
        .await
}
