//! Queries on `media_files`: uploads (issued, completed, cancelled), who may see a file, and
//! the media function's processing state (claimed, progressed, finished).

use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::ApiError;

use super::Db;

/// A `media_files` row, read by column name.
#[derive(Debug, Clone)]
pub struct MediaRow {
    pub id: Uuid,
    pub uploader_id: Option<Uuid>,
    pub chat_id: Option<Uuid>,
    pub file_key: String,
    pub file_name: String,
    pub file_type: String,
    pub declared_mime: String,
    pub detected_mime: Option<String>,
    pub file_size: i64,
    pub status: String,
    pub progress: i16,
    pub attempts: i16,
    pub upload_id: Option<String>,
    /// Processed outputs by name: blob keys.
    pub variants: Value,
    pub metadata: Value,
    pub error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl MediaRow {
    fn from_row(r: &Row) -> Self {
        Self {
            id: r.get("id"),
            uploader_id: r.get("uploader_id"),
            chat_id: r.get("chat_id"),
            file_key: r.get("file_key"),
            file_name: r.get("file_name"),
            file_type: r.get("file_type"),
            declared_mime: r.get("declared_mime"),
            detected_mime: r.get("detected_mime"),
            file_size: r.get("file_size"),
            status: r.get("status"),
            progress: r.get("progress"),
            attempts: r.get("attempts"),
            upload_id: r.get("upload_id"),
            variants: r.get("variants"),
            metadata: r.get("metadata"),
            error: r.get("error"),
            created_at: r.get("created_at"),
        }
    }
}

const COLUMNS: &str = "f.id, f.uploader_id, f.chat_id, f.file_key, f.file_name, f.file_type, f.declared_mime,
    f.detected_mime, f.file_size, f.status, f.progress, f.attempts, f.upload_id, f.variants, f.metadata,
    f.error, f.created_at";

/// A file about to be uploaded.
pub struct NewFile<'a> {
    pub id: Uuid,
    pub uploader: Uuid,
    pub chat_id: Option<Uuid>,
    pub key: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub mime: &'a str,
    pub size: i64,
    pub upload_id: Option<&'a str>,
}

/// Record a file whose upload URL is being issued. `None` when `chat_id` names a chat the
/// uploader is not a member of.
pub async fn insert(db: &Db, f: &NewFile<'_>) -> Result<Option<MediaRow>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "WITH f AS (
                 INSERT INTO media_files (id, uploader_id, chat_id, file_key, file_name, file_type,
                                          declared_mime, file_size, upload_id)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
                 WHERE $3::uuid IS NULL OR EXISTS (
                     SELECT 1 FROM chat_participants
                     WHERE chat_id = $3 AND user_id = $2 AND left_at IS NULL)
                 RETURNING *)
             SELECT {COLUMNS} FROM f"
        ))
        .await?;
    let row = client
        .query_opt(
            &stmt,
            &[
                &f.id,
                &f.uploader,
                &f.chat_id,
                &f.key,
                &f.name,
                &f.kind,
                &f.mime,
                &f.size,
                &f.upload_id,
            ],
        )
        .await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// The caller's own upload.
pub async fn own(db: &Db, id: Uuid, uploader: Uuid) -> Result<Option<MediaRow>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM media_files f WHERE f.id = $1 AND f.uploader_id = $2"
        ))
        .await?;
    let row = client.query_opt(&stmt, &[&id, &uploader]).await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// The caller's own upload, by its key.
pub async fn own_by_key(db: &Db, key: &str, uploader: Uuid) -> Result<Option<MediaRow>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM media_files f WHERE f.file_key = $1 AND f.uploader_id = $2"
        ))
        .await?;
    let row = client.query_opt(&stmt, &[&key, &uploader]).await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// A file as `viewer` may see it: their own upload; a file a message shows them (in their
/// history of its chat: a member, or a former member who kept the chat and it came before they
/// left; sent after they joined and after they cleared the chat, not hidden, not from someone
/// they block, not deleted for everyone, not a view-once they opened: `db::sees_message`);
/// someone's profile picture, unless that someone blocks them; or the picture of a group they
/// are in (or left with that picture, and kept). An infected file is seen by no one.
pub async fn visible(
    client: &impl GenericClient,
    id: Uuid,
    viewer: Uuid,
) -> Result<Option<MediaRow>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM media_files f
             WHERE f.id = $1 AND NOT f.infected AND (
                 f.uploader_id = $2
                 OR EXISTS (
                     SELECT 1 FROM messages m
                     JOIN chat_participants p ON p.chat_id = m.chat_id AND p.user_id = $2
                     WHERE m.media_id = f.id AND NOT m.deleted_for_everyone AND {not_expired}
                       AND {sees}
                       AND (NOT m.view_once OR m.sender_id = $2
                            OR NOT EXISTS (SELECT 1 FROM message_views v WHERE v.message_id = m.id AND v.user_id = $2)))
                 OR EXISTS (
                     -- A profile picture, to whom its owner's `profilePicture` setting shows
                     -- it (as their profile does, `profiles::public_view`).
                     SELECT 1 FROM users u WHERE u.profile_picture_media_id = f.id
                       AND NOT EXISTS (SELECT 1 FROM user_relationships b
                                       WHERE b.user_id = u.id AND b.related_user_id = $2
                                         AND b.relationship_type = 'blocked')
                       AND CASE coalesce(u.privacy_settings->>'profilePicture', 'everyone')
                               WHEN 'nobody' THEN false
                               WHEN 'contacts' THEN EXISTS (
                                   SELECT 1 FROM user_relationships c
                                   WHERE c.user_id = u.id AND c.related_user_id = $2
                                     AND c.relationship_type = 'contact')
                               ELSE true
                           END)
                 OR EXISTS (
                     -- A group's picture, to its members, and to former members who keep the
                     -- group as it was when they left (as `GET /api/chats/{{chatId}}` shows it).
                     SELECT 1 FROM chats c
                     JOIN chat_participants p ON p.chat_id = c.id AND p.user_id = $2
                     WHERE c.avatar_media_id = f.id AND p.left_at IS NULL)
                 OR EXISTS (
                     SELECT 1 FROM chat_participants p
                     WHERE p.left_avatar_media_id = f.id AND p.user_id = $2
                       AND p.left_at IS NOT NULL AND {reads}))",
            sees = super::sees_message("p", "$2", "m"),
            not_expired = super::not_expired("m"),
            reads = super::reads_the_chat("p"),
        ))
        .await?;
    let row = client.query_opt(&stmt, &[&id, &viewer]).await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// The objects a processed, clean file is shown by ([`shown_keys`]).
pub struct ShownKeys {
    pub file: Uuid,
    /// As a picture (a profile's, a group's): its 400-pixel WebP, else its copy without
    /// metadata, else the upload.
    pub picture: String,
    /// As a message's file (`mediaUrl`): video and audio compressed, a picture without its
    /// metadata, a document as uploaded.
    pub media: String,
    /// Its small picture (`thumbnailUrl`): a picture's 150x150 or a video's frame, else a
    /// document's first page; none for audio.
    pub thumbnail: Option<String>,
}

/// What each of `files` is shown by, for those processed and clean.
pub async fn shown_keys(db: &Db, files: &[Uuid]) -> Result<Vec<ShownKeys>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, coalesce(variants->>'medium', variants->>'original', file_key) AS picture,
                    coalesce(variants->>'compressed', variants->>'original', file_key) AS media,
                    coalesce(variants->>'thumbnail', variants->>'preview') AS thumbnail
             FROM media_files WHERE id = ANY($1) AND status = 'completed' AND NOT infected",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&files])
        .await?
        .iter()
        .map(|r| ShownKeys {
            file: r.get("id"),
            picture: r.get("picture"),
            media: r.get("media"),
            thumbnail: r.get("thumbnail"),
        })
        .collect())
}

/// The multipart upload is finished or abandoned: forget its id.
pub async fn clear_upload_id(db: &Db, id: Uuid) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("UPDATE media_files SET upload_id = NULL WHERE id = $1")
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Delete the caller's upload that never became a message (an aborted multipart upload).
pub async fn delete_unsent(db: &Db, id: Uuid, uploader: Uuid) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "DELETE FROM media_files f WHERE f.id = $1 AND f.uploader_id = $2
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.media_id = f.id)",
        )
        .await?;
    Ok(client.execute(&stmt, &[&id, &uploader]).await? == 1)
}

/// Mark a file failed with `code` unless it is finished already; the row as it is afterwards.
pub async fn fail(
    db: &impl GenericClient,
    id: Uuid,
    code: &str,
    detail: &str,
) -> Result<Option<MediaRow>, ApiError> {
    let stmt = db
        .prepare_cached(&format!(
            "WITH f AS (
                 UPDATE media_files SET status = 'failed', error = $2, error_detail = $3
                 WHERE id = $1 AND status IN ('pending', 'processing')
                 RETURNING *)
             SELECT {COLUMNS} FROM f"
        ))
        .await?;
    let row = db.query_opt(&stmt, &[&id, &code, &detail]).await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// Take an uploaded object's file for processing: a file still `pending`, or one whose
/// processing said nothing for `stale_secs` (its worker crashed). Counts the attempt.
pub async fn claim(db: &Db, key: &str, stale_secs: f64) -> Result<Option<MediaRow>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "WITH f AS (
                 UPDATE media_files SET status = 'processing', attempts = attempts + 1, progress = 0,
                                        processing_started_at = now()
                 WHERE file_key = $1 AND (status = 'pending'
                       OR (status = 'processing' AND updated_at < now() - make_interval(secs => $2)))
                 RETURNING *)
             SELECT {COLUMNS} FROM f"
        ))
        .await?;
    let row = client.query_opt(&stmt, &[&key, &stale_secs]).await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// Record progress of the attempt `attempt`; `false` when the file is no longer being
/// processed by it (cancelled, or taken over).
pub async fn progress(
    db: &impl GenericClient,
    id: Uuid,
    attempt: i16,
    progress: i16,
    detected_mime: Option<&str>,
) -> Result<bool, ApiError> {
    let stmt = db
        .prepare_cached(
            "UPDATE media_files SET progress = $3, detected_mime = coalesce($4, detected_mime)
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        )
        .await?;
    Ok(db
        .execute(&stmt, &[&id, &attempt, &progress, &detected_mime])
        .await?
        == 1)
}

/// Give a transiently failed attempt back, to be claimed again.
pub async fn release(db: &Db, id: Uuid, attempt: i16, detail: &str) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE media_files SET status = 'pending', error_detail = $3
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        )
        .await?;
    client.execute(&stmt, &[&id, &attempt, &detail]).await?;
    Ok(())
}

/// What processing produced.
pub struct Processed<'a> {
    pub detected_mime: &'a str,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i32>,
    pub variants: &'a Value,
    pub metadata: &'a Value,
}

/// Finish the attempt `attempt` as completed; `None` when it is no longer this attempt's to
/// finish (cancelled meanwhile, or taken over).
pub async fn complete(
    db: &impl GenericClient,
    id: Uuid,
    attempt: i16,
    p: &Processed<'_>,
) -> Result<Option<MediaRow>, ApiError> {
    let stmt = db
        .prepare_cached(&format!(
            "WITH f AS (
                 UPDATE media_files SET status = 'completed', progress = 100, detected_mime = $3,
                        width = $4, height = $5, duration_ms = $6, variants = $7, metadata = $8,
                        error = NULL, error_detail = NULL
                 WHERE id = $1 AND attempts = $2 AND status = 'processing'
                 RETURNING *)
             SELECT {COLUMNS} FROM f"
        ))
        .await?;
    let row = db
        .query_opt(
            &stmt,
            &[
                &id,
                &attempt,
                &p.detected_mime,
                &p.width,
                &p.height,
                &p.duration_ms,
                &p.variants,
                &p.metadata,
            ],
        )
        .await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// The virus scan found something: the file fails `INFECTED` for good.
pub async fn mark_infected(
    db: &impl GenericClient,
    id: Uuid,
    signature: &str,
) -> Result<Option<MediaRow>, ApiError> {
    let stmt = db
        .prepare_cached(&format!(
            "WITH f AS (
                 UPDATE media_files SET status = 'failed', error = 'INFECTED', error_detail = $2,
                                        infected = true, variants = '{{}}'
                 WHERE id = $1
                 RETURNING *)
             SELECT {COLUMNS} FROM f"
        ))
        .await?;
    let row = db.query_opt(&stmt, &[&id, &signature]).await?;
    Ok(row.as_ref().map(MediaRow::from_row))
}

/// Files in `processing` that have said nothing for `stale_secs` (their worker is gone and no
/// retry took them over): failed with `PROCESSING_FAILED` (at most `limit`); the rows as they
/// are afterwards.
pub async fn fail_abandoned(
    tx: &impl GenericClient,
    stale_secs: f64,
    limit: i64,
) -> Result<Vec<MediaRow>, ApiError> {
    let stmt = tx
        .prepare_cached(&format!(
            "WITH f AS (
                 UPDATE media_files SET status = 'failed', error = 'PROCESSING_FAILED',
                        error_detail = 'processing stopped without finishing and was not taken up again'
                 WHERE id IN (
                     SELECT id FROM media_files
                     WHERE status = 'processing' AND updated_at < now() - make_interval(secs => $1)
                     ORDER BY updated_at
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 RETURNING *)
             SELECT {COLUMNS} FROM f"
        ))
        .await?;
    Ok(tx
        .query(&stmt, &[&stale_secs, &limit])
        .await?
        .iter()
        .map(MediaRow::from_row)
        .collect())
}

/// Files no message shows and that are no profile's or group's picture, which were either
/// released (their message was deleted for everyone or disappeared) or never claimed within
/// `unclaimed_secs`. Deletes their rows (at most `limit`); returns for each its blob keys
/// (original and variants) and its open multipart upload.
pub async fn sweep(
    db: &Db,
    unclaimed_secs: f64,
    limit: i64,
) -> Result<Vec<(Vec<String>, Option<(String, String)>)>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "DELETE FROM media_files f
             WHERE f.id IN (
                 SELECT g.id FROM media_files g
                 WHERE (g.released_at IS NOT NULL OR g.created_at < now() - make_interval(secs => $1))
                   AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.media_id = g.id)
                   AND NOT EXISTS (SELECT 1 FROM users u WHERE u.profile_picture_media_id = g.id)
                   AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.avatar_media_id = g.id)
                   AND NOT EXISTS (SELECT 1 FROM chat_participants p
                                   WHERE p.left_avatar_media_id = g.id)
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             RETURNING f.file_key, f.upload_id,
                       ARRAY(SELECT v.value FROM jsonb_each_text(f.variants) v) AS variant_keys",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&unclaimed_secs, &limit])
        .await?
        .iter()
        .map(|r| {
            let key: String = r.get("file_key");
            let mut keys: Vec<String> = r.get("variant_keys");
            keys.push(key.clone());
            let upload = r.get::<_, Option<String>>("upload_id").map(|u| (key, u));
            (keys, upload)
        })
        .collect())
}
