//! Data rights (GDPR): export everything Banter holds about the caller, and erase the account.
//!
//! Erasure removes personal data (email, phone, names, picture, status, about, password,
//! 2FA, relationships, tokens), revokes every session and closes its connections, and leaves
//! every chat. Messages the user sent stay in the other members' chats, attributed to
//! "Deleted account": the conversation stays readable for the people in it, as it would on
//! their phones, while nothing left identifies the person who wrote them.

use serde_json::{json, Value};

use crate::auth::password::verify_password;
use crate::auth::tokens::Caller;
use crate::db::{relationships, sessions, users};
use crate::error::ApiError;
use crate::wire::{now_rfc3339, rfc3339};
use crate::App;

use super::{require_object, required_str};

/// `GET /api/users/me/export`.
pub async fn export(app: &App, caller: Caller) -> Result<Value, ApiError> {
    let profile = users::own_profile(&app.db, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let sessions = sessions::list(&app.db, caller).await?;
    let mut relations = serde_json::Map::new();
    for kind in ["contact", "favorite", "blocked"] {
        let rows = relationships::list(&app.db, caller.user_id, kind).await?;
        let list: Vec<Value> = rows.into_iter().map(|(id, username, at)| json!({ "userId": id, "username": username, "since": rfc3339(at) })).collect();
        relations.insert(kind.to_owned(), json!(list));
    }
    let client = app.db.get().await?;
    let chats: Vec<Value> = client
        .query(
            "SELECT c.id, c.type, c.name, p.role, p.joined_at, p.left_at FROM chat_participants p JOIN chats c ON c.id = p.chat_id
             WHERE p.user_id = $1 ORDER BY p.joined_at",
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| json!({ "chatId": r.get::<_, uuid::Uuid>(0), "type": r.get::<_, String>(1), "name": r.get::<_, Option<String>>(2),
                         "role": r.get::<_, String>(3), "joinedAt": rfc3339(r.get(4)), "leftAt": r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(5).map(rfc3339) }))
        .collect();
    let messages: Vec<Value> = client
        .query(
            "SELECT id, chat_id, seq, type, content, metadata, created_at, edited_at, deleted_for_everyone FROM messages
             WHERE sender_id = $1 ORDER BY created_at",
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| json!({ "id": r.get::<_, uuid::Uuid>(0), "chatId": r.get::<_, uuid::Uuid>(1), "seq": r.get::<_, i64>(2),
                         "type": r.get::<_, String>(3), "content": r.get::<_, Option<String>>(4), "metadata": r.get::<_, Value>(5),
                         "createdAt": rfc3339(r.get(6)), "editedAt": r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(7).map(rfc3339),
                         "deletedForEveryone": r.get::<_, bool>(8) }))
        .collect();
    let media: Vec<Value> = client
        .query(
            "SELECT id, file_key, file_name, file_type, declared_mime, file_size, status, created_at FROM media_files
             WHERE uploader_id = $1 ORDER BY created_at",
            &[&caller.user_id],
        )
        .await?
        .iter()
        .map(|r| json!({ "id": r.get::<_, uuid::Uuid>(0), "fileKey": r.get::<_, String>(1), "fileName": r.get::<_, String>(2),
                         "fileType": r.get::<_, String>(3), "mimeType": r.get::<_, String>(4), "fileSize": r.get::<_, i64>(5),
                         "status": r.get::<_, String>(6), "createdAt": rfc3339(r.get(7)) }))
        .collect();
    Ok(json!({
        "exportedAt": now_rfc3339(),
        "profile": profile,
        "sessions": sessions,
        "relationships": relations,
        "chats": chats,
        "messagesSent": messages,
        "media": media,
    }))
}

/// `DELETE /api/users/me {password}`.
pub async fn delete_account(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let password = required_str(body, "password")?;
    let stored = users::password_hash(&app.db, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !verify_password(password.to_owned(), Some(stored)).await? {
        return Err(ApiError::InvalidCredentials);
    }
    let revoked = users::erase(&app.db, caller.user_id).await?;
    super::connections::close_sessions(app, caller.user_id, &revoked).await;
    Ok(json!({ "deleted": true }))
}
