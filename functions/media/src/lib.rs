//! The media function, triggered by S3 `ObjectCreated` on `uploads/`: each uploaded file is
//! scanned for viruses, its real type checked, and processed by kind (pictures, video, audio,
//! documents) into variants under `processed/`, outside the trigger's prefix, so they never
//! re-trigger it. The same code runs in the local stack, on its blob store's events.

pub mod audio;
pub mod clamd;
pub mod detect;
pub mod documents;
pub mod images;
pub mod metrics;
pub mod pipeline;
pub mod signatures;
pub mod tools;
pub mod video;

use std::path::PathBuf;

use aws_lambda_events::s3::S3Event;
use banter_core::services::media::UPLOAD_PREFIX;
use banter_core::App;
use banter_lambda::Error;
use serde_json::{json, Value};

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    blobs: true,
    // Progress events wake the relay.
    queue: true,
    ..banter_lambda::Uses::NOTHING
};

/// Where the function's tools are.
#[derive(Debug, Clone, Default)]
pub struct MediaConfig {
    /// The `clamd` socket. Without one nothing can be scanned, so nothing is processed: files
    /// fail after their retries.
    pub clamd_socket: Option<PathBuf>,
}

/// The configuration on AWS: `CLAMD_SOCKET`, or a `clamd` this container starts from the
/// bucket's signatures.
async fn config_from_environment(app: &App) -> MediaConfig {
    if let Some(socket) = std::env::var_os("CLAMD_SOCKET") {
        return MediaConfig {
            clamd_socket: Some(PathBuf::from(socket)),
        };
    }
    match signatures::container_scanner(app).await {
        Ok(socket) => MediaConfig {
            clamd_socket: Some(socket),
        },
        Err(e) => {
            tracing::error!(error = %e, "no virus scanner");
            MediaConfig::default()
        }
    }
}

/// The Lambda handler: [`handle_with`] the environment's configuration.
pub async fn handle(app: App, event: S3Event) -> Result<Value, Error> {
    let config = config_from_environment(&app).await;
    handle_with(&config, app, event).await
}

/// Process every uploaded object the event names (the local stack gives its own `config`).
pub async fn handle_with(config: &MediaConfig, app: App, event: S3Event) -> Result<Value, Error> {
    let mut outcomes = Vec::new();
    let mut retry = Vec::new();
    for record in &event.records {
        let Some(raw_key) = record.s3.object.key.as_deref() else {
            continue;
        };
        // S3 event keys are URL-encoded, with '+' for spaces.
        let spaced = raw_key.replace('+', " ");
        let key = percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy();
        if !key.starts_with(UPLOAD_PREFIX) {
            tracing::info!(%key, "ignoring an object outside uploads/");
            continue;
        }
        match pipeline::process_upload(&app, config, &key).await {
            Ok(Some(outcome)) => {
                metrics::emit(&outcome);
                outcomes.push(outcome)
            }
            Ok(None) => {}
            Err(why) => retry.push(why),
        }
    }
    if !retry.is_empty() {
        // The invocation is retried (Lambda retries an asynchronous invocation twice); files
        // already done are not claimed again.
        return Err(format!("processing will be retried: {}", retry.join("; ")).into());
    }
    Ok(json!({ "processed": outcomes }))
}
