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
/// It trusts Mozilla's root certificates, built in (as Postgres TLS does), not the machine's:
/// reading those (a bundle, and on Debian each of a directory's ~150 files) was 2.5-4 ms of
/// every function's cold start.
fn with_https_client(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{
        rustls_provider::CryptoMode, Provider, TlsContext, TrustStore,
    };
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(mozilla_roots_pem());
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("Mozilla's root certificates make a trust store");
    loader.http_client(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls)
            .build_https(),
    )
}

/// Mozilla's root certificates (`webpki-root-certs`) as one PEM bundle, the form the SDK's
/// trust store takes.
fn mozilla_roots_pem() -> Vec<u8> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let text = STANDARD.encode(cert.as_ref());
        for line in text.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
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

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    #[test]
    fn the_pem_bundle_holds_every_mozilla_root_as_it_was() {
        let pem = super::mozilla_roots_pem();
        let parsed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .expect("the bundle parses");
        assert!(parsed.len() > 100, "{} roots", parsed.len());
        assert_eq!(parsed.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        for (read, built_in) in parsed.iter().zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS) {
            assert_eq!(read.as_ref(), built_in.as_ref());
        }
    }
}
