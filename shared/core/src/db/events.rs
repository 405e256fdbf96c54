//! The event log (`V11`): events appended in the transaction of the change that causes them,
//! and read back in position order, never past the stable horizon.
//!
//! A position is `(xid, id)`: the writing transaction's id, then the row's. The horizon is the
//! oldest transaction still in flight (`pg_snapshot_xmin`); every transaction below it has
//! finished, so the events below it are final and a reader that stops there never skips one that
//! commits late.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::ApiError;

/// A position in the log. As a sync cursor it means "everything up to here was seen".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub xid: i64,
    pub event: i64,
}

impl Position {
    /// After every event (an open upper bound).
    pub const END: Position = Position {
        xid: i64::MAX,
        event: i64::MAX,
    };

    /// All of the log below a horizon: every event of a transaction older than `xid`.
    pub fn horizon(xid: i64) -> Self {
        Self { xid, event: 0 }
    }

    /// The cursor string clients hold (opaque to them).
    pub fn encode(self) -> String {
        format!("{}.{}", self.xid, self.event)
    }

    /// A cursor string back to a position; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let (xid, event) = s.split_once('.')?;
        let digits =
            |p: &str| !p.is_empty() && p.len() <= 19 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(xid) || !digits(event) {
            return None;
        }
        Some(Self {
            xid: xid.parse().ok()?,
            event: event.parse().ok()?,
        })
    }
}

/// Whose events: a chat's members' (for the time they were members), or one user's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Chat(Uuid),
    User(Uuid),
}

/// One event as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: Position,
    pub stream: Stream,
    /// Who caused it (a member who blocked them does not get it).
    pub actor: Option<Uuid>,
    /// The connection that caused it; it has its answer and is not pushed the event.
    pub origin_connection: Option<String>,
    pub name: String,
    /// A message event's message, read as it is now.
    pub message_id: Option<Uuid>,
    /// Any other event's payload.
    pub data: Option<Value>,
    pub created_at: DateTime<Utc>,
    /// The one device session it is for (V77: a call's candidates, to its device in the call);
    /// `None`: every device of its stream.
    pub device: Option<Uuid>,
}

const COLUMNS: &str = "e.id, e.xid::text::bigint AS xid, e.chat_id, e.user_id, e.actor_id,
    e.origin_connection, e.name, e.message_id, e.data, e.created_at, e.device_session";

fn stored(r: &Row) -> StoredEvent {
    let stream = match (r.get::<_, Option<Uuid>>("chat_id"), r.get("user_id")) {
        (Some(chat), _) => Stream::Chat(chat),
        (None, Some(user)) => Stream::User(user),
        (None, None) => unreachable!("the table's CHECK gives every event a stream"),
    };
    StoredEvent {
        position: Position {
            xid: r.get("xid"),
            event: r.get("id"),
        },
        stream,
        actor: r.get("actor_id"),
        origin_connection: r.get("origin_connection"),
        name: r.get("name"),
        message_id: r.get("message_id"),
        data: r.get("data"),
        created_at: r.get("created_at"),
        device: r.get("device_session"),
    }
}

/// Append a chat-wide event (in the caller's transaction).
pub async fn append_chat_event(
    client: &impl GenericClient,
    chat: Uuid,
    actor: Option<Uuid>,
    name: &str,
    data: Option<&Value>,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (chat_id, actor_id, name, data) VALUES ($1, $2, $3, $4)",
        )
        .await?;
    client
        .execute(&stmt, &[&chat, &actor, &name, &data])
        .await?;
    Ok(())
}

/// Append a chat-wide event (in the caller's transaction) that `origin`, the connection that
/// caused it and has its answer already, is not pushed.
pub async fn append_chat_event_from(
    client: &impl GenericClient,
    chat: Uuid,
    actor: Option<Uuid>,
    origin: Option<&str>,
    event: &crate::api::ws::ServerEvent,
) -> Result<(), ApiError> {
    append_stream_event(client, Stream::Chat(chat), None, actor, origin, event).await
}

/// Append `event` to `stream` (in the caller's transaction), caused by `actor`; for `device`
/// alone where one is given (only its connections are pushed it, and only its sync lists it),
/// else for every device of the stream. `origin`, the connection that caused it, has its
/// answer already.
pub async fn append_stream_event(
    client: &impl GenericClient,
    stream: Stream,
    device: Option<Uuid>,
    actor: Option<Uuid>,
    origin: Option<&str>,
    event: &crate::api::ws::ServerEvent,
) -> Result<(), ApiError> {
    let (chat, user) = match stream {
        Stream::Chat(chat) => (Some(chat), None),
        Stream::User(user) => (None, Some(user)),
    };
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (chat_id, user_id, device_session, actor_id, origin_connection,
                                 name, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &chat,
                &user,
                &device,
                &actor,
                &origin,
                &event.name(),
                &event.data(),
            ],
        )
        .await?;
    Ok(())
}

/// Append a chat-wide event about one message (in the caller's transaction): it is read with
/// the message as it is then (`message_id`), or carries `data`. `origin` is the connection that
/// caused it, which has its answer already.
pub async fn append_message_event(
    client: &impl GenericClient,
    chat: Uuid,
    actor: Option<Uuid>,
    origin: Option<&str>,
    name: &str,
    message_id: Uuid,
    data: Option<&Value>,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (chat_id, actor_id, origin_connection, name, message_id, data)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    client
        .execute(&stmt, &[&chat, &actor, &origin, &name, &message_id, &data])
        .await?;
    Ok(())
}

/// Append `event`, about message `message_id`, to its chat's stream (in the caller's
/// transaction): [`append_message_event`] with the event's own name and data.
pub async fn append_event_about(
    client: &impl GenericClient,
    chat: Uuid,
    actor: Option<Uuid>,
    origin: Option<&str>,
    message_id: Uuid,
    event: &crate::api::ws::ServerEvent,
) -> Result<(), ApiError> {
    let data = event.data();
    append_message_event(
        client,
        chat,
        actor,
        origin,
        event.name(),
        message_id,
        Some(&data),
    )
    .await
}

/// Append a change to `user`'s devices (`keys:changed`) to each chat of theirs that someone
/// else's list shows (`chats_told_of_devices`, V61; in the caller's transaction): `data` with
/// each chat's own `chatId`.
pub async fn append_device_change_to_chats(
    client: &impl GenericClient,
    user: Uuid,
    name: &str,
    data: &Value,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (chat_id, actor_id, name, data)
             SELECT told.chat_id, $1, $2, jsonb_set($3, '{chatId}', to_jsonb(told.chat_id))
             FROM chats_told_of_devices($1) AS told(chat_id)",
        )
        .await?;
    client.execute(&stmt, &[&user, &name, &data]).await?;
    Ok(())
}

/// Append a file's processing outcome `name` (`data`, in the caller's transaction) where it is
/// awaited: to its chat (`chat`, the one it was uploaded for) once a message there shows it, for
/// the members who received the message before the file was ready; and to the uploader's own
/// stream unless they are a member of that chat now (the file is in no message yet, or they
/// left). A view-once message does not count: its recipients learn its file only by opening it.
pub async fn append_file_outcome(
    client: &impl GenericClient,
    file: Uuid,
    chat: Option<Uuid>,
    uploader: Option<Uuid>,
    name: &str,
    data: &Value,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH shown AS (
                 SELECT $2::uuid AS chat_id WHERE EXISTS (
                     SELECT 1 FROM messages m
                     WHERE m.media_id = $1 AND m.chat_id = $2
                       AND NOT m.view_once AND NOT m.deleted_for_everyone)
             ), to_chat AS (
                 INSERT INTO events (chat_id, actor_id, name, data)
                 SELECT chat_id, $3, $4, $5 FROM shown
             )
             INSERT INTO events (user_id, name, data)
             SELECT $3, $4, $5
             WHERE $3::uuid IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM shown s JOIN chat_participants p ON p.chat_id = s.chat_id
                 WHERE p.user_id = $3 AND p.left_at IS NULL)",
        )
        .await?;
    client
        .execute(&stmt, &[&file, &chat, &uploader, &name, &data])
        .await?;
    Ok(())
}

/// Append the same per-user event to each of `users`' streams (in the caller's transaction).
pub async fn append_user_events(
    client: &impl GenericClient,
    users: &[Uuid],
    actor: Option<Uuid>,
    name: &str,
    data: &Value,
) -> Result<(), ApiError> {
    if users.is_empty() {
        return Ok(());
    }
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (user_id, actor_id, name, data) SELECT u, $2, $3, $4 FROM unnest($1::uuid[]) u",
        )
        .await?;
    client
        .execute(&stmt, &[&users, &actor, &name, &data])
        .await?;
    Ok(())
}

/// Append `event`, caused by `user`, to their own stream (in the caller's transaction): a change
/// made on one of their devices, told to all of them.
pub async fn append_own_event(
    client: &impl GenericClient,
    user: Uuid,
    event: &crate::api::ws::ServerEvent,
) -> Result<(), ApiError> {
    append_own_event_from(client, user, None, event).await
}

/// [`append_own_event`] for a change made on `origin`, the connection that caused it and has
/// its answer already (it is not pushed the event).
pub async fn append_own_event_from(
    client: &impl GenericClient,
    user: Uuid,
    origin: Option<&str>,
    event: &crate::api::ws::ServerEvent,
) -> Result<(), ApiError> {
    append_stream_event(client, Stream::User(user), None, Some(user), origin, event).await
}

/// Append `event` to the stream of every account not deleted (an operators' notice: one row
/// per account, written by one statement). How many accounts it was written for.
pub async fn append_to_every_account(
    client: &impl GenericClient,
    event: &crate::api::ws::ServerEvent,
) -> Result<u64, ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (user_id, name, data)
             SELECT u.id, $1, $2 FROM users u WHERE u.deleted_at IS NULL",
        )
        .await?;
    Ok(client
        .execute(&stmt, &[&event.name(), &event.data()])
        .await?)
}

/// Append one per-user event each: `(user, data)` pairs, all named `name` and caused by
/// `actor`, in order.
pub async fn append_user_events_each(
    client: &impl GenericClient,
    actor: Option<Uuid>,
    name: &str,
    items: &[(Uuid, Value)],
) -> Result<(), ApiError> {
    if items.is_empty() {
        return Ok(());
    }
    let users: Vec<Uuid> = items.iter().map(|i| i.0).collect();
    let data: Vec<&Value> = items.iter().map(|i| &i.1).collect();
    let stmt = client
        .prepare_cached(
            "INSERT INTO events (user_id, actor_id, name, data)
             SELECT u, $2, $3, d FROM unnest($1::uuid[], $4::jsonb[]) WITH ORDINALITY AS x(u, d, n)
             ORDER BY n",
        )
        .await?;
    client
        .execute(&stmt, &[&users, &actor, &name, &data])
        .await?;
    Ok(())
}

/// Append receipt events (`name`: `message:delivered` or `message:read`), one per `(user,
/// data)`, and drop in the same statement the ones each makes redundant: in the same user's
/// stream, for the same chat, whose `key` field (`deliveredTo`, `readBy`) the new one contains
/// (receipts are watermarks: the newer says all the older did). A reader that had already seen
/// a dropped one loses nothing; one that had not sees only the newer. `origin`, a user and the
/// connection of theirs that caused the receipts, is not pushed that user's (it has its answer).
pub async fn append_receipts(
    client: &impl GenericClient,
    name: &str,
    key: &str,
    items: &[(Uuid, Value)],
    origin: Option<(Uuid, &str)>,
) -> Result<(), ApiError> {
    if items.is_empty() {
        return Ok(());
    }
    let users: Vec<Uuid> = items.iter().map(|i| i.0).collect();
    let data: Vec<&Value> = items.iter().map(|i| &i.1).collect();
    let stmt = client
        .prepare_cached(
            "WITH new AS (SELECT * FROM unnest($1::uuid[], $2::jsonb[]) AS n(usr, d)),
             -- Found by each new receipt's user and chat, then deleted by id: a join of the two
             -- could be planned (once, while the log is small) as one scan over every receipt.
             superseded AS (
                 DELETE FROM events e
                 WHERE e.id = ANY (ARRAY(
                     SELECT older.id FROM new n CROSS JOIN LATERAL (
                         SELECT o.id FROM events o
                         WHERE o.user_id = n.usr AND o.data->>'chatId' = n.d->>'chatId'
                           AND o.name = $3 AND o.name IN ('message:delivered', 'message:read')
                           AND (o.data->$4) <@ (n.d->$4)
                         OFFSET 0
                     ) older))
             )
             INSERT INTO events (user_id, name, data, origin_connection)
             SELECT usr, $3, d, CASE WHEN usr = $5 THEN $6 END FROM new",
        )
        .await?;
    let (origin_user, origin_connection) = origin.unzip();
    client
        .execute(
            &stmt,
            &[&users, &data, &name, &key, &origin_user, &origin_connection],
        )
        .await?;
    Ok(())
}

/// Events and the horizon from one statement, so they come from one snapshot: a horizon read
/// later could pass events committed in between, which this read did not see.
fn events_and_horizon(rows: &[Row]) -> (Vec<StoredEvent>, Position) {
    let horizon = Position::horizon(rows.first().map_or(0, |r| r.get("horizon")));
    let events = rows
        .iter()
        .filter(|r| r.get::<_, Option<i64>>("id").is_some())
        .map(stored)
        .collect();
    (events, horizon)
}

/// `events` (a query over `e`, the log's columns, ordered and limited) with the horizon of
/// its snapshot on every row, and one row of NULLs when it finds nothing.
fn with_horizon(events: &str) -> String {
    format!(
        "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x),
         ev AS ({events})
         SELECT {COLUMNS}, (SELECT x::text::bigint FROM h) AS horizon
         FROM (SELECT 1) AS one LEFT JOIN ev AS e ON true
         ORDER BY e.xid, e.id"
    )
}

/// What one relay round reads: the next events after the relay's position, below the horizon.
#[derive(Debug)]
pub struct StableBatch {
    /// The relay's position before this batch.
    pub position: Position,
    pub events: Vec<StoredEvent>,
    pub horizon: Position,
    /// Events that committed but are above the horizon (a transaction older than theirs is
    /// still in flight): readable in a moment.
    pub held_back: bool,
    /// Connections asked to be replayed to ([`take_replays`] takes them).
    pub replays_waiting: bool,
    /// The read ran holding the relay lock. Without it, it read nothing, and its horizon says
    /// nothing about what is left to read.
    pub under_lock: bool,
}

/// The relay's next `limit` events after its position, below the horizon, in order: under the
/// relay lock, taken by [`lock_relay`] in this transaction (none without it).
pub async fn next_stable(client: &impl GenericClient, limit: i64) -> Result<StableBatch, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x),
             p AS (SELECT xid, event FROM relay_position),
             ev AS (
                 SELECT e.* FROM events e
                 WHERE (e.xid, e.id) > ((SELECT xid FROM p), (SELECT event FROM p))
                   AND e.xid < (SELECT x FROM h)
                   AND current_setting('banter.relay', true) = 'true'
                 ORDER BY e.xid, e.id LIMIT $1
             )
             SELECT {COLUMNS},
                    (SELECT x::text::bigint FROM h) AS horizon,
                    (SELECT xid::text::bigint FROM p) AS position_xid,
                    (SELECT event FROM p) AS position_event,
                    EXISTS (SELECT 1 FROM events b WHERE b.xid >= (SELECT x FROM h)) AS held_back,
                    EXISTS (SELECT 1 FROM pending_replays) AS replays_waiting,
                    current_setting('banter.relay', true) = 'true' AS under_lock
             FROM (SELECT 1) AS one LEFT JOIN ev AS e ON true
             ORDER BY e.xid, e.id"
        ))
        .await?;
    let rows = client.query(&stmt, &[&limit]).await?;
    let first = rows
        .first()
        .ok_or_else(|| ApiError::Internal("no relay position".into()))?;
    let position = Position {
        xid: first.get("position_xid"),
        event: first.get("position_event"),
    };
    let held_back = first.get("held_back");
    let replays_waiting = first.get("replays_waiting");
    let under_lock = first.get::<_, Option<bool>>("under_lock") == Some(true);
    let (events, horizon) = events_and_horizon(&rows);
    Ok(StableBatch {
        position,
        events,
        horizon,
        held_back,
        replays_waiting,
        under_lock,
    })
}

/// `user`'s events after `after` and at most `until`, below the horizon, in order: their own
/// stream and their chats' events from the times they were members, leaving out events caused
/// by people they had blocked by then (`not_sent_while_blocked`). Returns the events and the
/// horizon.
///
/// Each stream (their own, each chat of theirs) gives its first `limit` events that qualify,
/// read in order from its index, and the page is the first `limit` of those: a device far
/// behind reads a page's worth per stream, not everything after its cursor, for every page.
/// (Every condition is inside each stream's read: one left outside could drop some of a
/// stream's first `limit`, and its next events, never read, would be skipped.)
pub async fn for_user(
    client: &impl GenericClient,
    user: Uuid,
    after: Position,
    until: Position,
    limit: i64,
) -> Result<(Vec<StoredEvent>, Position), ApiError> {
    let in_range = format!(
        "(e.xid, e.id) > ($2::bigint::text::xid8, $3)
         AND (e.xid, e.id) <= ($4::bigint::text::xid8, $5)
         AND e.xid < (SELECT x FROM h)
         AND {}",
        super::not_sent_while_blocked("$1", "e.actor_id", "e.created_at"),
    );
    let stmt = client
        .prepare_cached(&with_horizon(&format!(
            "SELECT e.* FROM (
                 (SELECT e.* FROM events e WHERE e.user_id = $1 AND {in_range}
                  ORDER BY e.xid, e.id LIMIT $6)
                 UNION ALL
                 SELECT e.* FROM chat_participants p
                 CROSS JOIN LATERAL (
                     SELECT e.* FROM events e
                     WHERE e.chat_id = p.chat_id AND e.created_at >= p.joined_at
                       AND (p.left_at IS NULL OR e.created_at <= p.left_at)
                       AND {sees_p} AND {in_range}
                     ORDER BY e.xid, e.id LIMIT $6
                 ) e
                 WHERE p.user_id = $1
                 UNION ALL
                 -- Their earlier memberships (V57), ended before the latest began.
                 SELECT e.* FROM earlier_memberships w
                 CROSS JOIN LATERAL (
                     SELECT e.* FROM events e
                     WHERE e.chat_id = w.chat_id AND e.created_at >= w.joined_at
                       AND e.created_at <= w.left_at AND {sees_w} AND {in_range}
                     ORDER BY e.xid, e.id LIMIT $6
                 ) e
                 WHERE w.user_id = $1
             ) e
             ORDER BY e.xid, e.id LIMIT $6",
            sees_p = about_a_message_they_see("e", "$1", "p", Some("p.cleared_seq")),
            sees_w = about_a_message_they_see("e", "$1", "w", None),
        )))
        .await?;
    let rows = client
        .query(
            &stmt,
            &[
                &user,
                &after.xid,
                &after.event,
                &until.xid,
                &until.event,
                &limit,
            ],
        )
        .await?;
    Ok(events_and_horizon(&rows))
}

/// A statement's condition (SQL) that `user` sees the message the event `e` is about, if it
/// is about one (an edit, a reaction, a pin...): one sent during the membership `membership` (a
/// `chat_participants` or `earlier_memberships` row), neither cleared (`cleared_seq`, where the
/// membership has one) nor deleted by them for themselves. Whoever does not is told nothing of
/// it: its edit would show them its text. A new message is sent as its event is written, so
/// only a cleared one is looked up (where they cleared anything), as the relay leaves it out:
/// one cleared in the transaction that wrote it (a default timer's line, the creator's alone:
/// `db::chats::open_individual`) reaches them neither live nor here.
fn about_a_message_they_see(
    e: &str,
    user: &str,
    membership: &str,
    cleared_seq: Option<&str>,
) -> String {
    let not_cleared = cleared_seq.map_or(String::new(), |c| format!("AND m.seq > {c}"));
    let received_shown = cleared_seq.map_or("true".to_owned(), |c| {
        format!(
            "({c} = 0 OR EXISTS (SELECT 1 FROM messages m WHERE m.id = {e}.message_id AND m.seq > {c}))"
        )
    });
    format!(
        "({e}.message_id IS NULL OR {e}.name = 'message:received' AND {received_shown}
          OR {e}.name <> 'message:received' AND EXISTS (SELECT 1 FROM messages m
                     WHERE m.id = {e}.message_id AND m.created_at >= {membership}.joined_at
                       {not_cleared} AND {not_hidden}))",
        not_hidden = super::not_hidden_for(user, "m"),
    )
}

/// The horizon now (for a sync that starts from the present).
pub async fn horizon(client: &impl GenericClient) -> Result<Position, ApiError> {
    let row = client
        .query_one(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon",
            &[],
        )
        .await?;
    Ok(Position::horizon(row.get("horizon")))
}

/// Whether a client may resume after `after`: not if events after it were compacted away (it
/// is older than the retention), nor if it lies ahead of every position this database has
/// issued (a cursor from another deployment, or from before a restore rewound the log), which
/// would hide every event up to it. Either way the client reloads its chat list and history
/// (`SYNC_CURSOR_EXPIRED`). Every cursor the server issues is below the horizon it read then,
/// and the horizon only moves up.
pub async fn check_resumable(client: &impl GenericClient, after: Position) -> Result<(), ApiError> {
    let row = client
        .query_one(
            "SELECT pruned_xid::text::bigint AS pruned,
                    pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon
             FROM event_retention",
            &[],
        )
        .await?;
    let pruned: i64 = row.get("pruned");
    let compacted = pruned > 0 && after.xid <= pruned;
    let ahead = after > Position::horizon(row.get("horizon"));
    if compacted || ahead {
        return Err(ApiError::SyncCursorExpired);
    }
    Ok(())
}

/// Delete events older than `keep_secs`; later cursors below the deleted ones answer
/// `SYNC_CURSOR_EXPIRED`. Returns how many were deleted.
pub async fn compact(client: &impl GenericClient, keep_secs: f64) -> Result<u64, ApiError> {
    let row = client
        .query_one(
            "WITH gone AS (
                 DELETE FROM events WHERE created_at < now() - make_interval(secs => $1) RETURNING xid
             ), mark AS (
                 UPDATE event_retention SET pruned_xid = greatest(pruned_xid, (SELECT max(xid) FROM gone))
                 WHERE EXISTS (SELECT 1 FROM gone)
             )
             SELECT count(*) AS n FROM gone",
            &[&keep_secs],
        )
        .await?;
    Ok(row.get::<_, i64>("n") as u64)
}

/// A connection that asked to resume after a cursor.
#[derive(Debug, Clone)]
pub struct PendingReplay {
    pub connection_id: String,
    pub user_id: Uuid,
    /// The connection's device session (none for a replay asked before `V52`).
    pub session_id: Option<Uuid>,
    pub after: Position,
    pub created_at: DateTime<Utc>,
}

/// Ask the relay to replay `user`'s events after `after` to a new connection of `session`.
pub async fn request_replay(
    client: &impl GenericClient,
    connection_id: &str,
    user: Uuid,
    session: Uuid,
    after: Position,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO pending_replays (connection_id, user_id, session_id, after_xid, after_event)
             VALUES ($1, $2, $3, $4::bigint::text::xid8, $5)
             ON CONFLICT (connection_id) DO UPDATE SET after_xid = EXCLUDED.after_xid, after_event = EXCLUDED.after_event",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[&connection_id, &user, &session, &after.xid, &after.event],
        )
        .await?;
    Ok(())
}

/// Take every pending replay (the relay, under its lock).
pub async fn take_replays(client: &impl GenericClient) -> Result<Vec<PendingReplay>, ApiError> {
    let rows = client
        .query(
            &client
                .prepare_cached(
                    "DELETE FROM pending_replays RETURNING connection_id, user_id, session_id,
                 after_xid::text::bigint AS after_xid, after_event, created_at",
                )
                .await?,
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PendingReplay {
            connection_id: r.get("connection_id"),
            user_id: r.get("user_id"),
            session_id: r.get("session_id"),
            after: Position {
                xid: r.get("after_xid"),
                event: r.get("after_event"),
            },
            created_at: r.get("created_at"),
        })
        .collect())
}

/// Connections whose replay is still pending (asked after the relay took the others).
pub async fn replaying_connections(client: &impl GenericClient) -> Result<Vec<String>, ApiError> {
    Ok(client
        .query(
            &client
                .prepare_cached("SELECT connection_id FROM pending_replays")
                .await?,
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get("connection_id"))
        .collect())
}

/// Put a replay back (its connection was not ready yet).
pub async fn return_replay(client: &impl GenericClient, r: &PendingReplay) -> Result<(), ApiError> {
    client
        .execute(
            &client.prepare_cached("INSERT INTO pending_replays (connection_id, user_id, session_id, after_xid, after_event, created_at)
             VALUES ($1, $2, $3, $4::bigint::text::xid8, $5, $6) ON CONFLICT (connection_id) DO NOTHING").await?,
            &[&r.connection_id, &r.user_id, &r.session_id, &r.after.xid, &r.after.event, &r.created_at],
        )
        .await?;
    Ok(())
}

/// How a relay round takes the relay lock.
///
/// One relay runs at a time, and at most one more waits for it: a drain woken after a commit
/// joins the relay queue (a session lock, held across the waiting transaction) before it waits
/// for the relay lock, and leaves it once it holds the relay lock, before it reads. A drain that
/// finds the queue taken leaves at once: the queued relay has not read yet, so it will read
/// what this one was woken for. A queue of one, not a crowd of relays retrying the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayLock {
    /// Wait for it up to `within` (a drain's first round, and the schedule's). With `queue`, join
    /// the relay queue first, and leave it once the lock is held; if the queue is taken, do not
    /// wait at all. A wait that runs out is an error, and leaves the session in the queue: its
    /// connection is closed, not pooled.
    Wait {
        within: std::time::Duration,
        queue: bool,
    },
    /// Only try (a later round).
    Try,
}

/// Take the relay lock for this transaction (an advisory lock, which takes no transaction id
/// and so holds back no horizon), as `lock` says, in one statement. Returns whether it is held.
/// The answer is also left in the transaction's setting `banter.relay`, which [`next_stable`]
/// reads: sent in the same round trip (a pipeline), it reads nothing when the lock is not held.
///
/// Losing a round's position in a crash re-pushes it (clients dedupe on cursors); nothing a
/// round writes is an acknowledged write, so its commit need not wait for the WAL flush. A
/// round's statements look up a few rows by key, so they run as the send batcher's do
/// (`keyed_lookup_plans!`).
pub async fn lock_relay(client: &impl GenericClient, lock: RelayLock) -> Result<bool, ApiError> {
    let row = match lock {
        // PostgreSQL evaluates `FROM` first and a target list left to right: the queue is
        // joined, the settings are in force when the lock is waited for, and the queue is left
        // once it is held. `OFFSET 0` keeps the queue's lock call where it is, evaluated once.
        RelayLock::Wait { within, queue } => {
            let timeout = format!("{}ms", within.as_millis().max(1));
            client
                .query_one(
                    &client
                        .prepare_cached(concat!(
                            "SELECT set_config('synchronous_commit', 'off', true), ",
                            crate::keyed_lookup_plans!("true"),
                            ", set_config('lock_timeout', $1, true)",
                            ", set_config('banter.relay', CASE WHEN q.queued IS FALSE THEN false",
                            "   ELSE pg_advisory_xact_lock(7202)::text IS NOT NULL END::text, true)",
                            "   = 'true' AS locked",
                            ", CASE WHEN q.queued THEN pg_advisory_unlock(7203) END AS left_queue",
                            " FROM (SELECT CASE WHEN $2 THEN pg_try_advisory_lock(7203) END",
                            "       AS queued OFFSET 0) AS q"
                        ))
                        .await?,
                    &[&timeout, &queue],
                )
                .await?
        }
        RelayLock::Try => {
            client
                .query_one(
                    &client
                        .prepare_cached(concat!(
                        "SELECT set_config('synchronous_commit', 'off', true), ",
                        crate::keyed_lookup_plans!("true"),
                        ", set_config('banter.relay', pg_try_advisory_xact_lock(7202)::text, true)",
                        "   = 'true' AS locked"
                    ))
                        .await?,
                    &[],
                )
                .await?
        }
    };
    Ok(row.get("locked"))
}

pub async fn set_relay_position(client: &impl GenericClient, p: Position) -> Result<(), ApiError> {
    client
        .execute(
            &client
                .prepare_cached(
                    "UPDATE relay_position SET xid = $1::bigint::text::xid8, event = $2",
                )
                .await?,
            &[&p.xid, &p.event],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let p = Position {
            xid: 81234,
            event: 17,
        };
        assert_eq!(Position::parse(&p.encode()), Some(p));
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "a.1",
            "1.-2",
            "1.2.3",
            "99999999999999999999.1",
            " 1.2",
        ] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
        assert!(Position::horizon(5) > p.min(Position::horizon(4)));
    }
}
