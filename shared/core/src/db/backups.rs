//! Chat backups (`backups`, V24): requests, their claim by a builder, the outcome, and what a
//! backup holds (the chats and messages its owner may see).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::api::models::{Backup, BackupStatus, Message, MessageStatus, Timestamp};
use crate::error::ApiError;

use super::Db;

/// A backup as stored.
pub struct BackupRow {
    pub backup: Backup,
    pub user_id: Uuid,
    pub blob_key: Option<String>,
}

fn status_of(s: &str) -> BackupStatus {
    match s {
        "building" => BackupStatus::Building,
        "ready" => BackupStatus::Ready,
        "failed" => BackupStatus::Failed,
        _ => BackupStatus::Pending,
    }
}

fn backup_row(r: &Row) -> BackupRow {
    BackupRow {
        backup: Backup {
            id: r.get("id"),
            status: status_of(r.get("status")),
            created_at: Timestamp(r.get("created_at")),
            download_url: None,
            expires_at: r
                .get::<_, Option<DateTime<Utc>>>("expires_at")
                .map(Timestamp),
            size_bytes: r.get("size_bytes"),
            error: r.get("error"),
        },
        user_id: r.get("user_id"),
        blob_key: r.get("blob_key"),
    }
}

const BACKUP_COLUMNS: &str =
    "id, user_id, status, created_at, expires_at, size_bytes, error, blob_key";

/// Of `chats`, those `user` does not read (neither a member nor a former member who kept it).
pub async fn not_read_by(db: &Db, user: Uuid, chats: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT c FROM unnest($2::uuid[]) c WHERE NOT EXISTS (
                 SELECT 1 FROM chat_participants p WHERE p.chat_id = c AND p.user_id = $1 AND {})",
            super::reads_the_chat("p")
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&user, &chats])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub async fn insert(
    db: &Db,
    id: Uuid,
    user: Uuid,
    chats: Option<&[Uuid]>,
) -> Result<BackupRow, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO backups (id, user_id, chat_ids) VALUES ($1, $2, $3) RETURNING {BACKUP_COLUMNS}"
        ))
        .await?;
    Ok(backup_row(
        &client.query_one(&stmt, &[&id, &user, &chats]).await?,
    ))
}

/// One of `user`'s backups.
pub async fn get(db: &Db, user: Uuid, id: Uuid) -> Result<Option<BackupRow>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE id = $1 AND user_id = $2"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &user])
        .await?
        .map(|r| backup_row(&r)))
}

/// A backup claimed for building.
pub struct Claimed {
    pub id: Uuid,
    pub user_id: Uuid,
    pub chat_ids: Option<Vec<Uuid>>,
    pub attempts: i32,
}

/// Claim the oldest backup waiting to be built, or one whose builder went quiet for
/// `stale_secs` (it crashed): it is `building` from now, one attempt more.
pub async fn claim(db: &Db, stale_secs: f64) -> Result<Option<Claimed>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE backups SET status = 'building', attempts = attempts + 1, claimed_at = now()
             WHERE id = (SELECT id FROM backups
                         WHERE status = 'pending'
                            OR (status = 'building' AND claimed_at < now() - make_interval(secs => $1))
                         ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, user_id, chat_ids, attempts",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&stale_secs])
        .await?
        .map(|r| Claimed {
            id: r.get("id"),
            user_id: r.get("user_id"),
            chat_ids: r.get("chat_ids"),
            attempts: r.get("attempts"),
        }))
}

/// Record how a build ended (in the caller's transaction, with its event): `ready` with the
/// blob, `failed` with why, or back to `pending` for another attempt. The backup after it.
pub async fn finish(
    client: &impl GenericClient,
    id: Uuid,
    status: BackupStatus,
    blob: Option<(&str, i64)>,
    error: Option<&str>,
    ttl_secs: f64,
) -> Result<Option<BackupRow>, ApiError> {
    let status = match status {
        BackupStatus::Ready => "ready",
        BackupStatus::Failed => "failed",
        BackupStatus::Pending | BackupStatus::Building => "pending",
    };
    let stmt = client
        .prepare_cached(&format!(
            "UPDATE backups SET status = $2, blob_key = $3, size_bytes = $4, error = $5,
                 finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END,
                 expires_at = CASE WHEN $2 = 'ready' THEN now() + make_interval(secs => $6) END
             WHERE id = $1 AND status = 'building'
             RETURNING {BACKUP_COLUMNS}"
        ))
        .await?;
    let (key, size) = blob.unzip();
    Ok(client
        .query_opt(&stmt, &[&id, &status, &key, &size, &error, &ttl_secs])
        .await?
        .map(|r| backup_row(&r)))
}

/// Backups past their time: their rows go, and their blobs' keys are returned to delete.
pub async fn take_expired(db: &Db) -> Result<Vec<String>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "DELETE FROM backups WHERE id IN (SELECT id FROM backups WHERE expires_at < now() LIMIT 100)
             RETURNING blob_key",
        )
        .await?;
    Ok(client
        .query(&stmt, &[])
        .await?
        .iter()
        .filter_map(|r| r.get::<_, Option<String>>("blob_key"))
        .collect())
}

/// A chat in a backup, as its owner sees it.
pub struct BackupChat {
    pub id: Uuid,
    pub kind: String,
    /// The group's name; for a 1:1 chat the other member's username.
    pub name: String,
    pub members: Vec<String>,
}

/// The chats `user` reads: those their list shows, or only `only` when given.
pub async fn chats(
    db: &Db,
    user: Uuid,
    only: Option<&[Uuid]>,
) -> Result<Vec<BackupChat>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            // A group the user left: its members of the moment they left (without them).
            "SELECT c.id, c.type,
                    coalesce({},
                             (SELECT string_agg(u.username, ', ' ORDER BY u.username)
                                      FROM chat_participants o JOIN users u ON u.id = o.user_id
                                      WHERE o.chat_id = c.id AND o.user_id <> $1), 'chat') AS name,
                    (SELECT array_agg(u.username ORDER BY u.username) FROM chat_participants o
                     JOIN users u ON u.id = o.user_id WHERE o.chat_id = c.id AND {}) AS members
             FROM chat_participants p JOIN chats c ON c.id = p.chat_id
             WHERE p.user_id = $1 AND {} AND ($2::uuid[] IS NULL AND {} OR c.id = ANY($2))
             ORDER BY c.created_at",
            super::group_as_seen("p", "c", "name"),
            super::member_at("o", "coalesce(p.left_at, 'infinity')"),
            super::reads_the_chat("p"),
            super::shows_the_chat(
                "p",
                "(SELECT s.last_seq FROM chat_sequences s WHERE s.chat_id = c.id)"
            ),
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&user, &only])
        .await?
        .iter()
        .map(|r| BackupChat {
            id: r.get("id"),
            kind: r.get("type"),
            name: r.get("name"),
            members: r
                .get::<_, Option<Vec<String>>>("members")
                .unwrap_or_default(),
        })
        .collect())
}

/// Every message of `chat` that `user` may see (as their history shows them), oldest first.
pub async fn messages(db: &Db, chat: Uuid, user: Uuid) -> Result<Vec<Message>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "{} JOIN chat_participants p ON p.chat_id = m.chat_id AND p.user_id = $2
             WHERE m.chat_id = $1 AND {} AND {}
             ORDER BY m.seq",
            super::messages::message_select(Some("$2")),
            super::sees_message("p", "$2", "m"),
            super::not_expired("m"),
        ))
        .await?;
    let mut history: Vec<Message> = client
        .query(&stmt, &[&chat, &user])
        .await?
        .iter()
        .map(|r| super::messages::message_row(r, MessageStatus::Sent))
        .collect();
    super::messages::as_seen_by(&client, user, &mut history).await?;
    Ok(history)
}

/// The stored files behind `media` ids: id -> (blob key, file name, size).
pub async fn media_files(
    db: &Db,
    media: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, (String, String, i64)>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            // Processed files only, as they were scanned (`variants.original`, not the upload's
            // key, which its signed URL can still overwrite).
            "SELECT id, coalesce(variants->>'original', file_key) AS file_key, file_name, file_size
             FROM media_files WHERE id = ANY($1) AND status = 'completed'",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&media])
        .await?
        .iter()
        .map(|r| {
            (
                r.get("id"),
                (r.get("file_key"), r.get("file_name"), r.get("file_size")),
            )
        })
        .collect())
}
