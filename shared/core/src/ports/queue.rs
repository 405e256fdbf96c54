//! Delivery queue: wake-ups handed from the function that committed events to the relay (the
//! delivery function): SQS on AWS; a bounded in-process queue driven by the local stack's SQS
//! emulation.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::PortError;

/// A wake-up for the relay: events are committed to the log and waiting to be pushed. It
/// carries no events (the log has them), so losing one only delays delivery until the next
/// wake-up or the relay's schedule, and any number of them coalesce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryJob {
    /// What prompted it, for logs (`message:received`, `chat:created`, ...).
    #[serde(default)]
    pub cause: String,
}

impl DeliveryJob {
    pub fn because(cause: &str) -> Self {
        Self {
            cause: cause.to_owned(),
        }
    }
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

/// Messages the embedded queue holds at most; past that, enqueueing fails (backpressure, not
/// memory growth; a wake-up that finds the queue full is redundant anyway).
pub const IN_PROCESS_QUEUE_CAPACITY: usize = 4096;

/// The embedded queue: a bounded channel whose receiving end the local stack drains.
pub struct InProcessQueue {
    tx: mpsc::Sender<QueuedMessage>,
}

impl InProcessQueue {
    pub fn new() -> (Self, mpsc::Receiver<QueuedMessage>) {
        let (tx, rx) = mpsc::channel(IN_PROCESS_QUEUE_CAPACITY);
        (Self { tx }, rx)
    }

    /// Put a message back (a redelivery after a failed attempt).
    pub fn requeue(&self, message: QueuedMessage) -> Result<(), PortError> {
        self.tx.try_send(message).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PortError::new("queue", "the queue is full"),
            mpsc::error::TrySendError::Closed(_) => {
                PortError::new("queue", "the consumer has stopped")
            }
        })
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
