//! Sending messages and reading history (PRD 3, API.md "Messages"). A send is acknowledged only
//! once the message and its event are stored together; the relay delivers it from the log.

use uuid::Uuid;

use crate::api::models::{CursorPagination, Envelope, Message, Page, PageEnvelope};
use crate::api::requests::{HistoryQuery, SendMessageRequest};
use crate::auth::tokens::Caller;
use crate::db::messages::{self, Cursor, NewMessage, Stored};
use crate::domain::trim_blank;
use crate::error::ApiError;
use crate::App;

use super::rate_limit;

use crate::api::limits::MAX_METADATA_BYTES;

/// `POST /api/chats/{chatId}/messages` (and the `message:send` action): store a message (or
/// find the one already stored under its `clientMessageId`) and queue its delivery.
/// `origin_connection` is the sending WebSocket connection, which is not sent its own message.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    request_body = SendMessageRequest,
    responses((status = 201, description = "The stored message (the one already stored, for a repeated clientMessageId)", body = Envelope<Message>)))]
pub async fn send(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    body: SendMessageRequest,
    origin_connection: Option<&str>,
) -> Result<Message, ApiError> {
    let SendMessageRequest {
        client_message_id,
        kind,
        content,
        reply_to_id: reply_to,
        metadata,
    } = body;
    let content = content.as_deref();
    if kind.as_str() == "text" && content.is_none_or(|c| trim_blank(c).is_empty()) {
        return Err(ApiError::Validation(
            "a text message needs non-empty `content`".into(),
        ));
    }
    let max = app.settings.max_message_chars;
    if content.is_some_and(|c| c.chars().count() > max) {
        return Err(ApiError::Validation(format!(
            "`content` is longer than {max} characters"
        )));
    }
    let metadata = metadata.unwrap_or_default();
    if serde_json::to_string(&metadata).map_or(0, |m| m.len()) > MAX_METADATA_BYTES {
        return Err(ApiError::Validation(format!(
            "`metadata` is larger than {MAX_METADATA_BYTES} bytes"
        )));
    }

    rate_limit::hit(
        &app.db,
        &format!("messages:user:{}", caller.user_id),
        app.settings.rate_limits.messages,
    )
    .await?;
    let new = NewMessage {
        id: Uuid::now_v7(),
        chat_id,
        sender_id: caller.user_id,
        client_message_id: client_message_id.as_str(),
        kind: kind.as_str(),
        content,
        reply_to,
        metadata: &metadata,
        origin_connection,
    };
    let message = match messages::insert_or_find(&app.db, &new).await? {
        Stored::Created { message } => message,
        Stored::Existing { id } => {
            return messages::by_id(&app.db, id)
                .await?
                .ok_or(ApiError::NotFound("message"));
        }
        Stored::NotMember => return Err(ApiError::NotFound("chat")),
        Stored::AdminsOnly => {
            return Err(ApiError::PermissionDenied(
                "only the group's admins send messages here".into(),
            ))
        }
        Stored::Blocked => {
            return Err(ApiError::PermissionDenied(
                "you cannot message this user".into(),
            ))
        }
        Stored::BadReply => {
            return Err(ApiError::Validation(
                "`replyToId` is not a message of this chat".into(),
            ))
        }
        Stored::IdReusedElsewhere => {
            return Err(ApiError::AlreadyExists(
                "this clientMessageId was already used in another chat".into(),
            ))
        }
    };
    // Stored with its event: from here delivery cannot be lost. Wake the relay now (the fast
    // path); if the queue is down, the relay's schedule delivers it a little later.
    super::relay::wake(app, "message:received").await;
    Ok(*message)
}

/// `GET /api/chats/{chatId}/messages?limit&before&after&around&type`.
#[utoipa::path(get, path = "/api/chats/{chatId}/messages", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), HistoryQuery),
    responses((status = 200, description = "A page of history, oldest first", body = PageEnvelope<Vec<Message>, CursorPagination>)))]
pub async fn history(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    q: HistoryQuery,
) -> Result<Page<Vec<Message>, CursorPagination>, ApiError> {
    let limit = q.limit.0;
    let cursor = Cursor {
        before: q.before,
        after: q.after,
        around: q.around,
        kind: q.kind.as_ref().map(|k| k.as_str()),
    };
    let (page, has_more) = messages::history(&app.db, chat_id, caller.user_id, cursor, limit)
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    let pagination = CursorPagination {
        limit,
        has_more,
        before: page.first().map(|m| m.id),
        after: page.last().map(|m| m.id),
    };
    Ok(Page {
        items: page,
        pagination,
    })
}
