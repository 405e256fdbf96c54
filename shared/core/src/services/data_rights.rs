//! Data rights (GDPR): export everything Banter holds about the caller, and erase the account.
//!
//! Erasure deletes the account's row and with it everything keyed to it (profile, credentials,
//! 2FA, sessions and their addresses, tokens, relationships, memberships, reactions), its
//! uploaded media and their blobs, and closes its connections. Messages the user sent stay in
//! the other members' chats with no sender (clients show "Deleted account") and no metadata,
//! and the timeline's lines about them read "Deleted account" where they had their username:
//! the conversation stays readable for the people in it, as it would on their phones, while
//! nothing left links to the person who wrote them.
//!
//! An export too large for a function's response is stored and answered with a signed,
//! expiring download.

use tokio_postgres::types::Json;

use crate::api::models::{
    AccountDeleted, AccountExport, ActivityKind, ChatType, Envelope, ExportChat, ExportContact,
    ExportMedia, ExportMembership, ExportMessage, ExportPushDevice, ExportReaction, ExportRelation,
    ExportRelationships, ExportStar, MessageEdit, MessageMetadata, Meta, ParticipantRole,
    Timestamp,
};
use crate::api::requests::DeleteAccountRequest;
use crate::auth::password::verify_password;
use crate::auth::tokens::Caller;
use crate::db::account_activity::Origin;
use crate::db::{relationships, sessions, users};
use crate::error::ApiError;
use crate::ports::UrlValidity;
use crate::App;

/// How long the signed download of a large export stays valid.
const EXPORT_DOWNLOAD_SECS: u64 = 15 * 60;

/// What `GET /api/users/me/export` answers.
pub enum ExportAnswer {
    /// The export itself, in the usual envelope.
    Inline(Box<AccountExport>),
    /// Too large for a function's response (6 MB on Lambda): the same envelope, stored, and a
    /// signed URL that expires in 15 minutes, answered as `303 See Other`.
    Download { url: String },
}

/// `GET /api/users/me/export`.
#[utoipa::path(get, path = "/api/users/me/export", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "Everything Banter holds about the caller", body = Envelope<AccountExport>),
        (status = 303, description = "The export is too large to answer inline: `Location` is a signed download of the same document, valid for 15 minutes",
            headers(("Location" = String, description = "The signed download URL")))))]
pub async fn export(app: &App, caller: Caller) -> Result<ExportAnswer, ApiError> {
    let export = collect_export(app, caller).await?;
    let kind = ActivityKind::DataExported;
    let origin = Origin::Session(caller.session_id);
    super::accounts::record_activity(app, caller.user_id, kind, origin).await?;
    let document = serde_json::to_vec(&Envelope {
        success: true,
        data: &export,
        meta: Meta {
            timestamp: Timestamp::now(),
        },
    })
    .map_err(|e| ApiError::Internal(format!("the export did not serialize: {e}")))?;
    if document.len() <= app.settings.export_inline_max_bytes {
        return Ok(ExportAnswer::Inline(Box::new(export)));
    }
    let key = format!("exports/{}/{}.json", caller.user_id, uuid::Uuid::new_v4());
    app.ports
        .blobs
        .put(&key, document.into(), "application/json")
        .await?;
    let url = app
        .ports
        .blobs
        .presign_get(&key, UrlValidity::from_now(EXPORT_DOWNLOAD_SECS))
        .await?;
    Ok(ExportAnswer::Download { url })
}

/// Everything Banter holds about the caller.
async fn collect_export(app: &App, caller: Caller) -> Result<AccountExport, ApiError> {
    let profile = users::own_profile(&app.db.get().await?, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let profile = super::profiles::own_view(app, profile).await?;
    let sessions = sessions::list(&app.db, caller).await?;
    let related = |kind: &'static str| async move {
        Ok::<_, ApiError>(
            relationships::list(&app.db, caller.user_id, kind)
                .await?
                .into_iter()
                .map(|r| ExportRelation {
                    user_id: r.id,
                    username: r.username,
                    since: Timestamp(r.since),
                })
                .collect::<Vec<_>>(),
        )
    };
    let contact_rows = crate::db::contacts::all_with_group_names(&app.db, caller.user_id).await?;
    let favorites: std::collections::HashSet<uuid::Uuid> = contact_rows
        .iter()
        .filter(|(c, _)| c.favorite)
        .map(|(c, _)| c.user_id)
        .collect();
    let contact = related("contact").await?;
    let relationships = ExportRelationships {
        favorite: contact
            .iter()
            .filter(|r| favorites.contains(&r.user_id))
            .cloned()
            .collect(),
        contact,
        blocked: related("blocked").await?,
    };
    let contacts = contact_rows
        .into_iter()
        .map(|(c, groups)| ExportContact {
            user_id: c.user_id,
            nickname: c.nickname,
            note: c.note,
            favorite: c.favorite,
            groups,
            since: Timestamp(c.added_at),
        })
        .collect();
    let contact_groups = crate::db::contacts::groups(&app.db, caller.user_id).await?;
    let client = app.db.get().await?;
    let chats = client
        .query(
            &format!(
                "SELECT c.id, c.type, c.name, me.role, me.joined_at, me.left_at,
                        w.earlier_joined, w.earlier_left, {settings}
                 FROM chat_participants me JOIN chats c ON c.id = me.chat_id
                 LEFT JOIN LATERAL (
                     SELECT array_agg(w.joined_at ORDER BY w.joined_at) AS earlier_joined,
                            array_agg(w.left_at ORDER BY w.joined_at) AS earlier_left
                     FROM earlier_memberships w WHERE w.chat_id = me.chat_id AND w.user_id = me.user_id
                 ) w ON true
                 WHERE me.user_id = $1 ORDER BY me.joined_at",
                settings = crate::db::chats::SETTINGS_COLUMNS
            ),
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| ExportChat {
            chat_id: r.get("id"),
            kind: ChatType::parse_stored(r.get("type")),
            name: r.get("name"),
            role: ParticipantRole::parse_stored(r.get("role")),
            joined_at: Timestamp(r.get("joined_at")),
            left_at: r.get::<_, Option<_>>("left_at").map(Timestamp),
            earlier_memberships: crate::db::chats::earlier_memberships(r)
                .into_iter()
                .map(|(joined, left)| ExportMembership {
                    joined_at: Timestamp(joined),
                    left_at: Timestamp(left),
                })
                .collect(),
            settings: crate::db::chats::settings_row(r),
        })
        .collect();
    let messages_sent = client
        .query(
            "SELECT m.id, m.chat_id, m.seq, m.type, m.content, m.metadata, m.created_at, m.edited_at,
                    m.deleted_for_everyone, m.media_id, e.edit_texts, e.edit_times
             FROM messages m
             LEFT JOIN LATERAL (
                 SELECT array_agg(e.previous_content ORDER BY e.id) AS edit_texts,
                        array_agg(e.edited_at ORDER BY e.id) AS edit_times
                 FROM message_edits e WHERE e.message_id = m.id
             ) e ON true
             WHERE m.sender_id = $1 ORDER BY m.created_at",
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| ExportMessage {
            id: r.get("id"),
            chat_id: r.get("chat_id"),
            seq: r.get("seq"),
            kind: r.get("type"),
            content: r.get("content"),
            metadata: r.get::<_, Json<MessageMetadata>>("metadata").0,
            created_at: Timestamp(r.get("created_at")),
            edited_at: r.get::<_, Option<_>>("edited_at").map(Timestamp),
            deleted_for_everyone: r.get("deleted_for_everyone"),
            media_id: r.get("media_id"),
            edits: r
                .get::<_, Option<Vec<Option<String>>>>("edit_texts")
                .unwrap_or_default()
                .into_iter()
                .zip(
                    r.get::<_, Option<Vec<chrono::DateTime<chrono::Utc>>>>("edit_times")
                        .unwrap_or_default(),
                )
                .map(|(previous_content, at)| MessageEdit {
                    previous_content,
                    edited_at: Timestamp(at),
                })
                .collect(),
        })
        .collect();
    let media = client
        .query(
            "SELECT id, file_key, file_name, file_type, declared_mime, file_size, status, created_at
             FROM media_files WHERE uploader_id = $1 ORDER BY created_at",
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| ExportMedia {
            id: r.get("id"),
            file_key: r.get("file_key"),
            file_name: r.get("file_name"),
            file_type: r.get("file_type"),
            mime_type: r.get("declared_mime"),
            file_size: r.get("file_size"),
            status: r.get("status"),
            created_at: Timestamp(r.get("created_at")),
        })
        .collect();
    let push_devices = crate::db::push_devices::of_user(&client, caller.user_id)
        .await?
        .into_iter()
        .map(|(session_id, token, device)| ExportPushDevice {
            session_id,
            platform: device.platform,
            token,
            registered_at: Timestamp(device.created_at),
        })
        .collect();
    let (calls, _) = crate::db::calls::history(&app.db, caller.user_id, i64::MAX, 0).await?;
    let reports = crate::db::reports::filed_by(&client, caller.user_id).await?;
    let (account_activity, _) =
        crate::db::account_activity::list(&client, caller, i64::MAX, 0).await?;
    let poll_votes = crate::db::polls::cast_by(&client, caller.user_id).await?;
    let encryption_keys = super::encryption_keys::own(app, caller).await?.devices;
    let reactions = client
        .query(
            "SELECT m.chat_id, r.message_id, r.emoji, r.created_at
             FROM message_reactions r JOIN messages m ON m.id = r.message_id
             WHERE r.user_id = $1 ORDER BY r.created_at",
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| ExportReaction {
            chat_id: r.get("chat_id"),
            message_id: r.get("message_id"),
            emoji: r.get("emoji"),
            reacted_at: Timestamp(r.get("created_at")),
        })
        .collect();
    let starred = client
        .query(
            "SELECT m.chat_id, s.message_id, s.starred_at
             FROM message_stars s JOIN messages m ON m.id = s.message_id
             WHERE s.user_id = $1 ORDER BY s.starred_at",
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| ExportStar {
            chat_id: r.get("chat_id"),
            message_id: r.get("message_id"),
            starred_at: Timestamp(r.get("starred_at")),
        })
        .collect();
    Ok(AccountExport {
        exported_at: Timestamp::now(),
        profile,
        sessions,
        relationships,
        chats,
        messages_sent,
        media,
        contacts,
        contact_groups,
        push_devices,
        calls,
        reports,
        account_activity,
        poll_votes,
        encryption_keys,
        reactions,
        starred,
    })
}

/// `DELETE /api/users/me {password}`.
#[utoipa::path(delete, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses((status = 200, description = "The account is erased", body = Envelope<AccountDeleted>)))]
pub async fn delete_account(
    app: &App,
    caller: Caller,
    body: DeleteAccountRequest,
) -> Result<AccountDeleted, ApiError> {
    let stored = users::password_hash(&app.db, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !verify_password(body.password.expose().to_owned(), Some(stored)).await? {
        return Err(ApiError::WrongPassword);
    }
    let erased = users::erase(&app.db, caller.user_id).await?;
    // Their groups were told they left.
    super::relay::wake(app, "chat:participant:left").await;
    super::accounts::end_sessions(app, caller.user_id, &erased.sessions).await;
    for key in &erased.blob_keys {
        // The rows are gone, so nothing links to a blob left behind; it is logged for cleanup.
        if let Err(e) = app.ports.blobs.delete(key).await {
            tracing::warn!(error = %e, %key, "an erased account's blob was not deleted");
        }
    }
    Ok(AccountDeleted { deleted: true })
}
