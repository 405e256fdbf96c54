//! Sending messages and reading history (PRD 3, API.md "Messages"). A send is acknowledged only
//! once the message is stored; its delivery is then handed to the delivery queue.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::tokens::Caller;
use crate::db::messages::{self, Cursor, NewMessage, Stored};
use crate::domain::{parse_id, ClientMessageId, MessageType};
use crate::error::ApiError;
use crate::ports::{DeliveryJob, Receipt};
use crate::App;

use super::{optional_str, rate_limit, require_object, required_str};

/// Largest `metadata` object a message may carry (location, contact card...), serialized.
const MAX_METADATA_BYTES: usize = 4096;

/// Store a message (or find the one already stored under its `clientMessageId`) and queue its
/// delivery. `chat_id` comes from the path for REST sends and from the body over WebSocket.
/// `origin_connection` is the sending WebSocket connection, which is not sent its own message.
pub async fn send(
    app: &App,
    caller: Caller,
    chat_id: Option<&str>,
    body: &Value,
    origin_connection: Option<&str>,
) -> Result<Value, ApiError> {
    require_object(body)?;
    let chat_id = parse_id(
        chat_id
            .map(Ok)
            .unwrap_or_else(|| required_str(body, "chatId"))?,
        "chatId",
    )?;
    let client_message_id = ClientMessageId::parse(required_str(body, "clientMessageId")?)?;
    let kind = MessageType::parse(optional_str(body, "type")?.unwrap_or("text"))?;
    let content = optional_str(body, "content")?;
    if kind.as_str() == "text" && content.is_none_or(|c| c.trim().is_empty()) {
        return Err(ApiError::Validation(
            "a text message needs non-empty `content`".into(),
        ));
    }
    if content.is_some_and(|c| c.len() > app.settings.max_message_bytes) {
        return Err(ApiError::TooLarge(format!(
            "content is longer than {} bytes",
            app.settings.max_message_bytes
        )));
    }
    let reply_to = optional_str(body, "replyToId")?
        .map(|r| parse_id(r, "replyToId"))
        .transpose()?;
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => json!({}),
        Some(m @ Value::Object(_)) if m.to_string().len() <= MAX_METADATA_BYTES => m.clone(),
        Some(Value::Object(_)) => {
            return Err(ApiError::TooLarge(format!(
                "metadata is larger than {MAX_METADATA_BYTES} bytes"
            )))
        }
        Some(_) => return Err(ApiError::Validation("`metadata` must be an object".into())),
    };

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
    };
    let (message, members) = match messages::insert_or_find(&app.db, &new).await? {
        Stored::Created { message, members } => (message, members),
        Stored::Existing { id } => {
            return messages::by_id(&app.db, id)
                .await?
                .ok_or(ApiError::NotFound("message"));
        }
        Stored::NotMember => return Err(ApiError::NotFound("chat")),
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
    let seq = message["seq"].as_i64().unwrap_or_default();
    let id = new.id;
    let job = DeliveryJob {
        event: "message:received".into(),
        data: json!({ "message": message, "chatId": chat_id, "timestamp": message["createdAt"] }),
        recipients: members,
        exclude_connection: origin_connection.map(str::to_owned),
        receipt: Some(Receipt {
            chat_id,
            message_id: id,
            seq,
            sender_id: caller.user_id,
        }),
    };
    enqueue_with_retry(app, &job).await?;
    Ok(message)
}

/// The queue is the only way a stored message reaches live devices, so a failed enqueue is
/// retried briefly before the send reports failure (the client then retries the send, which
/// finds the stored message).
async fn enqueue_with_retry(app: &App, job: &DeliveryJob) -> Result<(), ApiError> {
    let mut delay = std::time::Duration::from_millis(20);
    for attempt in 1..=3 {
        match app.ports.queue.enqueue(job).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 3 => {
                tracing::warn!(error = %e, attempt, "enqueue failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(e) => {
                tracing::error!(error = %e, "enqueue failed; the send reports unavailable");
                return Err(ApiError::Unavailable);
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// `GET /api/chats/{chatId}/messages?limit&before&after`.
pub async fn history(
    app: &App,
    caller: Caller,
    chat_id: &str,
    before: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<Value>, bool), ApiError> {
    let chat_id = parse_id(chat_id, "chatId")?;
    let cursor = match (before, after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Validation(
                "give `before` or `after`, not both".into(),
            ))
        }
        (Some(b), None) => Cursor::Before(parse_id(b, "before")?),
        (None, Some(a)) => Cursor::After(parse_id(a, "after")?),
        (None, None) => Cursor::Latest,
    };
    messages::history(&app.db, chat_id, caller.user_id, cursor, limit)
        .await?
        .ok_or(ApiError::NotFound("chat"))
}
