//! Devices registered for push notifications (`V37`): one per device session, and who among a
//! message's recipients is to be notified on which of them.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::api::models::CallKind;
use crate::error::ApiError;
use crate::ports::PushPlatform;

/// A session's registered device.
pub struct PushDeviceRow {
    pub platform: PushPlatform,
    pub endpoint: String,
    pub created_at: DateTime<Utc>,
}

fn device_row(r: &Row) -> PushDeviceRow {
    PushDeviceRow {
        platform: PushPlatform::parse(r.get("platform")).unwrap_or(PushPlatform::Fcm),
        endpoint: r.get("endpoint"),
        created_at: r.get("created_at"),
    }
}

/// Register `session`'s device, replacing its earlier registration and taking the token from
/// any other session that had it (the app logged in again). The endpoints replaced are
/// retired (`V37`).
pub async fn register(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
    session: Uuid,
    platform: PushPlatform,
    token: &str,
    endpoint: &str,
) -> Result<PushDeviceRow, ApiError> {
    tx.execute(
        &tx.prepare_cached(
            "DELETE FROM push_devices WHERE session_id = $1 OR (platform = $2 AND token = $3)",
        )
        .await?,
        &[&session, &platform.as_str(), &token],
    )
    .await?;
    let row = tx
        .query_one(
            &tx.prepare_cached(
                "INSERT INTO push_devices (session_id, user_id, platform, token, endpoint)
                 VALUES ($1, $2, $3, $4, $5) RETURNING platform, endpoint, created_at",
            )
            .await?,
            &[&session, &user, &platform.as_str(), &token, &endpoint],
        )
        .await?;
    Ok(device_row(&row))
}

/// `session`'s device, if it registered one.
pub async fn of_session(
    client: &impl GenericClient,
    session: Uuid,
) -> Result<Option<PushDeviceRow>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT platform, endpoint, created_at FROM push_devices WHERE session_id = $1",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&session])
        .await?
        .map(|r| device_row(&r)))
}

/// Every device `user` registered: `(session, token, device)`.
pub async fn of_user(
    client: &impl GenericClient,
    user: Uuid,
) -> Result<Vec<(Uuid, String, PushDeviceRow)>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT session_id, token, platform, endpoint, created_at FROM push_devices
             WHERE user_id = $1 ORDER BY created_at",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&user])
        .await?
        .iter()
        .map(|r| (r.get("session_id"), r.get("token"), device_row(r)))
        .collect())
}

/// Forget `session`'s device (its endpoint is retired); whether it had one.
pub async fn remove(client: &impl GenericClient, session: Uuid) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached("DELETE FROM push_devices WHERE session_id = $1")
        .await?;
    Ok(client.execute(&stmt, &[&session]).await? == 1)
}

/// Take up to `limit` retired endpoints (`V37`) that no device uses again: the push service
/// is to forget them.
pub async fn take_retired(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<String>, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH taken AS (
                 DELETE FROM push_endpoints_retired WHERE endpoint IN (
                     SELECT endpoint FROM push_endpoints_retired ORDER BY retired_at
                     LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING endpoint)
             SELECT t.endpoint FROM taken t
             WHERE NOT EXISTS (SELECT 1 FROM push_devices d WHERE d.endpoint = t.endpoint)",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&limit])
        .await?
        .iter()
        .map(|r| r.get("endpoint"))
        .collect())
}

/// Forget the devices behind endpoints that no longer take notifications (they are retired).
pub async fn remove_endpoints(
    client: &impl GenericClient,
    endpoints: &[String],
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached("DELETE FROM push_devices WHERE endpoint = ANY($1)")
        .await?;
    client.execute(&stmt, &[&endpoints]).await?;
    Ok(())
}

/// Which of `users` have a registered device: one index lookup each, so the relay asks only
/// about them (most users of a large group have none).
pub async fn users_with_devices(
    client: &impl GenericClient,
    users: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached("SELECT DISTINCT user_id FROM push_devices WHERE user_id = ANY($1)")
        .await?;
    Ok(client
        .query(&stmt, &[&users])
        .await?
        .iter()
        .map(|r| r.get("user_id"))
        .collect())
}

/// What a notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    /// A message the actor sent.
    Message,
    /// The actor's reaction (this emoji) to the recipient's message.
    Reaction(String),
    /// The actor added the recipient to a group.
    Added,
    /// The actor invited the recipient to a group (their privacy kept them from adding them).
    Invited,
    /// The actor asked to join a group the recipient administers.
    JoinRequest,
    /// The actor calls the recipient (a 1:1 chat).
    Call(CallKind),
    /// The actor's call to the recipient was not answered.
    MissedCall(CallKind),
}

impl About {
    fn kind(&self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Reaction(_) => "reaction",
            Self::Added => "added",
            Self::Invited => "invited",
            Self::JoinRequest => "join_request",
            Self::Call(CallKind::Audio) => "audio_call",
            Self::Call(CallKind::Video) => "video_call",
            Self::MissedCall(CallKind::Audio) => "missed_audio_call",
            Self::MissedCall(CallKind::Video) => "missed_video_call",
        }
    }

    fn from_row(kind: &str, emoji: Option<String>) -> Self {
        match (kind, emoji) {
            ("reaction", Some(emoji)) => Self::Reaction(emoji),
            ("added", _) => Self::Added,
            ("invited", _) => Self::Invited,
            ("join_request", _) => Self::JoinRequest,
            ("audio_call", _) => Self::Call(CallKind::Audio),
            ("video_call", _) => Self::Call(CallKind::Video),
            ("missed_audio_call", _) => Self::MissedCall(CallKind::Audio),
            ("missed_video_call", _) => Self::MissedCall(CallKind::Video),
            _ => Self::Message,
        }
    }
}

/// Something to notify a recipient of, by `actor`, in `chat` (about `message`, if any).
pub struct NotifyOf {
    pub recipient: Uuid,
    pub chat: Uuid,
    pub message: Option<Uuid>,
    pub actor: Uuid,
    pub about: About,
}

/// A device to notify, with what the notification shows.
pub struct DeviceToNotify {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub endpoint: String,
    pub chat_id: Uuid,
    pub message_id: Option<Uuid>,
    pub is_group: bool,
    pub chat_name: Option<String>,
    /// As the recipient knows the actor: their nickname for a contact, else the actor's name.
    pub actor_name: String,
    pub about: About,
    /// The message's (none when the notification is about no message).
    pub message_type: Option<String>,
    pub content: Option<String>,
    pub view_once: bool,
    /// The recipient lets notifications show message text (`notificationSettings.previews`).
    pub previews: bool,
}

/// The devices to notify: the recipients' registered devices of live sessions, for chats they
/// are in (a group they are invited to) and messages still there, unless the chat is muted for
/// them (a message that mentions them, or in a group replies to theirs, still notifies; a call
/// rings whatever the mute, while it rings) or their notification settings turn off messages
/// (1:1), groups or calls.
pub async fn to_notify(
    client: &impl GenericClient,
    items: &[&NotifyOf],
) -> Result<Vec<DeviceToNotify>, ApiError> {
    let recipients: Vec<Uuid> = items.iter().map(|i| i.recipient).collect();
    let chats: Vec<Uuid> = items.iter().map(|i| i.chat).collect();
    let messages: Vec<Option<Uuid>> = items.iter().map(|i| i.message).collect();
    let actors: Vec<Uuid> = items.iter().map(|i| i.actor).collect();
    let kinds: Vec<&str> = items.iter().map(|i| i.about.kind()).collect();
    let emojis: Vec<Option<&str>> = items
        .iter()
        .map(|i| match &i.about {
            About::Reaction(emoji) => Some(emoji.as_str()),
            _ => None,
        })
        .collect();
    let stmt = client
        .prepare_cached(
            // The devices first, on their own: most recipients have none, and then nothing
            // else is read (the relay runs this for every batch of messages).
            "WITH x AS MATERIALIZED (
                 SELECT d.session_id, d.user_id, d.endpoint, i.chat_id, i.message_id, i.actor_id, i.kind, i.emoji
                 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[])
                      AS i(user_id, chat_id, message_id, actor_id, kind, emoji)
                 JOIN push_devices d ON d.user_id = i.user_id)
             SELECT x.session_id, x.user_id, x.endpoint, c.id AS chat_id, m.id AS message_id,
                    c.type = 'group' AS is_group, c.name AS chat_name,
                    coalesce(nick.nickname, actor.display_name, actor.username, '') AS actor_name,
                    x.kind, x.emoji,
                    m.type AS message_type, m.content, coalesce(m.view_once, false) AS view_once,
                    coalesce((u.notification_settings ->> 'previews')::boolean, true) AS previews
             FROM x
             JOIN device_sessions s ON s.id = x.session_id AND s.revoked_at IS NULL AND s.expires_at > now()
             JOIN chats c ON c.id = x.chat_id
             JOIN users u ON u.id = x.user_id
             LEFT JOIN chat_participants p ON p.chat_id = c.id AND p.user_id = x.user_id AND p.left_at IS NULL
             LEFT JOIN messages m ON m.id = x.message_id AND m.chat_id = c.id
             LEFT JOIN users actor ON actor.id = x.actor_id
             LEFT JOIN user_relationships nick ON nick.user_id = x.user_id AND nick.related_user_id = x.actor_id
                  AND nick.relationship_type = 'contact'
             WHERE (CASE WHEN x.kind IN ('message', 'reaction')
                         THEN m.id IS NOT NULL AND NOT m.deleted_for_everyone AND m.type <> 'system'
                         -- A call rings only while it rings: not one that ended before the
                         -- relay got to it (a relay catching up).
                         WHEN x.kind IN ('audio_call', 'video_call')
                         THEN c.type = 'individual' AND EXISTS (
                              SELECT 1 FROM calls k WHERE k.chat_id = c.id AND k.caller_id = x.actor_id
                                                      AND k.status = 'ringing')
                         WHEN x.kind LIKE '%call' THEN c.type = 'individual'
                         ELSE c.type = 'group' END)
               -- Only members are notified, but of an invitation, which is for someone who is not.
               AND (CASE WHEN x.kind = 'invited' THEN p.user_id IS NULL
                         ELSE p.user_id IS NOT NULL
                              AND (p.muted_until IS NULL OR p.muted_until <= now()
                                   OR x.kind LIKE '%call'
                                   OR (x.kind = 'message' AND x.user_id = ANY(m.mentions))
                                   OR (x.kind = 'message' AND c.type = 'group' AND EXISTS (
                                       SELECT 1 FROM messages r
                                       WHERE r.id = m.reply_to_id AND r.sender_id = x.user_id))) END)
               AND coalesce((u.notification_settings ->> CASE WHEN x.kind LIKE '%call' THEN 'calls'
                                                              WHEN c.type = 'group' THEN 'groups'
                                                              ELSE 'messages' END)::boolean, true)",
        )
        .await?;
    Ok(client
        .query(
            &stmt,
            &[&recipients, &chats, &messages, &actors, &kinds, &emojis],
        )
        .await?
        .iter()
        .map(|r| DeviceToNotify {
            session_id: r.get("session_id"),
            user_id: r.get("user_id"),
            endpoint: r.get("endpoint"),
            chat_id: r.get("chat_id"),
            message_id: r.get("message_id"),
            is_group: r.get("is_group"),
            chat_name: r.get("chat_name"),
            actor_name: r.get("actor_name"),
            about: About::from_row(r.get("kind"), r.get("emoji")),
            message_type: r.get("message_type"),
            content: r.get("content"),
            view_once: r.get("view_once"),
            previews: r.get("previews"),
        })
        .collect())
}
