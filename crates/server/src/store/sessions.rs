//! The `sessions` table: one row per live bearer token (only its SHA-256), for a person or a
//! staff member. No rules here: the limits are `crate::sessions`'.

use sqlx::AnyPool;

/// Who a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// An applicant: through an account (password logins) or directly (BankID).
    Person {
        person_id: i64,
        account_id: Option<i64>,
    },
    /// A staff member (SITHS card).
    Staff { staff_id: i64 },
}

/// A session as stored.
#[derive(Debug)]
pub struct Row {
    pub principal: Principal,
    pub assurance: String,
    pub device_id: Option<String>,
    pub created_at: i64,
    pub last_activity_at: i64,
    /// For an account's session: the account's e-mail and two-step phone, read in the same
    /// statement (what `GET /session` shows), so a check is one read, not two.
    pub account: Option<AccountContact>,
}

/// An account's e-mail and phone as stored. Personal data: `Debug` shows nothing of it.
pub struct AccountContact {
    pub email: String,
    pub phone: Option<String>,
}

impl std::fmt::Debug for AccountContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountContact").finish_non_exhaustive()
    }
}

#[derive(Clone, sqlx::FromRow)]
struct Columns {
    principal: String,
    person_id: Option<i64>,
    account_id: Option<i64>,
    staff_id: Option<i64>,
    assurance: String,
    device_id: Option<String>,
    created_at: i64,
    last_activity_at: i64,
    email: Option<String>,
    phone: Option<String>,
}

pub async fn insert(
    pool: &AnyPool,
    token_hash: &[u8],
    principal: Principal,
    assurance: &str,
    device_id: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    let (kind, person_id, account_id, staff_id) = match principal {
        Principal::Person {
            person_id,
            account_id,
        } => ("person", Some(person_id), account_id, None),
        Principal::Staff { staff_id } => ("staff", None, None, Some(staff_id)),
    };
    sqlx::query(
        "INSERT INTO sessions (token_hash, principal, person_id, account_id, staff_id, assurance,
                               created_at, last_activity_at, device_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(token_hash)
    .bind(kind)
    .bind(person_id)
    .bind(account_id)
    .bind(staff_id)
    .bind(assurance)
    .bind(now)
    .bind(device_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes sessions created before `created_before` (long past every limit).
pub async fn sweep(pool: &AnyPool, created_before: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE created_at < $1")
        .bind(created_before)
        .execute(pool)
        .await?;
    Ok(())
}

const FIND: &str = "SELECT s.principal, s.person_id, s.account_id, s.staff_id, s.assurance,
                            s.device_id, s.created_at, s.last_activity_at, a.email, a.phone
                     FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id
                     WHERE s.token_hash = $1";

/// The session with this token hash, as stored now: on SQLite read in this thread (see
/// `store::inline`; given again without a read while the file holds no new commit), else (or
/// when that cannot run at once) through the pool.
pub async fn find_in(store: &super::Store, token_hash: &[u8]) -> sqlx::Result<Option<Row>> {
    let inline = store.read_inline_cached("sessions by token", token_hash, |connection| {
        use rusqlite::OptionalExtension as _;
        connection
            .prepare_cached(FIND)?
            .query_row([token_hash], |row| {
                Ok(Columns {
                    principal: row.get(0)?,
                    person_id: row.get(1)?,
                    account_id: row.get(2)?,
                    staff_id: row.get(3)?,
                    assurance: row.get(4)?,
                    device_id: row.get(5)?,
                    created_at: row.get(6)?,
                    last_activity_at: row.get(7)?,
                    email: row.get(8)?,
                    phone: row.get(9)?,
                })
            })
            .optional()
    });
    match inline {
        Some(columns) => Ok(columns.and_then(Columns::into_row)),
        None => find(store.pool(), token_hash).await,
    }
}

pub async fn find(pool: &AnyPool, token_hash: &[u8]) -> sqlx::Result<Option<Row>> {
    let columns: Option<Columns> = sqlx::query_as(FIND)
        .bind(token_hash)
        .fetch_optional(pool)
        .await?;
    Ok(columns.and_then(Columns::into_row))
}

impl Columns {
    fn into_row(self) -> Option<Row> {
        let c = self;
        let principal = match (c.principal.as_str(), c.person_id, c.staff_id) {
            ("person", Some(person_id), None) => Principal::Person {
                person_id,
                account_id: c.account_id,
            },
            ("staff", None, Some(staff_id)) => Principal::Staff { staff_id },
            // The table's CHECKs rule this out; such a row would be nobody's session.
            _ => return None,
        };
        Some(Row {
            principal,
            assurance: c.assurance,
            device_id: c.device_id,
            created_at: c.created_at,
            last_activity_at: c.last_activity_at,
            account: match (c.account_id, c.email) {
                (Some(_), Some(email)) => Some(AccountContact {
                    email,
                    phone: c.phone,
                }),
                _ => None,
            },
        })
    }
}

pub async fn touch(pool: &AnyPool, token_hash: &[u8], now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET last_activity_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete(pool: &AnyPool, token_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_for_account_except(
    pool: &AnyPool,
    account_id: i64,
    keep_hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND token_hash != $2")
        .bind(account_id)
        .bind(keep_hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_for_account(pool: &AnyPool, account_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE account_id = $1")
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(())
}
