//! The [`App`] of a function running on AWS, from its environment (set by `template.yaml`):
//!
//! | variable | what |
//! |---|---|
//! | `DATABASE_URL_SECRET` | Secrets Manager secret (name or ARN) holding the Postgres URL (Neon: `...?sslmode=require`); `DATABASE_URL` holds the URL itself in local runs |
//! | `JWT_PRIVATE_KEY_SECRET` | secret holding the base64 Ed25519 PKCS#8 signing key (`JWT_PRIVATE_KEY` locally); without either, `JWT_PUBLIC_KEY` makes a verify-only function |
//! | `CONNECTIONS_TABLE` | DynamoDB table of WebSocket connections |
//! | `DELIVERY_QUEUE_URL` | SQS delivery queue |
//! | `WEBSOCKET_MANAGEMENT_URL` | `https://{api}.execute-api.{region}.amazonaws.com/{stage}` |
//! | `MEDIA_BUCKET` | S3 bucket for media; `S3_FORCE_PATH_STYLE=true` for emulators |
//! | `NOTIFY_FROM_EMAIL` | verified SES sender |
//! | `DB_POOL_SIZE` | connections per instance (default 2) |
//!
//! Each port is built only when the function enables its feature of this crate (`registry`,
//! `queue`, `push`, `blobs`, `notify`); the others are [`Absent`].

use std::sync::Arc;

use banter_core::auth::tokens::TokenKeys;
use banter_core::config::{env_parse, env_required, Settings};
use banter_core::{db, App, Ports};

/// A secret read at init: from Secrets Manager when `{name}_SECRET` names one (on AWS the
/// template sets only that name), else the plain `{name}` variable (local runs and tests).
async fn secret(name: &str) -> Result<Option<String>, String> {
    match std::env::var(format!("{name}_SECRET")) {
        Ok(id) if !id.is_empty() => {
            let aws = banter_aws::load_config().await;
            banter_aws::secret_string(&aws, &id)
                .await
                .map(Some)
                .map_err(|e| format!("reading the secret of {name}: {e}"))
        }
        _ => Ok(std::env::var(name).ok()),
    }
}

pub async fn app_from_env() -> Result<App, String> {
    let settings = Settings::from_env();
    let tokens = match secret("JWT_PRIVATE_KEY").await? {
        Some(private) => TokenKeys::from_private_key_base64(&private, &settings)?,
        None => TokenKeys::from_env(&settings)?,
    };
    let database_url = secret("DATABASE_URL")
        .await?
        .ok_or("set DATABASE_URL_SECRET (or DATABASE_URL)")?;
    let db = db::connect(&database_url, env_parse("DB_POOL_SIZE").unwrap_or(2))?;
    // Functions without AWS ports (health, migrate, the authorizer) never load the SDK.
    #[cfg(any(
        feature = "registry",
        feature = "queue",
        feature = "push",
        feature = "blobs",
        feature = "notify"
    ))]
    let aws = banter_aws::load_config().await;
    let ports = Ports {
        connections: {
            #[cfg(feature = "registry")]
            let port = Arc::new(banter_aws::DynamoConnectionRegistry::new(
                &aws,
                env_required("CONNECTIONS_TABLE")?,
            ));
            #[cfg(not(feature = "registry"))]
            let port = Arc::new(banter_core::ports::Absent("connection registry"));
            port
        },
        queue: {
            #[cfg(feature = "queue")]
            let port = Arc::new(banter_aws::SqsDeliveryQueue::new(
                &aws,
                env_required("DELIVERY_QUEUE_URL")?,
            ));
            #[cfg(not(feature = "queue"))]
            let port = Arc::new(banter_core::ports::Absent("delivery queue"));
            port
        },
        push: {
            #[cfg(feature = "push")]
            let port = Arc::new(banter_aws::ApiGatewayPush::new(
                &aws,
                &env_required("WEBSOCKET_MANAGEMENT_URL")?,
            ));
            #[cfg(not(feature = "push"))]
            let port = Arc::new(banter_core::ports::Absent("connection push"));
            port
        },
        blobs: {
            #[cfg(feature = "blobs")]
            let port = {
                let path_style = std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
                Arc::new(banter_aws::S3BlobStore::new(
                    &aws,
                    env_required("MEDIA_BUCKET")?,
                    path_style,
                ))
            };
            #[cfg(not(feature = "blobs"))]
            let port = Arc::new(banter_core::ports::Absent("blob store"));
            port
        },
        notifier: {
            #[cfg(feature = "notify")]
            let port = Arc::new(banter_aws::SesSnsNotifier::new(
                &aws,
                env_required("NOTIFY_FROM_EMAIL")?,
            ));
            #[cfg(not(feature = "notify"))]
            let port = Arc::new(banter_core::ports::Absent("notifier"));
            port
        },
    };
    Ok(App {
        db,
        tokens: Arc::new(tokens),
        sessions: Arc::new(banter_core::auth::revocation::SessionCheck::new(
            settings.session_check_ttl,
        )),
        settings: Arc::new(settings),
        ports,
    })
}
