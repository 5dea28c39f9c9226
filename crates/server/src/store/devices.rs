//! The `trusted_devices` table: a device token's SHA-256, its label, and when it was made,
//! last used and revoked.

use sqlx::AnyPool;

/// `(id, label, created_at, expires_at, last_used_at)` of a device still trusted.
pub type DeviceRow = (String, String, i64, i64, Option<i64>);

#[derive(Debug)]
pub struct NewDevice<'a> {
    pub id: &'a str,
    pub account_id: i64,
    pub token_hash: &'a [u8],
    pub label: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Removes devices that can never be trusted again (expired or revoked).
pub async fn sweep(pool: &AnyPool, now: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM trusted_devices WHERE expires_at <= $1 OR revoked_at IS NOT NULL")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn insert(pool: &AnyPool, new: &NewDevice<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO trusted_devices (id, account_id, token_hash, label, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.id)
    .bind(new.account_id)
    .bind(new.token_hash)
    .bind(new.label)
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the account's live device with this token as used now; its id, or `None`.
pub async fn use_token(
    pool: &AnyPool,
    account_id: i64,
    token_hash: &[u8],
    now: i64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "UPDATE trusted_devices SET last_used_at = $1
         WHERE token_hash = $2 AND account_id = $3 AND expires_at > $1 AND revoked_at IS NULL
         RETURNING id",
    )
    .bind(now)
    .bind(token_hash)
    .bind(account_id)
    .fetch_optional(pool)
    .await
}

pub async fn revoke_all(pool: &AnyPool, account_id: i64, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE trusted_devices SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The account's devices still trusted at `now`, newest first.
pub async fn live(pool: &AnyPool, account_id: i64, now: i64) -> sqlx::Result<Vec<DeviceRow>> {
    sqlx::query_as(
        "SELECT id, label, created_at, expires_at, last_used_at FROM trusted_devices
         WHERE account_id = $1 AND expires_at > $2 AND revoked_at IS NULL
         ORDER BY created_at DESC, rowid DESC",
    )
    .bind(account_id)
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Revokes one live device of the account; `false` when there was none to revoke.
pub async fn revoke(pool: &AnyPool, account_id: i64, id: &str, now: i64) -> sqlx::Result<bool> {
    let revoked = sqlx::query(
        "UPDATE trusted_devices SET revoked_at = $1
         WHERE id = $2 AND account_id = $3 AND expires_at > $1 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(account_id)
    .execute(pool)
    .await?;
    Ok(revoked.rows_affected() > 0)
}

/// Revokes the device with this token, whoever's it is.
pub async fn revoke_by_token(pool: &AnyPool, token_hash: &[u8], now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE trusted_devices SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(token_hash)
    .execute(pool)
    .await?;
    Ok(())
}
