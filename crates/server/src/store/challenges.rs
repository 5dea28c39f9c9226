//! The `challenges` table: registrations, logins waiting for their SMS code, phone changes;
//! the code in flight (salted hash), its step, its sends and wrong tries. The code rules are
//! `crate::challenges`'.

use std::fmt;

use sqlx::AnyPool;

/// One challenge as stored. Holds personal data: its `Debug` shows only id and step.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: String,
    pub purpose: String,
    pub step: String,
    pub account_id: Option<i64>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    /// 0 or 1 (an integer in both dialects).
    pub decoy: i64,
    pub code_salt: Option<Vec<u8>>,
    pub code_hash: Option<Vec<u8>>,
    pub code_expires_at: Option<i64>,
    pub code_sent_at: Option<i64>,
    pub sends: i64,
    pub failures: i64,
    /// The session a phone change belongs to (its token's SHA-256), if started in one.
    pub session_hash: Option<Vec<u8>>,
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct NewRow<'a> {
    pub id: &'a str,
    pub purpose: &'a str,
    pub step: &'a str,
    pub account_id: Option<i64>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub decoy: bool,
    pub session_hash: Option<&'a [u8]>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn sweep(pool: &AnyPool, now: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn insert(pool: &AnyPool, new: &NewRow<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO challenges (id, purpose, step, account_id, email, phone, password_hash,
                                 decoy, created_at, expires_at, session_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new.id)
    .bind(new.purpose)
    .bind(new.step)
    .bind(new.account_id)
    .bind(new.email)
    .bind(new.phone)
    .bind(new.password_hash)
    .bind(i64::from(new.decoy))
    .bind(new.created_at)
    .bind(new.expires_at)
    .bind(new.session_hash)
    .execute(pool)
    .await?;
    Ok(())
}

/// The challenge if it has this purpose, is not done and has not expired at `now`.
pub async fn find_live(
    pool: &AnyPool,
    id: &str,
    purpose: &str,
    now: i64,
) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(
        "SELECT id, purpose, step, account_id, email, phone, password_hash, decoy, code_salt,
                code_hash, code_expires_at, code_sent_at, sends, failures, session_hash
         FROM challenges WHERE id = $1 AND purpose = $2 AND expires_at > $3 AND step != 'done'",
    )
    .bind(id)
    .bind(purpose)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// A new step with a clean slate: no code, no sends, no wrong tries.
pub async fn set_step(pool: &AnyPool, id: &str, step: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE challenges SET step = $1, failures = 0, sends = 0, code_sent_at = NULL,
                code_hash = NULL, code_salt = NULL, code_expires_at = NULL
         WHERE id = $2",
    )
    .bind(step)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_code(
    pool: &AnyPool,
    id: &str,
    salt: &[u8],
    hash: &[u8],
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE challenges SET code_salt = $1, code_hash = $2, code_expires_at = $3 WHERE id = $4",
    )
    .bind(salt)
    .bind(hash)
    .bind(expires_at)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes the next send of the challenge's current `step` for `now`, if one is due: fewer than
/// `max_sends` so far and none since `cooldown` seconds. One statement, so of parallel resends
/// (on any instance) exactly one gets it. Answers the send time it replaced (to give the
/// send back with [`unclaim_send`]), or `None` when no send is due.
pub async fn claim_send(
    pool: &AnyPool,
    id: &str,
    step: &str,
    now: i64,
    cooldown: i64,
    max_sends: i64,
) -> sqlx::Result<Option<Option<i64>>> {
    let before: Option<i64> =
        sqlx::query_scalar("SELECT code_sent_at FROM challenges WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .flatten();
    let claimed = sqlx::query(
        "UPDATE challenges SET code_sent_at = $1, sends = sends + 1
         WHERE id = $2 AND step = $3 AND sends < $4
           AND (code_sent_at IS NULL OR code_sent_at <= $5)",
    )
    .bind(now)
    .bind(id)
    .bind(step)
    .bind(max_sends)
    .bind(now - cooldown)
    .execute(pool)
    .await?;
    Ok((claimed.rows_affected() == 1).then_some(before))
}

/// Gives back a send [`claim_send`] took at `claimed_at` when nothing was delivered: the
/// cooldown counts from the last delivery that worked.
pub async fn unclaim_send(
    pool: &AnyPool,
    id: &str,
    claimed_at: i64,
    before: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE challenges SET code_sent_at = $1, sends = sends - 1
         WHERE id = $2 AND code_sent_at = $3 AND sends > 0",
    )
    .bind(before)
    .bind(id)
    .bind(claimed_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Counts a wrong try unless `max` are already counted; the new count, or `None` at the cap.
pub async fn record_failure(pool: &AnyPool, id: &str, max: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE challenges SET failures = failures + 1
         WHERE id = $1 AND failures < $2 RETURNING failures",
    )
    .bind(id)
    .bind(max)
    .fetch_optional(pool)
    .await
}

/// Clears this very code (single use) if it is still the current one and tries are left;
/// `true` for the one request that did.
pub async fn use_code(pool: &AnyPool, id: &str, hash: &[u8], max: i64) -> sqlx::Result<bool> {
    let used = sqlx::query(
        "UPDATE challenges SET code_hash = NULL, code_salt = NULL
         WHERE id = $1 AND code_hash = $2 AND failures < $3",
    )
    .bind(id)
    .bind(hash)
    .bind(max)
    .execute(pool)
    .await?;
    Ok(used.rows_affected() == 1)
}
