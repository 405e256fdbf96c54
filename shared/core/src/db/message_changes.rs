//! Queries that change a stored message or a member's view of it: edits (with their history),
//! deletion for one user or for everyone, reactions, and the read watermark. Each runs in the
//! caller's transaction, after [`lock_visible`] found and locked the message.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::{ChatType, MessageEdit, ParticipantRole, Timestamp};
use crate::error::ApiError;

/// A message as a member acting on it sees it, locked until their transaction ends.
pub struct Target {
    pub id: Uuid,
    pub chat_id: Uuid,
    pub seq: i64,
    /// `None` for a system message (or one whose sender's account is gone).
    pub sender_id: Option<Uuid>,
    pub kind: String,
    pub content: Option<String>,
    pub created_at: DateTime<Utc>,
    pub deleted: bool,
    /// Hops from the original, for a forwarded copy (0 for an original).
    pub forward_count: i32,
    /// Its file, as stored (a view-once message's too, which the `Message` shape hides).
    pub media_id: Option<Uuid>,
    /// Whom it mentions, in order of their ids.
    pub mentions: Vec<Uuid>,
    pub view_once: bool,
    pub chat_kind: ChatType,
    /// The acting member's role.
    pub role: ParticipantRole,
    /// The actor is a member now, not a former member who kept the group (who reads it as it
    /// was when they left, and changes nothing in it but their own view).
    pub member: bool,
    /// When the actor left the chat, for a former member who kept it.
    pub left_at: Option<DateTime<Utc>>,
    /// The other member of a 1:1 chat, if they block the actor.
    pub blocker: Option<Uuid>,
    /// A 1:1 chat whose other member the actor blocks.
    pub blocks_other: bool,
    /// A 1:1 chat whose other member does not see the message: they deleted it for
    /// themselves, or it was sent them while they blocked its sender.
    pub hidden_from_other: bool,
    /// A 1:1 chat whose other member never got the message: it was sent them while they
    /// blocked its sender (V69).
    pub never_delivered_to_other: bool,
    /// The actor may send in the chat now: an admin, or a member where everyone sends (a
    /// group's `sendMessages`).
    pub may_send: bool,
    /// A disappearing message whose time is up (`super::not_expired`), not yet erased: only
    /// [`find_visible`] answers it, for the read watermark.
    pub expired: bool,
}

/// The message `message_id` of `chat_id` if `user` may see it (sent after they joined, not
/// cleared or hidden by them, not sent by someone they block while blocked, not disappeared; for a former member who kept the group, sent
/// before they left), locked for a change. What a former member may change is for the caller
/// to decide ([`Target::member`]).
pub async fn lock_visible(
    client: &impl GenericClient,
    chat_id: Uuid,
    message_id: Uuid,
    user: Uuid,
) -> Result<Option<Target>, ApiError> {
    Ok(
        visible(client, chat_id, message_id, user, "FOR UPDATE OF m")
            .await?
            .filter(|t| !t.expired),
    )
}

/// As [`lock_visible`], without locking the message (for what only reads it), and answering a
/// disappeared message too, as [`Target::expired`].
pub async fn find_visible(
    client: &impl GenericClient,
    chat_id: Uuid,
    message_id: Uuid,
    user: Uuid,
) -> Result<Option<Target>, ApiError> {
    visible(client, chat_id, message_id, user, "").await
}

async fn visible(
    client: &impl GenericClient,
    chat_id: Uuid,
    message_id: Uuid,
    user: Uuid,
    lock: &str,
) -> Result<Option<Target>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT m.id, m.chat_id, m.seq, m.sender_id, m.type, m.content, m.created_at,
                    m.deleted_for_everyone, m.forward_count, m.media_id, m.view_once,
                    ARRAY(SELECT u FROM unnest(m.mentions) AS u ORDER BY u) AS mentions,
                    c.type AS chat_type, p.role, p.left_at IS NULL AS member, p.left_at,
                    p.role = 'admin' OR c.send_permission = 'all' AS may_send,
                    NOT {not_expired} AS expired,
                    CASE WHEN o.blocks_actor THEN o.user_id END AS blocker,
                    coalesce(o.blocked_by_actor, false) AS blocks_other,
                    o.hidden_how IS NOT NULL AS hidden_from_other,
                    coalesce(o.hidden_how, false) AS never_delivered_to_other
             FROM messages m
             JOIN chats c ON c.id = m.chat_id
             JOIN chat_participants p ON p.chat_id = m.chat_id AND p.user_id = $3
             -- The other member of a 1:1 chat, read once: the blocks between the two (each way
             -- by its whole key) and whether they do not see the message.
             LEFT JOIN LATERAL (
                 SELECT o.user_id,
                        EXISTS (SELECT 1 FROM user_relationships b
                                WHERE b.user_id = o.user_id AND b.related_user_id = $3
                                  AND b.relationship_type = 'blocked') AS blocks_actor,
                        EXISTS (SELECT 1 FROM user_relationships b
                                WHERE b.user_id = $3 AND b.related_user_id = o.user_id
                                  AND b.relationship_type = 'blocked') AS blocked_by_actor,
                        (SELECT h.never_delivered FROM message_hidden h
                         WHERE h.user_id = o.user_id AND h.message_id = m.id) AS hidden_how
                 FROM chat_participants o
                 WHERE o.chat_id = c.id AND o.user_id <> $3 AND c.type = 'individual'
                 OFFSET 0
             ) o ON true
             WHERE m.id = $2 AND m.chat_id = $1 AND {sees}
             {lock}",
            sees = super::sees_message("p", "$3", "m"),
            not_expired = super::not_expired("m"),
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&chat_id, &message_id, &user])
        .await?
        .map(|r| Target {
            id: r.get("id"),
            chat_id: r.get("chat_id"),
            seq: r.get("seq"),
            sender_id: r.get("sender_id"),
            kind: r.get("type"),
            content: r.get("content"),
            created_at: r.get("created_at"),
            deleted: r.get("deleted_for_everyone"),
            forward_count: r.get("forward_count"),
            media_id: r.get("media_id"),
            mentions: r.get("mentions"),
            view_once: r.get("view_once"),
            chat_kind: ChatType::parse_stored(r.get("chat_type")),
            role: ParticipantRole::parse_stored(r.get("role")),
            member: r.get("member"),
            left_at: r.get("left_at"),
            blocker: r.get("blocker"),
            blocks_other: r.get("blocks_other"),
            hidden_from_other: r.get("hidden_from_other"),
            never_delivered_to_other: r.get("never_delivered_to_other"),
            may_send: r.get("may_send"),
            expired: r.get("expired"),
        }))
}

/// Replace a message's text, keeping the text it replaces in its edit history. A link preview
/// whose link the new text no longer holds goes (it would show a link the text does not have).
pub async fn edit(
    client: &impl GenericClient,
    message_id: Uuid,
    content: &str,
    mentions: Option<&[Uuid]>,
) -> Result<(), ApiError> {
    // (A change of mentions alone keeps no earlier version: the text is the same.)
    let stmt = client
        .prepare_cached(
            "WITH history AS (
                 INSERT INTO message_edits (message_id, previous_content)
                 SELECT id, content FROM messages WHERE id = $1 AND content IS DISTINCT FROM $2
             )
             UPDATE messages SET content = $2, is_edited = true, edited_at = now(),
                 mentions = coalesce($3, mentions),
                 metadata = CASE WHEN strpos($2, metadata -> 'linkPreview' ->> 'url') > 0 THEN metadata
                                 ELSE metadata - 'linkPreview' END
             WHERE id = $1",
        )
        .await?;
    client
        .execute(&stmt, &[&message_id, &content, &mentions])
        .await?;
    Ok(())
}

/// A message's earlier versions, oldest first: those edited up to `until` (a former member's
/// leaving: the edits since are not theirs to see), or all.
pub async fn edits(
    client: &impl GenericClient,
    message_id: Uuid,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<MessageEdit>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT previous_content, edited_at FROM message_edits
             WHERE message_id = $1 AND ($2::timestamptz IS NULL OR edited_at <= $2)
             ORDER BY id",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&message_id, &until])
        .await?
        .iter()
        .map(|r| MessageEdit {
            previous_content: r.get("previous_content"),
            edited_at: Timestamp(r.get("edited_at")),
        })
        .collect())
}

/// Delete a message for everyone: its text, details, media reference, edit history,
/// reactions, pins, stars and (a poll's) votes are erased; a tombstone keeps its place (and
/// `seq`) and who deleted it (`deleted_by`: the sender, or a group admin). The file it showed is
/// released: housekeeping deletes it unless another message (a forward) shows it.
pub async fn erase(
    client: &impl GenericClient,
    message_id: Uuid,
    deleted_by: Uuid,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH old AS (SELECT id, media_id FROM messages WHERE id = $1 FOR UPDATE),
                  released AS (UPDATE media_files SET released_at = now()
                               WHERE id = (SELECT media_id FROM old)),
                  edits AS (DELETE FROM message_edits WHERE message_id = $1),
                  reactions AS (DELETE FROM message_reactions WHERE message_id = $1),
                  pins AS (DELETE FROM message_pins WHERE message_id = $1),
                  stars AS (DELETE FROM message_stars WHERE message_id = $1),
                  votes AS (DELETE FROM poll_votes WHERE message_id = $1)
             UPDATE messages m SET content = NULL, metadata = '{}', media_id = NULL,
                    is_edited = false, edited_at = NULL,
                    deleted_for_everyone = true, deleted_at = now(), deleted_by = $2
             FROM old WHERE m.id = old.id",
        )
        .await?;
    client.execute(&stmt, &[&message_id, &deleted_by]).await?;
    Ok(())
}

/// Hide a message from `user`'s view only. Whether it was visible until now.
pub async fn hide(
    client: &impl GenericClient,
    message_id: Uuid,
    user: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO message_hidden (message_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .await?;
    Ok(client.execute(&stmt, &[&message_id, &user]).await? == 1)
}

/// What setting a reaction did.
pub enum ReactionOutcome {
    /// Set (replacing `replaced`, if the user had another one).
    Set { replaced: Option<StoredReaction> },
    /// The user had already reacted with this emoji.
    Unchanged,
}

/// Set `user`'s one reaction to a message, kept for good from `kept_from` (the other member of
/// a 1:1 chat, who blocks them) if there is one.
pub async fn set_reaction(
    client: &impl GenericClient,
    message_id: Uuid,
    user: Uuid,
    emoji: &str,
    kept_from: Option<Uuid>,
) -> Result<ReactionOutcome, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH before AS (
                 SELECT emoji, kept_from FROM message_reactions WHERE message_id = $1 AND user_id = $2
             ), upserted AS (
                 INSERT INTO message_reactions (message_id, user_id, emoji, kept_from)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (message_id, user_id) DO UPDATE
                     SET emoji = excluded.emoji, created_at = now(), kept_from = excluded.kept_from
                 WHERE message_reactions.emoji <> excluded.emoji
                 RETURNING 1
             )
             SELECT b.emoji AS before, b.kept_from AS before_kept_from,
                    EXISTS (SELECT 1 FROM upserted) AS changed
             FROM (SELECT 1) one LEFT JOIN before b ON true",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&message_id, &user, &emoji, &kept_from])
        .await?;
    Ok(if row.get("changed") {
        ReactionOutcome::Set {
            replaced: row
                .get::<_, Option<String>>("before")
                .map(|emoji| StoredReaction {
                    emoji,
                    kept_from: row.get("before_kept_from"),
                }),
        }
    } else {
        ReactionOutcome::Unchanged
    })
}

/// A reaction as stored: its emoji, and whom it is kept from.
pub struct StoredReaction {
    pub emoji: String,
    pub kept_from: Option<Uuid>,
}

/// Take back `user`'s reaction if it is `emoji`: the one taken back, if there was one.
pub async fn remove_reaction(
    client: &impl GenericClient,
    message_id: Uuid,
    user: Uuid,
    emoji: &str,
) -> Result<Option<StoredReaction>, ApiError> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3
             RETURNING emoji, kept_from",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&message_id, &user, &emoji])
        .await?
        .map(|r| StoredReaction {
            emoji: r.get("emoji"),
            kept_from: r.get("kept_from"),
        }))
}

/// Move `user`'s read watermark in a chat up to `seq` (a read message was delivered, too; the
/// watermark never moves back), and take back their "mark as unread". The watermark before and
/// after.
pub async fn mark_read(
    client: &impl GenericClient,
    chat_id: Uuid,
    user: Uuid,
    seq: i64,
) -> Result<(i64, i64), ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH before AS (
                 SELECT read_seq FROM chat_participants WHERE chat_id = $1 AND user_id = $2 FOR UPDATE
             ), moved AS (
                 UPDATE chat_participants p
                 SET read_seq = greatest(p.read_seq, $3),
                     read_marks = CASE WHEN p.read_seq < $3
                         THEN receipt_marks_push(p.read_marks, $3) ELSE p.read_marks END,
                     delivered_seq = greatest(p.delivered_seq, $3),
                     delivered_marks = CASE WHEN p.delivered_seq < $3
                         THEN receipt_marks_push(p.delivered_marks, $3) ELSE p.delivered_marks END,
                     marked_unread = false
                 FROM before
                 WHERE p.chat_id = $1 AND p.user_id = $2 AND (before.read_seq < $3 OR p.marked_unread)
                 RETURNING p.read_seq
             )
             SELECT (SELECT read_seq FROM before) AS before,
                    coalesce((SELECT read_seq FROM moved), (SELECT read_seq FROM before)) AS now",
        )
        .await?;
    let row = client.query_one(&stmt, &[&chat_id, &user, &seq]).await?;
    Ok((row.get("before"), row.get("now")))
}

/// One sender told about their messages a reader just read: up to their latest message in
/// the range.
pub struct ReadNotice {
    pub sender: Uuid,
    pub message_id: Uuid,
    pub seq: i64,
    /// What the sender is told: that the messages were read, or only that they were delivered.
    pub told: ReadTold,
}

/// How a read shows to a sender, as the reader's privacy allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadTold {
    /// They share read receipts (`read_receipts_shared_with`, V76): `message:read`.
    Read,
    /// They do not, and the reader hides their presence from the sender (`presence_shown_to`),
    /// whose delivery ticks therefore show only once the reader reads: `message:delivered`
    /// now, as the history shows from now on.
    Delivered,
}

/// The senders of the messages `reader` just read (`seq` in `(after, up_to]`), each with their
/// latest one there, who are told something of it (`ReadTold`) and neither block nor are
/// blocked by the reader. One row per sender, however many messages. A sender who gets no read
/// receipts but sees the reader's presence was told of the delivery when it happened, and is
/// not listed.
pub async fn read_notices(
    client: &impl GenericClient,
    chat_id: Uuid,
    reader: Uuid,
    after: i64,
    up_to: i64,
) -> Result<Vec<ReadNotice>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            // The range's senders first (one row each), then the privacy checks per sender.
            "SELECT s.sender_id, s.id, s.seq, s.reads_shared FROM (
                 SELECT s.*, {} AS reads_shared FROM (
                     SELECT DISTINCT ON (m.sender_id) m.sender_id, m.id, m.seq
                     FROM messages m
                     WHERE m.chat_id = $1 AND m.seq > $3 AND m.seq <= $4
                       AND m.sender_id IS NOT NULL AND m.sender_id <> $2 AND NOT m.deleted_for_everyone
                     ORDER BY m.sender_id, m.seq DESC
                 ) s OFFSET 0
             ) s
             WHERE (s.reads_shared OR NOT {})
               AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                   AND b.user_id = s.sender_id AND b.related_user_id = $2)
               AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                   AND b.user_id = $2 AND b.related_user_id = s.sender_id)",
            super::read_receipts_shared("$1", "$2", "s.sender_id"),
            super::presence_shown("$2", "s.sender_id"),
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&chat_id, &reader, &after, &up_to])
        .await?
        .iter()
        .map(|r| ReadNotice {
            sender: r.get("sender_id"),
            message_id: r.get("id"),
            seq: r.get("seq"),
            told: if r.get("reads_shared") {
                ReadTold::Read
            } else {
                ReadTold::Delivered
            },
        })
        .collect())
}
