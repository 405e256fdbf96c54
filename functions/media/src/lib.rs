//! The media function, triggered by S3 `ObjectCreated` on `uploads/`: checks each uploaded
//! object's real type against the type declared when its upload URL was issued and records the
//! result. (Variants, thumbnails and waveforms come with the media pipeline.) Outputs are written
//! under `processed/`, outside the trigger's prefix, so they never re-trigger this function.

use aws_lambda_events::s3::S3Event;
use banter_core::db::media;
use banter_core::{media::sniff, App};
use banter_lambda::Error;
use serde_json::{json, Value};

/// The prefix uploads arrive under (the trigger's filter in `template.yaml`).
pub const UPLOAD_PREFIX: &str = "uploads/";

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    blobs: true,
    ..banter_lambda::Uses::NOTHING
};

pub async fn handle(app: App, event: S3Event) -> Result<Value, Error> {
    let mut checked = Vec::new();
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
        let Some((id, declared)) = media::by_key(&app.db, &key).await? else {
            tracing::warn!(%key, "no media record for this upload; ignoring it");
            continue;
        };
        let Some(bytes) = app.ports.blobs.get(&key).await? else {
            tracing::warn!(%key, "the uploaded object is gone");
            continue;
        };
        let detected = sniff(&bytes);
        let (status, error) = match detected {
            Some(d) if d == declared => ("completed", None),
            _ => (
                "failed",
                Some("the file's content does not match its declared type"),
            ),
        };
        media::set_checked(&app.db, id, detected, status, error).await?;
        checked.push(json!({ "fileId": id, "status": status }));
    }
    Ok(json!({ "checked": checked }))
}
