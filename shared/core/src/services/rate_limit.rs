//! Rate limits and brute-force backoff, with their state in Postgres (unlogged tables) so every
//! Lambda instance sees the same counts. Exceeding a limit is `429 RATE_LIMIT_EXCEEDED` with
//! `Retry-After`.

use crate::config::Limit;
use crate::db::Db;
use crate::error::ApiError;

/// Count one hit on `bucket` (e.g. `auth:ip:203.0.113.10`) in the current fixed window of
/// `limit`; refuse it if the window is already full.
pub async fn hit(db: &Db, bucket: &str, limit: Limit) -> Result<(), ApiError> {
    hits(db, bucket, limit, 1).await
}

/// Count `n` hits at once (a batch that costs by its size, as a contact sync by its numbers);
/// refuse them all if they would overfill the window.
pub async fn hits(db: &Db, bucket: &str, limit: Limit, n: i32) -> Result<(), ApiError> {
    let window = limit.window_secs();
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO rate_limit_counters AS c (bucket, window_start, hits)
             VALUES ($1, to_timestamp(floor(extract(epoch FROM now())::float8 / $2::float8) * $2::float8), $3)
             ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + $3
             RETURNING hits,
                       ceil(extract(epoch FROM c.window_start)::float8 + $2::float8 - extract(epoch FROM now())::float8)
                           AS seconds_left",
        )
        .await?;
    let row = client.query_one(&stmt, &[&bucket, &window, &n]).await?;
    let (hits, remaining): (i32, f64) = (row.get("hits"), row.get("seconds_left"));
    if i64::from(hits) > limit.max {
        return Err(ApiError::RateLimited {
            retry_after_secs: remaining.max(1.0) as u64,
        });
    }
    Ok(())
}

/// A throttle: whether `bucket` may act now, at most once per `every` counted from the last time
/// it did (not per fixed window: a fixed window lets two acts a moment apart through when they
/// straddle its edge). Recorded when it may, in the same table as the counts (one row per act,
/// dropped with them). Two acts at the very same moment may both pass: for what this throttles
/// (typing indicators), a repeat is harmless, a missed one is not.
pub async fn throttle(db: &Db, bucket: &str, every: std::time::Duration) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO rate_limit_counters (bucket, window_start, hits)
             SELECT $1, now(), 1
             WHERE NOT EXISTS (SELECT 1 FROM rate_limit_counters
                               WHERE bucket = $1 AND window_start > now() - make_interval(secs => $2))
             ON CONFLICT (bucket, window_start) DO NOTHING",
        )
        .await?;
    Ok(client
        .execute(&stmt, &[&bucket, &every.as_secs_f64()])
        .await?
        == 1)
}

/// Drop the counts of windows that ended long ago (the scheduled housekeeping). Messages count
/// against their limit in the statement that stores them (`db::messages::insert_many`), in the
/// same table.
pub async fn forget_ended_windows(db: &Db) -> Result<u64, ApiError> {
    let client = db.get().await?;
    Ok(client
        .execute(
            "DELETE FROM rate_limit_counters WHERE window_start < now() - interval '1 day'",
            &[],
        )
        .await?)
}

/// Seconds until `key` may try to log in again, if it is backing off: after `threshold`
/// consecutive failures, 2^(failures - threshold) minutes since the last one, at most an hour.
pub async fn login_backoff(db: &Db, key: &str, threshold: i32) -> Result<Option<u64>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT ceil(extract(epoch FROM last_failure
                      + least(interval '1 hour', interval '1 minute' * power(2, failures - $2)) - now()))::float8
                      AS wait_secs
             FROM login_failures WHERE key = $1 AND failures >= $2",
        )
        .await?;
    let wait = client
        .query_opt(&stmt, &[&key, &threshold])
        .await?
        .map(|r| r.get::<_, f64>("wait_secs"));
    Ok(wait.filter(|w| *w > 0.0).map(|w| w as u64))
}

/// Failures older than this are forgotten: the next one counts from one again, so old typos
/// never add up to a lockout.
const FAILURES_DECAY: &str = "1 hour";

/// Record a failed login for each key.
pub async fn login_failed(db: &Db, keys: &[String]) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO login_failures AS f (key, failures, last_failure) SELECT k, 1, now() FROM unnest($1::text[]) k
             ON CONFLICT (key) DO UPDATE SET last_failure = now(),
                 failures = CASE WHEN f.last_failure < now() - $2::text::interval THEN 1 ELSE f.failures + 1 END",
        )
        .await?;
    client.execute(&stmt, &[&keys, &FAILURES_DECAY]).await?;
    Ok(())
}

/// A successful login clears its keys' failures.
pub async fn login_succeeded(db: &Db, keys: &[String]) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("DELETE FROM login_failures WHERE key = ANY($1)")
        .await?;
    client.execute(&stmt, &[&keys]).await?;
    Ok(())
}
