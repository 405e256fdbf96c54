//! The [`App`] of a function running on AWS, from its environment (set by `template.yaml`):
//!
//! | variable | what |
//! |---|---|
//! | `DATABASE_URL` | Postgres (Neon: `...?sslmode=require`) |
//! | `JWT_PRIVATE_KEY` / `JWT_PUBLIC_KEY` | base64 Ed25519 PKCS#8 key, or the public key for verify-only functions |
//! | `CONNECTIONS_TABLE` | DynamoDB table of WebSocket connections |
//! | `DELIVERY_QUEUE_URL` | SQS delivery queue |
//! | `WEBSOCKET_MANAGEMENT_URL` | `https://{api}.execute-api.{region}.amazonaws.com/{stage}` |
//! | `MEDIA_BUCKET` | S3 bucket for media; `S3_FORCE_PATH_STYLE=true` for emulators |
//! | `NOTIFY_FROM_EMAIL` | verified SES sender |
//! | `DB_POOL_SIZE` | connections per instance (default 2) |

use std::sync::Arc;

use banter_aws::{
    ApiGatewayPush, DynamoConnectionRegistry, S3BlobStore, SesSnsNotifier, SqsDeliveryQueue,
};
use banter_core::auth::tokens::TokenKeys;
use banter_core::config::{env_parse, env_required, Settings};
use banter_core::{db, App, Ports};

pub async fn app_from_env() -> Result<App, String> {
    let settings = Settings::from_env();
    let tokens = TokenKeys::from_env(&settings)?;
    let db = db::connect(
        &env_required("DATABASE_URL")?,
        env_parse("DB_POOL_SIZE").unwrap_or(2),
    )?;
    let aws = banter_aws::load_config().await;
    let path_style = std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
    let ports = Ports {
        connections: Arc::new(DynamoConnectionRegistry::new(
            &aws,
            env_required("CONNECTIONS_TABLE")?,
        )),
        queue: Arc::new(SqsDeliveryQueue::new(
            &aws,
            env_required("DELIVERY_QUEUE_URL")?,
        )),
        push: Arc::new(ApiGatewayPush::new(
            &aws,
            &env_required("WEBSOCKET_MANAGEMENT_URL")?,
        )),
        blobs: Arc::new(S3BlobStore::new(
            &aws,
            env_required("MEDIA_BUCKET")?,
            path_style,
        )),
        notifier: Arc::new(SesSnsNotifier::new(
            &aws,
            env_required("NOTIFY_FROM_EMAIL")?,
        )),
    };
    Ok(App {
        db,
        tokens: Arc::new(tokens),
        settings: Arc::new(settings),
        ports,
    })
}
