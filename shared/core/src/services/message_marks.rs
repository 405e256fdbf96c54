//! Pins, stars and kept messages (API.md "pin / star"). A pin is the chat's (members see it in
//! the chat's details, `message:pinned` / `message:unpinned`), at most 3 at once, each expiring
//! after 24 hours, 7 days or 30 days; in a group it takes the permission to edit the group's
//! info. A star is the caller's own, listed by `GET /api/messages/starred` and echoed to their
//! devices. A kept message is a disappearing message a member kept for everyone
//! (`message:kept`), as WhatsApp's "Keep in chat".

use uuid::Uuid;

use crate::api::models::{
    ChatType, Envelope, KeptState, Message, OffsetPagination, Page, PageEnvelope, ParticipantRole,
    PinState, StarState, Timestamp,
};
use crate::api::requests::{PinMessageRequest, StarredQuery};
use crate::api::ws::{MessagePinned, MessageUnpinned, ServerEvent};
use crate::auth::tokens::Caller;
use crate::db::message_marks::{self, Pinned, MAX_PINS};
use crate::db::{chats, events, messages};
use crate::error::ApiError;
use crate::App;

use super::message_changes::{changeable, not_a_system_line, visible};

/// `POST /api/chats/{chatId}/messages/{messageId}/keep`: keep a disappearing message in the
/// chat, for everyone: it stops disappearing until whoever kept it, or its sender, unkeeps it.
/// Members only; not a view-once message.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/keep", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Kept", body = Envelope<KeptState>)))]
pub async fn keep(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<KeptState, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = changeable(&tx, &caller, chat_id, message_id).await?;
    super::message_changes::not_across_a_block(&target)?;
    if target.deleted || target.view_once {
        return Err(ApiError::PermissionDenied(
            "only a disappearing message you may see is kept (not a view-once one)".into(),
        ));
    }
    let kept = message_marks::keep(&tx, message_id, caller.user_id)
        .await?
        .ok_or_else(|| {
            ApiError::PermissionDenied("this message does not disappear: nothing to keep".into())
        })?;
    let state = KeptState {
        chat_id,
        message_id,
        kept: true,
        kept_by: kept.by,
        expires_at: None,
    };
    if kept.now {
        let event = ServerEvent::MessageKept(state.clone());
        events::append_event_about(&tx, chat_id, Some(caller.user_id), None, message_id, &event)
            .await?;
    }
    tx.commit().await?;
    if kept.now {
        super::relay::wake(app, "message:kept").await;
    }
    Ok(state)
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}/keep`: unkeep it (whoever kept it, its
/// sender or a group admin): it disappears at its own time again, at once if that has passed.
/// 404 if it is not kept.
#[utoipa::path(delete, path = "/api/chats/{chatId}/messages/{messageId}/keep", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Unkept", body = Envelope<KeptState>)))]
pub async fn unkeep(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<KeptState, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = changeable(&tx, &caller, chat_id, message_id).await?;
    let kept_by = message_marks::kept_by(&tx, message_id)
        .await?
        .ok_or(ApiError::NotFound("kept message"))?;
    let me = Some(caller.user_id);
    if kept_by != me && target.sender_id != me && target.role != ParticipantRole::Admin {
        return Err(ApiError::PermissionDenied(
            "only who kept it, its sender or an admin unkeeps a message".into(),
        ));
    }
    let expires_at = message_marks::unkeep(&tx, message_id).await?;
    let state = KeptState {
        chat_id,
        message_id,
        kept: false,
        kept_by: None,
        expires_at: expires_at.map(Timestamp),
    };
    let event = ServerEvent::MessageKept(state.clone());
    // Not tied to the message (`append_event_about`): one unkept after its time passed is erased
    // by the next scheduled run, which takes the message's events with it, and this event is
    // how its devices learn that it goes (its `expiresAt`).
    events::append_chat_event_from(&tx, chat_id, Some(caller.user_id), None, &event).await?;
    tx.commit().await?;
    super::relay::wake(app, "message:kept").await;
    Ok(state)
}

/// Whether the caller may pin in this chat: anyone in a 1:1 chat; in a group, whoever may edit
/// its info. Asked once the caller sees the message: someone who sees it and is no member is a
/// former member who kept the group.
async fn may_pin(
    tx: &impl deadpool_postgres::GenericClient,
    caller: &Caller,
    chat_id: Uuid,
) -> Result<(), ApiError> {
    let standing = chats::standing(tx, chat_id, caller.user_id)
        .await?
        .ok_or_else(super::participants::no_longer_a_member)?;
    let allowed =
        standing.kind == ChatType::Individual || standing.permissions.edit_info.lets(standing.role);
    if !allowed {
        return Err(ApiError::PermissionDenied(
            "only the group's admins pin messages here".into(),
        ));
    }
    Ok(())
}

/// `POST /api/chats/{chatId}/messages/{messageId}/pin`: pin a message for 24 hours, 7 days or
/// 30 days (pinning it again renews it). A chat holds at most 3 pins: a fourth is refused (409),
/// unless `replaceOldest` says to unpin the one pinned longest ago (`message:unpinned`).
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/pin", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    request_body(content = Option<PinMessageRequest>, description = "Absent: 7 days"),
    responses((status = 200, description = "Pinned", body = Envelope<PinState>)))]
pub async fn pin(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    body: Option<PinMessageRequest>,
) -> Result<PinState, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = visible(&tx, &caller, chat_id, message_id).await?;
    may_pin(&tx, &caller, chat_id).await?;
    if target.deleted {
        return Err(ApiError::PermissionDenied(
            "a deleted message cannot be pinned".into(),
        ));
    }
    super::message_changes::not_across_a_block(&target)?;
    not_a_system_line(&target, "pinned")?;
    let body = body.unwrap_or_default();
    let pinned = message_marks::pin(
        &tx,
        chat_id,
        message_id,
        caller.user_id,
        body.duration_seconds.0,
        body.replace_oldest,
    )
    .await?;
    let Pinned::Until {
        expires_at,
        replaced,
    } = pinned
    else {
        return Err(ApiError::AlreadyExists(format!(
            "this chat already has {MAX_PINS} pinned messages: unpin one first, or pin with \
             `replaceOldest`"
        )));
    };
    if let Some(replaced) = replaced {
        let event = ServerEvent::MessageUnpinned(MessageUnpinned {
            chat_id,
            message_id: replaced,
            unpinned_by: caller.user_id,
        });
        events::append_event_about(&tx, chat_id, Some(caller.user_id), None, replaced, &event)
            .await?;
    }
    let event = ServerEvent::MessagePinned(MessagePinned {
        chat_id,
        message_id,
        pinned_by: caller.user_id,
        expires_at,
    });
    events::append_event_about(&tx, chat_id, Some(caller.user_id), None, message_id, &event)
        .await?;
    tx.commit().await?;
    super::relay::wake(app, "message:pinned").await;
    Ok(PinState {
        chat_id,
        message_id,
        pinned: true,
        expires_at: Some(expires_at),
    })
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}/pin`: unpin a message (404 if it is not
/// pinned).
#[utoipa::path(delete, path = "/api/chats/{chatId}/messages/{messageId}/pin", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Unpinned", body = Envelope<PinState>)))]
pub async fn unpin(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<PinState, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    visible(&tx, &caller, chat_id, message_id).await?;
    may_pin(&tx, &caller, chat_id).await?;
    if !message_marks::unpin(&tx, chat_id, message_id).await? {
        return Err(ApiError::NotFound("pin"));
    }
    let event = ServerEvent::MessageUnpinned(MessageUnpinned {
        chat_id,
        message_id,
        unpinned_by: caller.user_id,
    });
    events::append_event_about(&tx, chat_id, Some(caller.user_id), None, message_id, &event)
        .await?;
    tx.commit().await?;
    super::relay::wake(app, "message:unpinned").await;
    Ok(PinState {
        chat_id,
        message_id,
        pinned: false,
        expires_at: None,
    })
}

/// `POST /api/chats/{chatId}/messages/{messageId}/star` (starred: `true`) and `DELETE` (`false`):
/// star or unstar a message for yourself (not a system line, nor a view-once message); your
/// other devices are told.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/star", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Starred", body = Envelope<StarState>)))]
pub async fn star(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    starred: bool,
) -> Result<StarState, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = visible(&tx, &caller, chat_id, message_id).await?;
    if starred && target.deleted {
        return Err(ApiError::PermissionDenied(
            "a deleted message cannot be starred".into(),
        ));
    }
    if starred {
        not_a_system_line(&target, "starred")?;
        // It is gone once opened: WhatsApp stars (saves, forwards) no view-once message.
        if target.view_once {
            return Err(ApiError::PermissionDenied(
                "a view-once message cannot be starred".into(),
            ));
        }
    }
    let changed = if starred {
        message_marks::star(&tx, caller.user_id, message_id).await?
    } else {
        message_marks::unstar(&tx, caller.user_id, message_id).await?
    };
    let state = StarState {
        chat_id,
        message_id,
        starred,
    };
    if changed {
        let event = ServerEvent::MessageStarred(state.clone());
        events::append_user_events(
            &tx,
            &[caller.user_id],
            Some(caller.user_id),
            event.name(),
            &event.data(),
        )
        .await?;
    }
    tx.commit().await?;
    if changed {
        super::relay::wake(app, "message:starred").await;
    }
    Ok(state)
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}/star`.
#[utoipa::path(delete, path = "/api/chats/{chatId}/messages/{messageId}/star", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Not starred", body = Envelope<StarState>)))]
pub async fn unstar(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<StarState, ApiError> {
    star(app, caller, chat_id, message_id, false).await
}

/// `GET /api/messages/starred?chatId&limit&offset`: the caller's starred messages they can still
/// see, in one chat or all, most recently starred first.
#[utoipa::path(get, path = "/api/messages/starred", tag = "messages", security(("bearer" = [])),
    params(StarredQuery),
    responses((status = 200, description = "Starred messages", body = PageEnvelope<Vec<Message>, OffsetPagination>)))]
pub async fn starred(
    app: &App,
    caller: Caller,
    q: StarredQuery,
) -> Result<Page<Vec<Message>, OffsetPagination>, ApiError> {
    let (limit, offset) = (q.limit.0, q.offset.0);
    let (items, total) =
        messages::starred(&app.db, caller.user_id, q.chat_id, limit, offset).await?;
    let pagination = OffsetPagination::new(limit, offset, items.len(), total);
    Ok(Page {
        items: super::messaging::answered(app, items, caller).await?,
        pagination,
    })
}
