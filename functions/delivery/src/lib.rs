//! The delivery function: the relay (`services::relay`). SQS wake-ups (right after a commit)
//! and a schedule (every minute: the safety net, and compaction of the event log) invoke it;
//! either way it pushes whatever is committed and stable. A wake-up carries no events, so when
//! the relay fails (the database is down) every record of the batch is reported failed: SQS
//! retries them and, after five receives, moves them to the dead-letter queue, while the
//! schedule keeps retrying on its own.
//!
//! It also builds chat backups (`services::backups`): when a wake-up says one was asked for,
//! and on every scheduled run (a lost wake-up, a crashed build).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use banter_core::ports::DeliveryJob;
use banter_core::services::{backups, relay};
use banter_core::App;
use banter_lambda::Error;
use serde_json::Value;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    registry: true,
    push: true,
    blobs: true,
    mobile_push: true,
    ..banter_lambda::Uses::NOTHING
};

pub async fn handle(app: App, event: Value) -> Result<Value, Error> {
    if event.get("Records").is_none() {
        // The schedule (an EventBridge "Scheduled Event").
        // Backups are built whatever the relay or housekeeping ran into.
        let outcome = relay::scheduled(&app).await;
        build_backups(&app).await;
        let report = outcome?;
        // Worth a line only when the safety net found work (the local stack runs it every
        // second): events no wake-up relayed, replays or dropped connections.
        if report.events + report.replayed + report.closed > 0 {
            tracing::info!(?report, "scheduled relay run");
        } else {
            tracing::debug!(?report, "scheduled relay run");
        }
        return Ok(Value::Null);
    }
    let batch: SqsEvent = serde_json::from_value(event)?;
    let mut response = SqsBatchResponse::default();
    match relay::drain(&app).await {
        Ok(report) => tracing::debug!(?report, "relayed"),
        Err(e) => {
            tracing::warn!(error = %e, "the relay failed; the wake-ups will be retried");
            for record in &batch.records {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
    }
    let backup_asked = batch.records.iter().any(|r| {
        r.body
            .as_deref()
            .and_then(|b| serde_json::from_str::<DeliveryJob>(b).ok())
            .is_some_and(|job| job.cause == backups::BACKUP_REQUESTED)
    });
    if backup_asked {
        build_backups(&app).await;
    }
    Ok(serde_json::to_value(response)?)
}

/// Build waiting backups; a failure is logged and left to the next scheduled run.
async fn build_backups(app: &App) {
    match backups::build_pending(app).await {
        Ok(0) => {}
        Ok(built) => tracing::info!(built, "built backups"),
        Err(e) => tracing::warn!(error = %e, "building backups failed; the schedule retries"),
    }
}
