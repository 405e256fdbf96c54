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

/// Messages the embedded queue holds at most (backpressure, not memory growth). A wake-up that
/// finds the queue full is redundant (thousands wait before it, and any one wakes the relay),
/// so it is dropped quietly; a redelivery that finds it full fails.
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
        self.tx.try_send(message).map_err(refusal)
    }
}

/// Why the channel did not take a message.
fn refusal<T>(e: mpsc::error::TrySendError<T>) -> PortError {
    match e {
        mpsc::error::TrySendError::Full(_) => PortError::new("queue", "the queue is full"),
        mpsc::error::TrySendError::Closed(_) => PortError::new("queue", "the consumer has stopped"),
    }
}

#[async_trait]
impl DeliveryQueue for InProcessQueue {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), PortError> {
        let body = serde_json::to_string(job).map_err(|e| PortError::new("queue", e))?;
        let message = QueuedMessage {
            message_id: Uuid::new_v4().to_string(),
            body,
            receive_count: 0,
        };
        match self.tx.try_send(message) {
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!(cause = job.cause, "the queue is full of wake-ups already");
                Ok(())
            }
            other => other.map_err(refusal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_takes_no_more_but_a_wake_up_finding_it_full_is_not_an_error() {
        let (queue, mut rx) = InProcessQueue::new();
        let wake = DeliveryJob::because("message:received");
        for _ in 0..IN_PROCESS_QUEUE_CAPACITY + 10 {
            queue.enqueue(&wake).await.unwrap();
        }
        let redelivery = rx.recv().await.unwrap();
        queue.enqueue(&wake).await.unwrap();
        assert!(
            queue.requeue(redelivery).is_err(),
            "a redelivery is refused when the queue is full"
        );
        let mut held = 0;
        while rx.try_recv().is_ok() {
            held += 1;
        }
        assert_eq!(held, IN_PROCESS_QUEUE_CAPACITY, "bounded");
        drop(rx);
        assert!(queue.enqueue(&wake).await.is_err(), "no consumer");
    }
}
