//! Sending messages and reading history (PRD 3, API.md "Messages"). A send is acknowledged only
//! once the message and its event are stored together; the relay delivers it from the log.

use uuid::Uuid;

use crate::api::models::{
    CursorPagination, Envelope, LiveLocation, Message, Page, PageEnvelope, ProcessingStatus,
    Timestamp, ViewOnceOpened,
};
use crate::api::requests::{
    ForwardMessageRequest, GalleryKind, GalleryQuery, HistoryQuery, LiveLocationUpdate,
    SendMessageRequest,
};
use crate::api::ws::{MessageOpened, ServerEvent};
use crate::auth::tokens::Caller;
use crate::content;
use crate::db::messages::{self, Cursor, NewMessage, Only, RateLimitHit, Stored};
use crate::db::{message_changes, Planning};
use crate::error::ApiError;
use crate::App;

use super::receipts::Deliveries;

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
        media_id,
        mentions,
        view_once,
    } = body;
    if view_once && !matches!(kind.as_str(), "image" | "video") {
        return Err(ApiError::Validation(
            "only an image or a video is sent view-once".into(),
        ));
    }
    if view_once && content.is_some() {
        return Err(ApiError::Validation(
            "a view-once message has no caption".into(),
        ));
    }
    let content = content.as_deref();
    let mentions = mentions.unwrap_or_default();
    let content::Checked { metadata, sealing } = content::check(
        content::Draft {
            kind: kind.as_str(),
            content,
            metadata: metadata.unwrap_or_default(),
            media_id,
            mentions: &mentions,
        },
        app.settings.max_message_chars,
    )?;
    if let Some(content::Sealing::Envelopes(sealed)) = &sealing {
        sealed_for_the_chat(app, caller, chat_id, sealed).await?;
    }

    let new = NewMessage {
        id: Uuid::now_v7(),
        chat_id,
        sender_id: caller.user_id,
        client_message_id: client_message_id.as_str().to_owned(),
        kind: kind.as_str().to_owned(),
        content: content.map(str::to_owned),
        reply_to,
        metadata,
        media_id,
        mentions,
        forward_of: None,
        view_once,
        origin_connection: origin_connection.map(str::to_owned),
        rate_limit: Some(messages_limit(app, &caller)),
    };
    let message = stored(app, caller, chat_id, app.sends.insert_or_find(new).await?).await?;
    // Stored with its event: from here delivery cannot be lost. Wake the relay now (the fast
    // path); if the queue is down, the relay's schedule delivers it a little later.
    super::relay::wake(app, "message:received").await;
    let mut message = message.for_device(caller.session_id);
    super::media::sign_message_files(app, [&mut message]).await?;
    Ok(message)
}

/// Refuse an encrypted message to `chat_id` sealed for `sealed` unless that is exactly each
/// device with keys of the chat's members but the sending one (a member's device added or gone
/// since the sender last looked is named in the error's `details`). Only members learn the
/// devices. (A sender-key message is one ciphertext for all: nothing to match.)
async fn sealed_for_the_chat(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    sealed: &std::collections::BTreeSet<Uuid>,
) -> Result<(), ApiError> {
    let client = app.db.get().await?;
    if !crate::db::chats::current_member_ids(&client, chat_id)
        .await?
        .contains(&caller.user_id)
    {
        drop(client);
        return Err(super::participants::not_a_member(app, chat_id, caller.user_id).await);
    }
    let devices: std::collections::BTreeSet<Uuid> =
        crate::db::device_keys::of_chat(&client, chat_id)
            .await?
            .into_iter()
            .filter(|d| *d != caller.session_id)
            .collect();
    if devices != *sealed {
        return Err(ApiError::DevicesChanged {
            missing: devices.difference(sealed).copied().collect(),
            extra: sealed.difference(&devices).copied().collect(),
        });
    }
    Ok(())
}

/// The rate limit each message a user sends counts against (in the statement that stores it).
fn messages_limit(app: &App, caller: &Caller) -> RateLimitHit {
    RateLimitHit {
        bucket: format!("messages:user:{}", caller.user_id),
        limit: app.settings.rate_limits.messages,
    }
}

/// Why a 1:1 chat whose other member deleted their account takes no messages or calls (it stays
/// readable to the one left).
pub(super) fn partner_gone() -> ApiError {
    ApiError::PermissionDenied("the other person in this chat deleted their account".into())
}

/// Why someone may not message (nor react, vote, edit or move a live location for) a person
/// who blocked them or whom they blocked.
pub(super) fn cannot_message() -> ApiError {
    ApiError::PermissionDenied("you cannot message this user".into())
}

/// Why someone may not message (or open a chat with) a person they block. (Someone blocked is
/// not refused: what they send is stored and reaches only their own devices.)
pub(super) fn unblock_to_message() -> ApiError {
    ApiError::PermissionDenied("you blocked this user: unblock them to message them".into())
}

/// Why a member of a group where only admins send may not send (or show that they type).
pub(super) fn admins_only() -> ApiError {
    ApiError::PermissionDenied("only the group's admins send messages here".into())
}

/// The message an insert into `chat_id` stored or found, or why it refused.
async fn stored(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    outcome: Stored,
) -> Result<Message, ApiError> {
    match outcome {
        Stored::RateLimited { retry_after_secs } => Err(ApiError::RateLimited { retry_after_secs }),
        Stored::Created {
            message,
            shows_chat_to,
        } => {
            if let Some(other) = shows_chat_to {
                super::presence::chat_shown(app, caller.user_id, other).await;
            }
            Ok(*message)
        }
        Stored::Existing { id } => messages::by_id(&app.db, id, caller.user_id)
            .await?
            .ok_or(ApiError::NotFound("message")),
        Stored::NotMember => {
            Err(super::participants::not_a_member(app, chat_id, caller.user_id).await)
        }
        Stored::AdminsOnly => Err(admins_only()),
        Stored::Blocked => Err(unblock_to_message()),
        Stored::PartnerGone => Err(partner_gone()),
        Stored::BadReply => Err(ApiError::Validation(
            "`replyToId` is not a message you can see of this chat (or, in a 1:1, one the other \
             member sent in a chat you share), or it was deleted, or is a system message"
                .into(),
        )),
        Stored::BadMedia => Err(ApiError::Validation(
            "`mediaId` names no file of this type that you uploaded for this chat".into(),
        )),
        Stored::BadMentions => Err(mentions_of_others()),
        Stored::IdReusedElsewhere => Err(ApiError::AlreadyExists(
            "this clientMessageId was already used in another chat".into(),
        )),
    }
}

/// The error for `mentions` naming someone who is not a member of the chat.
pub(super) fn mentions_of_others() -> ApiError {
    ApiError::Validation("`mentions` may name only members of this chat".into())
}

/// Chats one forward may reach at once (WhatsApp).
pub const MAX_FORWARD_CHATS: usize = 5;

/// `POST /api/chats/{chatId}/messages/{messageId}/forward`: copy a message you can see into up
/// to 5 of your chats (one at a time once it is "forwarded many times", 5 hops from its
/// original). Each copy is marked forwarded with one more hop, reuses the original's file, and
/// is sent as any message is (membership, permissions, blocks), chat after chat in the order
/// given: a chat that refuses it ends the forward with its refusal, and the copies made before
/// it stay sent. A repeated forward of the same message to the same chat returns the copy
/// already made, unless it names another `clientForwardId`. A system line, an encrypted or
/// view-once message and a live location are not forwarded.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/forward", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    request_body = ForwardMessageRequest,
    responses((status = 200, description = "The copies, one per chat, in the order asked", body = Envelope<Vec<Message>>)))]
pub async fn forward(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    body: ForwardMessageRequest,
) -> Result<Vec<Message>, ApiError> {
    let mut targets: Vec<Uuid> = Vec::new();
    for chat in body.chat_ids.iter().copied() {
        if !targets.contains(&chat) {
            targets.push(chat);
        }
    }
    let client = app.db.get().await?;
    // (A disappeared message is not copied anywhere.)
    let source = message_changes::find_visible(&client, chat_id, message_id, caller.user_id)
        .await?
        .filter(|m| !m.expired)
        .ok_or(ApiError::NotFound("message"))?;
    drop(client);
    let original = messages::by_id(&app.db, message_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    // An encrypted message is sealed for its chat's devices: it is sent again, not forwarded.
    if source.deleted
        || matches!(source.kind.as_str(), "system" | "encrypted")
        || original.view_once
    {
        return Err(ApiError::PermissionDenied(
            "this message cannot be forwarded".into(),
        ));
    }
    // Its copy would be a live location of the forwarder's, which they could move.
    if original.metadata.contains_key("liveSeconds") {
        return Err(ApiError::PermissionDenied(
            "a live location cannot be forwarded".into(),
        ));
    }
    let hops = source.forward_count + 1;
    if source.forward_count >= messages::FORWARDED_MANY_TIMES && targets.len() > 1 {
        return Err(ApiError::PermissionDenied(
            "a message forwarded many times goes to one chat at a time".into(),
        ));
    }
    let mut copies = Vec::with_capacity(targets.len());
    let mut refused = None;
    for target in targets {
        let client_message_id = match &body.client_forward_id {
            Some(forward) => format!("fwd:{}:{target}", forward.as_str()),
            None => format!("fwd:{message_id}:{target}"),
        };
        let new = NewMessage {
            id: Uuid::now_v7(),
            chat_id: target,
            sender_id: caller.user_id,
            client_message_id,
            kind: original.kind.clone(),
            content: original.content.clone(),
            reply_to: None,
            metadata: original.metadata.clone(),
            media_id: original.media_id,
            mentions: Vec::new(),
            forward_of: Some((message_id, hops)),
            view_once: false,
            origin_connection: None,
            rate_limit: Some(messages_limit(app, &caller)),
        };
        let outcome = match app.sends.insert_or_find(new).await {
            Ok(outcome) => stored(app, caller, target, outcome).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(copy) => copies.push(copy),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    // The copies stored before a refusal are sent all the same (asked again, the forward finds
    // them): they go out now, not with the relay's next scheduled run.
    if !copies.is_empty() {
        super::relay::wake(app, "message:received").await;
    }
    match refused {
        Some(e) => Err(e),
        None => answered(app, copies, caller).await,
    }
}

/// `GET /api/chats/{chatId}/messages?limit&before&after&around&type&search`.
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
        only: Only::Everything,
        file_name: None,
        words: q.search.as_ref().map(|w| w.0.as_str()),
    };
    history_page(app, caller, chat_id, cursor, limit).await
}

/// `POST /api/chats/{chatId}/messages/{messageId}/open`: open a view-once picture or video.
/// Each recipient gets its file once, with signed URLs to it (the message never names it, and
/// `GET /api/media/{fileId}` refuses it once opened); a second time, or its sender, is refused.
/// Its sender is told (`message:opened`) as read receipts allow, and the recipient's other
/// devices are told.
#[utoipa::path(post, path = "/api/chats/{chatId}/messages/{messageId}/open", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "The file, this once", body = Envelope<ViewOnceOpened>)))]
pub async fn open_view_once(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<ViewOnceOpened, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = message_changes::lock_visible(&tx, chat_id, message_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    let Some(media_id) = target
        .media_id
        .filter(|_| target.view_once && !target.deleted)
    else {
        return Err(ApiError::NotFound("view-once message"));
    };
    if target.sender_id == Some(caller.user_id) {
        return Err(ApiError::PermissionDenied(
            "a view-once message is for its recipients".into(),
        ));
    }
    // The file as the recipient may see it until now (read before the view is recorded, which
    // ends that), signed once the view commits. One still being processed has nothing to show
    // yet: the view is not spent on it.
    let file = crate::db::media::visible(&tx, media_id, caller.user_id).await?;
    let (opened_at, first) = messages::mark_viewed(&tx, message_id, caller.user_id).await?;
    if !first {
        return Err(ApiError::PermissionDenied("already opened".into()));
    }
    let file = file.ok_or(ApiError::NotFound("file"))?;
    match ProcessingStatus::parse(&file.status) {
        ProcessingStatus::Completed => {}
        ProcessingStatus::Failed => return Err(ApiError::NotFound("file")),
        ProcessingStatus::Pending | ProcessingStatus::Processing => {
            return Err(ApiError::AlreadyExists(
                "the file is still being processed: open it once it is ready".into(),
            ))
        }
    }
    let event = ServerEvent::MessageOpened(MessageOpened {
        chat_id,
        message_id,
        opened_by: caller.user_id,
        opened_at: Timestamp(opened_at),
    });
    // (Not from a former member, who opens it for themselves.)
    let sender = target.sender_id.filter(|_| target.member);
    super::receipts::tell_viewed(&tx, chat_id, caller.user_id, sender, None, &event).await?;
    tx.commit().await?;
    super::relay::wake(app, "message:opened").await;
    Ok(ViewOnceOpened {
        message_id,
        media_id,
        media: super::media::media_file(app, &file).await?,
    })
}

/// `GET /api/chats/{chatId}/media?type&limit&before`: the chat's media gallery, the messages
/// showing a file (`type` narrows it), or with `type=link` the text messages holding a link, as
/// the caller may see them, paged back from the newest.
#[utoipa::path(get, path = "/api/chats/{chatId}/media", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), GalleryQuery),
    responses((status = 200, description = "A page of media messages, oldest first", body = PageEnvelope<Vec<Message>, CursorPagination>)))]
pub async fn gallery(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    q: GalleryQuery,
) -> Result<Page<Vec<Message>, CursorPagination>, ApiError> {
    let limit = q.limit.0;
    let cursor = Cursor {
        before: q.before,
        after: None,
        around: None,
        kind: q.kind.and_then(|k| k.file_type()),
        only: match q.kind {
            Some(GalleryKind::Link) => Only::Links,
            _ => Only::Files,
        },
        file_name: q.file_name.as_ref().map(|f| f.0.as_str()),
        words: None,
    };
    history_page(app, caller, chat_id, cursor, limit).await
}

/// `PUT /api/chats/{chatId}/messages/{messageId}/location`: the sender moves their live
/// location while it lasts (`liveSeconds` from when it was sent); the chat's members get
/// `message:location:updated`.
#[utoipa::path(put, path = "/api/chats/{chatId}/messages/{messageId}/location", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    request_body = LiveLocationUpdate,
    responses((status = 200, description = "The live location now", body = Envelope<LiveLocation>)))]
pub async fn move_live_location(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    body: LiveLocationUpdate,
) -> Result<LiveLocation, ApiError> {
    let valid =
        (-90.0..=90.0).contains(&body.latitude) && (-180.0..=180.0).contains(&body.longitude);
    if !valid {
        return Err(ApiError::Validation(
            "latitude is -90 to 90 and longitude -180 to 180".into(),
        ));
    }
    let position = Some((body.latitude, body.longitude));
    live_location(app, caller, chat_id, message_id, position).await
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}/location`: stop sharing a live location.
/// Stopping one that has ended already answers where it ended, and tells the chat nothing.
#[utoipa::path(delete, path = "/api/chats/{chatId}/messages/{messageId}/location", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "Stopped", body = Envelope<LiveLocation>)))]
pub async fn stop_live_location(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<LiveLocation, ApiError> {
    live_location(app, caller, chat_id, message_id, None).await
}

/// Move (`Some`) or stop (`None`) a live location, and tell the chat.
async fn live_location(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    position: Option<(f64, f64)>,
) -> Result<LiveLocation, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = message_changes::lock_visible(&tx, chat_id, message_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    let message = messages::by_ids(&tx, &[message_id], Planning::PerCall)
        .await?
        .remove(&message_id)
        .ok_or(ApiError::NotFound("message"))?;
    let live_seconds = message.metadata.get("liveSeconds").and_then(|v| v.as_i64());
    let stopped = message.metadata.contains_key("liveStopped");
    let (Some(seconds), false, "location") = (live_seconds, target.deleted, target.kind.as_str())
    else {
        return Err(ApiError::NotFound("live location"));
    };
    if !target.member {
        return Err(super::participants::no_longer_a_member());
    }
    if target.sender_id != Some(caller.user_id) {
        return Err(ApiError::PermissionDenied(
            "only its sender moves a live location".into(),
        ));
    }
    if position.is_some() {
        super::message_changes::not_across_a_block(&target)?;
    }
    let live_until = target.created_at + chrono::Duration::seconds(seconds);
    let stored = |key: &str| {
        message
            .metadata
            .get(key)
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    if stopped || live_until <= chrono::Utc::now() {
        if position.is_some() {
            return Err(ApiError::PermissionDenied(
                "this live location has ended".into(),
            ));
        }
        // Stopping one that has ended (a stop retried after a lost answer): where it ended,
        // and nothing new to tell the chat.
        return Ok(LiveLocation {
            chat_id,
            message_id,
            latitude: stored("latitude"),
            longitude: stored("longitude"),
            live: false,
            live_until: Timestamp(live_until),
        });
    }
    messages::update_live_location(&tx, message_id, position).await?;
    let (latitude, longitude) = position.unwrap_or((stored("latitude"), stored("longitude")));
    let state = LiveLocation {
        chat_id,
        message_id,
        latitude,
        longitude,
        live: position.is_some(),
        live_until: Timestamp(live_until),
    };
    let event = ServerEvent::LocationUpdated(state.clone());
    crate::db::events::append_event_about(
        &tx,
        chat_id,
        Some(caller.user_id),
        None,
        message_id,
        &event,
    )
    .await?;
    tx.commit().await?;
    super::relay::wake(app, event.name()).await;
    Ok(state)
}

/// A page of the caller's history of a chat (404 if they are not a member), with the cursors
/// of its ends.
async fn history_page(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    cursor: Cursor<'_>,
    limit: i64,
) -> Result<Page<Vec<Message>, CursorPagination>, ApiError> {
    let messages::HistoryPage {
        messages: page,
        has_more,
        delivered_to_viewer,
    } = messages::history(&app.db, chat_id, caller.user_id, cursor, limit)
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    if let Some(watermark) = delivered_to_viewer {
        // The page is answered even if its receipt is not recorded: the next read, sync or
        // push records it.
        if let Err(e) = delivered_through_history(app, caller.user_id, &page, watermark).await {
            tracing::warn!(error = %e, %chat_id, "the history's delivery receipt was not recorded");
        }
    }
    let pagination = CursorPagination {
        limit,
        has_more,
        before: page.first().map(|m| m.id),
        after: page.last().map(|m| m.id),
    };
    Ok(Page {
        items: answered(app, page, caller).await?,
        pagination,
    })
}

/// A device that loads the history (a client that never syncs, as the PRD's, reads missed
/// messages so) has got the messages in it: those from others after the reader's delivery
/// watermark count as delivered, and their senders are told, as when the relay or
/// `/api/sync` hands a message over.
async fn delivered_through_history(
    app: &App,
    reader: Uuid,
    page: &[Message],
    watermark: i64,
) -> Result<(), ApiError> {
    let mut deliveries = Deliveries::default();
    for m in page.iter().filter(|m| m.seq > watermark) {
        if let Some(sender) = &m.sender {
            deliveries.add(m.chat_id, sender.id, reader, m.seq, m.id);
        }
    }
    if deliveries.is_empty() {
        return Ok(());
    }
    super::receipts::record_handed_over(app, &mut app.db.get().await?, &deliveries).await
}

/// Messages as the caller's device is answered them ([`Message::for_device`]), with signed
/// URLs to their files and their senders' pictures ([`with_urls`]).
pub(super) async fn answered(
    app: &App,
    messages: Vec<Message>,
    caller: Caller,
) -> Result<Vec<Message>, ApiError> {
    let mut messages: Vec<Message> = messages
        .into_iter()
        .map(|m| m.for_device(caller.session_id))
        .collect();
    with_urls(app, caller, &mut messages).await?;
    Ok(messages)
}

/// Give messages listed to the caller signed URLs: to their files (`media::sign_message_files`)
/// and to their senders' profile pictures, as each sender's privacy shows it to the caller.
pub(super) async fn with_urls<'a>(
    app: &App,
    caller: Caller,
    messages: impl IntoIterator<Item = &'a mut Message>,
) -> Result<(), ApiError> {
    let mut messages: Vec<&mut Message> = messages.into_iter().collect();
    super::media::sign_message_files(app, messages.iter_mut().map(|m| &mut **m)).await?;
    let mut senders: Vec<Uuid> = messages
        .iter()
        .filter_map(|m| m.sender.as_ref().map(|s| s.id))
        .collect();
    senders.sort_unstable();
    senders.dedup();
    let seen = super::profiles::seen_by(app, caller.user_id, &senders).await?;
    for sender in messages.iter_mut().filter_map(|m| m.sender.as_mut()) {
        sender.profile_picture_url = seen
            .get(&sender.id)
            .and_then(|user| user.profile_picture_url.clone());
    }
    Ok(())
}
