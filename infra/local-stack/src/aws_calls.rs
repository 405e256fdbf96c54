//! The AWS requests the local stack's traffic would make on AWS, counted where the emulation
//! stands in for them: WebSocket messages through API Gateway (frames routed in, route
//! responses and `@connections` posts out), Lambda invocations and their time, SQS requests of
//! the delivery queue, and reads and writes of the connections table. Served at
//! `GET /local/aws-calls`; `banter-bench` prints them per delivered message and prices them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use banter_core::ports::{ConnectionRecord, ConnectionRegistry, PortError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The running counts (shared by the stack's parts).
#[derive(Default)]
pub struct AwsCalls {
    websocket_in: AtomicU64,
    websocket_out: AtomicU64,
    lambda_invocations: AtomicU64,
    lambda_nanos: AtomicU64,
    sqs_sends: AtomicU64,
    sqs_receives: AtomicU64,
    dynamodb_reads: AtomicU64,
    dynamodb_writes: AtomicU64,
}

/// The counts at one moment (`GET /local/aws-calls`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsCallCounts {
    /// Client frames API Gateway routed to an integration.
    pub websocket_in: u64,
    /// Frames sent to clients: route responses and `@connections` posts.
    pub websocket_out: u64,
    pub lambda_invocations: u64,
    /// Their summed duration (what Lambda bills), in milliseconds.
    pub lambda_ms: u64,
    /// `SendMessage`: one per delivery job (a relay wake-up).
    pub sqs_sends: u64,
    /// Batches taken by the event source: a `ReceiveMessage` and a `DeleteMessageBatch` each.
    pub sqs_receives: u64,
    /// Queries of the connections table (a user's connections).
    pub dynamodb_reads: u64,
    /// Puts and deletes of connection records.
    pub dynamodb_writes: u64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl AwsCalls {
    pub fn websocket_in(&self) {
        add(&self.websocket_in, 1);
    }

    pub fn websocket_out(&self) {
        add(&self.websocket_out, 1);
    }

    /// An invocation starts (counted then, so it is in the counts while it runs).
    pub fn lambda_invoked(&self) {
        add(&self.lambda_invocations, 1);
    }

    /// An invocation ended after `took`.
    pub fn lambda_ran(&self, took: Duration) {
        add(&self.lambda_nanos, took.as_nanos() as u64);
    }

    /// A batch the queue's event source took: `sent` of its jobs are there for the first time.
    pub fn sqs_batch(&self, sent: u64) {
        add(&self.sqs_sends, sent);
        add(&self.sqs_receives, 1);
    }

    pub fn counts(&self) -> AwsCallCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AwsCallCounts {
            websocket_in: get(&self.websocket_in),
            websocket_out: get(&self.websocket_out),
            lambda_invocations: get(&self.lambda_invocations),
            lambda_ms: get(&self.lambda_nanos) / 1_000_000,
            sqs_sends: get(&self.sqs_sends),
            sqs_receives: get(&self.sqs_receives),
            dynamodb_reads: get(&self.dynamodb_reads),
            dynamodb_writes: get(&self.dynamodb_writes),
        }
    }
}

/// A connection registry whose calls are counted as the DynamoDB requests they are on AWS.
pub struct CountedRegistry {
    pub inner: Arc<dyn ConnectionRegistry>,
    pub calls: Arc<AwsCalls>,
}

#[async_trait]
impl ConnectionRegistry for CountedRegistry {
    async fn register(&self, record: &ConnectionRecord) -> Result<(), PortError> {
        add(&self.calls.dynamodb_writes, 1);
        self.inner.register(record).await
    }

    async fn unregister(
        &self,
        user_id: Uuid,
        connection_id: &str,
    ) -> Result<Option<ConnectionRecord>, PortError> {
        add(&self.calls.dynamodb_writes, 1);
        self.inner.unregister(user_id, connection_id).await
    }

    async fn connections_of(&self, user_id: Uuid) -> Result<Vec<ConnectionRecord>, PortError> {
        add(&self.calls.dynamodb_reads, 1);
        self.inner.connections_of(user_id).await
    }
}
