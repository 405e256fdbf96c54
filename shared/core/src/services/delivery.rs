//! Fan-out of one delivery job: push the event to every connection of every recipient, drop
//! connections that are gone, record delivery receipts and tell the sender.

use futures_util::future::join_all;
use uuid::Uuid;

use crate::api::models::Timestamp;
use crate::api::ws::{MessageDelivered, ServerEvent};
use crate::db::{messages, relationships};
use crate::ports::{DeliveryJob, PushError};
use crate::App;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying the job (a push or the database failed transiently).
    #[error("retryable: {0}")]
    Retryable(String),
    /// Retrying cannot help (a malformed job): drop it.
    #[error("fatal: {0}")]
    Fatal(String),
}

/// What one job did, for logs and benchmarks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub pushed: usize,
    pub gone: usize,
    pub failed: usize,
}

/// Parse a queue message body and deliver it.
pub async fn deliver_body(app: &App, body: &str) -> Result<DeliveryReport, DeliveryError> {
    let job: DeliveryJob =
        serde_json::from_str(body).map_err(|e| DeliveryError::Fatal(format!("bad job: {e}")))?;
    deliver(app, &job).await
}

pub async fn deliver(app: &App, job: &DeliveryJob) -> Result<DeliveryReport, DeliveryError> {
    let frame = job.event.to_text();
    let mut report = DeliveryReport::default();
    let results = join_all(job.recipients.iter().map(|user| {
        push_to_user(
            app,
            *user,
            frame.as_bytes(),
            job.exclude_connection.as_deref(),
        )
    }))
    .await;
    let mut reached: Vec<Uuid> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for (user, result) in job.recipients.iter().zip(results) {
        match result {
            Ok(r) => {
                if r.pushed > 0 {
                    reached.push(*user);
                }
                report.pushed += r.pushed;
                report.gone += r.gone;
                report.failed += r.failed;
                if r.failed > 0 {
                    errors.push(format!("{} push(es) to {user} failed", r.failed));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(receipt) = &job.receipt {
        let mut delivered_to: Vec<Uuid> = reached
            .iter()
            .copied()
            .filter(|u| *u != receipt.sender_id)
            .collect();
        if !delivered_to.is_empty() {
            messages::mark_delivered(&app.db, receipt.chat_id, &delivered_to, receipt.seq)
                .await
                .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
            // Recorded for everyone, told live only about those whose presence the sender may
            // know: a tick the moment a device connects would say when it was online.
            delivered_to =
                relationships::presence_visible_to(&app.db, receipt.sender_id, &delivered_to)
                    .await
                    .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        }
        if !delivered_to.is_empty() {
            let notice = ServerEvent::MessageDelivered(MessageDelivered {
                message_id: receipt.message_id,
                chat_id: receipt.chat_id,
                seq: receipt.seq,
                delivered_to,
                timestamp: Timestamp::now(),
            })
            .to_text();
            // Best effort: the receipt is stored, and the sender's next sync or history read shows it.
            let _ = push_to_user(app, receipt.sender_id, notice.as_bytes(), None).await;
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(DeliveryError::Retryable(errors.join("; ")))
    }
}

/// Push one frame to all of a user's connections but `exclude`.
async fn push_to_user(
    app: &App,
    user: Uuid,
    frame: &[u8],
    exclude: Option<&str>,
) -> Result<DeliveryReport, String> {
    let connections = app
        .ports
        .connections
        .connections_of(user)
        .await
        .map_err(|e| e.to_string())?;
    let targets: Vec<_> = connections
        .iter()
        .filter(|c| Some(c.connection_id.as_str()) != exclude)
        .collect();
    let results = join_all(
        targets
            .iter()
            .map(|c| app.ports.push.post(&c.connection_id, frame)),
    )
    .await;
    let mut report = DeliveryReport::default();
    for (conn, result) in targets.iter().zip(results) {
        match result {
            Ok(()) => report.pushed += 1,
            Err(PushError::Gone) => {
                report.gone += 1;
                if let Err(e) = app
                    .ports
                    .connections
                    .unregister(conn.user_id, &conn.connection_id)
                    .await
                {
                    tracing::warn!(error = %e, "could not drop a gone connection");
                }
            }
            Err(PushError::Failed(e)) => {
                tracing::warn!(error = %e, connection = %conn.connection_id, "push failed");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}
