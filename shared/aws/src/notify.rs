//! Notifier on SES (email) and SNS (SMS).

use async_trait::async_trait;
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use banter_core::ports::{Notifier, PortError};

use crate::describe;

pub struct SesSnsNotifier {
    ses: aws_sdk_ses::Client,
    sns: aws_sdk_sns::Client,
    /// The verified sender address.
    from: String,
}

impl SesSnsNotifier {
    pub fn new(config: &aws_config::SdkConfig, from: impl Into<String>) -> Self {
        Self {
            ses: aws_sdk_ses::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            from: from.into(),
        }
    }
}

fn err(e: impl std::error::Error) -> PortError {
    PortError::new("notifier", describe(&e))
}

#[async_trait]
impl Notifier for SesSnsNotifier {
    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), PortError> {
        let message = Message::builder()
            .subject(
                Content::builder()
                    .data(subject)
                    .charset("UTF-8")
                    .build()
                    .map_err(err)?,
            )
            .body(
                Body::builder()
                    .text(
                        Content::builder()
                            .data(body)
                            .charset("UTF-8")
                            .build()
                            .map_err(err)?,
                    )
                    .build(),
            )
            .build();
        self.ses
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .message(message)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn send_sms(&self, to: &str, body: &str) -> Result<(), PortError> {
        self.sns
            .publish()
            .phone_number(to)
            .message(body)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}
