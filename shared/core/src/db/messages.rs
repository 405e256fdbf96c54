//! Queries on `messages`: the idempotent insert that assigns a per-chat `seq`, the `Message`
//! shape (PRD 1.5 plus `clientMessageId` and `seq`), history pages and delivery watermarks.

use serde_json::{json, Value};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::ApiError;
use crate::wire::rfc3339;

use super::Db;

pub struct NewMessage<'a> {
    pub id: Uuid,
    pub chat_id: Uuid,
    pub sender_id: Uuid,
    pub client_message_id: &'a str,
    pub kind: &'a str,
    pub content: Option<&'a str>,
    pub reply_to: Option<Uuid>,
    pub metadata: &'a Value,
}

pub enum Stored {
    /// Stored now; `members` are the chat's active members who should receive it (members who
    /// block the sender are left out).
    Created { message: Value, members: Vec<Uuid> },
    /// The sender had already sent this `clientMessageId`: the stored message's id.
    Existing { id: Uuid },
    /// The sender is not an active member of the chat (or it does not exist).
    NotMember,
    /// `replyTo` names no message of this chat.
    BadReply,
    /// A 1:1 chat where one of the two blocks the other.
    Blocked,
    /// The `clientMessageId` was used before for a message in another chat.
    IdReusedElsewhere,
}

/// Store a message, in one statement: check membership, take the next `seq` under the chat's row
/// lock, insert unless the sender already sent this `clientMessageId`. The statement commits
/// before this returns, so a `Created` message is durable.
pub async fn insert_or_find(db: &Db, m: &NewMessage<'_>) -> Result<Stored, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH member AS (
                 SELECT 1 FROM chat_participants WHERE chat_id = $2 AND user_id = $3 AND left_at IS NULL
             ), existing AS (
                 SELECT id, chat_id FROM messages WHERE sender_id = $3 AND client_message_id = $4
             ), block AS (
                 SELECT EXISTS (
                     SELECT 1 FROM chats c
                     JOIN chat_participants o ON o.chat_id = c.id AND o.user_id <> $3
                     JOIN user_relationships b ON b.relationship_type = 'blocked'
                      AND ((b.user_id = o.user_id AND b.related_user_id = $3) OR (b.user_id = $3 AND b.related_user_id = o.user_id))
                     WHERE c.id = $2 AND c.type = 'individual') AS blocked
             ), reply_ok AS (
                 SELECT $7::uuid IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = $7 AND chat_id = $2) AS ok
             ), next AS (
                 UPDATE chats SET last_seq = last_seq + 1
                 WHERE id = $2 AND EXISTS (SELECT 1 FROM member) AND NOT EXISTS (SELECT 1 FROM existing)
                   AND (SELECT ok FROM reply_ok) AND NOT (SELECT blocked FROM block)
                 RETURNING last_seq
             ), inserted AS (
                 INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, type, content, reply_to_id, metadata)
                 SELECT $1, $2, $3, $4, last_seq, $5, $6, $7, $8 FROM next
                 ON CONFLICT (sender_id, client_message_id) DO NOTHING
                 RETURNING *
             )
             -- The stored message in MESSAGE_SELECT's columns (all NULL when nothing was stored),
             -- then what decides the outcome.
             SELECT i.id, i.chat_id, i.client_message_id, i.seq, i.type, i.content, i.metadata,
                    i.is_edited, i.deleted_for_everyone, i.created_at, i.updated_at, i.sender_id, u.username,
                    u.profile_picture_url, i.reply_to_id, r.content, ru.username, r.deleted_for_everyone,
                    EXISTS (SELECT 1 FROM member), (SELECT ok FROM reply_ok),
                    (SELECT id FROM existing), (SELECT chat_id FROM existing),
                    ARRAY(SELECT p.user_id FROM chat_participants p WHERE p.chat_id = $2 AND p.left_at IS NULL
                          AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.user_id = p.user_id
                                          AND b.related_user_id = $3 AND b.relationship_type = 'blocked')),
                    (SELECT blocked FROM block)
             FROM (SELECT 1) AS one
             LEFT JOIN inserted i ON true
             LEFT JOIN users u ON u.id = i.sender_id
             LEFT JOIN messages r ON r.id = i.reply_to_id
             LEFT JOIN users ru ON ru.id = r.sender_id",
        )
        .await?;
    // A concurrent send of the same clientMessageId can commit between our snapshot and our
    // insert; the second attempt then sees it as existing.
    for _ in 0..2 {
        let row = client
            .query_one(
                &stmt,
                &[
                    &m.id,
                    &m.chat_id,
                    &m.sender_id,
                    &m.client_message_id,
                    &m.kind,
                    &m.content,
                    &m.reply_to,
                    m.metadata,
                ],
            )
            .await?;
        let (member, reply_ok): (bool, bool) = (row.get(18), row.get(19));
        let inserted: Option<Uuid> = row.get(0);
        let existing: Option<Uuid> = row.get(20);
        if let Some(id) = existing {
            let chat: Uuid = row.get(21);
            return Ok(if chat == m.chat_id {
                Stored::Existing { id }
            } else {
                Stored::IdReusedElsewhere
            });
        }
        if !member {
            return Ok(Stored::NotMember);
        }
        if row.get::<_, bool>(23) {
            return Ok(Stored::Blocked);
        }
        if !reply_ok {
            return Ok(Stored::BadReply);
        }
        if inserted.is_some() {
            return Ok(Stored::Created {
                message: message_json(&row, "sent"),
                members: row.get(22),
            });
        }
    }
    Err(ApiError::Internal(
        "message insert neither stored nor found the message".into(),
    ))
}

const MESSAGE_SELECT: &str =
    "SELECT m.id, m.chat_id, m.client_message_id, m.seq, m.type, m.content, m.metadata,
        m.is_edited, m.deleted_for_everyone, m.created_at, m.updated_at, m.sender_id, u.username,
        u.profile_picture_url, m.reply_to_id, r.content, ru.username, r.deleted_for_everyone
     FROM messages m
     LEFT JOIN users u ON u.id = m.sender_id
     LEFT JOIN messages r ON r.id = m.reply_to_id
     LEFT JOIN users ru ON ru.id = r.sender_id";

/// The `Message` shape. `status` is the sender's view of the receipts (`sent` / `delivered` /
/// `read`), given the lowest delivered and read watermarks among the other members.
fn message_json(r: &Row, status: &str) -> Value {
    let deleted: bool = r.get(8);
    let sender_id: Option<Uuid> = r.get(11);
    // Only id and username: a picture would depend on each reader's standing with the sender
    // (privacy), so clients take it from the sender's profile.
    let sender =
        sender_id.map(|id| json!({ "id": id, "username": r.get::<_, Option<String>>(12) }));
    let reply_to = r.get::<_, Option<Uuid>>(14).map(|id| {
        let reply_deleted = r.get::<_, Option<bool>>(17).unwrap_or(false);
        json!({
            "id": id,
            "content": if reply_deleted { None } else { r.get::<_, Option<String>>(15) },
            "sender": r.get::<_, Option<String>>(16),
        })
    });
    json!({
        "id": r.get::<_, Uuid>(0),
        "chatId": r.get::<_, Uuid>(1),
        "clientMessageId": r.get::<_, String>(2),
        "seq": r.get::<_, i64>(3),
        "sender": sender,
        "content": if deleted { None } else { r.get::<_, Option<String>>(5) },
        "type": r.get::<_, String>(4),
        "mediaUrl": Value::Null,
        "thumbnailUrl": Value::Null,
        "replyTo": reply_to,
        "metadata": if deleted { json!({}) } else { r.get::<_, Value>(6) },
        "isEdited": r.get::<_, bool>(7),
        "isDeleted": deleted,
        "reactions": [],
        "status": status,
        "createdAt": rfc3339(r.get(9)),
        "updatedAt": rfc3339(r.get(10)),
    })
}

/// One message as just stored (status `sent`).
pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<Value>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!("{MESSAGE_SELECT} WHERE m.id = $1"))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| message_json(&r, "sent")))
}

pub enum Cursor {
    Latest,
    Before(Uuid),
    After(Uuid),
}

/// A page of history, oldest first, or `None` if the viewer is not a member of the chat.
/// Returns the messages and whether more exist in the paging direction.
pub async fn history(
    db: &Db,
    chat_id: Uuid,
    viewer: Uuid,
    cursor: Cursor,
    limit: i64,
) -> Result<Option<(Vec<Value>, bool)>, ApiError> {
    let client = db.get().await?;
    let me = client
        .prepare_cached(
            "SELECT me.cleared_seq,
                    (SELECT min(delivered_seq) FROM chat_participants o WHERE o.chat_id = $1 AND o.user_id <> $2 AND o.left_at IS NULL),
                    (SELECT min(read_seq) FROM chat_participants o WHERE o.chat_id = $1 AND o.user_id <> $2 AND o.left_at IS NULL)
             FROM chat_participants me WHERE me.chat_id = $1 AND me.user_id = $2 AND me.left_at IS NULL",
        )
        .await?;
    let Some(me) = client.query_opt(&me, &[&chat_id, &viewer]).await? else {
        return Ok(None);
    };
    let cleared: i64 = me.get(0);
    let delivered: i64 = me.get::<_, Option<i64>>(1).unwrap_or(0);
    let read: i64 = me.get::<_, Option<i64>>(2).unwrap_or(0);

    let client = &client;
    let anchor_seq = |id: Uuid| async move {
        let stmt = client
            .prepare_cached("SELECT seq FROM messages WHERE id = $1 AND chat_id = $2")
            .await?;
        client
            .query_opt(&stmt, &[&id, &chat_id])
            .await?
            .map(|r| r.get::<_, i64>(0))
            .ok_or(ApiError::NotFound("cursor message"))
    };
    let visible = "m.chat_id = $1 AND m.seq > $2
        AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = $3 AND h.message_id = m.id)";
    let (rows, ascending) = match cursor {
        Cursor::After(id) => {
            let from = anchor_seq(id).await?;
            let sql = format!(
                "{MESSAGE_SELECT} WHERE {visible} AND m.seq > $4 ORDER BY m.seq ASC LIMIT $5"
            );
            let stmt = client.prepare_cached(&sql).await?;
            (
                client
                    .query(&stmt, &[&chat_id, &cleared, &viewer, &from, &(limit + 1)])
                    .await?,
                true,
            )
        }
        other => {
            let upto = match other {
                Cursor::Before(id) => anchor_seq(id).await?,
                _ => i64::MAX,
            };
            let sql = format!(
                "{MESSAGE_SELECT} WHERE {visible} AND m.seq < $4 ORDER BY m.seq DESC LIMIT $5"
            );
            let stmt = client.prepare_cached(&sql).await?;
            (
                client
                    .query(&stmt, &[&chat_id, &cleared, &viewer, &upto, &(limit + 1)])
                    .await?,
                false,
            )
        }
    };
    let has_more = rows.len() as i64 > limit;
    let mut page: Vec<Value> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            let seq: i64 = r.get(3);
            let status = if seq <= read {
                "read"
            } else if seq <= delivered {
                "delivered"
            } else {
                "sent"
            };
            message_json(r, status)
        })
        .collect();
    if !ascending {
        page.reverse();
    }
    Ok(Some((page, has_more)))
}

/// Record that these users' devices received everything in the chat up to `seq`.
pub async fn mark_delivered(
    db: &Db,
    chat_id: Uuid,
    users: &[Uuid],
    seq: i64,
) -> Result<(), ApiError> {
    if users.is_empty() {
        return Ok(());
    }
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            // A delivery receipt is not an acknowledged message: losing the last few in a crash
            // only shows a single tick, so this commit does not wait for the WAL flush.
            "UPDATE chat_participants SET delivered_seq = $3
             FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
             WHERE chat_id = $1 AND user_id = ANY($2) AND delivered_seq < $3",
        )
        .await?;
    client.execute(&stmt, &[&chat_id, &users, &seq]).await?;
    Ok(())
}
