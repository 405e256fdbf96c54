//! Queries on `media_files` for the media function.

use uuid::Uuid;

use crate::error::ApiError;

use super::Db;

/// The media record for an uploaded object: id and declared MIME type.
pub async fn by_key(db: &Db, key: &str) -> Result<Option<(Uuid, String)>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT id, declared_mime FROM media_files WHERE file_key = $1")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&key])
        .await?
        .map(|r| (r.get("id"), r.get("declared_mime"))))
}

/// Record the outcome of checking an upload.
pub async fn set_checked(
    db: &Db,
    id: Uuid,
    detected: Option<&str>,
    status: &str,
    error: Option<&str>,
) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE media_files SET detected_mime = $2, status = $3, error = $4 WHERE id = $1",
        )
        .await?;
    client
        .execute(&stmt, &[&id, &detected, &status, &error])
        .await?;
    Ok(())
}
