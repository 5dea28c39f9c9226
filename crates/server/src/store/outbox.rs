//! The `demo_outbox` table (demo mode only): the newest few hundred messages, oldest first.

use sqlx::AnyPool;

/// `(channel, to, subject, body, sent_at)` as stored.
pub type MessageRow = (String, String, Option<String>, String, String);

/// Adds a message and forgets all but the newest `keep`.
pub async fn push(pool: &AnyPool, message: &MessageRow, keep: i64) -> sqlx::Result<()> {
    let (channel, to, subject, body, sent_at) = message;
    sqlx::query(
        "INSERT INTO demo_outbox (channel, to_addr, subject, body, sent_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(channel)
    .bind(to)
    .bind(subject.as_deref())
    .bind(body)
    .bind(sent_at)
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM demo_outbox WHERE id <= (SELECT MAX(id) FROM demo_outbox) - $1")
        .bind(keep)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn all(pool: &AnyPool) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as("SELECT channel, to_addr, subject, body, sent_at FROM demo_outbox ORDER BY id")
        .fetch_all(pool)
        .await
}
