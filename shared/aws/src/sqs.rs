//! Delivery queue on SQS. The delivery function consumes it through an SQS event source mapping
//! with `ReportBatchItemFailures`; after `maxReceiveCount` attempts a job moves to the
//! dead-letter queue.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use banter_core::ports::{DeliveryJob, DeliveryQueue, PortError};

use crate::describe;

pub struct SqsDeliveryQueue {
    client: Client,
    queue_url: String,
}

impl SqsDeliveryQueue {
    pub fn new(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, job: &DeliveryJob) -> Result<(), PortError> {
        let body = serde_json::to_string(job).map_err(|e| PortError::new("sqs", e))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| PortError::new("sqs", describe(&e)))?;
        Ok(())
    }
}
