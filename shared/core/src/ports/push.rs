//! Connection push: send a frame to one WebSocket connection, or close it (API Gateway's
//! `@connections` API on AWS; the local stack's own sockets on one machine).

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection no longer exists (410 Gone): drop it from the registry.
    #[error("connection is gone")]
    Gone,
    /// Anything else (throttling, network): worth retrying.
    #[error("push failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait ConnectionPush: Send + Sync {
    async fn post(&self, connection_id: &str, frame: &[u8]) -> Result<(), PushError>;
    async fn disconnect(&self, connection_id: &str) -> Result<(), PushError>;
}
