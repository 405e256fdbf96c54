//! Queries on `messages`: the idempotent insert that assigns a per-chat `seq`, the `Message`
//! shape (PRD 1.5 plus `clientMessageId` and `seq`), history pages and delivery watermarks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::api::models::{
    LiveLocation, Message, MessageMetadata, MessageSender, MessageStatus, ReactionGroup,
    ReplyPreview, Timestamp,
};
use crate::config::Limit;
use crate::error::ApiError;

use super::Db;

/// A message to store (owned: it waits in the send batcher's queue, `db::send_batches`).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    pub chat_id: Uuid,
    pub sender_id: Uuid,
    pub client_message_id: String,
    pub kind: String,
    pub content: Option<String>,
    pub reply_to: Option<Uuid>,
    pub metadata: MessageMetadata,
    /// The uploaded file a media message shows.
    pub media_id: Option<Uuid>,
    pub mentions: Vec<Uuid>,
    /// For a forwarded copy: the message it copies and its hops from the original. Its file
    /// is reused (the sender need not have uploaded it).
    pub forward_of: Option<(Uuid, i32)>,
    /// Each recipient opens its file once.
    pub view_once: bool,
    /// The WebSocket connection it came from (it gets the ack, not the event).
    pub origin_connection: Option<String>,
    /// The rate limit it counts against, counted in the statement that stores it.
    pub rate_limit: Option<RateLimitHit>,
}

/// A rate limit's bucket and limit (`services::rate_limit`, whose counters it shares).
#[derive(Debug, Clone)]
pub struct RateLimitHit {
    pub bucket: String,
    pub limit: Limit,
}

pub enum Stored {
    /// Its sender's rate limit was full; refused before anything else was looked at.
    RateLimited { retry_after_secs: u64 },
    /// Stored now, with its `message:received` event in the log. `shows_chat_to`: the other
    /// member of a 1:1 chat whose list did not show it until this message.
    Created {
        message: Box<Message>,
        shows_chat_to: Option<Uuid>,
    },
    /// The sender had already sent this `clientMessageId`: the stored message's id.
    Existing { id: Uuid },
    /// The sender is not an active member of the chat (or it does not exist).
    NotMember,
    /// The group lets only its admins send, and the sender is not one.
    AdminsOnly,
    /// `replyTo` names no message of this chat that its sender sees.
    BadReply,
    /// A 1:1 chat whose sender blocks the other member (one blocked by the other is stored,
    /// and reaches only the sender's own devices).
    Blocked,
    /// A 1:1 chat whose other member deleted their account: nobody would ever receive it.
    PartnerGone,
    /// The `clientMessageId` was used before for a message in another chat.
    IdReusedElsewhere,
    /// `mediaId` names no file the sender uploaded for this chat, of the message's type.
    BadMedia,
    /// A mentioned user is not a member of the chat.
    BadMentions,
}

/// Store many messages in one statement (and so one transaction and one WAL flush): count each
/// against its rate limit, check each sender's membership and permissions, take each chat's next `seq`s under its row lock, insert
/// the accepted ones unless their sender already sent that `clientMessageId`, and append their
/// `message:received` events to the log in the order given. The statement commits before this
/// returns, so a `Created` message and its event are durable together.
///
/// One outcome per message, in order; `None` for one that a concurrent send of the same
/// `clientMessageId` beat between this statement's snapshot and its insert (asked again, it is
/// `Existing`). The same `(sender, clientMessageId)` must not appear twice in one call.
pub async fn insert_many(
    client: &impl deadpool_postgres::GenericClient,
    batch: &[&NewMessage],
) -> Result<Vec<Option<Stored>>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "WITH input AS (
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                                      $6::text[], $7::uuid[], $8::jsonb[], $9::text[], $10::uuid[],
                                      $11::uuid[], $12::int4[], $13::bool[], $16::text[],
                                      $17::int8[], $18::float8[])
                     WITH ORDINALITY AS x(id, chat_id, sender_id, client_message_id, type, content,
                                          reply_to_id, metadata, origin, media_id, forwarded_from_id,
                                          forward_count, view_once, bucket, bucket_max, bucket_secs,
                                          ord)
             ), counted AS (
                 -- Every message counts against its rate limit (as `rate_limit::hits`), the
                 -- refused ones too.
                 INSERT INTO rate_limit_counters AS c (bucket, window_start, hits)
                 SELECT bucket,
                        to_timestamp(floor(extract(epoch FROM now())::float8 / bucket_secs) * bucket_secs),
                        count(*)
                 FROM input WHERE bucket IS NOT NULL
                 GROUP BY bucket, bucket_secs
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + excluded.hits
                 RETURNING c.bucket, c.window_start, c.hits
             ), windows AS MATERIALIZED (
                 -- The counts as one row of arrays, which each message looks its bucket up in.
                 -- Joins between this statement's steps have no index to go by and hash joins are
                 -- off (`keyed_lookup_plans!`), so a join would compare every pair of rows: with
                 -- 128 messages, five such joins were a third of the statement's time.
                 SELECT array_agg(bucket) AS buckets, array_agg(hits) AS hits,
                        array_agg(window_start) AS starts
                 FROM counted
             ), paced AS (
                 -- In its bucket's window, the messages before this batch and, in this batch,
                 -- those before it in order: past the limit it is refused.
                 SELECT i.*,
                        i.bucket IS NULL
                            OR w.hits[array_position(w.buckets, i.bucket)]
                               - count(*) OVER (PARTITION BY i.bucket)
                               + row_number() OVER (PARTITION BY i.bucket ORDER BY i.ord) <= i.bucket_max
                            AS rate_ok,
                        greatest(1, ceil(extract(epoch FROM w.starts[array_position(w.buckets, i.bucket)])::float8
                                         + i.bucket_secs
                                         - extract(epoch FROM now())::float8))::int8 AS retry_after
                 FROM input i CROSS JOIN windows w
             ), checked AS (
                 SELECT i.*,
                        ARRAY(SELECT DISTINCT m.u FROM unnest($14::int8[], $15::uuid[]) AS m(o, u)
                              WHERE m.o = i.ord) AS mention_ids,
                        coalesce(member.present, false) AS is_member,
                        coalesce(member.present AND member.may_send, false) AS may_send,
                        coalesce(member.partner_gone, false) AS partner_gone,
                        member.disappearing_seconds, member.hidden_partner, member.hidden_through,
                        existing.id AS existing_id, existing.chat_id AS existing_chat_id,
                        -- The sender may not message someone they block (they know it); a
                        -- message to someone who blocks the sender is stored and answered as
                        -- any other, and never reaches them (WhatsApp's single tick): the block
                        -- is not told by a refusal.
                        coalesce(member.sender_blocks, false) AS blocks_partner,
                        CASE WHEN member.blocks_sender THEN member.partner END AS blocked_by,
                        -- A message the sender sees: of their memberships, not cleared or
                        -- deleted for themselves, not deleted for everyone, not disappeared, and
                        -- no system line (`services::message_changes::not_a_system_line`).
                        i.reply_to_id IS NULL OR EXISTS (
                            SELECT 1 FROM messages r WHERE r.id = i.reply_to_id AND r.chat_id = i.chat_id
                                                       AND r.type <> 'system'
                                                       AND NOT r.deleted_for_everyone AND {reply_not_expired}
                                                       AND r.seq > member.cleared_seq AND {reply_seen}
                                                       AND {reply_not_hidden}
                        ) OR EXISTS (
                            -- Or, replying privately, one the sender sees in another chat, quoted
                            -- in the 1:1 with the member who sent it.
                            SELECT 1 FROM messages r
                            JOIN chat_participants q ON q.chat_id = r.chat_id AND q.user_id = i.sender_id
                            WHERE r.id = i.reply_to_id AND r.chat_id <> i.chat_id
                              AND NOT r.deleted_for_everyone AND {reply_not_expired} AND {private_reply_seen}
                              AND r.type NOT IN ('system', 'encrypted')
                              AND EXISTS (SELECT 1 FROM chats c JOIN chat_participants o ON o.chat_id = c.id
                                          WHERE c.id = i.chat_id AND c.type = 'individual'
                                            AND o.user_id = r.sender_id AND o.user_id <> i.sender_id)
                        ) AS reply_ok,
                        -- A sticker may be any picture; other types name a file of their own type,
                        -- and a forwarded copy reuses its original's.
                        i.media_id IS NULL OR i.forwarded_from_id IS NOT NULL OR EXISTS (
                            SELECT 1 FROM media_files f
                            WHERE f.id = i.media_id AND f.uploader_id = i.sender_id
                              AND (f.chat_id IS NULL OR f.chat_id = i.chat_id) AND f.status <> 'failed'
                              AND (f.file_type = i.type OR (i.type = 'sticker' AND f.file_type = 'image'))
                        ) AS media_ok
                 FROM paced i
                 -- Each looked up by its whole key, per message: `OFFSET 0` keeps the lookup
                 -- a subquery run for each message. Pulled up into a join, it was planned on
                 -- the tables' statistics when the batcher first sent, and planned on a few
                 -- memberships it read every membership of every chat for each batch.
                 LEFT JOIN LATERAL (
                     -- A member who left included: with `left_at IS NULL` here the plan may
                     -- take the index of active members by user and read every chat of the
                     -- sender.
                     SELECT p.left_at IS NULL AS present, p.joined_at, p.cleared_seq,
                            p.role = 'admin' OR c.send_permission = 'all' AS may_send,
                            -- A 1:1 chat keeps both rows for good (deleting it for yourself keeps
                            -- yours), unless the other deleted their account.
                            c.type = 'individual' AND NOT {to_self} AND o.user_id IS NULL
                                AS partner_gone,
                            c.disappearing_seconds,
                            -- The other member of a 1:1 chat whose list does not show it while
                            -- nothing is written past what they cleared (a chat opened with
                            -- them, or deleted for themselves): the message that writes there
                            -- shows it to them.
                            CASE WHEN o.hidden THEN o.user_id END AS hidden_partner,
                            CASE WHEN o.hidden THEN o.cleared_seq END AS hidden_through,
                            o.user_id AS partner, o.sender_blocks, o.blocks_sender
                     FROM chat_participants p JOIN chats c ON c.id = p.chat_id
                     -- The other member of a 1:1 chat, read once for all the above, and the
                     -- blocks between the two (each way looked up by its whole key: an OR of
                     -- the two could only be served by one scan over every block there is).
                     LEFT JOIN LATERAL (
                         SELECT o.user_id, o.hidden, o.cleared_seq,
                                EXISTS (SELECT 1 FROM user_relationships b
                                        WHERE b.user_id = p.user_id AND b.related_user_id = o.user_id
                                          AND b.relationship_type = 'blocked') AS sender_blocks,
                                EXISTS (SELECT 1 FROM user_relationships b
                                        WHERE b.user_id = o.user_id AND b.related_user_id = p.user_id
                                          AND b.relationship_type = 'blocked') AS blocks_sender
                         FROM chat_participants o
                         WHERE o.chat_id = c.id AND o.user_id <> p.user_id AND c.type = 'individual'
                         OFFSET 0
                     ) o ON true
                     WHERE p.chat_id = i.chat_id AND p.user_id = i.sender_id
                     OFFSET 0
                 ) member ON true
                 LEFT JOIN LATERAL (
                     SELECT e.id, e.chat_id FROM messages e
                     WHERE e.sender_id = i.sender_id AND e.client_message_id = i.client_message_id
                     OFFSET 0
                 ) existing ON true
             ), judged AS (
                 SELECT c.*,
                        -- (Most messages mention no one: no count for them.)
                        cardinality(c.mention_ids) = 0
                        OR (SELECT count(*) FROM chat_participants p
                            WHERE p.chat_id = c.chat_id AND p.left_at IS NULL AND p.user_id = ANY(c.mention_ids))
                           = cardinality(c.mention_ids) AS mentions_ok
                 FROM checked c
             ), accepted AS (
                 SELECT j.*, row_number() OVER w AS nth, count(*) OVER w AS n
                 FROM judged j
                 WHERE j.rate_ok AND j.may_send AND j.existing_id IS NULL AND NOT j.blocks_partner
                   AND NOT j.partner_gone AND j.reply_ok
                   AND j.media_ok AND j.mentions_ok
                 WINDOW w AS (PARTITION BY j.chat_id ORDER BY j.ord
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
             ), next AS (
                 -- Each chat's seqs, taken under its counter's row lock (V28): one range per
                 -- chat per batch. Looked up by key from the array of chats whatever the plan
                 -- thinks of the table's size (planned on a few chats, a join read all of them).
                 -- A chat whose messages here are all kept from a blocker stays where it was
                 -- in the blocker's list (V68).
                 UPDATE chat_sequences s
                 SET last_seq = s.last_seq + a.ns[array_position(a.chats, s.chat_id)],
                     last_message_at = now(),
                     quiet_for = a.quiet_for[array_position(a.chats, s.chat_id)],
                     quiet_since = CASE
                         WHEN a.quiet_for[array_position(a.chats, s.chat_id)] IS NULL THEN NULL
                         WHEN s.quiet_for = a.quiet_for[array_position(a.chats, s.chat_id)]
                             THEN s.quiet_since
                         ELSE s.last_message_at END
                 FROM (SELECT array_agg(chat_id) AS chats, array_agg(n) AS ns,
                              array_agg(quiet_for) AS quiet_for
                       FROM (SELECT chat_id, max(n) AS n,
                                    CASE WHEN bool_and(blocked_by IS NOT NULL)
                                         THEN (array_agg(blocked_by))[1] END AS quiet_for
                             FROM accepted GROUP BY chat_id) d) a
                 WHERE s.chat_id = ANY(a.chats)
                 RETURNING s.chat_id, s.last_seq
             ), seqs AS MATERIALIZED (
                 SELECT array_agg(chat_id) AS chats, array_agg(last_seq) AS lasts FROM next
             ), inserted AS (
                 INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, type, content,
                                       reply_to_id, metadata, media_id, mentions, forwarded_from_id,
                                       forward_count, view_once, expires_at)
                 SELECT a.id, a.chat_id, a.sender_id, a.client_message_id,
                        q.lasts[array_position(q.chats, a.chat_id)] - a.n + a.nth,
                        a.type, a.content, a.reply_to_id, a.metadata, a.media_id, a.mention_ids,
                        a.forwarded_from_id, coalesce(a.forward_count, 0), a.view_once,
                        CASE WHEN a.disappearing_seconds > 0
                             THEN now() + make_interval(secs => a.disappearing_seconds) END
                 FROM accepted a CROSS JOIN seqs q
                 ORDER BY a.ord
                 ON CONFLICT (sender_id, client_message_id) DO NOTHING
                 RETURNING *
             ), published AS (
                 -- The chat-wide events, in the same transaction (the event log, V11), in the
                 -- order the messages were given; before the message that shows a 1:1 chat to
                 -- its other member, the chat, for them alone (`shownTo`, `relay::ChatShownTo`).
                 -- A message to someone who blocks its sender is told to the sender's own
                 -- devices alone (their stream): no later unblock brings it to the blocker.
                 INSERT INTO events (chat_id, user_id, actor_id, origin_connection, name, message_id, data)
                 SELECT e.chat_id, e.user_id, e.sender_id, e.origin, e.name, e.message_id, e.data FROM (
                     SELECT CASE WHEN a.blocked_by IS NULL THEN a.chat_id END AS chat_id,
                            CASE WHEN a.blocked_by IS NOT NULL THEN a.sender_id END AS user_id,
                            a.sender_id, a.origin, 'message:received' AS name,
                            a.id AS message_id, NULL::jsonb AS data, a.ord, 1 AS step
                     FROM accepted a
                     WHERE a.id = ANY(ARRAY(SELECT id FROM inserted))
                     UNION ALL
                     SELECT a.chat_id, NULL, a.sender_id, NULL, 'chat:created', NULL,
                            jsonb_build_object('shownTo', a.hidden_partner), a.ord, 0
                     FROM accepted a
                     WHERE a.hidden_partner IS NOT NULL AND a.blocked_by IS NULL
                       AND (SELECT i.seq FROM inserted i WHERE i.id = a.id) = a.hidden_through + 1
                 ) e
                 ORDER BY e.ord, e.step
             ), kept_from_blocker AS (
                 -- And hidden from the blocker for good, as a message they deleted for
                 -- themselves is: their history, list, search and sync leave it out after an
                 -- unblock too.
                 INSERT INTO message_hidden (message_id, user_id, never_delivered)
                 SELECT a.id, a.blocked_by, true FROM accepted a
                 WHERE a.blocked_by IS NOT NULL AND a.id = ANY(ARRAY(SELECT id FROM inserted))
             ), still_hidden AS (
                 -- A blocker whose list does not show the chat (they deleted it for themselves,
                 -- or never had a message in it) goes on not seeing it: what they cleared
                 -- reaches past these messages, as the first of them was next after it.
                 UPDATE chat_participants p SET cleared_seq = b.last
                 FROM (SELECT a.chat_id, a.blocked_by, a.hidden_through,
                              min(s.seq) AS first, max(s.seq) AS last
                       FROM accepted a
                       CROSS JOIN LATERAL (SELECT i.seq FROM inserted i WHERE i.id = a.id) s
                       WHERE a.blocked_by IS NOT NULL AND a.hidden_partner = a.blocked_by
                       GROUP BY a.chat_id, a.blocked_by, a.hidden_through) b
                 WHERE b.first = b.hidden_through + 1
                   AND p.chat_id = b.chat_id AND p.user_id = b.blocked_by AND p.hidden
             )
             -- Per message, in order, what decides its outcome; then each stored message in
             -- `message_select`'s columns (a union, not a join: without hash joins, joining the
             -- verdicts to the stored rows compared every pair).
             SELECT j.ord, j.rate_ok, j.retry_after, j.is_member, j.may_send, j.reply_ok,
                    j.existing_id, j.existing_chat_id, j.blocks_partner, j.blocked_by,
                    j.partner_gone, j.media_ok, j.mentions_ok,
                    j.id, NULL AS chat_id, NULL AS client_message_id, NULL AS seq, NULL AS type,
                    NULL AS content, NULL AS metadata, NULL AS is_edited, NULL AS deleted_for_everyone,
                    NULL AS deleted_by, NULL AS created_at, NULL AS updated_at, NULL AS sender_id,
                    NULL AS sender_username, NULL AS reply_to_id, NULL AS reply_content,
                    NULL AS reply_sender, NULL AS reply_sender_id, NULL AS reply_sent_at, NULL AS reply_chat_id,
                    NULL AS reply_deleted,
                    NULL AS media_id, NULL AS mentions, NULL AS forward_count, NULL AS view_once,
                    NULL AS expires_at, NULL AS kept, NULL AS reactions, NULL::timestamptz AS viewed_at,
                    j.hidden_partner, j.hidden_through
             FROM judged j
             UNION ALL
             SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    i.id, i.chat_id, i.client_message_id, i.seq, i.type, i.content, i.metadata,
                    i.is_edited, i.deleted_for_everyone, i.deleted_by, i.created_at, i.updated_at,
                    i.sender_id, (SELECT u.username FROM users u WHERE u.id = i.sender_id),
                    i.reply_to_id,
                    r.content, r.username, r.sender_id, r.created_at, r.chat_id, r.deleted_for_everyone,
                    i.media_id, i.mentions, i.forward_count, i.view_once, i.expires_at, false,
                    '[]'::jsonb, NULL, NULL, NULL
             FROM inserted i
             -- (Looked up by key per message, as `member` is.)
             LEFT JOIN LATERAL (
                 SELECT r.content, r.deleted_for_everyone, r.sender_id, r.created_at, r.chat_id,
                        (SELECT ru.username FROM users ru WHERE ru.id = r.sender_id) AS username
                 FROM messages r WHERE r.id = i.reply_to_id
                 OFFSET 0
             ) r ON true",
            reply_not_expired = super::not_expired("r"),
            reply_seen = super::came_while_member("i.chat_id", "i.sender_id", "member.joined_at", "r.created_at"),
            reply_not_hidden = super::not_hidden_for("i.sender_id", "r"),
            private_reply_seen = super::sees_message("q", "i.sender_id", "r"),
            to_self = super::note_to_self("c"),
        ))
        .await?;
    let ids: Vec<Uuid> = batch.iter().map(|m| m.id).collect();
    let chats: Vec<Uuid> = batch.iter().map(|m| m.chat_id).collect();
    let senders: Vec<Uuid> = batch.iter().map(|m| m.sender_id).collect();
    let client_ids: Vec<&str> = batch.iter().map(|m| m.client_message_id.as_str()).collect();
    let kinds: Vec<&str> = batch.iter().map(|m| m.kind.as_str()).collect();
    let contents: Vec<Option<&str>> = batch.iter().map(|m| m.content.as_deref()).collect();
    let replies: Vec<Option<Uuid>> = batch.iter().map(|m| m.reply_to).collect();
    let metadata: Vec<Json<&MessageMetadata>> = batch.iter().map(|m| Json(&m.metadata)).collect();
    let origins: Vec<Option<&str>> = batch
        .iter()
        .map(|m| m.origin_connection.as_deref())
        .collect();
    let media: Vec<Option<Uuid>> = batch.iter().map(|m| m.media_id).collect();
    let forwarded_from: Vec<Option<Uuid>> =
        batch.iter().map(|m| m.forward_of.map(|f| f.0)).collect();
    let forward_counts: Vec<Option<i32>> =
        batch.iter().map(|m| m.forward_of.map(|f| f.1)).collect();
    let view_once: Vec<bool> = batch.iter().map(|m| m.view_once).collect();
    let buckets: Vec<Option<&str>> = batch
        .iter()
        .map(|m| m.rate_limit.as_ref().map(|r| r.bucket.as_str()))
        .collect();
    let bucket_max: Vec<Option<i64>> = batch
        .iter()
        .map(|m| m.rate_limit.as_ref().map(|r| r.limit.max))
        .collect();
    let bucket_secs: Vec<Option<f64>> = batch
        .iter()
        .map(|m| m.rate_limit.as_ref().map(|r| r.limit.window_secs()))
        .collect();
    // Mentions as (message's ordinal, user) pairs.
    let (mention_of, mentioned): (Vec<i64>, Vec<Uuid>) = batch
        .iter()
        .enumerate()
        .flat_map(|(i, m)| m.mentions.iter().map(move |u| (i as i64 + 1, *u)))
        .unzip();
    let rows = client
        .query(
            &stmt,
            &[
                &ids,
                &chats,
                &senders,
                &client_ids,
                &kinds,
                &contents,
                &replies,
                &metadata,
                &origins,
                &media,
                &forwarded_from,
                &forward_counts,
                &view_once,
                &mention_of,
                &mentioned,
                &buckets,
                &bucket_max,
                &bucket_secs,
            ],
        )
        .await?;
    // The verdicts by each message's place in the batch, then the stored messages by id.
    let mut verdicts: Vec<Option<&Row>> = vec![None; batch.len()];
    let mut stored: HashMap<Uuid, &Row> = HashMap::new();
    for row in &rows {
        let Some(ord) = row.get::<_, Option<i64>>("ord") else {
            stored.insert(row.get("id"), row);
            continue;
        };
        let verdict = usize::try_from(ord - 1)
            .ok()
            .and_then(|place| verdicts.get_mut(place))
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "a batch of {} messages answered for message {ord}",
                    batch.len()
                ))
            })?;
        *verdict = Some(row);
    }
    verdicts
        .into_iter()
        .zip(batch)
        .map(|(verdict, m)| match verdict {
            Some(verdict) => Ok(outcome(verdict, stored.get(&m.id).copied(), m)),
            None => Err(ApiError::Internal(
                "a message of a batch came back without its verdict".into(),
            )),
        })
        .collect()
}

/// What [`insert_many`] says happened to `m`: its verdict row, and the row of the message as
/// stored if it was.
fn outcome(row: &Row, stored: Option<&Row>, m: &NewMessage) -> Option<Stored> {
    if !row.get::<_, bool>("rate_ok") {
        let retry_after: Option<i64> = row.get("retry_after");
        return Some(Stored::RateLimited {
            retry_after_secs: retry_after.unwrap_or(1).max(1) as u64,
        });
    }
    if let Some(id) = row.get::<_, Option<Uuid>>("existing_id") {
        let chat: Uuid = row.get("existing_chat_id");
        return Some(if chat == m.chat_id {
            Stored::Existing { id }
        } else {
            Stored::IdReusedElsewhere
        });
    }
    let refusal = [
        (!row.get::<_, bool>("is_member"), Stored::NotMember),
        (!row.get::<_, bool>("may_send"), Stored::AdminsOnly),
        (row.get::<_, bool>("blocks_partner"), Stored::Blocked),
        (row.get::<_, bool>("partner_gone"), Stored::PartnerGone),
        (!row.get::<_, bool>("reply_ok"), Stored::BadReply),
        (!row.get::<_, bool>("media_ok"), Stored::BadMedia),
        (!row.get::<_, bool>("mentions_ok"), Stored::BadMentions),
    ]
    .into_iter()
    .find_map(|(refused, why)| refused.then_some(why));
    if refusal.is_some() {
        return refusal;
    }
    stored.map(|stored| {
        let message = message_row(stored, MessageStatus::Sent);
        let hidden_through: Option<i64> = row.get("hidden_through");
        let blocked_by: Option<Uuid> = row.get("blocked_by");
        let shows_chat_to = row
            .get::<_, Option<Uuid>>("hidden_partner")
            .filter(|_| blocked_by.is_none())
            .filter(|_| hidden_through.is_some_and(|through| message.seq == through + 1));
        Stored::Created {
            message: Box::new(message),
            shows_chat_to,
        }
    })
}

/// A message forwarded this many hops from its original is "forwarded many times" (WhatsApp),
/// and goes to one chat at a time.
pub const FORWARDED_MANY_TIMES: i32 = 5;

/// The `Message` columns, by the names [`message_row`] reads, as `viewer` (the statement's
/// parameter naming them, e.g. `$3`) is shown them: what someone they block sent or did while
/// blocked is left out (a reaction, a quoted message's text), as it is from their history, and
/// so is a reaction kept from them; `never_delivered` says whether the message was kept from
/// the blocker it was sent to (V69: for its sender, `sent` for good). `None`: as they stand
/// (the relay's events, which leave out blocked actors themselves and show each viewer the
/// message as `Message::as_seen_by` says).
pub(super) fn message_select(viewer: Option<&str>) -> String {
    message_select_from(viewer, "messages m")
}

/// The messages of `source` (SQL naming them `m`), as [`message_select`] answers them.
///
/// The sender and the quoted message are looked up for each message (a lateral subquery that
/// `OFFSET 0` keeps one), by key, whatever the statement's plan thinks of the tables' sizes: a
/// generic plan made while the tables were nearly empty (a new deployment, the benchmark)
/// would otherwise join them by reading a whole table once per message, and keep doing so for
/// the connection's life.
fn message_select_from(viewer: Option<&str>, source: &str) -> String {
    let (reaction_shown, quote_shown, never_delivered, viewed_at) = match viewer {
        Some(viewer) => (
            format!(
                "{} AND x.kept_from IS DISTINCT FROM {viewer}",
                super::not_sent_while_blocked(viewer, "x.user_id", "x.created_at")
            ),
            super::not_sent_while_blocked(viewer, "r.sender_id", "r.created_at"),
            "EXISTS (SELECT 1 FROM message_hidden h WHERE h.message_id = m.id AND h.never_delivered)",
            // The viewer's own play or open; of their own message in a 1:1 chat, the other's
            // (an open as read receipts show it).
            format!(
                "CASE WHEN m.view_once OR m.type = 'audio' THEN (
                     SELECT min(w.opened_at) FROM message_views w
                     WHERE w.message_id = m.id
                       AND (w.user_id = {viewer}
                            OR m.sender_id = {viewer}
                               AND (SELECT c.type FROM chats c WHERE c.id = m.chat_id) = 'individual'
                               AND (m.type = 'audio' OR {shared})))
                 END",
                shared = super::read_receipts_shared("m.chat_id", "w.user_id", viewer),
            ),
        ),
        None => (
            "true".to_owned(),
            "true".to_owned(),
            "false",
            "NULL::timestamptz".to_owned(),
        ),
    };
    format!(
        "SELECT m.id, m.chat_id, m.client_message_id, m.seq, m.type, m.content, m.metadata,
        m.is_edited, m.deleted_for_everyone, m.deleted_by, m.created_at, m.updated_at,
        m.sender_id, u.username AS sender_username, m.reply_to_id,
        CASE WHEN {quote_shown} THEN r.content END AS reply_content,
        r.username AS reply_sender, r.sender_id AS reply_sender_id, r.created_at AS reply_sent_at,
        r.chat_id AS reply_chat_id,
        -- A disappeared message quoted by a reply shows as a deleted one does (the opposite of
        -- `not_expired`, spelled out here).
        r.deleted_for_everyone OR coalesce(r.expires_at <= now(), false) AS reply_deleted,
        m.media_id, m.mentions, m.forward_count, m.view_once, m.expires_at,
        m.kept_at IS NOT NULL AS kept, {never_delivered} AS never_delivered,
        {viewed_at} AS viewed_at,
        COALESCE((SELECT jsonb_agg(jsonb_build_object('emoji', g.emoji, 'count', g.n, 'users', g.users,
                                                      'reactedAt', g.reacted_at, 'keptFrom', g.kept_from)
                                   ORDER BY g.first_at)
                  FROM (SELECT x.emoji, count(*) AS n, array_agg(x.user_id ORDER BY x.created_at) AS users,
                               array_agg(x.created_at ORDER BY x.created_at) AS reacted_at,
                               array_agg(x.kept_from ORDER BY x.created_at) AS kept_from,
                               min(x.created_at) AS first_at
                        FROM message_reactions x WHERE x.message_id = m.id AND {reaction_shown}
                        GROUP BY x.emoji) g),
                 '[]'::jsonb) AS reactions
     FROM {source}
     LEFT JOIN LATERAL (SELECT u.username FROM users u WHERE u.id = m.sender_id OFFSET 0) u ON true
     LEFT JOIN LATERAL (
         SELECT r.content, r.sender_id, r.created_at, r.chat_id, r.deleted_for_everyone,
                r.expires_at, (SELECT ru.username FROM users ru WHERE ru.id = r.sender_id) AS username
         FROM messages r WHERE r.id = m.reply_to_id OFFSET 0) r ON true"
    )
}

/// The `Message` shape. `status` is the sender's view of the receipts (`sent` / `delivered` /
/// `read`). A message deleted for everyone keeps its place but shows no content.
pub(super) fn message_row(r: &Row, status: MessageStatus) -> Message {
    let deleted: bool = r.get("deleted_for_everyone");
    let view_once: bool = r.get("view_once");
    let kind: String = r.get("type");
    let is_audio = kind == "audio";
    let viewed_at = r
        .get::<_, Option<DateTime<Utc>>>("viewed_at")
        .filter(|_| !deleted)
        .map(Timestamp);
    let sender = r
        .get::<_, Option<Uuid>>("sender_id")
        .map(|id| MessageSender {
            id,
            username: r.get("sender_username"),
            profile_picture_url: None,
        });
    let reply_to = r.get::<_, Option<Uuid>>("reply_to_id").map(|id| {
        let reply_deleted = r.get::<_, Option<bool>>("reply_deleted").unwrap_or(false);
        ReplyPreview {
            id,
            // (Its own chat, unless the reply was private: the quoted row is always there.)
            chat_id: r
                .get::<_, Option<Uuid>>("reply_chat_id")
                .unwrap_or_else(|| r.get("chat_id")),
            content: r
                .get::<_, Option<String>>("reply_content")
                .filter(|_| !reply_deleted),
            sender: r.get("reply_sender"),
            sender_id: r.get("reply_sender_id"),
            sent_at: r.get("reply_sent_at"),
        }
    });
    let Json(metadata) = r.get::<_, Json<MessageMetadata>>("metadata");
    let Json(reactions) = r.get::<_, Json<Vec<ReactionGroup>>>("reactions");
    Message {
        id: r.get("id"),
        chat_id: r.get("chat_id"),
        client_message_id: r.get("client_message_id"),
        seq: r.get("seq"),
        sender,
        content: r.get::<_, Option<String>>("content").filter(|_| !deleted),
        kind,
        media_url: None,
        thumbnail_url: None,
        reply_to,
        metadata: if deleted {
            MessageMetadata::new()
        } else {
            metadata
        },
        // A view-once file is handed out by `open`, once per recipient, never in a message.
        media_id: r
            .get::<_, Option<Uuid>>("media_id")
            .filter(|_| !deleted && !view_once),
        view_once,
        expires_at: r
            .get::<_, Option<DateTime<Utc>>>("expires_at")
            .map(Timestamp),
        kept: r.get("kept"),
        played_at: viewed_at.filter(|_| is_audio),
        opened_at: viewed_at.filter(|_| view_once),
        mentions: if deleted {
            Vec::new()
        } else {
            r.get("mentions")
        },
        forwarded: r.get::<_, i32>("forward_count") > 0,
        forwarded_many_times: r.get::<_, i32>("forward_count") >= FORWARDED_MANY_TIMES,
        is_edited: r.get("is_edited"),
        is_deleted: deleted,
        deleted_by: r.get::<_, Option<Uuid>>("deleted_by").filter(|_| deleted),
        reactions,
        status,
        created_at: Timestamp(r.get("created_at")),
        updated_at: Timestamp(r.get("updated_at")),
    }
}

/// A live location's metadata: how long it is shared for (`liveSeconds`).
fn live_seconds(m: &Message) -> Option<i64> {
    (m.kind == "location")
        .then(|| m.metadata.get("liveSeconds")?.as_i64())
        .flatten()
}

/// [`as_they_left`] for `messages` of any chats of `viewer`'s, whose leaving times it looks up
/// (only when the messages hold one that may differ).
pub(super) async fn as_seen_by(
    client: &impl deadpool_postgres::GenericClient,
    viewer: Uuid,
    messages: &mut [Message],
) -> Result<(), ApiError> {
    // (What `as_they_left` may change: an edited message, a live location.)
    let chats: Vec<Uuid> = messages
        .iter()
        .filter(|m| m.is_edited || live_seconds(m).is_some())
        .map(|m| m.chat_id)
        .collect();
    if chats.is_empty() {
        return Ok(());
    }
    let stmt = client
        .prepare_cached(
            "SELECT chat_id, left_at FROM chat_participants
             WHERE user_id = $1 AND chat_id = ANY($2) AND left_at IS NOT NULL",
        )
        .await?;
    let left: HashMap<Uuid, DateTime<Utc>> = client
        .query(&stmt, &[&viewer, &chats])
        .await?
        .iter()
        .map(|r| (r.get("chat_id"), r.get("left_at")))
        .collect();
    as_they_left(client, messages, &left).await
}

/// [`as_they_left`], for a history page. A page found by words keeps a message it gave an
/// older text only if that text holds the words: the viewer never saw the words it has now.
async fn as_they_left_found(
    client: &impl deadpool_postgres::GenericClient,
    page: &mut Vec<Message>,
    left: &HashMap<Uuid, DateTime<Utc>>,
    words: Option<&str>,
) -> Result<(), ApiError> {
    let texts_now: Vec<Option<String>> = match words {
        Some(_) if !left.is_empty() => page.iter().map(|m| m.content.clone()).collect(),
        _ => Vec::new(),
    };
    as_they_left(client, page, left).await?;
    let (Some(words), false) = (words, texts_now.is_empty()) else {
        return Ok(());
    };
    let (ids, texts_then): (Vec<Uuid>, Vec<String>) = page
        .iter()
        .zip(&texts_now)
        .filter(|(m, now)| m.content != **now)
        .map(|(m, _)| (m.id, m.content.clone().unwrap_or_default()))
        .unzip();
    if ids.is_empty() {
        return Ok(());
    }
    let still_found = holding_words(client, &ids, &texts_then, words).await?;
    page.retain(|m| !ids.contains(&m.id) || still_found.contains(&m.id));
    Ok(())
}

/// Of these messages' texts (ids and texts in step), those holding `words`, read as the
/// `search` column reads a message (V24, V73) and matched as the message search matches it: for the
/// older text a former member saw.
async fn holding_words(
    client: &impl deadpool_postgres::GenericClient,
    ids: &[Uuid],
    texts: &[String],
    words: &str,
) -> Result<Vec<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT x.id FROM unnest($1::uuid[], $2::text[]) AS x(id, text)
             WHERE to_tsvector('banter_search'::regconfig, search_text(x.text)) @@ search_query($3)",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&ids, &texts, &words])
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect())
}

/// Show `messages` of the chats in `left` (by chat, when the viewer left it) as they stood
/// then, where that differs (a former member who kept a group reads it as it was when they
/// left):
/// - a message edited since shows the text it had then (and `isEdited` as it was then);
/// - a live location still shared after they left shows as ended and without its position (its
///   sender goes on moving it for the chat, and leaving is the end of following them). One that
///   stopped moving before they left (its time was up) shows as they saw it.
///
/// Asks PostgreSQL only for edited messages of those chats.
async fn as_they_left(
    client: &impl deadpool_postgres::GenericClient,
    messages: &mut [Message],
    left: &HashMap<Uuid, DateTime<Utc>>,
) -> Result<(), ApiError> {
    if left.is_empty() {
        return Ok(());
    }
    // Edited messages of chats the viewer left: the first edit after they left holds the text
    // they saw.
    let (edited, left_ats): (Vec<Uuid>, Vec<DateTime<Utc>>) = messages
        .iter()
        .filter(|m| m.is_edited)
        .filter_map(|m| Some((m.id, *left.get(&m.chat_id)?)))
        .unzip();
    let mut texts_then: HashMap<Uuid, (String, bool)> = HashMap::new();
    if !edited.is_empty() {
        let stmt = client
            .prepare_cached(
                "SELECT x.id,
                        (SELECT e.previous_content FROM message_edits e
                         WHERE e.message_id = x.id AND e.edited_at > x.left_at
                         ORDER BY e.id LIMIT 1) AS text_then,
                        EXISTS (SELECT 1 FROM message_edits e
                                WHERE e.message_id = x.id AND e.edited_at <= x.left_at) AS edited_then
                 FROM unnest($1::uuid[], $2::timestamptz[]) AS x(id, left_at)",
            )
            .await?;
        for r in client.query(&stmt, &[&edited, &left_ats]).await? {
            if let Some(text) = r.get::<_, Option<String>>("text_then") {
                texts_then.insert(r.get("id"), (text, r.get("edited_then")));
            }
        }
    }
    for message in messages.iter_mut() {
        let Some(left_at) = left.get(&message.chat_id) else {
            continue;
        };
        if let Some((text, edited_then)) = texts_then.remove(&message.id) {
            message.content = Some(text);
            message.is_edited = edited_then;
        }
        let Some(seconds) = live_seconds(message) else {
            continue;
        };
        if message.created_at.0 + chrono::Duration::seconds(seconds) > *left_at {
            message.metadata.remove("latitude");
            message.metadata.remove("longitude");
            message
                .metadata
                .insert("liveStopped".into(), serde_json::Value::Bool(true));
        }
    }
    Ok(())
}

/// One message as just stored (status `sent`), as `viewer` sees it (`message_select`).
pub async fn by_id(db: &Db, id: Uuid, viewer: Uuid) -> Result<Option<Message>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!("{} WHERE m.id = $1", message_select(Some("$2"))))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &viewer])
        .await?
        .map(|r| message_row(&r, MessageStatus::Sent)))
}

/// Where a history page starts: the latest messages, those before and/or after a message, or
/// those around one; and which type of message it lists (all, if `None`).
pub struct Cursor<'a> {
    pub before: Option<Uuid>,
    pub after: Option<Uuid>,
    pub around: Option<Uuid>,
    pub kind: Option<&'a str>,
    /// Every message, or only those of a gallery tab.
    pub only: Only,
    /// Only messages whose file's name contains this (lower-cased; the gallery's search).
    pub file_name: Option<&'a str>,
    /// Only messages holding these words, as the message search matches them (the in-chat
    /// search, PRD `GetMessagesRequest.search`): no system lines, nothing deleted for everyone.
    pub words: Option<&'a str>,
}

/// Which messages a history page lists: all, or those of one of a chat's galleries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Everything,
    /// Messages showing a file (the media gallery: not view-once ones).
    Files,
    /// Text messages holding a link (WhatsApp's Links tab): their `linkPreview`, or an address
    /// in their text.
    Links,
}

impl Only {
    /// As the history statement's `$9` reads it.
    fn as_param(self) -> Option<&'static str> {
        match self {
            Self::Everything => None,
            Self::Files => Some("files"),
            Self::Links => Some("links"),
        }
    }
}

/// A page of a chat's history, as [`history`] reads it for a viewer.
pub struct HistoryPage {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// More messages lie beyond the page in the paging direction (older ones, or with only
    /// `after`, newer ones).
    pub has_more: bool,
    /// While the viewer is a member: up to which `seq` the chat's messages had reached one of
    /// their devices. Those after it reach them with this page.
    pub delivered_to_viewer: Option<i64>,
}

/// A page of history, or `None` if the viewer does not read the chat (neither a member nor a
/// former member who kept it, whose history ends when they left).
pub async fn history(
    db: &Db,
    chat_id: Uuid,
    viewer: Uuid,
    cursor: Cursor<'_>,
    limit: i64,
) -> Result<Option<HistoryPage>, ApiError> {
    let client = db.get().await?;
    let me = client
        .prepare_cached(&format!(
            // A member who hides their presence from the viewer shows `delivered` only once
            // they read (a live tick would tell when they were online).
            "SELECT me.cleared_seq, me.joined_at, me.left_at, {} AS last_read,
                    CASE WHEN me.left_at IS NULL THEN me.delivered_seq END AS own_delivered_seq,
                    me.read_seq AS own_read_seq,
                    (SELECT min(CASE WHEN {} THEN o.delivered_seq ELSE o.read_seq END)
                     FROM chat_participants o WHERE o.chat_id = $1 AND o.user_id <> $2 AND o.left_at IS NULL)
                        AS delivered_seq,
                    -- Read ticks only where both sides share read receipts (V18).
                    (SELECT min(CASE WHEN {} THEN o.read_seq ELSE 0 END)
                     FROM chat_participants o WHERE o.chat_id = $1 AND o.user_id <> $2 AND o.left_at IS NULL)
                        AS read_seq
             FROM chat_participants me WHERE me.chat_id = $1 AND me.user_id = $2 AND {}",
            super::last_seq_read("me"),
            super::presence_shown("o.user_id", "$2"),
            super::read_receipts_shared("$1", "o.user_id", "$2"),
            super::reads_the_chat("me"),
        ))
        .await?;
    let Some(me) = client.query_opt(&me, &[&chat_id, &viewer]).await? else {
        return Ok(None);
    };
    let cleared: i64 = me.get("cleared_seq");
    let last_read: i64 = me.get("last_read");
    let delivered_to_viewer: Option<i64> = me.get("own_delivered_seq");
    // A member reads the messages from when they joined (an added member does not get the
    // group's earlier history), and those of their earlier memberships.
    let joined: DateTime<Utc> = me.get("joined_at");
    let delivered: i64 = me.get::<_, Option<i64>>("delivered_seq").unwrap_or(0);
    let read: i64 = me.get::<_, Option<i64>>("read_seq").unwrap_or(0);
    let own_read: i64 = me.get("own_read_seq");
    // A former member reads the page as it was when they left (a member: nothing to look up).
    let left: HashMap<Uuid, DateTime<Utc>> = me
        .get::<_, Option<DateTime<Utc>>>("left_at")
        .map(|at| (chat_id, at))
        .into_iter()
        .collect();

    let client = &client;
    let anchor_seq = |id: Uuid| async move {
        let stmt = client
            .prepare_cached("SELECT seq FROM messages WHERE id = $1 AND chat_id = $2")
            .await?;
        client
            .query_opt(&stmt, &[&id, &chat_id])
            .await?
            .map(|r| r.get::<_, i64>("seq"))
            .ok_or(ApiError::NotFound("cursor message"))
    };
    let file_name = cursor.file_name.map(|f| super::like_pattern(f, false));
    let file_name = &file_name;
    let visible = format!(
        "m.chat_id = $1 AND m.seq > $2 AND {}
        AND ($8::text IS NULL OR m.type = $8)
        AND ($9::text IS NULL
             OR $9 = 'files' AND m.media_id IS NOT NULL AND NOT m.view_once AND NOT m.deleted_for_everyone
             OR $9 = 'links' AND m.type = 'text' AND NOT m.deleted_for_everyone
                AND (m.metadata ? 'linkPreview' OR m.content ~* '(https?://|www\\.)[^[:space:]]'))
        AND {}
        AND {}
        AND {}
        AND ($10::text IS NULL OR EXISTS (SELECT 1 FROM media_files f
                                          WHERE f.id = m.media_id AND lower(f.file_name) LIKE $10))
        AND ($11::text IS NULL OR m.search @@ (SELECT search_query($11))
                                  AND m.type <> 'system' AND NOT m.deleted_for_everyone)",
        super::came_while_member("$1", "$3", "$7", "m.created_at"),
        super::not_hidden_for("$3", "m"),
        super::not_sent_while_blocked("$3", "m.sender_id", "m.created_at"),
        super::not_expired("m"),
    );
    let visible = &visible;
    // Up to `n` visible messages with `lower < seq < upper`, nearest the bound paged from first.
    let rows_between = |lower: i64, upper: i64, ascending: bool, n: i64| async move {
        let upper = upper.min(last_read.saturating_add(1));
        let order = if ascending { "ASC" } else { "DESC" };
        let sql = format!(
            "{} WHERE {visible} AND m.seq > $4 AND m.seq < $5 ORDER BY m.seq {order} LIMIT $6",
            message_select(Some("$3"))
        );
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client
            .query(
                &stmt,
                &[
                    &chat_id,
                    &cleared,
                    &viewer,
                    &lower,
                    &upper,
                    &n,
                    &joined,
                    &cursor.kind,
                    &cursor.only.as_param(),
                    &file_name,
                    &cursor.words,
                ],
            )
            .await?;
        Ok::<_, ApiError>(rows)
    };
    // The viewer's own messages: the receipts as they see them. Anyone else's (and a system
    // line): the viewer's own receipt, which this page delivers if nothing did before.
    let with_status = |r: &Row| {
        let seq: i64 = r.get("seq");
        let own = r.get::<_, Option<Uuid>>("sender_id") == Some(viewer);
        let status = match (own, seq) {
            // Kept from the blocker it was sent to: it never reached them.
            (true, _) if r.get::<_, bool>("never_delivered") => MessageStatus::Sent,
            (true, seq) if seq <= read => MessageStatus::Read,
            (true, seq) if seq <= delivered => MessageStatus::Delivered,
            (true, _) => MessageStatus::Sent,
            (false, seq) if seq <= own_read => MessageStatus::Read,
            (false, _) => MessageStatus::Delivered,
        };
        message_row(r, status)
    };
    if let Some(id) = cursor.around {
        // The message, older ones before it, newer ones after: half the page each way.
        let anchor = anchor_seq(id).await?;
        let newer_n = limit / 2;
        let older = rows_between(0, anchor + 1, false, limit - newer_n + 1).await?;
        let newer = rows_between(anchor, i64::MAX, true, newer_n).await?;
        let has_more = older.len() as i64 > limit - newer_n;
        let mut page: Vec<Message> = older
            .iter()
            .take((limit - newer_n) as usize)
            .map(with_status)
            .collect();
        page.reverse();
        page.extend(newer.iter().map(with_status));
        as_they_left_found(client, &mut page, &left, cursor.words).await?;
        return Ok(Some(HistoryPage {
            messages: page,
            has_more,
            delivered_to_viewer,
        }));
    }
    let lower = match cursor.after {
        Some(id) => anchor_seq(id).await?,
        None => 0,
    };
    let upper = match cursor.before {
        Some(id) => anchor_seq(id).await?,
        None => i64::MAX,
    };
    // Only `after`: page forwards from it. Otherwise page backwards from `before` (or the end).
    let ascending = cursor.after.is_some() && cursor.before.is_none();
    let rows = rows_between(lower, upper, ascending, limit + 1).await?;
    let has_more = rows.len() as i64 > limit;
    let mut page: Vec<Message> = rows.iter().take(limit as usize).map(with_status).collect();
    if !ascending {
        page.reverse();
    }
    as_they_left_found(client, &mut page, &left, cursor.words).await?;
    Ok(Some(HistoryPage {
        messages: page,
        has_more,
        delivered_to_viewer,
    }))
}

/// Messages by id, as they are now (status `sent`), for the events that carry them.
///
/// Planned as `planning` says, not from a plan PostgreSQL chose and cached on a connection
/// without `keyed_lookup_plans!`: a cached generic plan is made once per connection, when it
/// first asks, and one made while `messages` was small reads the whole table, comparing every
/// row with every id. Sync keeps its connections for hours: in a growing benchmark database that
/// read took 176 ms for 443 ids (and half a core) where the index takes 3.5 ms.
pub async fn by_ids(
    client: &impl super::AsTokioPostgres,
    ids: &[Uuid],
    planning: super::Planning,
) -> Result<HashMap<Uuid, Message>, ApiError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    // Each looked up by its id, whatever the plan thinks of the table's size (see
    // `message_select_from`): as `m.id = ANY($1)`, a generic plan made on a nearly empty table
    // read the whole of another index of it for each call (1,383 buffers a relay round in
    // `banter-bench`, p99 15 -> 33 ms).
    let sql = format!(
        "{} WHERE {}",
        message_select_from(
            None,
            "unnest($1::uuid[]) AS wanted(id)
             CROSS JOIN LATERAL (SELECT * FROM messages WHERE messages.id = wanted.id OFFSET 0) m"
        ),
        super::not_expired("m")
    );
    let rows = match planning {
        super::Planning::PerCall => {
            use tokio_postgres::GenericClient as _;
            client
                .as_tokio_postgres()
                .query_typed(&sql, &[(&ids, tokio_postgres::types::Type::UUID_ARRAY)])
                .await?
        }
        super::Planning::KeyedLookups => {
            client
                .query(&client.prepare_cached(&sql).await?, &[&ids])
                .await?
        }
    };
    Ok(rows
        .iter()
        .map(|r| {
            let m = message_row(r, MessageStatus::Sent);
            (m.id, m)
        })
        .collect())
}

/// Who deleted which of these messages for themselves: `(message, user)` pairs.
pub async fn hidden_for(
    client: &impl deadpool_postgres::GenericClient,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<(Uuid, Uuid)>, ApiError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let stmt = client
        .prepare_cached("SELECT message_id, user_id FROM message_hidden WHERE message_id = ANY($1)")
        .await?;
    Ok(client
        .query(&stmt, &[&ids])
        .await?
        .iter()
        .map(|r| (r.get("message_id"), r.get("user_id")))
        .collect())
}

/// One delivery receipt: `user`'s devices got the chat's messages up to `seq`.
pub struct DeliveredUpTo {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub seq: i64,
}

/// Record many delivery receipts in one statement (watermarks only move forward), taking the
/// rows in one order (by chat, then user), as every transaction that records receipts does.
pub async fn mark_delivered_many(
    client: &impl deadpool_postgres::GenericClient,
    receipts: &[DeliveredUpTo],
) -> Result<(), ApiError> {
    if receipts.is_empty() {
        return Ok(());
    }
    let chats: Vec<Uuid> = receipts.iter().map(|r| r.chat_id).collect();
    let users: Vec<Uuid> = receipts.iter().map(|r| r.user_id).collect();
    let seqs: Vec<i64> = receipts.iter().map(|r| r.seq).collect();
    let stmt = client
        .prepare_cached(
            "UPDATE chat_participants p
             SET delivered_seq = v.seq, delivered_marks = receipt_marks_push(p.delivered_marks, v.seq)
             FROM (SELECT chat, usr, max(seq) AS seq FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) x(chat, usr, seq)
                   GROUP BY chat, usr ORDER BY chat, usr) v
             WHERE p.chat_id = v.chat AND p.user_id = v.usr AND p.delivered_seq < v.seq",
        )
        .await?;
    client.execute(&stmt, &[&chats, &users, &seqs]).await?;
    Ok(())
}

/// `user`'s starred messages that they can still see (a member of their chat, not hidden or
/// cleared by them), of `chat` or all, most recently starred first, and how many there are.
pub async fn starred(
    db: &Db,
    user: Uuid,
    chat: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Message>, i64), ApiError> {
    let client = db.get().await?;
    let visible = &format!(
        "FROM message_stars s
         JOIN messages v ON v.id = s.message_id
         JOIN chat_participants p ON p.chat_id = v.chat_id AND p.user_id = s.user_id
         WHERE s.user_id = $1 AND ($2::uuid IS NULL OR v.chat_id = $2) AND {} AND {}",
        super::sees_message("p", "$1", "v"),
        super::not_expired("v"),
    );
    let page = client
        .prepare_cached(&format!(
            "WITH page AS (SELECT v.id, s.starred_at {visible}
                           ORDER BY s.starred_at DESC, v.id LIMIT $3 OFFSET $4)
             {select} JOIN page ON page.id = m.id ORDER BY page.starred_at DESC, m.id",
            select = message_select(Some("$1"))
        ))
        .await?;
    let count = client
        .prepare_cached(&format!("SELECT count(*) AS total {visible}"))
        .await?;
    let rows = client
        .query(&page, &[&user, &chat, &limit, &offset])
        .await?;
    let total: i64 = client
        .query_one(&count, &[&user, &chat])
        .await?
        .get("total");
    let mut page: Vec<Message> = rows
        .iter()
        .map(|r| message_row(r, MessageStatus::Sent))
        .collect();
    as_seen_by(&client, user, &mut page).await?;
    Ok((page, total))
}

/// One recipient's receipt of a message, as stored: their watermarks against its `seq`, the
/// times those reached it, and what the sender may learn of them.
pub struct ReceiptRow {
    pub user_id: Uuid,
    pub username: String,
    pub delivered: bool,
    pub read: bool,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    /// The recipient lets the sender know when they are online (`presence_shown_to`, V75).
    pub presence_visible: bool,
    /// Read receipts are shared between them in this chat (`read_receipts_shared_with`, V76).
    pub reads_visible: bool,
    /// When they opened it (a view-once) or played it (a voice note).
    pub viewed_at: Option<DateTime<Utc>>,
}

/// The receipts of message `seq` (sent at `sent_at` by `sender`) from each member who was in
/// the chat when it was sent (then, or in an earlier membership): the current ones, and those
/// who have left since but got it first (who read it and left still read it; who left before
/// it reached them never will, and is not listed).
pub async fn receipts_of(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    message_id: Uuid,
    sender: Uuid,
    seq: i64,
    sent_at: DateTime<Utc>,
) -> Result<Vec<ReceiptRow>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT u.id, u.username, o.delivered_seq >= $3 AS delivered, o.read_seq >= $3 AS read,
                    receipt_marks_time(o.delivered_marks, $3) AS delivered_at,
                    receipt_marks_time(o.read_marks, $3) AS read_at,
                    {shown} AS presence_visible,
                    {reads} AS reads_visible,
                    (SELECT v.opened_at FROM message_views v
                     WHERE v.message_id = $5 AND v.user_id = o.user_id) AS viewed_at
             FROM chat_participants o JOIN users u ON u.id = o.user_id
             WHERE o.chat_id = $1 AND o.user_id <> $2
               AND (o.left_at IS NULL OR (o.left_at >= $4 AND o.delivered_seq >= $3)) AND {member}
             ORDER BY u.username",
            shown = super::presence_shown("o.user_id", "$2"),
            reads = super::read_receipts_shared("$1", "o.user_id", "$2"),
            member = super::came_while_member(
                "o.chat_id",
                "o.user_id",
                "o.joined_at",
                "$4::timestamptz"
            ),
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&chat_id, &sender, &seq, &sent_at, &message_id])
        .await?
        .iter()
        .map(|r| ReceiptRow {
            user_id: r.get("id"),
            username: r.get("username"),
            delivered: r.get("delivered"),
            read: r.get("read"),
            delivered_at: r.get("delivered_at"),
            read_at: r.get("read_at"),
            presence_visible: r.get("presence_visible"),
            reads_visible: r.get("reads_visible"),
            viewed_at: r.get("viewed_at"),
        })
        .collect())
}

/// Merge the words of messages stored since the last call into the search index (V34): the
/// send statement only appends them to the index's pending list. Returns the pending pages
/// merged.
pub async fn flush_search_index(
    client: &impl deadpool_postgres::GenericClient,
) -> Result<i64, ApiError> {
    let row = client
        .query_one("SELECT flush_message_search_index() AS pages", &[])
        .await?;
    Ok(row.get("pages"))
}

/// Erase up to `limit` messages whose disappearing timer ran out (rows, events and marks go
/// with them). How many.
pub async fn erase_expired(
    client: &impl deadpool_postgres::GenericClient,
    limit: i64,
) -> Result<u64, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH gone AS (
                 DELETE FROM messages WHERE id IN (
                     SELECT id FROM messages WHERE expires_at <= now() ORDER BY expires_at LIMIT $1
                     FOR UPDATE SKIP LOCKED)
                 RETURNING media_id
             ), released AS (
                 -- Their files go with them unless a forward still shows them (housekeeping).
                 UPDATE media_files SET released_at = now()
                 WHERE id IN (SELECT media_id FROM gone WHERE media_id IS NOT NULL)
             )
             SELECT count(*) AS n FROM gone",
        )
        .await?;
    let n: i64 = client.query_one(&stmt, &[&limit]).await?.get("n");
    Ok(n as u64)
}

/// Record that `user` opened a view-once message or played a voice note (V22's
/// `message_views`). When they first did, and whether that is now.
pub async fn mark_viewed(
    client: &impl deadpool_postgres::GenericClient,
    message_id: Uuid,
    user: Uuid,
) -> Result<(DateTime<Utc>, bool), ApiError> {
    let insert = client
        .prepare_cached(
            "INSERT INTO message_views (message_id, user_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING RETURNING opened_at",
        )
        .await?;
    if let Some(row) = client.query_opt(&insert, &[&message_id, &user]).await? {
        return Ok((row.get("opened_at"), true));
    }
    // Marked before, or by a concurrent request whose row this statement's snapshot, taken
    // before that one committed, would not see: a statement of its own reads it.
    let earlier = client
        .prepare_cached(
            "SELECT opened_at FROM message_views WHERE message_id = $1 AND user_id = $2",
        )
        .await?;
    let row = client.query_one(&earlier, &[&message_id, &user]).await?;
    Ok((row.get("opened_at"), false))
}

/// Whether `sender` is told that `viewer` opened or played a message of theirs in `chat`: not
/// across a block either way (as reads, `message_changes::read_notices`), and for an open
/// (`as_read_receipt`) only where they share read receipts (`read_receipts_shared_with`, V76).
pub async fn sender_told_of_view(
    client: &impl deadpool_postgres::GenericClient,
    chat: Uuid,
    viewer: Uuid,
    sender: Uuid,
    as_read_receipt: bool,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            // Each way looked up by its whole key, as `read_notices` does: an OR of the two
            // could only be served by a scan over every block there is.
            "SELECT NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                                  AND b.user_id = $2 AND b.related_user_id = $3)
                    AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                                      AND b.user_id = $3 AND b.related_user_id = $2)
                    AND (NOT $4 OR {}) AS told",
            super::read_receipts_shared("$1", "$2", "$3")
        ))
        .await?;
    Ok(client
        .query_one(&stmt, &[&chat, &viewer, &sender, &as_read_receipt])
        .await?
        .get("told"))
}

/// Set a live location's position (`metadata.latitude` / `longitude`), or end it
/// (`metadata.liveStopped`).
pub async fn update_live_location(
    client: &impl deadpool_postgres::GenericClient,
    message_id: Uuid,
    position: Option<(f64, f64)>,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE messages SET metadata = CASE WHEN $2::float8 IS NULL
                     THEN metadata || jsonb_build_object('liveStopped', true)
                     ELSE metadata || jsonb_build_object('latitude', $2::float8, 'longitude', $3::float8) END
             WHERE id = $1",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[&message_id, &position.map(|p| p.0), &position.map(|p| p.1)],
        )
        .await?;
    Ok(())
}

/// Stop every live location `sender` is sharing in `chat_id` (they left the group, or a block
/// came between them and the other of a 1:1), telling the chat as a stop does
/// (`message:location:updated`, `live: false`) on behalf of `actor` (who left, or blocked), in
/// the caller's transaction.
pub async fn stop_live_locations(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    sender: Uuid,
    actor: Uuid,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE messages SET metadata = metadata || jsonb_build_object('liveStopped', true)
             WHERE chat_id = $1 AND sender_id = $2 AND type = 'location' AND NOT deleted_for_everyone
               AND metadata ? 'liveSeconds' AND NOT metadata ? 'liveStopped'
               AND created_at + make_interval(secs => (metadata ->> 'liveSeconds')::float8) > now()
             RETURNING id, (metadata ->> 'latitude')::float8 AS latitude,
                       (metadata ->> 'longitude')::float8 AS longitude,
                       created_at + make_interval(secs => (metadata ->> 'liveSeconds')::float8) AS live_until",
        )
        .await?;
    for row in client.query(&stmt, &[&chat_id, &sender]).await? {
        let message_id: Uuid = row.get("id");
        let event = crate::api::ws::ServerEvent::LocationUpdated(LiveLocation {
            chat_id,
            message_id,
            latitude: row.get("latitude"),
            longitude: row.get("longitude"),
            live: false,
            live_until: Timestamp(row.get("live_until")),
        });
        super::events::append_event_about(client, chat_id, Some(actor), None, message_id, &event)
            .await?;
    }
    Ok(())
}

/// What `GET /api/messages/search` looks for.
pub struct SearchFilter<'a> {
    /// As the user typed it (`search_query`, V24, makes the tsquery).
    pub text: &'a str,
    pub chat: Option<Uuid>,
    pub kind: Option<&'a str>,
    pub sender: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// A message found, with its text around the words found: `\u{2}` and `\u{3}` mark where
/// each highlighted word starts and ends.
pub struct SearchRow {
    pub message: Message,
    pub marked_snippet: String,
}

/// The search statement: `$1` viewer, `$2` the typed text, `$3` chat, `$4` type, `$5`
/// sender, `$6` from, `$7` to, `$8` limit, `$9` offset (public for the benchmark's EXPLAIN).
pub fn search_sql() -> String {
    // The words' tsquery is made once (`q`, read through init plans; called per row,
    // `ts_debug` would dominate). The messages are found one of two ways (`found`, whose
    // other branch a one-time filter skips), chosen by `search_reads_chats` (V35) from the
    // words' shares of all messages and the number of messages in the caller's chats:
    // - through the words' index (`messages_search`), where a rare word costs its few rows;
    // - by reading the caller's messages and matching each (`ts_match_vq` is `@@` that the
    //   words' index cannot take), for a word so common that its index entry lists many times
    //   the caller's messages (a word in 40% of a million messages, for a caller with 20,000).
    // Both read only columns that `messages (chat_id, seq)` carries (V74), so the caller's
    // messages can be read from that index alone, a chat's side by side, rather than a heap
    // page each: the common word takes 18 ms instead of 50 (`banter-bench --discovery`). A
    // column read here beyond those would undo that. PostgreSQL may well take that scan for
    // both branches when the caller's chats are small; the choice matters for large ones.
    // Each branch joins the caller's chats itself, so that the generic plan hashes them.
    let branch = |taken: &str, matches: &str| {
        format!(
            "SELECT v.id, v.created_at, v.search, v.type, v.sender_id, v.expires_at
             FROM messages v JOIN mine ON mine.chat_id = v.chat_id
             WHERE {taken} AND v.chat_id = ANY (ARRAY(SELECT chat_id FROM mine)) AND {matches}
               AND v.type <> 'system' AND NOT v.deleted_for_everyone
               AND v.seq > mine.cleared_seq AND {came}
               AND v.seq <= mine.last_read",
            came = super::came_while_member("mine.chat_id", "$1", "mine.joined_at", "v.created_at"),
        )
    };
    let by_index = branch(
        "NOT (SELECT by_chat FROM way)",
        "v.search @@ (SELECT query FROM q)",
    );
    let by_chat = branch(
        "(SELECT by_chat FROM way)",
        "ts_match_vq(v.search, (SELECT query FROM q))",
    );
    let not_blocked = super::not_sent_while_blocked("$1", "v.sender_id", "v.created_at");
    let (reads, last_read) = (super::reads_the_chat("p"), super::last_seq_read("p"));
    let not_expired = super::not_expired("v");
    let not_hidden = super::not_hidden_for_many("$1", "v");
    let select = message_select(Some("$1"));
    format!(
        "WITH q AS MATERIALIZED (SELECT search_query($2) AS query),
             mine AS MATERIALIZED (
                 SELECT p.chat_id, p.cleared_seq, p.joined_at, {last_read} AS last_read
                 FROM chat_participants p
                 WHERE p.user_id = $1 AND {reads} AND ($3::uuid IS NULL OR p.chat_id = $3)),
             way AS MATERIALIZED (
                 SELECT search_reads_chats((SELECT query FROM q), (
                            SELECT coalesce(sum(s.last_seq - mine.cleared_seq), 0)::bigint
                            FROM mine JOIN chat_sequences s ON s.chat_id = mine.chat_id)) AS by_chat),
             found AS ({by_index} UNION ALL {by_chat}),
             hits AS (
                 SELECT v.id, v.created_at, ts_rank_cd(v.search, (SELECT query FROM q)) AS rank,
                        count(*) OVER () AS total
                 FROM found v
                 WHERE {not_expired}
                   AND ($4::text IS NULL OR v.type = $4)
                   AND ($5::uuid IS NULL OR v.sender_id = $5)
                   AND ($6::timestamptz IS NULL OR v.created_at >= $6)
                   AND ($7::timestamptz IS NULL OR v.created_at < $7)
                   AND {not_hidden}
                   AND {not_blocked}
                 ORDER BY rank DESC, v.created_at DESC, v.id
                 LIMIT $8 OFFSET $9)
             SELECT hits.total, hits.rank,
                    -- Read as the index reads it (`search_text`, V73), and shown as written
                    -- again (`search_shown`, V78).
                    search_shown(ts_headline('banter_search'::regconfig,
                                             search_text(translate(x.content, E'\\u0001\\u0002\\u0003', '')),
                                             (SELECT query FROM q),
                                             'StartSel=\u{2}, StopSel=\u{3}, MaxWords=24, MinWords=10, ShortWord=0, MaxFragments=1'))
                        AS snippet,
                    x.*
             FROM hits CROSS JOIN LATERAL ({select} WHERE m.id = hits.id) x
             ORDER BY hits.rank DESC, hits.created_at DESC, hits.id"
    )
}

/// Messages `viewer` may see (a member, or a former member who kept the chat up to when they
/// left; from when they joined, not cleared, hidden, deleted for everyone, expired or a
/// system line) matching every word of the filter's text,
/// best ranked first, then newest; the page and the total.
pub async fn search(
    db: &Db,
    viewer: Uuid,
    f: &SearchFilter<'_>,
) -> Result<(Vec<SearchRow>, i64), ApiError> {
    let mut client = db.get().await?;
    // The generic plan from the first search on a connection. PostgreSQL would plan the first
    // five afresh, for a few milliseconds each (the statement is long), and then settle on the
    // generic plan anyway; with a pool of connections, each plans its first five, so one
    // search in several paid for it (`banter-bench --discovery`: the common word's p50 was
    // 27 ms, its generic plan takes 18).
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
        .await?;
    let stmt = tx.prepare_cached(&search_sql()).await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &viewer, &f.text, &f.chat, &f.kind, &f.sender, &f.from, &f.to, &f.limit, &f.offset,
            ],
        )
        .await?;
    let mut total = rows.first().map(|r| r.get::<_, i64>("total")).unwrap_or(0);
    let mut found: Vec<Message> = rows
        .iter()
        .map(|r| message_row(r, MessageStatus::Sent))
        .collect();
    as_seen_by(&tx, viewer, &mut found).await?;
    tx.commit().await?;
    let mut page = Vec::new();
    for (message, r) in found.into_iter().zip(&rows) {
        // Edited since the viewer left: it matched words they never saw, and its snippet
        // shows them. Left out.
        if message.content != r.get::<_, Option<String>>("content") {
            total -= 1;
            continue;
        }
        page.push(SearchRow {
            message,
            marked_snippet: r.get("snippet"),
        });
    }
    Ok((page, total))
}
