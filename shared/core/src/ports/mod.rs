//! The ports: what Banter needs from its surroundings that differs between AWS and one
//! machine. Each trait has an embedded implementation here (or, for pushing to live
//! connections, in the local stack that owns them) and an AWS one in `banter-aws`.
//! `contract` holds the test suites both implementations must pass.

mod absent;
mod blobs;
mod connections;
pub mod contract;
mod mobile_push;
mod notifier;
mod push;
mod queue;

pub use absent::Absent;
pub use blobs::{
    BlobStore, FileBlobStore, ObjectCreated, SignedBlobRequest, UploadedPart, UrlValidity,
    MIN_PART_BYTES, SIGNING_PERIOD_SECS,
};
pub use connections::{ConnectionRecord, ConnectionRegistry, InMemoryConnectionRegistry};
pub use mobile_push::{MobilePush, MobilePushError, PushNotification, PushPlatform};
pub use notifier::{Notifier, OutboxItem, OutboxNotifier};
pub use push::{ConnectionPush, PushError};
pub use queue::{
    DeliveryJob, DeliveryQueue, InProcessQueue, QueuedMessage, IN_PROCESS_QUEUE_CAPACITY,
};

/// A port call that failed for a reason outside the caller's control (network, throttling).
#[derive(Debug, thiserror::Error)]
#[error("{port}: {message}")]
pub struct PortError {
    pub port: &'static str,
    pub message: String,
}

impl PortError {
    pub fn new(port: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            port,
            message: message.to_string(),
        }
    }
}
