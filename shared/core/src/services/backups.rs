//! Chat backups (PRD 4.1, `POST /api/backups`): a zip of the caller's chats, built in the
//! background by the delivery function (woken through the queue right after the request, and
//! by its schedule should that wake-up be lost or a builder crash), kept in the blob store and
//! handed out through a signed, expiring link. The zip holds `export.json` (every chat with its
//! members and messages), one plain-text transcript per chat like WhatsApp's "Export chat"
//! (`chats/*.txt`), and the files the messages carry (`media/`). The owner's devices are told
//! `backup:ready` (or `backup:failed`) through the event log.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use bytes::Bytes;
use serde::Serialize;
use uuid::Uuid;

use crate::api::models::{Backup, BackupStatus, Envelope, Message, Timestamp};
use crate::api::requests::CreateBackupRequest;
use crate::api::ws::ServerEvent;
use crate::auth::tokens::Caller;
use crate::db::backups::{self, BackupChat, Claimed};
use crate::db::events;
use crate::error::ApiError;
use crate::ports::UrlValidity;
use crate::App;

/// Why a relay wake-up was sent when a backup is asked for: the delivery function builds
/// backups when a wake-up says so.
pub const BACKUP_REQUESTED: &str = "backup:requested";
/// Attempts at one backup before it is `failed`.
const MAX_ATTEMPTS: i32 = 3;
/// A build that has said nothing for this long crashed; another builder takes it over.
const STALE_SECS: f64 = 600.0;
/// Media bytes one backup holds at most; files past it are named in the transcript only.
const MAX_MEDIA_BYTES: i64 = 512 * 1024 * 1024;
/// How long a download link lasts.
const DOWNLOAD_SECS: u64 = 3600;

/// `POST /api/backups {chatIds?}`.
#[utoipa::path(post, path = "/api/backups", tag = "backups", security(("bearer" = [])),
    request_body(content = Option<CreateBackupRequest>, description = "Absent: every chat"),
    responses((status = 202, description = "The backup is being made; `backup:ready` tells when it is", body = Envelope<Backup>)))]
pub async fn create(
    app: &App,
    caller: Caller,
    body: Option<CreateBackupRequest>,
) -> Result<Backup, ApiError> {
    let chats = body.unwrap_or_default().chat_ids.map(|c| {
        let unique: HashSet<Uuid> = c.0.into_iter().collect();
        unique.into_iter().collect::<Vec<_>>()
    });
    if let Some(chats) = &chats {
        if !backups::not_read_by(&app.db, caller.user_id, chats)
            .await?
            .is_empty()
        {
            return Err(ApiError::NotFound("chat"));
        }
    }
    super::rate_limit::hit(
        &app.db,
        &format!("backups:{}", caller.user_id),
        app.settings.rate_limits.backups,
    )
    .await?;
    let row = backups::insert(&app.db, Uuid::now_v7(), caller.user_id, chats.as_deref()).await?;
    super::relay::wake(app, BACKUP_REQUESTED).await;
    Ok(row.backup)
}

/// `GET /api/backups/{backupId}`.
#[utoipa::path(get, path = "/api/backups/{backupId}", tag = "backups", security(("bearer" = [])),
    params(("backupId" = Uuid, Path)),
    responses((status = 200, description = "The backup; when ready, a download link valid for an hour", body = Envelope<Backup>)))]
pub async fn get(app: &App, caller: Caller, id: Uuid) -> Result<Backup, ApiError> {
    let row = backups::get(&app.db, caller.user_id, id)
        .await?
        .ok_or(ApiError::NotFound("backup"))?;
    let mut backup = row.backup;
    if let (BackupStatus::Ready, Some(key)) = (backup.status, row.blob_key) {
        backup.download_url = Some(
            app.ports
                .blobs
                .presign_get(&key, UrlValidity::from_now(DOWNLOAD_SECS))
                .await?,
        );
    }
    Ok(backup)
}

/// Build every backup waiting (the delivery function's work when woken for one, and on its
/// schedule), and delete the blobs of expired ones. How many were built.
pub async fn build_pending(app: &App) -> Result<usize, ApiError> {
    for key in backups::take_expired(&app.db).await? {
        if let Err(e) = app.ports.blobs.delete(&key).await {
            tracing::warn!(error = %e, "could not delete an expired backup");
        }
    }
    let mut built = 0;
    while let Some(claimed) = backups::claim(&app.db, STALE_SECS).await? {
        let outcome = build(app, &claimed).await;
        let ttl = app.settings.backup_ttl.as_secs_f64();
        let mut client = app.db.get().await?;
        let tx = client.transaction().await?;
        let finished = match &outcome {
            Ok((key, size)) => {
                built += 1;
                let blob = Some((key.as_str(), *size));
                let finished =
                    backups::finish(&tx, claimed.id, BackupStatus::Ready, blob, None, ttl).await?;
                if finished.is_none() {
                    // Its owner erased their account meanwhile: the zip goes too.
                    app.ports.blobs.delete(key).await?;
                }
                finished
            }
            Err(e) if claimed.attempts < MAX_ATTEMPTS => {
                tracing::warn!(error = %e, backup = %claimed.id, "a backup failed; it will be tried again");
                backups::finish(&tx, claimed.id, BackupStatus::Pending, None, None, ttl).await?;
                None
            }
            Err(e) => {
                tracing::error!(error = %e, backup = %claimed.id, "a backup failed for good");
                let reason = "the backup could not be made; please try again later";
                backups::finish(
                    &tx,
                    claimed.id,
                    BackupStatus::Failed,
                    None,
                    Some(reason),
                    ttl,
                )
                .await?
            }
        };
        if let Some(row) = finished {
            let event = match row.backup.status {
                BackupStatus::Ready => ServerEvent::BackupReady(row.backup),
                _ => ServerEvent::BackupFailed(row.backup),
            };
            events::append_user_events(&tx, &[row.user_id], None, event.name(), &event.data())
                .await?;
        }
        tx.commit().await?;
        super::relay::wake(app, "backup:ready").await;
    }
    Ok(built)
}

/// `export.json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BackupDocument<'a> {
    exported_at: Timestamp,
    user_id: Uuid,
    chats: Vec<ChatDocument<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatDocument<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'a str,
    name: &'a str,
    members: &'a [String],
    /// The transcript's path in the zip.
    transcript: String,
    messages: &'a [Message],
}

/// Build one backup: the zip, stored. Its blob key and size.
async fn build(app: &App, claimed: &Claimed) -> Result<(String, i64), ApiError> {
    let chats = backups::chats(&app.db, claimed.user_id, claimed.chat_ids.as_deref()).await?;
    let mut histories = Vec::with_capacity(chats.len());
    for chat in &chats {
        histories.push(backups::messages(&app.db, chat.id, claimed.user_id).await?);
    }
    // The files the visible messages carry, as long as they fit.
    let media_ids: Vec<Uuid> = histories
        .iter()
        .flatten()
        .filter(|m| !m.is_deleted && !m.view_once)
        .filter_map(|m| m.media_id)
        .collect();
    let files = backups::media_files(&app.db, &media_ids).await?;
    let mut media = Vec::new();
    let mut media_bytes = 0i64;
    for id in media_ids.iter().collect::<HashSet<_>>() {
        let Some((key, name, size)) = files.get(id) else {
            continue;
        };
        if media_bytes + size > MAX_MEDIA_BYTES {
            continue;
        }
        if let Some(bytes) = app.ports.blobs.get(key).await? {
            media_bytes += bytes.len() as i64;
            media.push((*id, media_path(*id, name), bytes));
        }
    }
    // Deflating up to MAX_MEDIA_BYTES takes seconds: off the runtime's threads, where it would
    // hold up every request (in the local stack, every function) scheduled on the same thread.
    let user_id = claimed.user_id;
    let bytes = tokio::task::spawn_blocking(move || {
        zip_backup(user_id, &chats, &histories, &files, &media)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("backup zip: {e}")))??;
    let size = bytes.len() as i64;
    let key = format!("backups/{}/{}.zip", claimed.user_id, claimed.id);
    app.ports
        .blobs
        .put(&key, bytes.into(), "application/zip")
        .await?;
    Ok((key, size))
}

/// The backup's zip: each included file (`media`: its id, path in the zip and bytes), each
/// chat's transcript, and `export.json`.
fn zip_backup(
    user_id: Uuid,
    chats: &[BackupChat],
    histories: &[Vec<Message>],
    files: &HashMap<Uuid, (String, String, i64)>,
    media: &[(Uuid, String, Bytes)],
) -> Result<Vec<u8>, ApiError> {
    let zip_error = |e: zip::result::ZipError| ApiError::Internal(format!("backup zip: {e}"));
    let io_error = |e: std::io::Error| ApiError::Internal(format!("backup zip: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut included = HashSet::new();
    for (id, path, bytes) in media {
        zip.start_file(path.as_str(), options).map_err(zip_error)?;
        zip.write_all(bytes).map_err(io_error)?;
        included.insert(*id);
    }
    let mut documents = Vec::with_capacity(chats.len());
    for (chat, messages) in chats.iter().zip(histories) {
        let path = transcript_path(chat);
        zip.start_file(path.as_str(), options).map_err(zip_error)?;
        zip.write_all(transcript(chat, messages, files, &included).as_bytes())
            .map_err(io_error)?;
        documents.push(ChatDocument {
            id: chat.id,
            kind: &chat.kind,
            name: &chat.name,
            members: &chat.members,
            transcript: path,
            messages,
        });
    }
    let document = BackupDocument {
        exported_at: Timestamp::now(),
        user_id,
        chats: documents,
    };
    zip.start_file("export.json", options).map_err(zip_error)?;
    serde_json::to_writer_pretty(&mut zip, &document)
        .map_err(|e| ApiError::Internal(format!("backup JSON: {e}")))?;
    Ok(zip.finish().map_err(zip_error)?.into_inner())
}

/// A name safe in any file system: letters, digits, `-`, `_` and `.`, at most 60 characters.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let cleaned = cleaned.trim_matches(|c| c == '.' || c == '_').to_owned();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

fn transcript_path(chat: &BackupChat) -> String {
    let short = chat.id.simple().to_string();
    format!("chats/{}-{}.txt", safe_name(&chat.name), &short[..8])
}

fn media_path(id: Uuid, name: &str) -> String {
    format!("media/{}-{}", id.simple(), safe_name(name))
}

/// The chat as WhatsApp's "Export chat" writes it: one line per message,
/// `2026-12-01 19:04 - alice: hello`, files named as they are in `media/`.
fn transcript(
    chat: &BackupChat,
    messages: &[Message],
    files: &std::collections::HashMap<Uuid, (String, String, i64)>,
    included: &HashSet<Uuid>,
) -> String {
    let mut out = format!(
        "Chat: {}\nMembers: {}\n\n",
        chat.name,
        chat.members.join(", ")
    );
    for m in messages {
        let when = m.created_at.0.format("%Y-%m-%d %H:%M");
        let who = m
            .sender
            .as_ref()
            .map(|s| s.username.as_str())
            .unwrap_or("deleted account");
        let deleted_by_admin = m
            .deleted_by
            .is_some_and(|by| m.sender.as_ref().is_some_and(|s| s.id != by));
        let body = if m.is_deleted && deleted_by_admin {
            // (`deletedBy` is not the sender: an admin of the group took it down.)
            "This message was deleted by an admin".to_owned()
        } else if m.is_deleted {
            "This message was deleted".to_owned()
        } else if m.kind == "system" {
            format!("[{}]", m.content.as_deref().unwrap_or("system"))
        } else if m.kind == "encrypted" {
            // Sealed for the chat's devices: the server has nothing to write of it.
            "<end-to-end encrypted message>".to_owned()
        } else if m.kind == "poll" {
            // As WhatsApp writes a poll: its question, then one line per answer.
            let options = m.metadata.get("options").and_then(|o| o.as_array());
            let lines = options.into_iter().flatten().filter_map(|o| o.as_str());
            let mut poll = format!("POLL:\n{}", m.content.as_deref().unwrap_or_default());
            for option in lines {
                poll.push_str(&format!("\nOPTION: {option}"));
            }
            poll
        } else {
            let mut parts = Vec::new();
            if let Some(id) = m.media_id.filter(|_| !m.view_once) {
                match files.get(&id) {
                    Some((_, name, _)) if included.contains(&id) => {
                        parts.push(format!("{} (file attached)", media_path(id, name)))
                    }
                    Some((_, name, _)) => parts.push(format!("{name} (file not included)")),
                    None => parts.push("<media omitted>".into()),
                }
            } else if m.view_once {
                parts.push("<view once media>".into());
            }
            if let Some(text) = m.content.as_deref().filter(|t| !t.is_empty()) {
                parts.push(text.to_owned());
            }
            if parts.is_empty() {
                parts.push(format!("<{}>", m.kind));
            }
            let edited = if m.is_edited {
                " <This message was edited>"
            } else {
                ""
            };
            format!("{}{edited}", parts.join(" "))
        };
        if m.kind == "system" {
            out.push_str(&format!("{when} - {body}\n"));
        } else {
            out.push_str(&format!("{when} - {who}: {body}\n"));
        }
    }
    out
}
