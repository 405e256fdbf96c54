//! Marks on messages: pins (chat-wide, at most 3 live per chat, expiring), stars (each user's
//! own) and keeping a disappearing message (chat-wide). Run in the caller's transaction, after
//! the message was found visible.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::{PinnedMessage, Timestamp};
use crate::error::ApiError;

/// Live pins a chat may hold at once.
pub const MAX_PINS: i64 = 3;

pub enum Pinned {
    /// Pinned (or its pin renewed) until `expires_at`; `replaced`, the message whose pin made
    /// room for it.
    Until {
        expires_at: Timestamp,
        replaced: Option<Uuid>,
    },
    /// The chat already holds `MAX_PINS` other live pins (and none was to be replaced).
    Full,
}

/// Pin a message for `seconds` (renewing its pin if it has one). Pins of one chat are counted
/// under its row lock, so two at once cannot pass the limit together. With the chat full,
/// `replace_oldest` unpins the pin made longest ago to make room (WhatsApp's "replace oldest
/// pin?"), in the same transaction.
pub async fn pin(
    client: &impl GenericClient,
    chat_id: Uuid,
    message_id: Uuid,
    by: Uuid,
    seconds: i64,
    replace_oldest: bool,
) -> Result<Pinned, ApiError> {
    let lock = client
        .prepare_cached("SELECT 1 FROM chats WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    client.execute(&lock, &[&chat_id]).await?;
    let stmt = client
        .prepare_cached(
            "WITH expired AS (
                 DELETE FROM message_pins WHERE chat_id = $1 AND expires_at <= now()
             )
             SELECT count(*) AS others FROM message_pins
             WHERE chat_id = $1 AND message_id <> $2 AND expires_at > now()",
        )
        .await?;
    let others: i64 = client
        .query_one(&stmt, &[&chat_id, &message_id])
        .await?
        .get("others");
    let mut replaced = None;
    if others >= MAX_PINS {
        if !replace_oldest {
            return Ok(Pinned::Full);
        }
        let stmt = client
            .prepare_cached(
                "DELETE FROM message_pins WHERE (chat_id, message_id) = (
                     SELECT chat_id, message_id FROM message_pins
                     WHERE chat_id = $1 AND message_id <> $2
                     ORDER BY pinned_at, message_id LIMIT 1)
                 RETURNING message_id",
            )
            .await?;
        replaced = client
            .query_opt(&stmt, &[&chat_id, &message_id])
            .await?
            .map(|r| r.get("message_id"));
    }
    let stmt = client
        .prepare_cached(
            "INSERT INTO message_pins (chat_id, message_id, pinned_by, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))
             ON CONFLICT (chat_id, message_id) DO UPDATE
                 SET pinned_by = excluded.pinned_by, pinned_at = now(), expires_at = excluded.expires_at
             RETURNING expires_at",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&chat_id, &message_id, &by, &(seconds as f64)])
        .await?;
    Ok(Pinned::Until {
        expires_at: Timestamp(row.get("expires_at")),
        replaced,
    })
}

/// Unpin a message. Whether it had a live pin.
pub async fn unpin(
    client: &impl GenericClient,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM message_pins WHERE chat_id = $1 AND message_id = $2 RETURNING expires_at > now() AS live",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&chat_id, &message_id])
        .await?
        .is_some_and(|r| r.get("live")))
}

/// A chat's live pins that `viewer` sees the message of (not one from before they joined,
/// cleared or deleted for themselves, nor one from someone they block), most recently pinned
/// first.
pub async fn pins_of(
    client: &impl GenericClient,
    chat_id: Uuid,
    viewer: Uuid,
) -> Result<Vec<PinnedMessage>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT pin.message_id, pin.pinned_by, pin.pinned_at, pin.expires_at
             FROM message_pins pin
             JOIN messages m ON m.id = pin.message_id
             JOIN chat_participants p ON p.chat_id = pin.chat_id AND p.user_id = $2
             WHERE pin.chat_id = $1 AND pin.expires_at > now()
               AND NOT m.deleted_for_everyone AND {not_expired} AND {sees}
             ORDER BY pin.pinned_at DESC, pin.message_id",
            not_expired = super::not_expired("m"),
            sees = super::sees_message("p", "$2", "m"),
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&chat_id, &viewer])
        .await?
        .iter()
        .map(|r| PinnedMessage {
            message_id: r.get("message_id"),
            pinned_by: r.get("pinned_by"),
            pinned_at: Timestamp(r.get("pinned_at")),
            expires_at: Timestamp(r.get("expires_at")),
        })
        .collect())
}

/// Star a message for `user`. Whether it was not starred yet.
pub async fn star(
    client: &impl GenericClient,
    user: Uuid,
    message_id: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO message_stars (user_id, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .await?;
    Ok(client.execute(&stmt, &[&user, &message_id]).await? == 1)
}

/// Unstar a message for `user`. Whether it was starred.
pub async fn unstar(
    client: &impl GenericClient,
    user: Uuid,
    message_id: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached("DELETE FROM message_stars WHERE user_id = $1 AND message_id = $2")
        .await?;
    Ok(client.execute(&stmt, &[&user, &message_id]).await? == 1)
}

/// A message kept (`V49`).
pub struct Kept {
    /// Who kept it (none once their account is erased).
    pub by: Option<Uuid>,
    /// This call kept it (it was not kept before).
    pub now: bool,
}

/// Keep a disappearing message for everyone (it stops disappearing). `None` if it is neither
/// disappearing nor kept already.
pub async fn keep(
    client: &impl GenericClient,
    message_id: Uuid,
    user: Uuid,
) -> Result<Option<Kept>, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH kept AS (
                 UPDATE messages SET kept_at = now(), kept_by = $2,
                                     expires_unless_kept = expires_at, expires_at = NULL
                 WHERE id = $1 AND kept_at IS NULL AND expires_at IS NOT NULL
                 RETURNING kept_by)
             SELECT EXISTS (SELECT 1 FROM kept) AS changed,
                    m.kept_at IS NOT NULL OR EXISTS (SELECT 1 FROM kept) AS kept,
                    coalesce((SELECT kept_by FROM kept), m.kept_by) AS kept_by
             FROM messages m WHERE m.id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&message_id, &user]).await? else {
        return Ok(None);
    };
    let kept: bool = row.get("kept");
    Ok(kept.then(|| Kept {
        by: row.get("kept_by"),
        now: row.get("changed"),
    }))
}

/// Who kept a message, if it is kept.
pub async fn kept_by(
    client: &impl GenericClient,
    message_id: Uuid,
) -> Result<Option<Option<Uuid>>, ApiError> {
    let stmt = client
        .prepare_cached("SELECT kept_by FROM messages WHERE id = $1 AND kept_at IS NOT NULL")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&message_id])
        .await?
        .map(|r| r.get("kept_by")))
}

/// Unkeep a kept message: it disappears at its own time again, or at once if that has passed.
/// When it disappears now.
pub async fn unkeep(
    client: &impl GenericClient,
    message_id: Uuid,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE messages SET expires_at = greatest(expires_unless_kept, now()),
                                 kept_at = NULL, kept_by = NULL, expires_unless_kept = NULL
             WHERE id = $1 AND kept_at IS NOT NULL RETURNING expires_at",
        )
        .await?;
    let row = client.query_one(&stmt, &[&message_id]).await?;
    Ok(row.get("expires_at"))
}
