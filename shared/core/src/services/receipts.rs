//! Delivery receipts (API.md "Messages"): a message is `delivered` to a recipient when any of
//! their devices got it, live (the relay) or through `/api/sync`. Receipts are collected per
//! batch, recorded as watermarks in one statement, and each sender is told once per batch and
//! chat with one `message:delivered` event in their stream (through the event log, like every
//! event), naming only the recipients whose presence the sender may know.

use std::collections::{BTreeMap, BTreeSet};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::Timestamp;
use crate::api::ws::{MessageDelivered, ServerEvent};
use crate::db::messages::{self, DeliveredUpTo};
use crate::db::{events, relationships};
use crate::error::ApiError;

/// What reached whom in one batch, by chat and sender.
#[derive(Default, Debug)]
pub struct Deliveries {
    /// (chat, sender) -> the last message delivered (seq, id) and who got it.
    by_chat_sender: BTreeMap<(Uuid, Uuid), (i64, Uuid, BTreeSet<Uuid>)>,
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
    messages::mark_delivered_many(client, &watermarks).await?;
    // A tick the moment a device connects would tell a sender when it was online: only those
    // whose presence the sender may know are named.
    let visible = relationships::presence_visible_pairs(client, &pairs).await?;
    let mut notices = Vec::new();
    for ((chat, sender), (seq, message_id, recipients)) in &deliveries.by_chat_sender {
        let delivered_to: Vec<Uuid> = recipients
            .iter()
            .copied()
            .filter(|r| visible.contains(&(*sender, *r)))
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
    events::append_user_events_each(client, "message:delivered", &notices).await?;
    Ok(!notices.is_empty())
}
