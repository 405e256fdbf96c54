//! Calls (V39): each call's record, changed with the `call:*` event that tells of it in the
//! same transaction. A chat has at most one live (ringing or ongoing) call.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::chats::{append_system_message, CallLine, ChatShown, SystemAction};
use super::events::{append_chat_event_from, append_own_event_from, append_stream_event, Stream};
use super::Db;
use crate::api::models::{Call, CallEndReason, CallKind, CallStatus, Timestamp};
use crate::api::ws::{CallAnswered, CallCandidate, CallOffered, IceCandidate, ServerEvent};
use crate::auth::tokens::Caller;
use crate::error::ApiError;

const COLUMNS: &str = "c.id, c.chat_id, c.caller_id, c.kind, c.status, c.end_reason, c.started_at,
    c.answered_at, c.ended_at, c.kept_from, c.caller_session, c.answered_session";

fn call_row(r: &Row) -> Call {
    Call {
        id: r.get("id"),
        chat_id: r.get("chat_id"),
        caller_id: r.get("caller_id"),
        kind: CallKind::parse_stored(r.get("kind")),
        status: CallStatus::parse_stored(r.get("status")),
        end_reason: r
            .get::<_, Option<&str>>("end_reason")
            .map(CallEndReason::parse_stored),
        started_at: Timestamp(r.get("started_at")),
        answered_at: r
            .get::<_, Option<DateTime<Utc>>>("answered_at")
            .map(Timestamp),
        ended_at: r.get::<_, Option<DateTime<Utc>>>("ended_at").map(Timestamp),
    }
}

/// A call as stored: what its two sides see, and whom it is kept from.
struct StoredCall {
    call: Call,
    /// The callee, for a call from someone they block: it rings none of their devices, and
    /// they never learn of it (V66).
    kept_from: Option<Uuid>,
    /// The device session that called, and the one that answered (V77).
    caller_session: Option<Uuid>,
    answered_session: Option<Uuid>,
}

impl StoredCall {
    /// Where its events are: its chat's stream or, for a call kept from a blocker, its caller's
    /// own (their other devices), where no unblock brings them to the blocker.
    fn stream(&self) -> Stream {
        match (self.kept_from, self.call.caller_id) {
            (Some(_), Some(caller)) => Stream::User(caller),
            _ => Stream::Chat(self.call.chat_id),
        }
    }

    /// Whether `device`, one of `user`'s, has no part in the call: another device of its caller,
    /// or, once it is answered, a device of the callee's that did not answer. (While it rings,
    /// the callee's answer may still be on its way, and no device of theirs is in it yet: their
    /// candidates are taken.)
    fn not_in_it(&self, user: Uuid, device: Uuid) -> bool {
        let theirs = if self.call.caller_id == Some(user) {
            self.caller_session
        } else {
            self.answered_session
        };
        theirs.is_some_and(|theirs| theirs != device)
    }

    /// The device `user`'s candidates go to: the caller's that called, for the callee's; the
    /// callee's that answered, for the caller's once the call is answered. While it rings, the
    /// caller's go to every device of the callee's (all of them ring): to none in particular.
    fn candidates_of(&self, user: Uuid) -> Option<Uuid> {
        if self.call.caller_id != Some(user) {
            self.caller_session
        } else if self.call.status == CallStatus::Ongoing {
            self.answered_session
        } else {
            None
        }
    }
}

fn stored_call(r: &Row) -> StoredCall {
    StoredCall {
        call: call_row(r),
        kept_from: r.get("kept_from"),
        caller_session: r.get("caller_session"),
        answered_session: r.get("answered_session"),
    }
}

/// Append `event` of `call` (caused by `actor`, not pushed to `origin`) to its stream
/// ([`StoredCall::stream`]).
async fn append_call_event(
    tx: &deadpool_postgres::Transaction<'_>,
    call: &StoredCall,
    actor: Option<Uuid>,
    origin: Option<&str>,
    event: &ServerEvent,
) -> Result<(), ApiError> {
    match call.stream() {
        Stream::User(caller) => append_own_event_from(tx, caller, origin, event).await,
        Stream::Chat(chat) => append_chat_event_from(tx, chat, actor, origin, event).await,
    }
}

/// A call still ringing that rang longer than `ring_for`: missed, whether or not the schedule
/// has ended it yet.
fn rang_out(call: &Call, ring_for: Duration) -> bool {
    call.status == CallStatus::Ringing && call.started_at.0 + ring_for < Utc::now()
}

/// What starting a call came to.
pub enum Started {
    /// `shown`: what the line of the live call it ended (rung out) showed whom.
    Ringing {
        call: Call,
        shown: Option<ChatShown>,
    },
    /// Not a chat of the caller's.
    NotFound,
    /// A group: calls are one-to-one.
    Group,
    /// The caller's chat with themselves.
    ToSelf,
    /// The caller blocks the other. (A call to someone who blocks the caller rings as any
    /// other, for the caller, and is kept from the blocker.)
    Blocked,
    /// The other deleted their account.
    PartnerGone,
    /// A call is ringing in the chat already.
    Busy,
}

/// Start a call in a 1:1 chat of `calling`'s, from the device session that calls, with the
/// `call:incoming` event carrying their offer. A live call the chat still has ends first
/// (`replaced`, or `missed` if it rang longer than `ring_for`, or if it rings for someone who
/// blocked its caller and is calling now), unless it is ringing still (`Busy`). A call to
/// someone who blocks the caller is answered as any other and kept from them (its caller hears
/// it ring until it is missed).
pub async fn start(
    db: &Db,
    chat_id: Uuid,
    calling: &Caller,
    kind: CallKind,
    sdp: &str,
    origin: Option<&str>,
    ring_for: Duration,
) -> Result<Started, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    // The chat's row, locked: calls of one chat start one at a time.
    let Some(chat) = tx
        .query_opt(
            &format!(
                "SELECT c.type, coalesce(o.blocks_partner, false) AS blocks_partner,
                    o.blocked_by, o.user_id IS NULL AS partner_gone, {to_self} AS to_self
             FROM chats c JOIN chat_participants me ON me.chat_id = c.id
             -- The other member of a 1:1 chat, read once, and the blocks each way (each by
             -- its whole key).
             LEFT JOIN LATERAL (
                 SELECT o.user_id,
                        EXISTS (SELECT 1 FROM user_relationships b
                                WHERE b.user_id = $2 AND b.related_user_id = o.user_id
                                  AND b.relationship_type = 'blocked') AS blocks_partner,
                        CASE WHEN EXISTS (SELECT 1 FROM user_relationships b
                                          WHERE b.user_id = o.user_id AND b.related_user_id = $2
                                            AND b.relationship_type = 'blocked')
                             THEN o.user_id END AS blocked_by
                 FROM chat_participants o
                 WHERE o.chat_id = c.id AND o.user_id <> $2 AND c.type = 'individual'
             ) o ON true
             WHERE c.id = $1 AND me.user_id = $2 AND me.left_at IS NULL
             FOR UPDATE OF c",
                to_self = super::note_to_self("c"),
            ),
            &[&chat_id, &calling.user_id],
        )
        .await?
    else {
        return Ok(Started::NotFound);
    };
    if chat.get::<_, &str>("type") != "individual" {
        return Ok(Started::Group);
    }
    if chat.get::<_, bool>("to_self") {
        return Ok(Started::ToSelf);
    }
    if chat.get::<_, bool>("blocks_partner") {
        return Ok(Started::Blocked);
    }
    let kept_from: Option<Uuid> = chat.get("blocked_by");
    if chat.get::<_, bool>("partner_gone") {
        return Ok(Started::PartnerGone);
    }
    let live = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM calls c WHERE c.chat_id = $1 AND c.status <> 'ended'"),
            &[&chat_id],
        )
        .await?;
    let mut shown = None;
    if let Some(live) = live.as_ref().map(stored_call) {
        let call = &live.call;
        // (A call kept from this caller, ringing nobody, must not answer them "busy".)
        let reason = match call.status {
            CallStatus::Ringing if live.kept_from == Some(calling.user_id) => CallEndReason::Missed,
            CallStatus::Ringing if !rang_out(call, ring_for) => return Ok(Started::Busy),
            CallStatus::Ringing => CallEndReason::Missed,
            _ => CallEndReason::Replaced,
        };
        shown = end_call(&tx, call.id, reason, None, None).await?.shown;
    }
    let row = tx
        .query_one(
            &format!(
                "WITH c AS (INSERT INTO calls (id, chat_id, caller_id, kind, kept_from, caller_session)
                            VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)
                 SELECT {COLUMNS} FROM c"
            ),
            &[
                &Uuid::now_v7(),
                &chat_id,
                &calling.user_id,
                &kind.as_str(),
                &kept_from,
                &calling.session_id,
            ],
        )
        .await?;
    let call = stored_call(&row);
    let offered = ServerEvent::CallIncoming(CallOffered {
        call: call.call.clone(),
        sdp: sdp.to_owned(),
    });
    append_call_event(&tx, &call, Some(calling.user_id), origin, &offered).await?;
    tx.commit().await?;
    Ok(Started::Ringing {
        call: call.call,
        shown,
    })
}

/// A live call of a chat `user` is a member of, locked for a change (`None`: no such call of
/// theirs, or one kept from them). Ended calls are returned too, for the caller to tell apart.
async fn lock_call(
    tx: &deadpool_postgres::Transaction<'_>,
    call_id: Uuid,
    user: Uuid,
) -> Result<Option<StoredCall>, ApiError> {
    Ok(tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM calls c
                 JOIN chat_participants p ON p.chat_id = c.chat_id AND p.user_id = $2
                                          AND p.left_at IS NULL
                 WHERE c.id = $1 AND c.kept_from IS DISTINCT FROM $2 FOR UPDATE OF c"
            ),
            &[&call_id, &user],
        )
        .await?
        .as_ref()
        .map(stored_call))
}

/// A call that ended, and whom its line showed the chat to (see [`ChatShown`]).
pub struct Ended {
    pub call: Call,
    pub shown: Option<ChatShown>,
}

/// End `call` with `reason` and its `call:ended` event (caused by `actor`, not pushed to
/// `origin`), and write its line in the chat's timeline ("Missed voice call", "Video call,
/// 3:05"); both kept from a callee who blocks the caller.
async fn end_call(
    tx: &deadpool_postgres::Transaction<'_>,
    call: Uuid,
    reason: CallEndReason,
    actor: Option<Uuid>,
    origin: Option<&str>,
) -> Result<Ended, ApiError> {
    let row = tx
        .query_one(
            &format!(
                "WITH c AS (UPDATE calls SET status = 'ended', ended_at = now(), end_reason = $2
                            WHERE id = $1 RETURNING *)
                 SELECT {COLUMNS} FROM c"
            ),
            &[&call, &reason.as_str()],
        )
        .await?;
    let stored = stored_call(&row);
    let ended = stored.call.clone();
    forget_signalling(tx, &stored).await?;
    let event = ServerEvent::CallEnded(ended.clone());
    append_call_event(tx, &stored, actor, origin, &event).await?;
    let line = CallLine {
        call_id: ended.id,
        kind: ended.kind,
        end_reason: reason,
        seconds: ended
            .answered_at
            .zip(ended.ended_at)
            .map(|(answered, ended)| (ended.0 - answered.0).num_seconds()),
        kept_from: stored.kept_from,
    };
    // The caller made the call: theirs is the line's actor (so it is never unread for them).
    let shown = append_system_message(
        tx,
        ended.chat_id,
        SystemAction::Call(line),
        ended.caller_id,
        None,
        None,
    )
    .await?;
    Ok(Ended { call: ended, shown })
}

/// Empty what an ended call's signalling events held: its offer and answer (SDP) and its ICE
/// candidates name the two sides' network addresses, which the log would otherwise keep for
/// its retention. The events stay, in order, for a device catching up (which ignores a call
/// that has ended since).
async fn forget_signalling(
    tx: &deadpool_postgres::Transaction<'_>,
    call: &StoredCall,
) -> Result<(), ApiError> {
    let (stream, id) = match call.stream() {
        Stream::User(caller) => ("user_id", caller),
        Stream::Chat(chat) => ("chat_id", chat),
    };
    tx.execute(
        &format!(
            "UPDATE events SET data = CASE name
                     WHEN 'call:candidate' THEN jsonb_set(data, '{{candidate}}', '{{\"candidate\": \"\"}}')
                     ELSE jsonb_set(data, '{{sdp}}', '\"\"') END
             WHERE {stream} = $1 AND name IN ('call:incoming', 'call:answered', 'call:candidate')
               AND coalesce(data -> 'call' ->> 'id', data ->> 'callId') = $2::uuid::text"
        ),
        &[&id, &call.call.id],
    )
    .await?;
    Ok(())
}

/// What answering a call came to.
pub enum Answered {
    Answered(Call),
    NotFound,
    /// The caller cannot answer their own call.
    OwnCall,
    /// It was answered already, or has ended (rung out now, if it rang longer than `ring_for`:
    /// `shown` says what its line showed whom).
    NotRinging {
        shown: Option<ChatShown>,
    },
}

/// Answer a call ringing for `answering`, on their device session, with the `call:answered`
/// event carrying their answer.
pub async fn answer(
    db: &Db,
    call_id: Uuid,
    answering: &Caller,
    sdp: &str,
    origin: Option<&str>,
    ring_for: Duration,
) -> Result<Answered, ApiError> {
    let user = answering.user_id;
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let Some(StoredCall { call, .. }) = lock_call(&tx, call_id, user).await? else {
        return Ok(Answered::NotFound);
    };
    if call.caller_id == Some(user) {
        return Ok(Answered::OwnCall);
    }
    if call.status != CallStatus::Ringing {
        return Ok(Answered::NotRinging { shown: None });
    }
    if rang_out(&call, ring_for) {
        let ended = end_call(&tx, call.id, CallEndReason::Missed, None, None).await?;
        tx.commit().await?;
        return Ok(Answered::NotRinging { shown: ended.shown });
    }
    let row = tx
        .query_one(
            &format!(
                "WITH c AS (UPDATE calls SET status = 'ongoing', answered_at = now(),
                                             answered_session = $2
                            WHERE id = $1 RETURNING *)
                 SELECT {COLUMNS} FROM c"
            ),
            &[&call.id, &answering.session_id],
        )
        .await?;
    let call = stored_call(&row);
    let answered = ServerEvent::CallAnswered(CallAnswered {
        call: call.call.clone(),
        answered_by: user,
        sdp: sdp.to_owned(),
    });
    append_call_event(&tx, &call, Some(user), origin, &answered).await?;
    tx.commit().await?;
    Ok(Answered::Answered(call.call))
}

/// Pass on an ICE candidate from `from`'s device for a live call of theirs (`false`: no such
/// call, or none that device is in: [`StoredCall::not_in_it`]): to the other side's device in
/// the call ([`StoredCall::candidates_of`]), or, from a caller whose call rings, to the chat's
/// stream, which gives it to the callee's devices alone (`relay::not_for`).
pub async fn candidate(
    db: &Db,
    call_id: Uuid,
    from: &Caller,
    candidate: &IceCandidate,
    origin: Option<&str>,
) -> Result<bool, ApiError> {
    let user = from.user_id;
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let Some(call) = lock_call(&tx, call_id, user).await? else {
        return Ok(false);
    };
    if call.call.status == CallStatus::Ended || call.not_in_it(user, from.session_id) {
        return Ok(false);
    }
    let event = ServerEvent::CallCandidate(CallCandidate {
        call_id,
        from: user,
        candidate: candidate.clone(),
    });
    match call.candidates_of(user) {
        Some(device) => {
            append_stream_event(&tx, call.stream(), Some(device), Some(user), origin, &event)
                .await?
        }
        None => append_call_event(&tx, &call, Some(user), origin, &event).await?,
    }
    tx.commit().await?;
    Ok(true)
}

/// End a call of `user`'s: the caller cancelling a ringing call (`missed` for the callee), the
/// callee declining it, or either hanging up an answered one. A call that has ended already is
/// answered as it is (`None`: no such call of theirs).
pub async fn end(
    db: &Db,
    call_id: Uuid,
    user: Uuid,
    origin: Option<&str>,
) -> Result<Option<Ended>, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let Some(StoredCall { call, .. }) = lock_call(&tx, call_id, user).await? else {
        return Ok(None);
    };
    let Some(reason) = ending_reason(&call, user) else {
        return Ok(Some(Ended { call, shown: None }));
    };
    let ended = end_call(&tx, call.id, reason, Some(user), origin).await?;
    tx.commit().await?;
    Ok(Some(ended))
}

/// Why `user` ending `call` ends it: the caller cancelling a ringing call (`missed` for the
/// callee), the callee declining it, or either hanging up an answered one. `None`: it has ended.
fn ending_reason(call: &Call, user: Uuid) -> Option<CallEndReason> {
    match call.status {
        CallStatus::Ended => None,
        CallStatus::Ringing if call.caller_id == Some(user) => Some(CallEndReason::Missed),
        CallStatus::Ringing => Some(CallEndReason::Declined),
        CallStatus::Ongoing => Some(CallEndReason::HungUp),
    }
}

/// End the live call of `chat_id` (ringing or answered), if there is one, as `user` ending it
/// would, in the caller's transaction: a block between the two of a 1:1 chat ends their call,
/// whoever made it, so neither goes on ringing or talking to the other.
pub async fn end_live(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    user: Uuid,
) -> Result<Option<Call>, ApiError> {
    let Some(row) = tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM calls c WHERE c.chat_id = $1 AND c.status <> 'ended'
                 FOR UPDATE OF c"
            ),
            &[&chat_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let call = call_row(&row);
    match ending_reason(&call, user) {
        // (A block ends it: the chat it shows brings no presence, which the block hides.)
        Some(reason) => Ok(Some(
            end_call(tx, call.id, reason, Some(user), None).await?.call,
        )),
        None => Ok(None),
    }
}

/// End the calls that rang longer than `ring_for` unanswered (`missed`); what they showed
/// whom, for each of them.
pub async fn end_unanswered(
    db: &Db,
    ring_for: Duration,
) -> Result<Vec<Option<ChatShown>>, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let rang_out: Vec<Uuid> = tx
        .query(
            "SELECT id FROM calls WHERE status = 'ringing'
               AND started_at < now() - make_interval(secs => $1)
             ORDER BY started_at LIMIT 1000 FOR UPDATE SKIP LOCKED",
            &[&ring_for.as_secs_f64()],
        )
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    let mut shown = Vec::with_capacity(rang_out.len());
    for &call in &rang_out {
        shown.push(
            end_call(&tx, call, CallEndReason::Missed, None, None)
                .await?
                .shown,
        );
    }
    tx.commit().await?;
    Ok(shown)
}

/// `user`'s calls, newest first (those of their 1:1 chats since they were in them, but for
/// those kept from them), and how many there are.
pub async fn history(
    db: &Db,
    user: Uuid,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Call>, i64), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, count(*) OVER () AS total
             FROM chat_participants p JOIN calls c ON c.chat_id = p.chat_id
             WHERE p.user_id = $1 AND p.left_at IS NULL AND c.started_at >= p.joined_at
               AND c.kept_from IS DISTINCT FROM $1
             ORDER BY c.started_at DESC, c.id LIMIT $2 OFFSET $3"
        ))
        .await?;
    let rows = client.query(&stmt, &[&user, &limit, &offset]).await?;
    let total = rows.first().map_or(0, |r| r.get::<_, i64>("total"));
    Ok((rows.iter().map(call_row).collect(), total))
}
