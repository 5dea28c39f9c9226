//! The `rate_limits` table: attempts per (scope, key) in a window that starts at the first
//! attempt. One statement reserves an attempt (or refuses it), so instances sharing the
//! database, and parallel requests on one, can never count past the limit.

use sqlx::AnyPool;

/// Reserves one attempt under `max` per `window` seconds: `None` when reserved, else the
/// seconds until the window ends and the key may try again.
pub async fn reserve(
    pool: &AnyPool,
    scope: &str,
    key: &str,
    max: i64,
    window: i64,
    now: i64,
) -> sqlx::Result<Option<u64>> {
    // On a conflict both dialects lock the row and evaluate every SET against the old values;
    // the WHERE refuses a full, unexpired window, and then nothing is returned.
    let reserved: Option<i64> = sqlx::query_scalar(
        "INSERT INTO rate_limits (scope, key, window_ends_at, hits) VALUES ($1, $2, $3 + $4, 1)
         ON CONFLICT (scope, key) DO UPDATE SET
             hits = CASE WHEN rate_limits.window_ends_at <= $3 THEN 1
                         ELSE rate_limits.hits + 1 END,
             window_ends_at = CASE WHEN rate_limits.window_ends_at <= $3 THEN $3 + $4
                                   ELSE rate_limits.window_ends_at END
         WHERE rate_limits.window_ends_at <= $3 OR rate_limits.hits < $5
         RETURNING hits",
    )
    .bind(scope)
    .bind(key)
    .bind(now)
    .bind(window)
    .bind(max)
    .fetch_optional(pool)
    .await?;
    if reserved.is_some() {
        return Ok(None);
    }
    let ends_at: Option<i64> =
        sqlx::query_scalar("SELECT window_ends_at FROM rate_limits WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(pool)
            .await?;
    let ends_at = ends_at.unwrap_or(now);
    Ok(Some((ends_at - now).max(1).unsigned_abs()))
}

/// Gives back one attempt reserved in the current window (the attempt turned out not to be
/// a failure).
pub async fn release(pool: &AnyPool, scope: &str, key: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE rate_limits SET hits = hits - 1
         WHERE scope = $1 AND key = $2 AND hits > 0 AND window_ends_at > $3",
    )
    .bind(scope)
    .bind(key)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets the key's attempts.
pub async fn clear(pool: &AnyPool, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM rate_limits WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes rows whose window has ended: they count nothing any more.
pub async fn sweep(pool: &AnyPool, now: i64) -> sqlx::Result<u64> {
    let swept = sqlx::query("DELETE FROM rate_limits WHERE window_ends_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(swept.rows_affected())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::Database;
    use crate::store::Store;

    #[tokio::test]
    async fn a_window_fills_refuses_then_empties() {
        let store = Store::open(&Database::Temporary).await.unwrap();
        let pool = store.pool();
        for at in [0, 10, 20] {
            assert_eq!(reserve(pool, "s", "k", 3, 60, at).await.unwrap(), None);
        }
        assert_eq!(reserve(pool, "s", "k", 3, 60, 30).await.unwrap(), Some(30));
        assert_eq!(reserve(pool, "s", "other", 3, 60, 30).await.unwrap(), None);
        assert_eq!(reserve(pool, "t", "k", 3, 60, 30).await.unwrap(), None);
        assert_eq!(
            reserve(pool, "s", "k", 3, 60, 60).await.unwrap(),
            None,
            "the window ended"
        );
    }

    #[tokio::test]
    async fn release_gives_back_and_clear_forgets() {
        let store = Store::open(&Database::Temporary).await.unwrap();
        let pool = store.pool();
        assert_eq!(reserve(pool, "s", "k", 1, 60, 0).await.unwrap(), None);
        assert!(reserve(pool, "s", "k", 1, 60, 1).await.unwrap().is_some());
        release(pool, "s", "k", 1).await.unwrap();
        assert_eq!(reserve(pool, "s", "k", 1, 60, 2).await.unwrap(), None);
        clear(pool, "s", "k").await.unwrap();
        assert_eq!(reserve(pool, "s", "k", 1, 60, 3).await.unwrap(), None);
        assert_eq!(sweep(pool, 63).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn parallel_reservations_never_overshoot() {
        let store = Store::open(&Database::Temporary).await.unwrap();
        let pool = store.pool().clone();
        let attempts = (0..40).map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { reserve(&pool, "s", "k", 5, 60, 0).await.unwrap() })
        });
        let mut reserved = 0;
        for attempt in attempts {
            if attempt.await.unwrap().is_none() {
                reserved += 1;
            }
        }
        assert_eq!(reserved, 5);
    }
}
