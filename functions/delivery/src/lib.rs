//! The delivery function, fed by the SQS delivery queue: fans each job out to its recipients'
//! connections. Only the records that failed for a retryable reason are reported back
//! (`ReportBatchItemFailures`), so SQS retries just those, and moves a record that keeps failing
//! to the dead-letter queue. A malformed job can never succeed: it is logged and dropped.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use banter_core::services::delivery::{deliver_body, DeliveryError};
use banter_core::App;
use banter_lambda::Error;
use futures_util::future::join_all;

pub async fn handle(app: App, event: SqsEvent) -> Result<SqsBatchResponse, Error> {
    let outcomes = join_all(event.records.iter().map(|record| {
        let app = &app;
        async move {
            (
                record.message_id.clone(),
                deliver_body(app, record.body.as_deref().unwrap_or("")).await,
            )
        }
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (message_id, outcome) in outcomes {
        match outcome {
            Ok(_) => {}
            Err(DeliveryError::Fatal(e)) => {
                tracing::error!(?message_id, error = %e, "dropping an undeliverable job")
            }
            Err(DeliveryError::Retryable(e)) => {
                tracing::warn!(?message_id, error = %e, "delivery will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
    }
    Ok(response)
}
