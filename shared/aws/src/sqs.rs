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

/// A message taken from the queue by [`SqsDeliveryQueue::receive`].
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// How many times it was received before this one.
    pub previous_receives: u32,
}

impl SqsDeliveryQueue {
    pub fn new(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            queue_url: queue_url.into(),
        }
    }

    /// The queue named `name`, created if missing (for emulators and the local stack).
    pub async fn create(config: &aws_config::SdkConfig, name: &str) -> Result<Self, PortError> {
        let client = Client::new(config);
        let out = client
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| PortError::new("sqs", describe(&e)))?;
        let queue_url = out
            .queue_url()
            .ok_or_else(|| PortError::new("sqs", "CreateQueue answered no URL"))?
            .to_owned();
        Ok(Self { client, queue_url })
    }

    /// Long-poll for up to `max` messages (what Lambda's event source mapping does on AWS; the
    /// local stack does it itself when it runs on the AWS adapters).
    pub async fn receive(
        &self,
        max: i32,
        wait_secs: i32,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .map_err(|e| PortError::new("sqs", describe(&e)))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| ReceivedMessage {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                previous_receives: m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .and_then(|n| n.parse::<u32>().ok())
                    .map_or(0, |n| n.saturating_sub(1)),
            })
            .collect())
    }

    /// Remove a handled message.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| PortError::new("sqs", describe(&e)))?;
        Ok(())
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
