//! AWS implementations of Banter's ports, on the official AWS SDK for Rust:
//! DynamoDB (connection registry), SQS (delivery queue), API Gateway Management API (connection
//! push), S3 (blob store), SES / SNS (notifier) and SNS platform endpoints (mobile push); and
//! Secrets Manager, where functions read
//! their secrets at init.
//!
//! Every adapter is tested through the real SDK against `moto` server on loopback, with the same
//! contract suites as the embedded adapters (`banter_core::ports::contract`).

#[cfg(feature = "apigateway")]
mod apigateway;
#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "mobile-push")]
mod mobile_push;
#[cfg(feature = "notify")]
mod notify;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "secrets")]
mod secrets;
#[cfg(feature = "sqs")]
mod sqs;

#[cfg(feature = "apigateway")]
pub use apigateway::ApiGatewayPush;
#[cfg(feature = "dynamodb")]
pub use dynamodb::{create_connections_table, DynamoConnectionRegistry};
#[cfg(feature = "mobile-push")]
pub use mobile_push::SnsMobilePush;
#[cfg(feature = "notify")]
pub use notify::SesSnsNotifier;
#[cfg(feature = "s3")]
pub use s3::S3BlobStore;
#[cfg(feature = "secrets")]
pub use secrets::secret_string;
#[cfg(feature = "sqs")]
pub use sqs::{ReceivedMessage, SqsDeliveryQueue};

pub use aws_config::SdkConfig;

/// The HTTPS client every SDK client uses: rustls on ring, the crypto Banter already links for
/// Postgres TLS and JWTs, instead of the SDK's default aws-lc (about 4 MB more per function).
fn with_https_client(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    loader.http_client(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    )
}

/// The SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL`
/// when pointing at an emulator).
pub async fn load_config() -> SdkConfig {
    with_https_client(aws_config::defaults(aws_config::BehaviorVersion::latest()))
        .load()
        .await
}

/// Configuration for an emulator at `endpoint` (moto) with throwaway credentials.
pub async fn emulator_config(endpoint: &str) -> SdkConfig {
    with_https_client(aws_config::defaults(aws_config::BehaviorVersion::latest()))
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
