//! Device sessions and their single-use refresh tokens.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::{Session, Timestamp};
use crate::auth::tokens::Caller;

use crate::error::ApiError;

use super::{truncate_chars, Db};

pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub remember_me: bool,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    pub refresh_hash: &'a [u8],
}

/// Create a device session with its first refresh token, in one statement; 403 if the account
/// is suspended. The account's row is share-locked until the caller commits, so a suspension
/// committing meanwhile waits, and then revokes this session too.
pub async fn create(client: &impl GenericClient, s: &NewSession<'_>) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH account AS (
                 SELECT id FROM users WHERE id = $2 AND suspended_at IS NULL FOR SHARE
             ), session AS (
                 INSERT INTO device_sessions (id, user_id, remember_me, expires_at, user_agent, ip_address)
                 SELECT $1, id, $3, $4, $5, $6 FROM account RETURNING id, expires_at)
             INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
             SELECT $7, id, expires_at FROM session",
        )
        .await?;
    let ua = s.user_agent.map(|u| truncate_chars(u, 500));
    let created = client
        .execute(
            &stmt,
            &[
                &s.id,
                &s.user_id,
                &s.remember_me,
                &s.expires_at,
                &ua,
                &s.ip_address,
                &s.refresh_hash,
            ],
        )
        .await?;
    if created == 0 {
        return Err(ApiError::PermissionDenied(
            "this account is suspended".into(),
        ));
    }
    Ok(())
}

pub enum Rotation {
    /// The token was live: it is now spent and `new_hash` replaces it.
    Rotated { user_id: Uuid, session_id: Uuid },
    /// The token had been used before (longer ago than the retry grace): its session is now
    /// revoked.
    Reused { user_id: Uuid, session_id: Uuid },
    /// Unknown, expired, or its session is gone.
    Invalid,
}

/// Spend a refresh token and store its successor, or detect reuse and revoke the session.
pub async fn rotate_refresh(
    db: &Db,
    old_hash: &[u8],
    new_hash: &[u8],
    grace: std::time::Duration,
) -> Result<Rotation, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let spent = tx
        .query_opt(
            "UPDATE refresh_tokens t SET used_at = now()
             FROM device_sessions s
             WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
               AND s.id = t.session_id AND s.revoked_at IS NULL
             RETURNING s.id AS session_id, s.user_id, s.expires_at",
            &[&old_hash],
        )
        .await?;
    if let Some(row) = spent {
        let (session_id, user_id, expires_at): (Uuid, Uuid, DateTime<Utc>) = (
            row.get("session_id"),
            row.get("user_id"),
            row.get("expires_at"),
        );
        tx.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
            &[&new_hash, &session_id, &expires_at],
        )
        .await?;
        tx.execute(
            "UPDATE device_sessions SET last_used_at = now() WHERE id = $1",
            &[&session_id],
        )
        .await?;
        tx.commit().await?;
        return Ok(Rotation::Rotated {
            user_id,
            session_id,
        });
    }
    let reused = tx
        .query_opt(
            "SELECT t.session_id, s.user_id, s.expires_at,
                    s.revoked_at IS NULL AND t.used_at > now() - make_interval(secs => $2) AS retry
             FROM refresh_tokens t JOIN device_sessions s ON s.id = t.session_id
             WHERE t.token_hash = $1 AND t.used_at IS NOT NULL",
            &[&old_hash, &grace.as_secs_f64()],
        )
        .await?;
    let outcome = match reused {
        // Spent moments ago on a live session: a client retrying a refresh whose answer it
        // lost. It gets a new pair; the pair it lost is spent.
        Some(row) if row.get::<_, bool>("retry") => {
            let session_id: Uuid = row.get("session_id");
            let expires_at: DateTime<Utc> = row.get("expires_at");
            tx.execute(
                "UPDATE refresh_tokens SET used_at = now() WHERE session_id = $1 AND used_at IS NULL",
                &[&session_id],
            )
            .await?;
            tx.execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
                &[&new_hash, &session_id, &expires_at],
            )
            .await?;
            Rotation::Rotated {
                user_id: row.get("user_id"),
                session_id,
            }
        }
        Some(row) => {
            let session_id: Uuid = row.get("session_id");
            let user_id: Uuid = row.get("user_id");
            tx.execute(
                "UPDATE device_sessions SET revoked_at = now(), revoked_reason = 'refresh token reused'
                 WHERE id = $1 AND revoked_at IS NULL",
                &[&session_id],
            )
            .await?;
            Rotation::Reused {
                user_id,
                session_id,
            }
        }
        None => Rotation::Invalid,
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Revoke the session a refresh token belongs to (logout). Returns the session id.
pub async fn revoke_by_refresh(
    db: &Db,
    hash: &[u8],
    user_id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE device_sessions s SET revoked_at = now(), revoked_reason = 'logout'
             FROM refresh_tokens t
             WHERE t.token_hash = $1 AND s.id = t.session_id AND s.user_id = $2 AND s.revoked_at IS NULL
             RETURNING s.id",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&hash, &user_id])
        .await?
        .map(|r| r.get("id")))
}

/// Was this device session started (a login, a registration) within `window`?
pub async fn started_within(
    db: &Db,
    session_id: Uuid,
    window: std::time::Duration,
) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM device_sessions
                            WHERE id = $1 AND created_at > now() - make_interval(secs => $2)) AS recent",
        )
        .await?;
    Ok(client
        .query_one(&stmt, &[&session_id, &window.as_secs_f64()])
        .await?
        .get("recent"))
}

/// Is this device session live (not revoked, not expired)?
pub async fn is_active(db: &Db, session_id: Uuid, user_id: Uuid) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM device_sessions
                            WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()) AS active",
        )
        .await?;
    Ok(client
        .query_one(&stmt, &[&session_id, &user_id])
        .await?
        .get("active"))
}

/// Revoke one of the user's sessions by id. Returns the id if it was live.
pub async fn revoke_session(
    db: &Db,
    session_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE device_sessions SET revoked_at = now(), revoked_reason = 'logout'
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&session_id, &user_id])
        .await?
        .map(|r| r.get("id")))
}

/// The user's live sessions, newest first.
pub async fn list(db: &Db, caller: Caller) -> Result<Vec<Session>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT s.id, s.device_name, s.user_agent, s.ip_address, s.remember_me, s.created_at,
                    s.last_used_at, s.expires_at, k.identity_key
             FROM device_sessions s LEFT JOIN device_keys k ON k.session_id = s.id
             WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
             ORDER BY s.created_at DESC",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&caller.user_id])
        .await?
        .iter()
        .map(|r| {
            let id: Uuid = r.get("id");
            Session {
                id,
                device_name: r.get("device_name"),
                user_agent: r.get("user_agent"),
                ip_address: r.get("ip_address"),
                remember_me: r.get("remember_me"),
                created_at: Timestamp(r.get("created_at")),
                last_used_at: Timestamp(r.get("last_used_at")),
                expires_at: Timestamp(r.get("expires_at")),
                current: id == caller.session_id,
                identity_key: r
                    .get::<_, Option<Vec<u8>>>("identity_key")
                    .map(|k| STANDARD.encode(k)),
            }
        })
        .collect())
}

/// Revoke the user's live sessions beyond the `keep` used most recently (refreshed or made),
/// in the caller's transaction: a login past the account's limit. Returns their ids.
pub async fn revoke_least_recently_used(
    client: &impl GenericClient,
    user_id: Uuid,
    keep: usize,
) -> Result<Vec<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE device_sessions SET revoked_at = now(), revoked_reason = 'signed out for a new device'
             WHERE id IN (SELECT id FROM device_sessions
                          WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
                          ORDER BY last_used_at DESC, created_at DESC, id DESC OFFSET $2)
             RETURNING id",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&user_id, &(keep as i64)])
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect())
}

/// Revoke every live session of the user (password reset, account deletion) but `keep` (the
/// device that changed the password). Returns their ids.
pub async fn revoke_all(
    db: &Db,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<Vec<Uuid>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE device_sessions SET revoked_at = now(), revoked_reason = $2
             WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3 RETURNING id",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&user_id, &reason, &keep])
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect())
}
