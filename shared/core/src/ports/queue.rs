//! Delivery queue: fan-out work handed from the function that stored something to the delivery
//! function (SQS on AWS; an in-process queue driven by the local stack's SQS emulation).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::PortError;

/// Push `event` to every connection of `recipients` (but `exclude_connection`).
/// With `receipt`, recipients reached are recorded as delivered and the sender is told. On the
/// queue the event's `event` and `data` sit beside the other fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryJob {
    #[serde(flatten)]
    pub event: crate::api::ws::ServerEvent,
    pub recipients: Vec<Uuid>,
    #[serde(default)]
    pub exclude_connection: Option<String>,
    #[serde(default)]
    pub receipt: Option<Receipt>,
}

/// What a delivered message is, for recording delivery receipts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub seq: i64,
    pub sender_id: Uuid,
}

#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), PortError>;
}

/// A message on the in-process queue, as SQS would hold it.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub message_id: String,
    pub body: String,
    /// How many times it has been handed to a consumer before.
    pub receive_count: u32,
}

/// The embedded queue: an unbounded channel whose receiving end the local stack drains.
pub struct InProcessQueue {
    tx: mpsc::UnboundedSender<QueuedMessage>,
}

impl InProcessQueue {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<QueuedMessage>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// Put a message back (a redelivery after a failed attempt).
    pub fn requeue(&self, message: QueuedMessage) -> Result<(), PortError> {
        self.tx
            .send(message)
            .map_err(|_| PortError::new("queue", "the consumer has stopped"))
    }
}

#[async_trait]
impl DeliveryQueue for InProcessQueue {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), PortError> {
        let body = serde_json::to_string(job).map_err(|e| PortError::new("queue", e))?;
        self.requeue(QueuedMessage {
            message_id: Uuid::new_v4().to_string(),
            body,
            receive_count: 0,
        })
    }
}
