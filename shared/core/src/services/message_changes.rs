//! Changing a sent message (API.md "Messages", PRD 1.5): edits with their history, deletion for
//! yourself or for everyone, and reactions. Each change and its event commit together (the one
//! publish path); the relay then delivers the event.

use std::time::Duration;

use uuid::Uuid;

use crate::api::models::{
    ChatType, Deletion, Envelope, Message, MessageEdit, MessageRemoved, ParticipantRole,
    ReactionSet,
};
use crate::api::requests::{AddReactionRequest, DeleteMessageRequest, EditMessageRequest};
use crate::api::ws::{MessageDeleted, ReactionChanged, ServerEvent};
use crate::auth::tokens::Caller;
use crate::content;
use crate::db::message_changes::{self, ReactionOutcome, Target};
use crate::db::{chats, events, messages};
use crate::domain::Emoji;
use crate::error::ApiError;
use crate::App;

/// The message, locked, if the caller may see it; 404 otherwise (the same answer whether it
/// does not exist or is not theirs to see).
pub(super) async fn visible(
    tx: &impl deadpool_postgres::GenericClient,
    caller: &Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Target, ApiError> {
    message_changes::lock_visible(tx, chat_id, message_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("message"))
}

/// As [`visible`], for a change everyone sees: a former member who kept the group sees the
/// message but changes nothing in the group (403).
pub(super) async fn changeable(
    tx: &impl deadpool_postgres::GenericClient,
    caller: &Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Target, ApiError> {
    let target = visible(tx, caller, chat_id, message_id).await?;
    if !target.member {
        return Err(super::participants::no_longer_a_member());
    }
    Ok(target)
}

/// Refused for a system line ("alice added bob"): the chat's record of what happened, not
/// anyone's message, so nobody reacts to it, pins, stars or quotes it, or deletes it for
/// everyone (each member may still delete it for themselves).
pub(super) fn not_a_system_line(target: &Target, what: &str) -> Result<(), ApiError> {
    if target.kind == "system" {
        return Err(ApiError::PermissionDenied(format!(
            "a system message cannot be {what}"
        )));
    }
    Ok(())
}

/// Refused once a message is older than `window`.
fn within(target: &Target, window: Duration, what: &str) -> Result<(), ApiError> {
    let age = chrono::Utc::now() - target.created_at;
    if age.to_std().unwrap_or_default() > window {
        return Err(ApiError::PermissionDenied(format!(
            "messages can be {what} only within {} minutes of sending",
            window.as_secs() / 60
        )));
    }
    Ok(())
}

/// The types of message whose text can be edited: a text message's, and the caption of a
/// photo, video or document (as WhatsApp; a view-once file has no caption).
const EDITABLE_KINDS: [&str; 4] = ["text", "image", "video", "document"];

/// `PUT /api/chats/{chatId}/messages/{messageId}`: the sender changes a text message's text, or
/// a photo's, video's or document's caption (one may be added), within the edit window (15
/// minutes by default), unless it is a forwarded copy; the text it replaces is kept.
#[utoipa::path(put, path = "/api/chats/{chatId}/messages/{messageId}", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    request_body = EditMessageRequest,
    responses((status = 200, description = "The message as edited", body = Envelope<Message>)))]
pub async fn edit(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    body: EditMessageRequest,
) -> Result<Message, ApiError> {
    let content = body.content;
    let mentions = body.mentions.map(|mut m| {
        m.sort_unstable();
        m.dedup();
        m
    });
    // The new text and mentions, checked as a sent text message's are.
    content::check(
        content::Draft {
            kind: "text",
            content: Some(&content),
            metadata: Default::default(),
            media_id: None,
            mentions: mentions.as_deref().unwrap_or_default(),
        },
        app.settings.max_message_chars,
    )?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = changeable(&tx, &caller, chat_id, message_id).await?;
    if target.sender_id != Some(caller.user_id) {
        return Err(ApiError::PermissionDenied(
            "only its sender edits a message".into(),
        ));
    }
    if target.deleted {
        return Err(ApiError::PermissionDenied(
            "a deleted message cannot be edited".into(),
        ));
    }
    // An edit reaches the chat as a message does.
    not_across_a_block(&target)?;
    if !target.may_send {
        return Err(super::messaging::admins_only());
    }
    if !EDITABLE_KINDS.contains(&target.kind.as_str()) || target.view_once {
        return Err(ApiError::PermissionDenied(
            "only a text message, or the caption of a photo, video or document, can be edited"
                .into(),
        ));
    }
    // A forwarded copy shows someone else's words, marked as theirs: changed, it would still
    // claim them (WhatsApp edits no forwarded message either).
    if target.forward_count > 0 {
        return Err(ApiError::PermissionDenied(
            "a forwarded message cannot be edited".into(),
        ));
    }
    within(&target, app.settings.edit_window, "edited")?;
    let mentions = mentions.filter(|m| *m != target.mentions);
    if let Some(mentions) = &mentions {
        let members = chats::current_member_ids(&tx, chat_id).await?;
        if !mentions.iter().all(|m| members.contains(m)) {
            return Err(super::messaging::mentions_of_others());
        }
    }
    if target.content.as_deref() != Some(content.as_str()) || mentions.is_some() {
        message_changes::edit(&tx, message_id, &content, mentions.as_deref()).await?;
        events::append_message_event(
            &tx,
            chat_id,
            Some(caller.user_id),
            None,
            "message:edited",
            message_id,
            None,
        )
        .await?;
    }
    tx.commit().await?;
    super::relay::wake(app, "message:edited").await;
    messages::by_id(&app.db, message_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("message"))
}

/// `GET /api/chats/{chatId}/messages/{messageId}/edits`: a message's earlier versions, oldest
/// first (none once it is deleted for everyone).
#[utoipa::path(get, path = "/api/chats/{chatId}/messages/{messageId}/edits", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Earlier versions, oldest first", body = Envelope<Vec<MessageEdit>>)))]
pub async fn edits(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Vec<MessageEdit>, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = visible(&tx, &caller, chat_id, message_id).await?;
    let edits = message_changes::edits(&tx, message_id, target.left_at).await?;
    tx.commit().await?;
    Ok(edits)
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}` (and `message:delete`): hide a message
/// from your own view, or erase it for everyone (its sender within the delete window, 60 hours
/// by default, or a group's admin at any time): its text, details, media and edit history are
/// erased and a tombstone stays. Deleting again answers the same.
#[utoipa::path(delete, path = "/api/chats/{chatId}/messages/{messageId}", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    request_body(content = Option<DeleteMessageRequest>, description = "Absent: delete for the caller only"),
    responses((status = 200, description = "Deleted", body = Envelope<MessageRemoved>)))]
pub async fn delete(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    body: DeleteMessageRequest,
    origin_connection: Option<&str>,
) -> Result<MessageRemoved, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = visible(&tx, &caller, chat_id, message_id).await?;
    let deletion = if body.delete_for_everyone {
        Deletion::ForEveryone
    } else {
        Deletion::ForMe
    };
    let removed = MessageRemoved {
        chat_id,
        message_id,
        deletion,
    };
    let notice = |deletion| {
        ServerEvent::MessageDeleted(MessageDeleted {
            chat_id,
            message_id,
            deletion,
            deleted_by: caller.user_id,
        })
    };
    match deletion {
        Deletion::ForMe => {
            // Its other devices hide it too.
            message_changes::hide(&tx, message_id, caller.user_id).await?;
            let event = notice(Deletion::ForMe);
            events::append_own_event_from(&tx, caller.user_id, origin_connection, &event).await?;
        }
        Deletion::ForEveryone => {
            if target.deleted {
                return Ok(removed);
            }
            if !target.member {
                return Err(super::participants::no_longer_a_member());
            }
            not_a_system_line(&target, "deleted for everyone")?;
            let sender = target.sender_id == Some(caller.user_id);
            let group_admin =
                target.chat_kind == ChatType::Group && target.role == ParticipantRole::Admin;
            if !sender && !group_admin {
                return Err(ApiError::PermissionDenied(
                    "only its sender or a group admin deletes a message for everyone".into(),
                ));
            }
            if !group_admin {
                within(&target, app.settings.delete_window, "deleted for everyone")?;
            }
            message_changes::erase(&tx, message_id, caller.user_id).await?;
            // No actor: a member who blocked the one deleting must still lose the message.
            let event = notice(Deletion::ForEveryone);
            events::append_event_about(&tx, chat_id, None, origin_connection, message_id, &event)
                .await?;
        }
    }
    tx.commit().await?;
    super::relay::wake(app, "message:deleted").await;
    Ok(removed)
}

/// `POST /api/chats/{chatId}/messages/{messageId}/reactions` (and `message:reaction`): react
/// with one emoji; a member has one reaction per message, so this replaces an earlier one. A
/// replaced reaction is published as taken back (`message:reaction:removed`) before the new one
/// is added, so a client that applies the events holds the same reactions as the history.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/reactions", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    request_body = AddReactionRequest,
    responses((status = 200, description = "The caller's reaction now", body = Envelope<ReactionSet>)))]
pub async fn react(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    body: AddReactionRequest,
    origin_connection: Option<&str>,
) -> Result<ReactionSet, ApiError> {
    let emoji = body.emoji;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = reactable(&tx, &caller, chat_id, message_id).await?;
    // Made in a 1:1 chat with someone who blocks the caller: kept from them for good.
    let kept_from = target.blocker;
    if let ReactionOutcome::Set { replaced } =
        message_changes::set_reaction(&tx, target.id, caller.user_id, emoji.as_str(), kept_from)
            .await?
    {
        let changed = |emoji: String| ReactionChanged {
            chat_id,
            message_id,
            user_id: caller.user_id,
            emoji,
        };
        if let Some(old) = replaced {
            let removed = changed(old.emoji);
            let event = ServerEvent::ReactionRemoved;
            publish_reaction(&tx, event, removed, old.kept_from, origin_connection).await?;
        }
        let added = changed(emoji.as_str().to_owned());
        let event = ServerEvent::ReactionAdded;
        publish_reaction(&tx, event, added, kept_from, origin_connection).await?;
    }
    tx.commit().await?;
    super::relay::wake(app, "message:reaction:added").await;
    Ok(ReactionSet {
        chat_id,
        message_id,
        emoji: Some(emoji.as_str().to_owned()),
    })
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}/reactions/{emoji}` (and
/// `message:reaction` with `remove`): take the caller's reaction back. 404 if they had not
/// reacted with this emoji.
#[utoipa::path(delete, path = "/api/chats/{chatId}/messages/{messageId}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path), ("emoji" = String, Path)),
    responses((status = 200, description = "Removed", body = Envelope<ReactionSet>)))]
pub async fn unreact(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    emoji: &str,
    origin_connection: Option<&str>,
) -> Result<ReactionSet, ApiError> {
    let emoji = Emoji::parse(emoji)?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = reactable(&tx, &caller, chat_id, message_id).await?;
    let Some(removed) =
        message_changes::remove_reaction(&tx, target.id, caller.user_id, emoji.as_str()).await?
    else {
        return Err(ApiError::NotFound("reaction"));
    };
    let change = ReactionChanged {
        chat_id,
        message_id,
        user_id: caller.user_id,
        emoji: removed.emoji,
    };
    let event = ServerEvent::ReactionRemoved;
    publish_reaction(&tx, event, change, removed.kept_from, origin_connection).await?;
    tx.commit().await?;
    super::relay::wake(app, "message:reaction:removed").await;
    Ok(ReactionSet {
        chat_id,
        message_id,
        emoji: None,
    })
}

/// Publish a change of a member's reaction (`ReactionAdded` or `ReactionRemoved`), in the
/// change's transaction; `origin_connection` has its answer. A change to a reaction kept from a
/// blocker (`kept_from`) is told to its member's own devices alone (their stream), where no
/// unblock brings it to the blocker.
async fn publish_reaction(
    tx: &impl deadpool_postgres::GenericClient,
    event: fn(ReactionChanged) -> ServerEvent,
    change: ReactionChanged,
    kept_from: Option<Uuid>,
    origin_connection: Option<&str>,
) -> Result<(), ApiError> {
    let (chat_id, user_id, message_id) = (change.chat_id, change.user_id, change.message_id);
    let event = event(change);
    if kept_from.is_some() {
        return events::append_own_event_from(tx, user_id, origin_connection, &event).await;
    }
    events::append_event_about(
        tx,
        chat_id,
        Some(user_id),
        origin_connection,
        message_id,
        &event,
    )
    .await
}

/// Refuse a change to `target` that would reach across a block (an edit, a vote, a pin, a
/// live location's move, keeping it): the caller blocks the other member of the 1:1 chat (and
/// is told to unblock them), or the other blocks the caller and sees the message. A message the
/// blocker never got (sent them while blocked, `db::messages::insert_many`) takes its sender's
/// changes: the blocker never sees them, and a refusal would tell its sender of the block.
pub(super) fn not_across_a_block(target: &Target) -> Result<(), ApiError> {
    if target.blocks_other {
        return Err(super::messaging::unblock_to_message());
    }
    if target.blocker.is_some() && !target.hidden_from_other {
        return Err(super::messaging::cannot_message());
    }
    Ok(())
}

/// A message the caller may react to: visible, not deleted, in a chat whose other member they
/// do not block. Someone blocked is not told so by a refusal: their reaction is stored, and
/// reaches the blocker neither pushed nor loaded, in a 1:1 chat ever (it is kept from them),
/// in a group while the block stands (`db::not_sent_while_blocked`, `Message::as_seen_by`).
async fn reactable(
    tx: &impl deadpool_postgres::GenericClient,
    caller: &Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<Target, ApiError> {
    let target = changeable(tx, caller, chat_id, message_id).await?;
    if target.deleted {
        return Err(ApiError::PermissionDenied(
            "a deleted message takes no reactions".into(),
        ));
    }
    if target.blocks_other {
        return Err(super::messaging::unblock_to_message());
    }
    not_a_system_line(&target, "reacted to")?;
    Ok(target)
}
