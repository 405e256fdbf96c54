//! AWS implementations of Banter's ports, on the official AWS SDK for Rust:
//! DynamoDB (connection registry), SQS (delivery queue), API Gateway Management API (connection
//! push), S3 (blob store) and SES / SNS (notifier).
//!
//! Every adapter is tested through the real SDK against `moto` server on loopback, with the same
//! contract suites as the embedded adapters (`banter_core::ports::contract`).

#[cfg(feature = "apigateway")]
mod apigateway;
#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "notify")]
mod notify;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "sqs")]
mod sqs;

#[cfg(feature = "apigateway")]
pub use apigateway::ApiGatewayPush;
#[cfg(feature = "dynamodb")]
pub use dynamodb::{create_connections_table, DynamoConnectionRegistry};
#[cfg(feature = "notify")]
pub use notify::SesSnsNotifier;
#[cfg(feature = "s3")]
pub use s3::S3BlobStore;
#[cfg(feature = "sqs")]
pub use sqs::SqsDeliveryQueue;

pub use aws_config::SdkConfig;

/// The SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL`
/// when pointing at an emulator).
pub async fn load_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Configuration for an emulator at `endpoint` (moto) with throwaway credentials.
pub async fn emulator_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

/// An SDK error as text, with the service's error code when there is one.
#[allow(dead_code)]
fn describe<E: std::error::Error>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
