//! Queries on `chats` and `chat_participants`. Every read takes the viewer and returns nothing
//! for a chat they are not an active member of, so "not yours" and "not there" look the same.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::api::models::{
    ChatDetails, ChatSettings, ChatSummary, ChatType, LastMessage, Participant, ParticipantRole,
    Timestamp,
};
use crate::error::ApiError;

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
        Some(row) => (row.get("id"), true),
        None => (
            tx.query_one("SELECT id FROM chats WHERE individual_key = $1", &[&key])
                .await?
                .get("id"),
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
    if is_new {
        super::events::append_chat_event(&tx, chat_id, Some(creator), "chat:created", None).await?;
    }
    tx.commit().await?;
    Ok((chat_id, is_new))
}

/// A chat member as the relay fans out to: who, and since when.
pub struct Member {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

/// The current members of these chats.
pub async fn current_members(
    client: &impl deadpool_postgres::GenericClient,
    chats: &[Uuid],
) -> Result<Vec<Member>, ApiError> {
    if chats.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client
        .prepare_cached(
            "SELECT chat_id, user_id, joined_at FROM chat_participants
             WHERE chat_id = ANY($1) AND left_at IS NULL",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&chats])
        .await?
        .iter()
        .map(|r| Member {
            chat_id: r.get("chat_id"),
            user_id: r.get("user_id"),
            joined_at: r.get("joined_at"),
        })
        .collect())
}

/// A new group with its creator as admin and `members` as members.
pub async fn create_group(
    db: &Db,
    creator: Uuid,
    name: &str,
    description: Option<&str>,
    members: &[Uuid],
    invitees: &[Uuid],
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
    super::events::append_chat_event(&tx, chat_id, Some(creator), "chat:created", None).await?;
    if !invitees.is_empty() {
        tx.execute(
            "INSERT INTO chat_invitations (chat_id, user_id, invited_by) SELECT $1, u, $2 FROM unnest($3::uuid[]) u",
            &[&chat_id, &creator, &invitees],
        )
        .await?;
        let invitation =
            crate::api::ws::ServerEvent::ChatInvitation(crate::api::ws::ChatInvitation {
                chat_id,
                name: name.to_owned(),
                invited_by: creator,
            });
        super::events::append_user_events(
            &tx,
            invitees,
            Some(creator),
            invitation.name(),
            &invitation.data(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(chat_id)
}

/// Answer an invitation: accepting makes `user` a member (from now on); either way it is gone.
/// `false` if there was none.
pub async fn answer_invitation(
    db: &Db,
    chat_id: Uuid,
    user: Uuid,
    accept: bool,
) -> Result<bool, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let found = tx
        .execute(
            "DELETE FROM chat_invitations WHERE chat_id = $1 AND user_id = $2",
            &[&chat_id, &user],
        )
        .await?
        == 1;
    if found && accept {
        tx.execute(
            "INSERT INTO chat_participants (chat_id, user_id, role) VALUES ($1, $2, 'member')
             ON CONFLICT (chat_id, user_id) DO UPDATE SET left_at = NULL, joined_at = now()",
            &[&chat_id, &user],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(found)
}

/// `ChatDetails` (PRD 1.4) without the participants' presence and pictures (which depend on
/// their privacy settings: `services::chats` adds them), or `None` if the viewer is not a member.
pub async fn details(
    db: &Db,
    chat_id: Uuid,
    viewer: Uuid,
) -> Result<Option<ChatDetails>, ApiError> {
    let client = db.get().await?;
    let chat = client
        .prepare_cached(
            "SELECT c.type, c.name, c.description, c.avatar_url, c.created_at, c.updated_at,
                    me.notification_settings
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
    let participants: Vec<Participant> = client
        .query(&members, &[&chat_id])
        .await?
        .iter()
        .map(|r| Participant {
            id: r.get("id"),
            username: r.get("username"),
            role: ParticipantRole::parse_stored(r.get("role")),
            joined_at: Timestamp(r.get("joined_at")),
            profile_picture_url: None,
            is_online: None,
        })
        .collect();
    let kind = ChatType::parse_stored(c.get("type"));
    let name = match kind {
        ChatType::Individual => participants
            .iter()
            .find(|p| p.id != viewer)
            .map(|p| p.username.clone()),
        ChatType::Group => c.get("name"),
    };
    let Json(settings) = c.get::<_, Json<Value>>("notification_settings");
    Ok(Some(ChatDetails {
        id: chat_id,
        kind,
        name,
        description: c.get("description"),
        avatar_url: c.get("avatar_url"),
        participants,
        settings: ChatSettings {
            mute_notifications: settings["mute"].as_bool().unwrap_or(false),
            pin_chat: false,
        },
        created_at: Timestamp(c.get("created_at")),
        updated_at: Timestamp(c.get("updated_at")),
    }))
}

/// Unread counts stop here (clients show "999+"): a chat list reads at most this many unread
/// messages per chat, through the `(chat_id, seq)` index from the reader's `read_seq` on.
pub const UNREAD_COUNT_CAP: i64 = 1000;

/// The viewer's chats, most recently active first (`ChatSummary`, PRD 1.4), and how many there
/// are in all.
pub async fn list(
    db: &Db,
    viewer: Uuid,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ChatSummary>, i64), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT c.id, c.type, c.name, c.avatar_url, c.updated_at,
                    (SELECT count(*) FROM chat_participants p WHERE p.chat_id = c.id AND p.left_at IS NULL)
                        AS participant_count,
                    (SELECT u.username FROM chat_participants p JOIN users u ON u.id = p.user_id
                      WHERE p.chat_id = c.id AND p.user_id <> $1 ORDER BY p.joined_at LIMIT 1) AS other_username,
                    (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND m.seq > me.read_seq
                      AND m.sender_id IS DISTINCT FROM $1 AND NOT m.deleted_for_everyone LIMIT $4) AS unread)
                        AS unread_count,
                    lm.content AS last_content, lm.type AS last_type, lm.created_at AS last_at,
                    lu.username AS last_sender, lm.deleted_for_everyone AS last_deleted,
                    count(*) OVER () AS total
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
    let rows = client
        .query(&stmt, &[&viewer, &limit, &offset, &UNREAD_COUNT_CAP])
        .await?;
    let total = rows.first().map(|r| r.get::<_, i64>("total")).unwrap_or(0);
    let chats = rows
        .iter()
        .map(|r| {
            let kind = ChatType::parse_stored(r.get("type"));
            let name: Option<String> = match kind {
                ChatType::Individual => r.get("other_username"),
                ChatType::Group => r.get("name"),
            };
            let last_message = r
                .get::<_, Option<DateTime<Utc>>>("last_at")
                .map(|at| LastMessage {
                    content: r
                        .get::<_, Option<String>>("last_content")
                        .filter(|_| !r.get::<_, bool>("last_deleted")),
                    kind: r.get("last_type"),
                    sender: r.get("last_sender"),
                    timestamp: Timestamp(at),
                });
            ChatSummary {
                id: r.get("id"),
                name,
                kind,
                avatar_url: r.get("avatar_url"),
                last_message,
                unread_count: r.get("unread_count"),
                participant_count: r.get("participant_count"),
                updated_at: Timestamp(r.get("updated_at")),
            }
        })
        .collect();
    Ok((chats, total))
}
