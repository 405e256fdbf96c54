//! Media uploads and access (API.md "Media"): presigned and multipart upload URLs, completing
//! and cancelling, a file with signed URLs to its variants, its processing status; and the
//! housekeeping that deletes files nothing shows. Processing itself is the media function's
//! (S3 `ObjectCreated`); it reports through [`publish_status`], into the uploader's event
//! stream (`media:processing:*`), and its outcome to the chat where a message shows the file.

use std::collections::{BTreeMap, HashMap};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::{
    Envelope, MediaFile, MediaMetadata, MediaProcessingStatus, MediaUrls, Message, MultipartUpload,
    ProcessingStatus, Timestamp, UploadPartUrl, UploadUrl,
};
use crate::api::requests::{CompleteMultipartRequest, CompleteUploadRequest, UploadRequest};
use crate::api::ws::ServerEvent;
use crate::auth::tokens::Caller;
use crate::db::events;
use crate::db::media::{self, MediaRow, NewFile, ShownKeys};
use crate::error::ApiError;
use crate::ports::{UploadedPart, UrlValidity, MIN_PART_BYTES};
use crate::App;

/// Where uploads land: the media function's trigger prefix. Processed outputs go under
/// [`PROCESSED_PREFIX`], outside it, so they never trigger it again.
pub const UPLOAD_PREFIX: &str = "uploads/";
pub const PROCESSED_PREFIX: &str = "processed/";
/// Uploads that no message shows after this long are deleted.
const UNCLAIMED_SECS: f64 = 24.0 * 3600.0;
/// Files deleted per housekeeping run at most.
const SWEEP_BATCH: i64 = 500;

/// `POST /api/upload/presigned-url`: where to `PUT` one file.
#[utoipa::path(post, path = "/api/upload/presigned-url", tag = "media", security(("bearer" = [])),
    request_body = UploadRequest,
    responses(
        (status = 200, description = "Where to PUT the bytes", body = Envelope<UploadUrl>),
        (status = 413, description = "Larger than this kind of file may be (`FILE_TOO_LARGE`)"),
        (status = 415, description = "A type this kind of file may not be (`INVALID_FILE_TYPE`)")))]
pub async fn upload_url(
    app: &App,
    caller: Caller,
    body: UploadRequest,
) -> Result<UploadUrl, ApiError> {
    let row = register(app, caller, &body, false).await?;
    let ttl = app.settings.uploads.url_ttl.as_secs();
    let upload_url = app
        .ports
        .blobs
        .presign_put(&row.file_key, &row.declared_mime, row.file_size as u64, ttl)
        .await?;
    let headers = BTreeMap::from([("Content-Type".to_owned(), row.declared_mime.clone())]);
    Ok(UploadUrl {
        file_id: row.id,
        upload_url,
        file_key: row.file_key,
        expires_in: ttl,
        headers,
    })
}

/// `POST /api/upload/multipart`: a multipart upload, with a URL per part.
#[utoipa::path(post, path = "/api/upload/multipart", tag = "media", security(("bearer" = [])),
    request_body = UploadRequest,
    responses(
        (status = 200, description = "The upload and its part URLs", body = Envelope<MultipartUpload>),
        (status = 413, description = "Larger than this kind of file may be (`FILE_TOO_LARGE`)"),
        (status = 415, description = "A type this kind of file may not be (`INVALID_FILE_TYPE`)")))]
pub async fn start_multipart(
    app: &App,
    caller: Caller,
    body: UploadRequest,
) -> Result<MultipartUpload, ApiError> {
    let row = register(app, caller, &body, true).await?;
    let upload_id = row.upload_id.clone().unwrap_or_default();
    let ttl = app.settings.uploads.url_ttl.as_secs();
    let part_size = MIN_PART_BYTES;
    let count = part_count(row.file_size);
    let mut parts = Vec::with_capacity(count as usize);
    for part_number in 1..=count {
        let upload_url = app
            .ports
            .blobs
            .presign_part(&row.file_key, &upload_id, part_number, ttl)
            .await?;
        parts.push(UploadPartUrl {
            part_number,
            upload_url,
        });
    }
    Ok(MultipartUpload {
        file_id: row.id,
        file_key: row.file_key,
        upload_id,
        part_size,
        expires_in: ttl,
        parts,
    })
}

/// Check an upload request against the policy and record the file; for a multipart upload,
/// open it in the blob store first.
async fn register(
    app: &App,
    caller: Caller,
    body: &UploadRequest,
    multipart: bool,
) -> Result<MediaRow, ApiError> {
    let kind = body.file_type.as_str();
    let policy = app.settings.uploads.of(kind);
    let size = body.file_size.0;
    if size as u64 > policy.max_bytes {
        return Err(ApiError::TooLarge(format!(
            "{kind} files may be at most {} bytes",
            policy.max_bytes
        )));
    }
    let mime = match &body.mime_type {
        Some(m) => m.0.clone(),
        // Ciphertext has one type, whatever its name says.
        None if kind == "encrypted" => crate::config::ENCRYPTED_MIME.to_owned(),
        None => crate::media::mime_for_file_name(&body.file_name.0)
            .ok_or_else(|| {
                ApiError::UnsupportedType(
                    "give `mimeType`: the file name's extension does not say the type".into(),
                )
            })?
            .to_owned(),
    };
    if !policy.types.contains(&mime) {
        return Err(ApiError::UnsupportedType(format!(
            "`{kind}` files may be: {}",
            policy.types.join(", ")
        )));
    }
    super::rate_limit::hit(
        &app.db,
        &format!("uploads:{}", caller.user_id),
        app.settings.rate_limits.uploads,
    )
    .await?;
    let id = Uuid::now_v7();
    let key = format!(
        "{UPLOAD_PREFIX}{}/{id}.{}",
        caller.user_id,
        crate::media::extension_for_mime(&mime)
    );
    let upload_id = if multipart {
        Some(app.ports.blobs.create_multipart(&key, &mime).await?)
    } else {
        None
    };
    let new = NewFile {
        id,
        uploader: caller.user_id,
        chat_id: body.chat_id,
        key: &key,
        name: &body.file_name.0,
        kind,
        mime: &mime,
        size,
        upload_id: upload_id.as_deref(),
    };
    match media::insert(&app.db, &new).await? {
        Some(row) => Ok(row),
        None => {
            if let Some(upload_id) = &upload_id {
                app.ports.blobs.abort_multipart(&key, upload_id).await?;
            }
            Err(match body.chat_id {
                Some(chat) => super::participants::not_a_member(app, chat, caller.user_id).await,
                None => ApiError::NotFound("chat"),
            })
        }
    }
}

/// `POST /api/upload/complete` (and `media:upload:complete`): the client's `PUT` finished.
/// Processing starts on its own when the bytes land; this checks they did and answers the
/// file as it is now.
#[utoipa::path(post, path = "/api/upload/complete", tag = "media", security(("bearer" = [])),
    request_body = CompleteUploadRequest,
    responses(
        (status = 200, description = "The file", body = Envelope<MediaFile>),
        (status = 409, description = "No bytes were uploaded (`UPLOAD_FAILED`)")))]
pub async fn complete_upload(
    app: &App,
    caller: Caller,
    body: CompleteUploadRequest,
) -> Result<MediaFile, ApiError> {
    let row = media::own_by_key(&app.db, &body.file_key.0, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    confirm_uploaded(app, &row).await?;
    media_file(app, &row).await
}

/// An upload the client says is finished: are its bytes in the blob store?
async fn confirm_uploaded(app: &App, row: &MediaRow) -> Result<(), ApiError> {
    if row.status == "pending" && app.ports.blobs.size(&row.file_key).await?.is_none() {
        return Err(ApiError::UploadFailed(
            "nothing was uploaded to this file's URL yet".into(),
        ));
    }
    Ok(())
}

/// `media:upload:complete {fileId}`.
pub async fn complete_upload_by_id(
    app: &App,
    caller: Caller,
    file_id: Uuid,
) -> Result<MediaProcessingStatus, ApiError> {
    let row = media::own(&app.db, file_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    confirm_uploaded(app, &row).await?;
    Ok(status_of(&row))
}

/// `media:upload:start` and `media:upload:progress`: the uploader's own file's status (the
/// client's progress is its own; the server acknowledges it).
pub async fn own_status(
    app: &App,
    caller: Caller,
    file_id: Uuid,
) -> Result<MediaProcessingStatus, ApiError> {
    let row = media::own(&app.db, file_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    Ok(status_of(&row))
}

/// `POST /api/upload/multipart/{fileId}/complete`: join the parts; processing starts.
#[utoipa::path(post, path = "/api/upload/multipart/{fileId}/complete", tag = "media", security(("bearer" = [])),
    params(("fileId" = Uuid, Path)),
    request_body = CompleteMultipartRequest,
    responses(
        (status = 200, description = "The file", body = Envelope<MediaFile>),
        (status = 400, description = "A part not named, or named twice (`VALIDATION_ERROR`): nothing changed"),
        (status = 409, description = "The parts do not make the file (`UPLOAD_FAILED`)")))]
pub async fn complete_multipart(
    app: &App,
    caller: Caller,
    file_id: Uuid,
    body: CompleteMultipartRequest,
) -> Result<MediaFile, ApiError> {
    let row = media::own(&app.db, file_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("upload"))?;
    let Some(upload_id) = &row.upload_id else {
        // Completed before (a retry): the file as it is.
        confirm_uploaded(app, &row).await?;
        return media_file(app, &row).await;
    };
    let parts = every_part(&body, part_count(row.file_size))?;
    if let Err(e) = app
        .ports
        .blobs
        .complete_multipart(&row.file_key, upload_id, &parts)
        .await
    {
        tracing::info!(error = %e, file = %file_id, "a multipart upload did not complete");
        return Err(ApiError::UploadFailed(
            "the parts do not make the file: each but the last at least 5 MiB, in order, with the ETags their uploads answered".into(),
        ));
    }
    let size = app.ports.blobs.size(&row.file_key).await?.unwrap_or(0);
    media::clear_upload_id(&app.db, file_id).await?;
    if size != row.file_size as u64 {
        // More or less than was declared (and checked against the limit): refused.
        app.ports.blobs.delete(&row.file_key).await?;
        media::fail(
            &app.db.get().await?,
            file_id,
            "UPLOAD_FAILED",
            "the parts' size differs from fileSize",
        )
        .await?;
        return Err(ApiError::UploadFailed(format!(
            "the parts hold {size} bytes; {} were declared",
            row.file_size
        )));
    }
    media_file(app, &row).await
}

/// The parts an upload of `file_size` bytes is sent in ([`MIN_PART_BYTES`] each, the last one
/// the rest).
fn part_count(file_size: i64) -> i32 {
    (file_size as u64).div_ceil(MIN_PART_BYTES) as i32
}

/// The parts a completion names, in order, once each of the upload's `count` is named: the
/// blob store would complete the file from whichever parts it is given, so a list missing one
/// would end the upload as a file of the wrong size. Named in another order, they are put in
/// order (S3 takes them ascending only).
fn every_part(body: &CompleteMultipartRequest, count: i32) -> Result<Vec<UploadedPart>, ApiError> {
    let mut parts: Vec<UploadedPart> = body
        .parts
        .0
        .iter()
        .map(|p| UploadedPart {
            part_number: p.part_number.0 as i32,
            etag: p.etag.0.clone(),
        })
        .collect();
    parts.sort_by_key(|p| p.part_number);
    if !parts.iter().map(|p| p.part_number).eq(1..=count) {
        return Err(ApiError::Validation(format!(
            "`parts`: name each of the upload's {count} parts once (partNumber 1 to {count})"
        )));
    }
    Ok(parts)
}

/// `DELETE /api/upload/multipart/{fileId}`: abandon a multipart upload.
#[utoipa::path(delete, path = "/api/upload/multipart/{fileId}", tag = "media", security(("bearer" = [])),
    params(("fileId" = Uuid, Path)),
    responses((status = 200, description = "Aborted: the parts and the file are gone", body = Envelope<MediaProcessingStatus>)))]
pub async fn abort_multipart(
    app: &App,
    caller: Caller,
    file_id: Uuid,
) -> Result<MediaProcessingStatus, ApiError> {
    let row = media::own(&app.db, file_id, caller.user_id)
        .await?
        .filter(|r| r.upload_id.is_some())
        .ok_or(ApiError::NotFound("multipart upload"))?;
    if let Some(upload_id) = &row.upload_id {
        app.ports
            .blobs
            .abort_multipart(&row.file_key, upload_id)
            .await?;
    }
    media::delete_unsent(&app.db, file_id, caller.user_id).await?;
    Ok(MediaProcessingStatus {
        status: ProcessingStatus::Failed,
        error: Some("CANCELLED".into()),
        estimated_time: None,
        ..status_of(&row)
    })
}

/// `GET /api/media/{fileId}` (PRD `MediaFile`).
#[utoipa::path(get, path = "/api/media/{fileId}", tag = "media", security(("bearer" = [])),
    params(("fileId" = Uuid, Path)),
    responses((status = 200, description = "The file, with signed URLs to it and its variants", body = Envelope<MediaFile>)))]
pub async fn get(app: &App, caller: Caller, file_id: Uuid) -> Result<MediaFile, ApiError> {
    let client = app.db.get().await?;
    let row = media::visible(&client, file_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("file"))?;
    drop(client);
    media_file(app, &row).await
}

/// `GET /api/media/{fileId}/status` (and `media:processing:status`).
#[utoipa::path(get, path = "/api/media/{fileId}/status", tag = "media", security(("bearer" = [])),
    params(("fileId" = Uuid, Path)),
    responses((status = 200, description = "Where processing is", body = Envelope<MediaProcessingStatus>)))]
pub async fn status(
    app: &App,
    caller: Caller,
    file_id: Uuid,
) -> Result<MediaProcessingStatus, ApiError> {
    // The uploader learns why their file failed (an infected one is served to no one, and
    // seen by no one else).
    let row = match media::own(&app.db, file_id, caller.user_id).await? {
        Some(row) => row,
        None => media::visible(&app.db.get().await?, file_id, caller.user_id)
            .await?
            .ok_or(ApiError::NotFound("file"))?,
    };
    Ok(status_of(&row))
}

/// `DELETE /api/media/{fileId}/processing`: the uploader stops processing; the file ends
/// `failed` with `CANCELLED` (a finished file is left as it is).
#[utoipa::path(delete, path = "/api/media/{fileId}/processing", tag = "media", security(("bearer" = [])),
    params(("fileId" = Uuid, Path)),
    responses((status = 200, description = "The status now", body = Envelope<MediaProcessingStatus>)))]
pub async fn cancel(
    app: &App,
    caller: Caller,
    file_id: Uuid,
) -> Result<MediaProcessingStatus, ApiError> {
    let row = media::own(&app.db, file_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("file"))?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let Some(cancelled) =
        media::fail(&tx, file_id, "CANCELLED", "cancelled by the uploader").await?
    else {
        return Ok(status_of(&row));
    };
    let status = status_of(&cancelled);
    publish_status(
        &tx,
        &cancelled,
        ServerEvent::MediaProcessingFailed(status.clone()),
    )
    .await?;
    tx.commit().await?;
    super::relay::wake(app, "media:processing:failed").await;
    Ok(status)
}

/// Append a `media:processing:*` event to the uploader's stream (in the caller's
/// transaction; wake the relay after commit). The outcome, `completed` or `failed`, also goes
/// to the members of the chat once a message there shows the file (they received it before
/// the file was ready), and then only to them ([`events::append_file_outcome`]).
pub async fn publish_status(
    tx: &impl GenericClient,
    row: &MediaRow,
    event: ServerEvent,
) -> Result<(), ApiError> {
    let outcome = matches!(
        event,
        ServerEvent::MediaProcessingCompleted(_) | ServerEvent::MediaProcessingFailed(_)
    );
    if outcome {
        events::append_file_outcome(
            tx,
            row.id,
            row.chat_id,
            row.uploader_id,
            event.name(),
            &event.data(),
        )
        .await?;
    } else if let Some(uploader) = row.uploader_id {
        events::append_user_events(tx, &[uploader], None, event.name(), &event.data()).await?;
    }
    Ok(())
}

/// A file's status, with an estimate of the seconds left from its kind and size.
pub fn status_of(row: &MediaRow) -> MediaProcessingStatus {
    let status = ProcessingStatus::parse(&row.status);
    let estimated_time = match status {
        ProcessingStatus::Pending | ProcessingStatus::Processing => {
            let total = estimated_seconds(&row.file_type, row.file_size);
            Some(total * (100 - row.progress.clamp(0, 100) as u64) / 100)
        }
        _ => None,
    };
    MediaProcessingStatus {
        file_id: row.id,
        status,
        progress: row.progress,
        estimated_time,
        step: None,
        error: row.error.clone(),
    }
}

/// How long processing a file takes, roughly (measured on one core: pictures in well under a
/// second, video about 2 s per MB, audio and documents a few seconds).
fn estimated_seconds(kind: &str, size: i64) -> u64 {
    let mb = (size as u64).div_ceil(1024 * 1024);
    match kind {
        "video" => 2 + 2 * mb,
        "audio" => 1 + mb / 2,
        "document" => 3 + mb / 4,
        _ => 1,
    }
}

/// A file as `GET /api/media/{fileId}` shows it: [`describe`] with signed URLs to the original
/// and every variant once processing is complete (before, nothing is served: the scan has not
/// passed).
pub async fn media_file(app: &App, row: &MediaRow) -> Result<MediaFile, ApiError> {
    let mut file = describe(row);
    if file.processing_status == ProcessingStatus::Completed {
        let variants: BTreeMap<String, String> =
            serde_json::from_value(row.variants.clone()).unwrap_or_default();
        // A picture's original is its copy without metadata, when processing made one.
        let original = variants.get("original").unwrap_or(&row.file_key);
        let named: Vec<(&str, &str)> = std::iter::once(("original", original.as_str()))
            .chain(
                variants
                    .iter()
                    .filter(|(name, _)| *name != "original")
                    .map(|(name, key)| (name.as_str(), key.as_str())),
            )
            .collect();
        let keys: Vec<&str> = named.iter().map(|(_, key)| *key).collect();
        let urls = &mut file.urls;
        for ((name, _), url) in named.iter().zip(download_urls(app, row.id, &keys).await?) {
            match *name {
                "original" => urls.original = Some(url),
                "thumbnail" => urls.thumbnail = Some(url),
                "medium" => urls.medium = Some(url),
                "large" => urls.large = Some(url),
                "compressed" => urls.compressed = Some(url),
                "preview" => urls.preview = Some(url),
                "waveform" => urls.waveform = Some(url),
                other => {
                    if let Some(height) = other.strip_prefix("video_") {
                        urls.renditions.insert(height.to_owned(), url);
                    }
                }
            }
        }
    }
    Ok(file)
}

/// Signed URLs that download the objects `keys` of the file `file` for at least
/// `uploads.url_ttl`, the same in every answer of a signing period (so clients' caches hit): the
/// CDN's when there is one (`media_cdn`, one signature for them all), else the blob store's own.
pub(super) async fn download_urls(
    app: &App,
    file: Uuid,
    keys: &[&str],
) -> Result<Vec<String>, ApiError> {
    let valid = UrlValidity::shared(chrono::Utc::now(), app.settings.uploads.url_ttl);
    if let Some(cdn) = &app.settings.media_cdn {
        return Ok(cdn.signed_urls(file, keys, valid.until()));
    }
    let mut urls = Vec::with_capacity(keys.len());
    for key in keys {
        urls.push(app.ports.blobs.presign_get(key, valid).await?);
    }
    Ok(urls)
}

/// A picture chosen for a profile or a group (`file`) must be an image `user` uploaded: 404, as
/// a file they may not see, otherwise.
pub async fn own_picture(app: &App, user: Uuid, file: Uuid) -> Result<(), ApiError> {
    match crate::db::users::owns_image(&app.db, user, file).await? {
        true => Ok(()),
        false => Err(ApiError::NotFound("media")),
    }
}

/// Give each `url` whose `file` is named a signed URL to the picture that file shows (a
/// profile's picture, a group's: [`media::ShownKeys::picture`]), when the file is processed and
/// clean; one query for them all.
pub async fn sign_pictures<'a>(
    app: &App,
    pictures: impl IntoIterator<Item = (Option<Uuid>, &'a mut Option<String>)>,
) -> Result<(), ApiError> {
    let pictures: Vec<(Uuid, &mut Option<String>)> = pictures
        .into_iter()
        .filter_map(|(file, url)| Some((file?, url)))
        .collect();
    let files: Vec<Uuid> = pictures.iter().map(|(file, _)| *file).collect();
    let keys = shown_keys(app, &files).await?;
    for (file, url) in pictures {
        if let Some(shown) = keys.get(&file) {
            *url = download_urls(app, file, &[&shown.picture]).await?.pop();
        }
    }
    Ok(())
}

/// Give each message that names its file (`mediaId`: not a view-once, not deleted) signed URLs
/// to it once it is processed and clean: `mediaUrl` ([`media::ShownKeys::media`]) and
/// `thumbnailUrl`. For answers only: events, which outlive the signatures, carry none.
pub async fn sign_message_files<'a>(
    app: &App,
    messages: impl IntoIterator<Item = &'a mut Message>,
) -> Result<(), ApiError> {
    let messages: Vec<&mut Message> = messages.into_iter().collect();
    let files: Vec<Uuid> = messages.iter().filter_map(|m| m.media_id).collect();
    let keys = shown_keys(app, &files).await?;
    for message in messages {
        let Some(shown) = message.media_id.and_then(|file| keys.get(&file)) else {
            continue;
        };
        let objects: Vec<&str> = std::iter::once(shown.media.as_str())
            .chain(shown.thumbnail.as_deref())
            .collect();
        let mut urls = download_urls(app, shown.file, &objects).await?.into_iter();
        message.media_url = urls.next();
        message.thumbnail_url = urls.next();
    }
    Ok(())
}

/// [`media::shown_keys`] of `files` by file; no query for none.
async fn shown_keys(app: &App, files: &[Uuid]) -> Result<HashMap<Uuid, ShownKeys>, ApiError> {
    if files.is_empty() {
        return Ok(HashMap::new());
    }
    let keys = media::shown_keys(&app.db, files).await?;
    Ok(keys.into_iter().map(|k| (k.file, k)).collect())
}

/// A file without URLs (signed URLs expire, so events, which the log keeps, carry none).
pub fn describe(row: &MediaRow) -> MediaFile {
    MediaFile {
        id: row.id,
        file_name: row.file_name.clone(),
        file_type: row.file_type.clone(),
        mime_type: row
            .detected_mime
            .clone()
            .unwrap_or_else(|| row.declared_mime.clone()),
        file_size: row.file_size,
        chat_id: row.chat_id,
        urls: MediaUrls::default(),
        metadata: serde_json::from_value::<MediaMetadata>(row.metadata.clone()).unwrap_or_default(),
        processing_status: ProcessingStatus::parse(&row.status),
        error: row.error.clone(),
        created_at: Timestamp(row.created_at),
    }
}

/// Files whose processing stopped without an outcome (the worker crashed or ran out of time
/// or memory, and the retries found the file still taken): failed with `PROCESSING_FAILED`
/// and told as any failure is, so no chat shows a file as processing for ever. The uploader
/// can send it again.
pub async fn fail_abandoned(app: &App) -> Result<usize, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let stale = app.settings.media_processing_stale.as_secs_f64();
    let failed = media::fail_abandoned(&tx, stale, SWEEP_BATCH).await?;
    for row in &failed {
        publish_status(&tx, row, ServerEvent::MediaProcessingFailed(status_of(row))).await?;
    }
    tx.commit().await?;
    if !failed.is_empty() {
        super::relay::wake(app, "media:processing:failed").await;
    }
    Ok(failed.len())
}

/// Housekeeping: delete files nothing shows (released by a delete for everyone or a
/// disappearing message, or never sent within a day) and their blobs. How many went.
pub async fn sweep(app: &App) -> Result<usize, ApiError> {
    let swept = media::sweep(&app.db, UNCLAIMED_SECS, SWEEP_BATCH).await?;
    // The rows are gone: a blob that cannot be deleted now is left to the bucket's lifecycle
    // rules (unclaimed uploads expire), and said.
    for (keys, upload) in &swept {
        if let Some((key, upload_id)) = upload {
            if let Err(e) = app.ports.blobs.abort_multipart(key, upload_id).await {
                tracing::warn!(error = %e, "could not abort a swept multipart upload");
            }
        }
        for key in keys {
            if let Err(e) = app.ports.blobs.delete(key).await {
                tracing::warn!(error = %e, "could not delete a swept file's blob");
            }
        }
    }
    Ok(swept.len())
}
