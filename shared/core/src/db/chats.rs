//! Queries on `chats` and `chat_participants`. Every read takes the viewer and returns nothing
//! for a chat they are not an active member of, so "not yours" and "not there" look the same.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::wire::rfc3339;

use super::Db;

/// The 1:1 chat between two users, created if it does not exist. Returns its id and whether it
/// was created now.
pub async fn open_individual(
    db: &Db,
    creator: Uuid,
    other: Uuid,
) -> Result<(Uuid, bool), ApiError> {
    let key = if creator < other {
        format!("{creator}:{other}")
    } else {
        format!("{other}:{creator}")
    };
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let created = tx
        .query_opt(
            "INSERT INTO chats (id, type, created_by, individual_key) VALUES ($1, 'individual', $2, $3)
             ON CONFLICT (individual_key) DO NOTHING RETURNING id",
            &[&Uuid::now_v7(), &creator, &key],
        )
        .await?;
    let (chat_id, is_new) = match created {
        Some(row) => (row.get(0), true),
        None => (
            tx.query_one("SELECT id FROM chats WHERE individual_key = $1", &[&key])
                .await?
                .get(0),
            false,
        ),
    };
    // Both people are members again, even if one had left or cleared the chat before.
    tx.execute(
        "INSERT INTO chat_participants (chat_id, user_id, role) SELECT $1, u, 'member' FROM unnest($2::uuid[]) u
         ON CONFLICT (chat_id, user_id) DO UPDATE SET left_at = NULL",
        &[&chat_id, &vec![creator, other]],
    )
    .await?;
    tx.commit().await?;
    Ok((chat_id, is_new))
}

/// A new group with its creator as admin and `members` as members.
pub async fn create_group(
    db: &Db,
    creator: Uuid,
    name: &str,
    description: Option<&str>,
    members: &[Uuid],
) -> Result<Uuid, ApiError> {
    let chat_id = Uuid::now_v7();
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO chats (id, type, name, description, created_by) VALUES ($1, 'group', $2, $3, $4)",
        &[&chat_id, &name, &description, &creator],
    )
    .await?;
    tx.execute(
        "INSERT INTO chat_participants (chat_id, user_id, role)
         SELECT $1, u, CASE WHEN u = $2 THEN 'admin' ELSE 'member' END FROM unnest($3::uuid[]) u",
        &[&chat_id, &creator, &members],
    )
    .await?;
    tx.commit().await?;
    Ok(chat_id)
}

/// `ChatDetails` (PRD 1.4) without the participants' presence and pictures (which depend on
/// their privacy settings: `services::chats` adds them), or `None` if the viewer is not a member.
pub async fn details(db: &Db, chat_id: Uuid, viewer: Uuid) -> Result<Option<Value>, ApiError> {
    let client = db.get().await?;
    let chat = client
        .prepare_cached(
            "SELECT c.type, c.name, c.description, c.avatar_url, c.created_at, c.updated_at, me.notification_settings
             FROM chats c JOIN chat_participants me ON me.chat_id = c.id AND me.user_id = $2 AND me.left_at IS NULL
             WHERE c.id = $1",
        )
        .await?;
    let Some(c) = client.query_opt(&chat, &[&chat_id, &viewer]).await? else {
        return Ok(None);
    };
    let members = client
        .prepare_cached(
            "SELECT u.id, u.username, p.role, p.joined_at
             FROM chat_participants p JOIN users u ON u.id = p.user_id
             WHERE p.chat_id = $1 AND p.left_at IS NULL ORDER BY p.joined_at, u.id",
        )
        .await?;
    let rows = client.query(&members, &[&chat_id]).await?;
    let kind: String = c.get(0);
    let participants: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<_, Uuid>(0),
                "username": r.get::<_, String>(1),
                "role": r.get::<_, String>(2),
                "joinedAt": rfc3339(r.get(3)),
            })
        })
        .collect();
    let name = match (kind.as_str(), c.get::<_, Option<String>>(1)) {
        ("individual", _) => participants
            .iter()
            .find(|p| p["id"] != json!(viewer))
            .map(|p| p["username"].clone())
            .unwrap_or(Value::Null),
        (_, name) => json!(name),
    };
    let mute = c
        .get::<_, Value>(6)
        .get("mute")
        .cloned()
        .unwrap_or(json!(false));
    Ok(Some(json!({
        "id": chat_id,
        "type": kind,
        "name": name,
        "description": c.get::<_, Option<String>>(2),
        "avatarUrl": c.get::<_, Option<String>>(3),
        "participants": participants,
        "settings": { "muteNotifications": mute, "pinChat": false },
        "createdAt": rfc3339(c.get(4)),
        "updatedAt": rfc3339(c.get(5)),
    })))
}

/// The viewer's chats, most recently active first (`ChatSummary`, PRD 1.4).
pub async fn list(
    db: &Db,
    viewer: Uuid,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT c.id, c.type, c.name, c.avatar_url, c.updated_at,
                    (SELECT count(*) FROM chat_participants p WHERE p.chat_id = c.id AND p.left_at IS NULL),
                    (SELECT u.username FROM chat_participants p JOIN users u ON u.id = p.user_id
                      WHERE p.chat_id = c.id AND p.user_id <> $1 ORDER BY p.joined_at LIMIT 1),
                    (SELECT count(*) FROM messages m WHERE m.chat_id = c.id AND m.seq > me.read_seq
                      AND m.sender_id IS DISTINCT FROM $1 AND NOT m.deleted_for_everyone),
                    lm.content, lm.type, lm.created_at, lu.username, lm.deleted_for_everyone,
                    count(*) OVER ()
             FROM chat_participants me
             JOIN chats c ON c.id = me.chat_id
             LEFT JOIN LATERAL (SELECT m.content, m.type, m.created_at, m.sender_id, m.deleted_for_everyone
                                FROM messages m WHERE m.chat_id = c.id AND m.seq > me.cleared_seq
                                ORDER BY m.seq DESC LIMIT 1) lm ON true
             LEFT JOIN users lu ON lu.id = lm.sender_id
             WHERE me.user_id = $1 AND me.left_at IS NULL
             ORDER BY c.updated_at DESC, c.id LIMIT $2 OFFSET $3",
        )
        .await?;
    let rows = client.query(&stmt, &[&viewer, &limit, &offset]).await?;
    let total = rows.first().map(|r| r.get::<_, i64>(13)).unwrap_or(0);
    let chats = rows
        .iter()
        .map(|r| {
            let kind: String = r.get(1);
            let name: Option<String> = if kind == "individual" {
                r.get(6)
            } else {
                r.get(2)
            };
            let last_at: Option<DateTime<Utc>> = r.get(10);
            let last = last_at.map(|at| {
                let deleted: bool = r.get(12);
                json!({
                    "content": if deleted { None } else { r.get::<_, Option<String>>(8) },
                    "type": r.get::<_, String>(9),
                    "sender": r.get::<_, Option<String>>(11),
                    "timestamp": rfc3339(at),
                })
            });
            json!({
                "id": r.get::<_, Uuid>(0),
                "name": name,
                "type": kind,
                "avatarUrl": r.get::<_, Option<String>>(3),
                "lastMessage": last,
                "unreadCount": r.get::<_, i64>(7),
                "participantCount": r.get::<_, i64>(5),
                "updatedAt": rfc3339(r.get(4)),
            })
        })
        .collect();
    Ok((chats, total))
}
