//! The `accounts` table: e-mail (the username), the argon2id hash, the two-step phone.

use sqlx::AnyPool;

/// An account as stored. Holds personal data: `Debug` shows only the id.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub phone: Option<String>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

pub async fn find_by_email(pool: &AnyPool, email: &str) -> sqlx::Result<Option<Row>> {
    sqlx::query_as("SELECT id, email, password_hash, phone FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_optional(pool)
        .await
}

pub async fn find_by_id(pool: &AnyPool, id: i64) -> sqlx::Result<Option<Row>> {
    sqlx::query_as("SELECT id, email, password_hash, phone FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
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
