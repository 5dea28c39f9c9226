//! The `accounts` table: e-mail (the username), the argon2id hash, the two-step phone.

use sqlx::AnyPool;

/// An account as stored. Holds personal data: `Debug` shows only the id.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub phone: Option<String>,
    /// Wrong passwords since the last login that got through.
    pub failed_logins: i64,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

pub async fn find_by_email(pool: &AnyPool, email: &str) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(
        "SELECT id, email, password_hash, phone, failed_logins FROM accounts WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(pool)
    .await
}

const FIND_BY_ID: &str =
    "SELECT id, email, password_hash, phone, failed_logins FROM accounts WHERE id = $1";

pub async fn find_by_id(pool: &AnyPool, id: i64) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(FIND_BY_ID)
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// [`find_by_id`], on SQLite read in this thread (see `store::inline`) when it can be.
pub async fn find_by_id_in(store: &super::Store, id: i64) -> sqlx::Result<Option<Row>> {
    let inline = store.read_inline(|connection| {
        use rusqlite::OptionalExtension as _;
        connection
            .prepare_cached(FIND_BY_ID)?
            .query_row([id], |row| {
                Ok(Row {
                    id: row.get(0)?,
                    email: row.get(1)?,
                    password_hash: row.get(2)?,
                    phone: row.get(3)?,
                    failed_logins: row.get(4)?,
                })
            })
            .optional()
    });
    match inline {
        Some(row) => Ok(row),
        None => find_by_id(store.pool(), id).await,
    }
}

pub async fn person_of(pool: &AnyPool, account_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT person_id FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(pool)
        .await
}

/// Creates the account and, unless `person_id` is given, a person for it (names unknown until
/// a stronger identification); answers the person's id. If the address has an account already
/// (two registrations raced, or a demo seeded twice), that one stands and the answer is `None`.
pub async fn create(
    pool: &AnyPool,
    email: &str,
    password_hash: &str,
    phone: Option<&str>,
    person_id: Option<i64>,
    now: i64,
) -> sqlx::Result<Option<i64>> {
    let mut connection = pool.acquire().await?;
    let mut tx = crate::store::begin_write(&mut connection).await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let person_id = match person_id {
        Some(id) => id,
        None => {
            sqlx::query_scalar(
                "INSERT INTO people (given_name, surname) VALUES ('', '') RETURNING id",
            )
            .fetch_one(&mut *tx)
            .await?
        }
    };
    // The unique e-mail settles a race the SELECT above could not see (PostgreSQL).
    let created = sqlx::query(
        "INSERT INTO accounts (person_id, email, password_hash, phone, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(person_id)
    .bind(email)
    .bind(password_hash)
    .bind(phone)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if created.rows_affected() == 0 {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(person_id))
}

pub async fn set_phone(pool: &AnyPool, account_id: i64, phone: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET phone = $1 WHERE id = $2")
        .bind(phone)
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Counts one more wrong password; the count since the last login that got through.
pub async fn record_failed_login(pool: &AnyPool, account_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "UPDATE accounts SET failed_logins = failed_logins + 1 WHERE id = $1
         RETURNING failed_logins",
    )
    .bind(account_id)
    .fetch_one(pool)
    .await
}

/// The owner got in (or reset the password): the wrong passwords before no longer count.
pub async fn clear_failed_logins(pool: &AnyPool, account_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET failed_logins = 0 WHERE id = $1 AND failed_logins != 0")
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Marks the owner as warned now unless they were within `every` seconds; `true` for the one
/// caller that should send the warning (parallel failures and instances agree on one).
pub async fn claim_failure_warning(
    pool: &AnyPool,
    account_id: i64,
    now: i64,
    every: i64,
) -> sqlx::Result<bool> {
    let claimed = sqlx::query(
        "UPDATE accounts SET failure_warned_at = $2
         WHERE id = $1 AND (failure_warned_at IS NULL OR failure_warned_at <= $3)",
    )
    .bind(account_id)
    .bind(now)
    .bind(now - every)
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// A new password hash (password reset, password change, a rehash with today's parameters).
pub async fn set_password_hash(
    pool: &AnyPool,
    account_id: i64,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}
