//! The `bankid_orders` table: orders in flight and just ended, their state as the app sees it,
//! and the lease that says which instance collects each. Lease times are wall-clock
//! milliseconds (shared by all instances); order times are the server clock's.

use std::sync::Arc;

use sqlx::AnyPool;

/// An order as stored. Holds the QR secret: `Debug` shows only the id and status.
#[derive(Clone, sqlx::FromRow)]
pub struct Row {
    pub id: String,
    pub mode: String,
    pub order_ref: String,
    pub auto_start_token: String,
    pub qr_start_token: String,
    pub qr_start_secret: String,
    pub answered_at_ms: i64,
    pub status: String,
    pub version: i64,
    pub hint: Option<String>,
    pub message: Option<String>,
    pub person_id: Option<i64>,
    pub user_name: Option<String>,
    pub user_personal_number: Option<String>,
    pub token_handed_out: i64,
    pub cancel_requested: i64,
    /// The `endUserIp` sent to BankID (empty for orders older than the column).
    pub end_user_ip: String,
    /// A failure of ours rather than BankID's (`bankid_ip_mismatch`).
    pub error_code: Option<String>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// One order by id, in [`Row`]'s order.
const FIND: &str = "SELECT id, mode, order_ref, auto_start_token, qr_start_token, qr_start_secret,
    answered_at_ms, status, version, hint, message, person_id, user_name, user_personal_number,
    token_handed_out, cancel_requested, end_user_ip, error_code FROM bankid_orders WHERE id = $1";

/// A new pending order, leased to `owner` until `lease_until_ms`.
#[derive(Debug)]
pub struct NewOrder<'a> {
    pub id: &'a str,
    pub mode: &'a str,
    pub order_ref: &'a str,
    pub auto_start_token: &'a str,
    pub qr_start_token: &'a str,
    pub qr_start_secret: &'a str,
    pub answered_at_ms: i64,
    pub end_user_ip: &'a str,
    pub hint: &'a str,
    pub message: &'a str,
    pub owner: &'a str,
    pub lease_until_ms: i64,
}

pub async fn insert(pool: &AnyPool, new: &NewOrder<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO bankid_orders (id, mode, order_ref, auto_start_token, qr_start_token,
                                    qr_start_secret, answered_at_ms, status, version, hint,
                                    message, lease_owner, lease_until_ms, end_user_ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 1, $8, $9, $10, $11, $12)",
    )
    .bind(new.id)
    .bind(new.mode)
    .bind(new.order_ref)
    .bind(new.auto_start_token)
    .bind(new.qr_start_token)
    .bind(new.qr_start_secret)
    .bind(new.answered_at_ms)
    .bind(new.hint)
    .bind(new.message)
    .bind(new.owner)
    .bind(new.lease_until_ms)
    .bind(new.end_user_ip)
    .execute(pool)
    .await?;
    Ok(())
}

/// [`find`], on SQLite read in this thread (see `store::inline`; given again without a read
/// while the file holds no new commit) when it can be: the app's long polls read the order at
/// every answer. Shared, not copied: a row given again from memory is the same one (copying
/// its dozen strings was a tenth of a status answer's own time under load).
pub async fn find_in(store: &super::Store, id: &str) -> sqlx::Result<Option<Arc<Row>>> {
    let inline = store.read_inline_cached("bankid_orders by id", id.as_bytes(), |connection| {
        use rusqlite::OptionalExtension as _;
        connection
            .prepare_cached(FIND)?
            .query_row([id], |row| {
                Ok(Row {
                    id: row.get(0)?,
                    mode: row.get(1)?,
                    order_ref: row.get(2)?,
                    auto_start_token: row.get(3)?,
                    qr_start_token: row.get(4)?,
                    qr_start_secret: row.get(5)?,
                    answered_at_ms: row.get(6)?,
                    status: row.get(7)?,
                    version: row.get(8)?,
                    hint: row.get(9)?,
                    message: row.get(10)?,
                    person_id: row.get(11)?,
                    user_name: row.get(12)?,
                    user_personal_number: row.get(13)?,
                    token_handed_out: row.get(14)?,
                    cancel_requested: row.get(15)?,
                    end_user_ip: row.get(16)?,
                    error_code: row.get(17)?,
                })
            })
            .optional()
            .map(|row| row.map(Arc::new))
    });
    match inline {
        Some(row) => Ok(row),
        None => Ok(find(store.pool(), id).await?.map(Arc::new)),
    }
}

pub async fn find(pool: &AnyPool, id: &str) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(FIND).bind(id).fetch_optional(pool).await
}

/// Removes orders that ended before `ended_before_ms` (server clock).
pub async fn sweep(pool: &AnyPool, ended_before_ms: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM bankid_orders WHERE ended_at_ms < $1")
        .bind(ended_before_ms)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete(pool: &AnyPool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM bankid_orders WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Extends `owner`'s lease on a pending order. `None` when the order is no longer `owner`'s
/// to collect (ended, gone, or taken over); else whether the app asked to cancel it.
pub async fn renew(
    pool: &AnyPool,
    id: &str,
    owner: &str,
    lease_until_ms: i64,
) -> sqlx::Result<Option<bool>> {
    let cancel: Option<i64> = sqlx::query_scalar(
        "UPDATE bankid_orders SET lease_until_ms = $1
         WHERE id = $2 AND lease_owner = $3 AND status = 'pending'
         RETURNING cancel_requested",
    )
    .bind(lease_until_ms)
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    Ok(cancel.map(|c| c != 0))
}

/// Pending orders whose lease ran out at `now_ms`: some instance died holding them.
pub async fn orphans(pool: &AnyPool, now_ms: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM bankid_orders WHERE status = 'pending' AND lease_until_ms < $1
         ORDER BY lease_until_ms LIMIT 100",
    )
    .bind(now_ms)
    .fetch_all(pool)
    .await
}

/// Takes the lease of a pending order whose lease ran out; `true` for the one instance that
/// got it.
pub async fn take_over(
    pool: &AnyPool,
    id: &str,
    owner: &str,
    now_ms: i64,
    lease_until_ms: i64,
) -> sqlx::Result<bool> {
    let taken = sqlx::query(
        "UPDATE bankid_orders SET lease_owner = $1, lease_until_ms = $2
         WHERE id = $3 AND status = 'pending' AND lease_until_ms < $4",
    )
    .bind(owner)
    .bind(lease_until_ms)
    .bind(id)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Lets go of every lease `owner` holds (a graceful shutdown): others take over at once.
pub async fn release_leases(pool: &AnyPool, owner: &str) -> sqlx::Result<u64> {
    let released = sqlx::query(
        "UPDATE bankid_orders SET lease_until_ms = 0 WHERE lease_owner = $1 AND status = 'pending'",
    )
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// The app asks to cancel: whoever collects the order cancels it at BankID.
pub async fn request_cancel(pool: &AnyPool, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE bankid_orders SET cancel_requested = 1 WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// What changes when BankID answers: the new state of a pending order.
#[derive(Debug)]
pub struct Update<'a> {
    pub status: &'a str,
    pub hint: Option<&'a str>,
    pub message: Option<&'a str>,
    /// A failure of ours (`bankid_ip_mismatch`): the app shows it instead of `message`.
    pub error_code: Option<&'a str>,
    /// Set when the order ends (complete or failed).
    pub ended_at_ms: Option<i64>,
    /// Complete: `(person_id, name, masked personnummer)`.
    pub user: Option<(i64, &'a str, &'a str)>,
}

/// Applies an update to a still-pending order if `owner` holds it (or, with `owner` `None`,
/// whoever does); the version moves only if the app would see a difference. `true` when the
/// row changed.
pub async fn update(
    pool: &AnyPool,
    id: &str,
    owner: Option<&str>,
    update: &Update<'_>,
) -> sqlx::Result<bool> {
    let (person_id, user_name, personal_number) = match update.user {
        Some((person_id, name, number)) => (Some(person_id), Some(name), Some(number)),
        None => (None, None, None),
    };
    // `IS NOT DISTINCT FROM` is PostgreSQL's NULL-safe `=`; SQLite spells it `IS`, and takes
    // the standard form too (3.39+).
    let changed = sqlx::query(
        "UPDATE bankid_orders SET status = $1, hint = $2, message = $3, ended_at_ms = $4,
                person_id = $5, user_name = $6, user_personal_number = $7,
                error_code = $10, version = version + 1
         WHERE id = $8 AND status = 'pending' AND ($9 IS NULL OR lease_owner = $9)
           AND NOT (status = $1 AND hint IS NOT DISTINCT FROM $2
                    AND message IS NOT DISTINCT FROM $3)",
    )
    .bind(update.status)
    .bind(update.hint)
    .bind(update.message)
    .bind(update.ended_at_ms)
    .bind(person_id)
    .bind(user_name)
    .bind(personal_number)
    .bind(id)
    .bind(owner)
    .bind(update.error_code)
    .execute(pool)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// Marks a complete order's session as handed out; the person to make it for, for the one
/// request that did.
pub async fn hand_out(pool: &AnyPool, id: &str, ended_after_ms: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE bankid_orders SET token_handed_out = 1
         WHERE id = $1 AND status = 'complete' AND token_handed_out = 0 AND ended_at_ms > $2
         RETURNING person_id",
    )
    .bind(id)
    .bind(ended_after_ms)
    .fetch_optional(pool)
    .await
}

/// Ends a completed order nobody collected, completed at or before `ended_by_ms`: it fails
/// (RFA5, try again) and its session is never made. `true` when this call ended it.
pub async fn end_uncollected(pool: &AnyPool, id: &str, ended_by_ms: i64) -> sqlx::Result<bool> {
    let ended = sqlx::query(
        "UPDATE bankid_orders SET status = 'failed', message = 'RFA5', version = version + 1
         WHERE id = $1 AND status = 'complete' AND token_handed_out = 0 AND ended_at_ms <= $2",
    )
    .bind(id)
    .bind(ended_by_ms)
    .execute(pool)
    .await?;
    Ok(ended.rows_affected() == 1)
}
