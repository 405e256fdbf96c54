//! Delivery and read receipts (API.md "Messages"). A message is `delivered` to a recipient
//! when any of their devices got it, live (the relay) or through `/api/sync`. Receipts are collected per
//! batch, recorded as watermarks in one statement, and each sender is told once per batch and
//! chat with one `message:delivered` event in their stream (through the event log, like every
//! event), naming only the recipients whose presence the sender may know. A read moves the
//! reader's watermark and tells each sender once per read, never once per message. A view-once
//! opened and a voice note played are told to their sender once, when it first happens.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::{
    MessageInfo, MessageStatus, ReadUpTo, RecipientReceipt, Timestamp, VoiceNotePlayed,
};
use crate::api::ws::{MessageDelivered, MessagePlayed, MessageRead, ServerEvent};
use crate::auth::tokens::Caller;
use crate::db::message_changes::{self, ReadTold};
use crate::db::messages::{self, DeliveredUpTo};
use crate::db::{self, events, relationships};
use crate::error::ApiError;

/// What reached whom in one batch, by chat and sender.
#[derive(Default, Debug)]
pub struct Deliveries {
    /// (chat, sender) -> the last message delivered (seq, id) and who got it.
    by_chat_sender: BTreeMap<(Uuid, Uuid), (i64, Uuid, BTreeSet<Uuid>)>,
    /// `(sender, recipient)` pairs whose presence rule was looked up ahead, and those of them
    /// where the sender may know the recipient's presence.
    presence_asked: HashSet<(Uuid, Uuid)>,
    presence_visible: HashSet<(Uuid, Uuid)>,
}

impl Deliveries {
    /// `recipient`'s device got message `message_id` (`seq` in `chat`) from `sender`.
    pub fn add(&mut self, chat: Uuid, sender: Uuid, recipient: Uuid, seq: i64, message_id: Uuid) {
        if sender == recipient {
            return;
        }
        let entry =
            self.by_chat_sender
                .entry((chat, sender))
                .or_insert((seq, message_id, BTreeSet::new()));
        if seq > entry.0 {
            entry.0 = seq;
            entry.1 = message_id;
        }
        entry.2.insert(recipient);
    }

    pub fn is_empty(&self) -> bool {
        self.by_chat_sender.is_empty()
    }

    /// Look up ahead whether each sender may know each recipient's presence, for `(sender,
    /// recipient)` pairs that may earn a receipt: a relay round asks alongside a read it makes
    /// anyway, so that [`record`] writes in one round trip. Pairs not asked here are looked
    /// up by [`record`].
    pub async fn look_up_presence(
        &mut self,
        client: &impl GenericClient,
        pairs: Vec<(Uuid, Uuid)>,
    ) -> Result<(), ApiError> {
        let pairs: Vec<(Uuid, Uuid)> = pairs
            .into_iter()
            .filter(|p| !self.presence_asked.contains(p))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let visible = relationships::presence_visible_pairs(client, &pairs).await?;
        self.presence_asked.extend(pairs);
        self.presence_visible.extend(visible);
        Ok(())
    }
}

/// Record the batch's receipts and tell each sender, in the caller's transaction. Returns
/// whether it appended events.
pub async fn record(
    client: &impl GenericClient,
    deliveries: &Deliveries,
) -> Result<bool, ApiError> {
    if deliveries.is_empty() {
        return Ok(false);
    }
    let mut watermarks = Vec::new();
    let mut pairs = Vec::new();
    for ((chat, sender), (seq, _, recipients)) in &deliveries.by_chat_sender {
        for recipient in recipients {
            watermarks.push(DeliveredUpTo {
                chat_id: *chat,
                user_id: *recipient,
                seq: *seq,
            });
            pairs.push((*sender, *recipient));
        }
    }
    // A tick the moment a device connects would tell a sender when it was online: only those
    // whose presence the sender may know are named (looked up ahead, or now).
    let unasked: Vec<(Uuid, Uuid)> = pairs
        .into_iter()
        .filter(|p| !deliveries.presence_asked.contains(p))
        .collect();
    let looked_up_now = relationships::presence_visible_pairs(client, &unasked).await?;
    let visible = |pair: &(Uuid, Uuid)| {
        deliveries.presence_visible.contains(pair) || looked_up_now.contains(pair)
    };
    let mut notices = Vec::new();
    for ((chat, sender), (seq, message_id, recipients)) in &deliveries.by_chat_sender {
        let delivered_to: Vec<Uuid> = recipients
            .iter()
            .copied()
            .filter(|r| visible(&(*sender, *r)))
            .collect();
        if delivered_to.is_empty() {
            continue;
        }
        let event = ServerEvent::MessageDelivered(MessageDelivered {
            message_id: *message_id,
            chat_id: *chat,
            seq: *seq,
            delivered_to,
            timestamp: Timestamp::now(),
        });
        notices.push((*sender, event.data()));
    }
    // The watermarks, then the receipts, in this order in every transaction that records
    // receipts. Pipelined, a statement not yet prepared on its connection let the other run
    // first, and a sync and a relay round, taking the same watermark row and the same superseded
    // receipt in opposite orders, deadlocked (a sync answered 500).
    messages::mark_delivered_many(client, &watermarks).await?;
    events::append_receipts(client, "message:delivered", "deliveredTo", &notices, None).await?;
    Ok(!notices.is_empty())
}

/// [`record`] a device's receipts in a transaction of their own on `client` (what sync or a
/// history page handed over), then wake the relay to tell the senders.
pub async fn record_handed_over(
    app: &crate::App,
    client: &mut deadpool_postgres::Object,
    deliveries: &Deliveries,
) -> Result<(), ApiError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let tx = client.transaction().await?;
    record(&tx, deliveries).await?;
    tx.commit().await?;
    super::relay::wake(app, "message:delivered").await;
    Ok(())
}

/// `POST /api/chats/{chatId}/messages/{messageId}/read` (and `message:read`): the caller has
/// read this message and every earlier one of the chat. Each sender of what they just read is
/// told once (`message:read`, up to their latest message), however many messages it covers,
/// as read-receipt privacy allows (a sender whose delivery ticks waited for the read, because
/// the reader hides their presence, is told `message:delivered` instead); the caller's other
/// devices are told too (not the connection that read, `origin`, which has its answer).
/// Reading what is already read changes nothing.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/read", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Read up to here", body = crate::api::models::Envelope<ReadUpTo>)))]
pub async fn read(
    app: &crate::App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    origin: Option<&str>,
) -> Result<ReadUpTo, ApiError> {
    let reader = caller.user_id;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    // On generic plans: left to choose, PostgreSQL planned `append_receipts` afresh on every
    // read (1.3 ms of planning for 0.7 ms of work). Sent with the first read: no round trip.
    let (_, target) = tokio::try_join!(
        db::plan_keyed_lookups(&tx),
        message_changes::find_visible(&tx, chat_id, message_id, reader),
    )?;
    let target = target.ok_or(ApiError::NotFound("message"))?;
    let (before, now) = message_changes::mark_read(&tx, chat_id, reader, target.seq).await?;
    if now > before {
        // A former member who kept the group reads it for themselves: its senders are not told.
        let timestamp = Timestamp::now();
        let senders = if target.member {
            message_changes::read_notices(&tx, chat_id, reader, before, now).await?
        } else {
            Vec::new()
        };
        let mut reads: Vec<(Uuid, serde_json::Value)> = Vec::new();
        let mut deliveries: Vec<(Uuid, serde_json::Value)> = Vec::new();
        for n in senders {
            match n.told {
                ReadTold::Read => reads.push((
                    n.sender,
                    ServerEvent::MessageRead(MessageRead {
                        message_id: n.message_id,
                        chat_id,
                        seq: now,
                        read_by: reader,
                        timestamp,
                    })
                    .data(),
                )),
                ReadTold::Delivered => deliveries.push((
                    n.sender,
                    ServerEvent::MessageDelivered(MessageDelivered {
                        message_id: n.message_id,
                        chat_id,
                        seq: n.seq,
                        delivered_to: vec![reader],
                        timestamp,
                    })
                    .data(),
                )),
            }
        }
        let own = ServerEvent::MessageRead(MessageRead {
            message_id,
            chat_id,
            seq: now,
            read_by: reader,
            timestamp,
        });
        reads.push((reader, own.data()));
        let origin = origin.map(|connection| (reader, connection));
        // Sent together: one round trip.
        tokio::try_join!(
            events::append_receipts(&tx, own.name(), "readBy", &reads, origin),
            events::append_receipts(&tx, "message:delivered", "deliveredTo", &deliveries, None),
        )?;
    }
    tx.commit().await?;
    if now > before {
        super::relay::wake(app, "message:read").await;
    }
    Ok(ReadUpTo {
        chat_id,
        read_seq: now,
    })
}

/// `GET /api/chats/{chatId}/messages/{messageId}/info`: for the caller's own message, each
/// recipient's status and when it was delivered and read, as their privacy allows (a time
/// that would tell when they were online shows only once they read it; a read shows only where
/// both have read receipts on, or always in a group). Someone else's message answers 403.
#[utoipa::path(get, path = "/api/chats/{chatId}/messages/{messageId}/info", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Per recipient: status, deliveredAt, readAt", body = crate::api::models::Envelope<MessageInfo>)))]
pub async fn info(
    app: &crate::App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<MessageInfo, ApiError> {
    let client = app.db.get().await?;
    let target = message_changes::find_visible(&client, chat_id, message_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    if target.sender_id != Some(caller.user_id) {
        return Err(ApiError::PermissionDenied(
            "message info is for your own messages".into(),
        ));
    }
    let rows = messages::receipts_of(
        &client,
        chat_id,
        message_id,
        caller.user_id,
        target.seq,
        target.created_at,
    )
    .await?;
    // (Sent to someone who blocked its sender, it never reached them: `sent` for good.)
    let never_delivered = target.never_delivered_to_other;
    let recipients = rows
        .into_iter()
        .map(|r| {
            let read = r.read && r.reads_visible && !never_delivered;
            // Without presence, a delivery shows only as part of a read (as in the history).
            let delivered = !never_delivered
                && if r.presence_visible {
                    r.delivered
                } else {
                    r.read
                };
            let status = if read {
                MessageStatus::Read
            } else if delivered {
                MessageStatus::Delivered
            } else {
                MessageStatus::Sent
            };
            let delivered_at = match (r.presence_visible, delivered) {
                (true, true) => r.delivered_at,
                (false, true) if read => r.read_at,
                _ => None,
            };
            let viewed_at = r.viewed_at.filter(|_| !never_delivered).map(Timestamp);
            RecipientReceipt {
                user_id: r.user_id,
                username: r.username,
                status,
                delivered_at: delivered_at.map(Timestamp),
                read_at: r.read_at.filter(|_| read).map(Timestamp),
                played_at: viewed_at.filter(|_| target.kind == "audio"),
                opened_at: viewed_at.filter(|_| target.view_once && r.reads_visible),
            }
        })
        .collect();
    Ok(MessageInfo {
        message_id,
        chat_id,
        recipients,
    })
}

/// `POST /api/chats/{chatId}/messages/{messageId}/played` (and `message:played`): the caller
/// played someone else's voice note. Its sender is told (`message:played`) whatever
/// read-receipt privacy says, as WhatsApp's blue microphone (not of a former member, who listens
/// for themselves, as they read), and so are the caller's other devices (not `origin`, which has
/// its answer). Played again, it answers when it was first played and tells no one.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/played", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "When the caller first played it", body = crate::api::models::Envelope<VoiceNotePlayed>)))]
pub async fn played(
    app: &crate::App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    origin: Option<&str>,
) -> Result<VoiceNotePlayed, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = message_changes::find_visible(&tx, chat_id, message_id, caller.user_id)
        .await?
        .filter(|t| !t.expired)
        .ok_or(ApiError::NotFound("message"))?;
    if target.kind != "audio" || target.deleted {
        return Err(ApiError::NotFound("voice note"));
    }
    if target.sender_id == Some(caller.user_id) {
        return Err(ApiError::PermissionDenied(
            "a voice note is played by its recipients".into(),
        ));
    }
    let (at, first) = messages::mark_viewed(&tx, message_id, caller.user_id).await?;
    if first {
        let event = ServerEvent::MessagePlayed(MessagePlayed {
            chat_id,
            message_id,
            played_by: caller.user_id,
            played_at: Timestamp(at),
        });
        let sender = target.sender_id.filter(|_| target.member);
        tell_viewed(&tx, chat_id, caller.user_id, sender, origin, &event).await?;
    }
    tx.commit().await?;
    if first {
        super::relay::wake(app, "message:played").await;
    }
    Ok(VoiceNotePlayed {
        chat_id,
        message_id,
        played_at: Timestamp(at),
    })
}

/// Tell of `viewer` opening a view-once (`message:opened`) or playing a voice note
/// (`message:played`) in `chat`, in the caller's transaction: its `sender`, as
/// `messages::sender_told_of_view` allows (an open is a read receipt, a play is not), and
/// `viewer`'s other devices (not `origin`), where it shows as opened or played.
pub(super) async fn tell_viewed(
    tx: &impl GenericClient,
    chat: Uuid,
    viewer: Uuid,
    sender: Option<Uuid>,
    origin: Option<&str>,
    event: &ServerEvent,
) -> Result<(), ApiError> {
    let as_read_receipt = matches!(event, ServerEvent::MessageOpened(_));
    if let Some(sender) = sender {
        if messages::sender_told_of_view(tx, chat, viewer, sender, as_read_receipt).await? {
            events::append_user_events(tx, &[sender], Some(viewer), event.name(), &event.data())
                .await?;
        }
    }
    events::append_own_event_from(tx, viewer, origin, event).await
}
