//! Accounts in the database: finding one by e-mail or id, creating one with its person, and
//! replacing the two-step phone. Holds personal data: `Debug` shows only the id.

use std::fmt;

use legitimera_protocol::{Email, PhoneNumber};

use crate::error::Result;
use crate::AppState;

#[derive(sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub phone: Option<String>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The two-step number (stored as a parsed E.164 number).
    pub fn phone(&self) -> Option<PhoneNumber> {
        self.phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
    }
}

const COLUMNS: &str = "id, email, password_hash, phone";

pub async fn find_by_email(state: &AppState, email: &Email) -> Result<Option<Account>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM accounts WHERE email = ?"))
            .bind(email.as_str())
            .fetch_optional(state.pool())
            .await?,
    )
}

pub async fn find_by_id(state: &AppState, id: i64) -> Result<Option<Account>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM accounts WHERE id = ?"))
            .bind(id)
            .fetch_optional(state.pool())
            .await?,
    )
}

/// Creates the account and a person for it (names unknown until a stronger identification),
/// and answers the person's id. If the address got an account meanwhile (two registrations
/// raced), the first one stands and the answer is `None`.
pub async fn create(
    pool: &sqlx::SqlitePool,
    email: &str,
    password_hash: &str,
    phone: Option<&str>,
    person_id: Option<i64>,
    now: i64,
) -> Result<Option<i64>> {
    let mut tx = pool.begin().await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts WHERE email = ?")
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
    sqlx::query(
        "INSERT INTO accounts (person_id, email, password_hash, phone, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(person_id)
    .bind(email)
    .bind(password_hash)
    .bind(phone)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(person_id))
}

pub async fn set_phone(state: &AppState, account_id: i64, phone: &PhoneNumber) -> Result<()> {
    sqlx::query("UPDATE accounts SET phone = ? WHERE id = ?")
        .bind(phone.as_str())
        .bind(account_id)
        .execute(state.pool())
        .await?;
    Ok(())
}
