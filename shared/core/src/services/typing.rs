//! Typing indicators (`message:typing` / `message:stop_typing`, typing or recording a voice
//! note): relayed at once to the chat's
//! other members who are connected, never stored, never in `/api/sync` (the one kind of event
//! outside the publish path, because it is worthless a few seconds later). Throttled per user
//! and chat; never to or from someone blocked either way, and never from a member who may not
//! send in the chat.

use std::time::Duration;

use futures_util::future::join_all;
use uuid::Uuid;

use crate::api::models::TypingSent;
use crate::api::ws::{ServerEvent, TypingActivity, TypingNotice};
use crate::auth::tokens::Caller;
use crate::db::chats;
use crate::error::ApiError;
use crate::App;

/// A client repeats `message:typing` every few seconds while the user types; a recipient shows
/// it this long after the last one.
pub const SHOWN_FOR: Duration = Duration::from_secs(6);

/// At most one relay per user, chat and kind this often; repeats sooner are acknowledged and
/// dropped (the indicator already shows).
const THROTTLE: Duration = Duration::from_secs(2);

/// Tell the chat's other connected members that the caller is typing or recording (or
/// stopped).
pub async fn relay(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    is_typing: bool,
    activity: TypingActivity,
) -> Result<TypingSent, ApiError> {
    let sent = TypingSent {
        chat_id,
        is_typing,
        activity,
    };
    let client = app.db.get().await?;
    let Some(audience) = chats::activity_audience(&client, chat_id, caller.user_id).await? else {
        return Err(super::participants::not_a_member(app, chat_id, caller.user_id).await);
    };
    drop(client);
    // Someone who may not send here is not about to: no indicator (an admins-only group).
    if !audience.may_send {
        return Err(super::messaging::admins_only());
    }
    let kind = if is_typing { activity.as_str() } else { "stop" };
    let bucket = format!("typing:{}:{chat_id}:{kind}", caller.user_id);
    if !super::rate_limit::throttle(&app.db, &bucket, THROTTLE).await? {
        return Ok(sent);
    }
    let notice = TypingNotice {
        chat_id,
        user_id: caller.user_id,
        username: audience.username,
        is_typing,
        activity,
        expires_in_seconds: SHOWN_FOR.as_secs() as u32,
    };
    let event = if is_typing {
        ServerEvent::Typing(notice)
    } else {
        ServerEvent::StopTyping(notice)
    };
    let frame = serde_json::to_vec(&event).expect("events serialize");
    let frame = &frame;
    join_all(audience.members.into_iter().map(|user| async move {
        let connections = match app.ports.connections.connections_of(user).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "typing: could not read a member's connections");
                return;
            }
        };
        for c in connections {
            // Best effort: a typing indicator that does not arrive is not worth a retry.
            let _ = app.ports.push.post(&c.connection_id, frame).await;
        }
    }))
    .await;
    Ok(sent)
}
