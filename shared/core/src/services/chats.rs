//! Creating and reading chats (PRD 1.4).

use uuid::Uuid;

use crate::api::models::{
    ChatDetails, ChatRemoval, ChatRemoved, ChatSummary, ChatType, Envelope, HistoryCleared,
    InvitationDeclined, InvitationListed, OffsetPagination, Page, PageEnvelope, ParticipantRole,
};
use crate::api::requests::{
    ChatListQuery, ChatSettingsPatch, ClearChatRequest, CreateChatRequest, Patch, UpdateChatRequest,
};
use crate::auth::tokens::Caller;
use crate::db::chats::{ChatChange, GroupMade, InvitationAnswer, MAX_PINNED_CHATS};
use crate::db::{chats, relationships, users};
use crate::domain::{AvatarUrl, ClientId};
use crate::error::ApiError;
use crate::App;

use super::presence::{self, Sightlines};
use super::profiles;

/// A chat and whether this request created it.
pub struct Opened {
    pub chat: ChatDetails,
    pub created: bool,
}

/// `POST /api/chats`. A 1:1 chat with someone you already have one with returns that chat (200
/// rather than 201). A 1:1 chat naming only yourself is your chat with yourself (WhatsApp's
/// "Message yourself"), which your other devices receive.
#[utoipa::path(post, path = "/api/chats", tag = "chats", security(("bearer" = [])),
    request_body = CreateChatRequest,
    responses(
        (status = 201, description = "The new chat", body = Envelope<ChatDetails>),
        (status = 200, description = "The 1:1 chat that already existed", body = Envelope<ChatDetails>),
    ))]
pub async fn create(
    app: &App,
    caller: Caller,
    body: CreateChatRequest,
) -> Result<Opened, ApiError> {
    let (ids, group) = match body {
        CreateChatRequest::Individual { participant_ids } => (participant_ids, None),
        CreateChatRequest::Group {
            participant_ids,
            name,
            description,
            avatar_url,
            avatar_media_id,
            client_chat_id,
        } => {
            if avatar_url.is_some() && avatar_media_id.is_some() {
                return Err(both_pictures());
            }
            if let Some(file) = avatar_media_id {
                super::media::own_picture(app, caller.user_id, file).await?;
            }
            let avatar = (avatar_url, avatar_media_id);
            (
                participant_ids,
                Some((name, description, avatar, client_chat_id)),
            )
        }
    };
    let named_self = ids.contains(&caller.user_id);
    let mut others: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids {
        if id != caller.user_id && !others.contains(&id) {
            others.push(id);
        }
    }
    if others.len() + 1 > app.settings.max_group_members {
        return Err(ApiError::Validation(format!(
            "a chat holds at most {} members",
            app.settings.max_group_members
        )));
    }
    if !users::all_exist(&app.db, &others).await? {
        return Err(ApiError::NotFound("user"));
    }
    // Whether the two people of a 1:1 chat were told each other's presence.
    let mut presence_told = false;
    // Those of a new group invited rather than added (their privacy).
    let mut invited = Vec::new();
    // A group made earlier with the same client id: answered, nothing made.
    let mut made_before = false;
    // The chat, whether it was made now, and whether its `chat:created` is in the log (a new
    // chat's, or one shown again to its opener).
    let (chat_id, created, announced) = match group {
        None => {
            // Naming only yourself opens your chat with yourself (WhatsApp's "Message
            // yourself"): notes, links and files your devices share.
            let other =
                match others.as_slice() {
                    [other] => other,
                    [] if named_self => &caller.user_id,
                    _ => return Err(ApiError::Validation(
                        "an individual chat has exactly one other participant (or only you, for \
                         your chat with yourself)"
                            .into(),
                    )),
                };
            // Someone who blocks the caller is not told so by a refusal: the chat opens, and
            // what the caller sends there reaches only their own devices
            // (`db::messages::insert_many`).
            if relationships::standing(&app.db, caller.user_id, *other)
                .await?
                .viewer_blocked_target
            {
                return Err(super::messaging::unblock_to_message());
            }
            let mut client = app.db.get().await?;
            let tx = client.transaction().await?;
            // From now on the two may see each other's presence (as their settings allow):
            // each is told the other's at once, as a chat header shows it.
            let before = Sightlines::between(&tx, caller.user_id, &[*other]).await?;
            let opened = chats::open_individual(&tx, caller.user_id, *other).await?;
            presence_told =
                presence::publish_sightline_changes(&tx, caller.user_id, before).await?;
            tx.commit().await?;
            (opened.chat_id, opened.created, opened.announced)
        }
        Some((name, description, (avatar_url, avatar_media_id), client_chat_id)) => {
            // Those whose privacy does not let the caller add them are invited instead. Those
            // who block the caller are answered as invited too, and never told (a refusal would
            // tell the caller of the block).
            let invitees =
                relationships::refusing_group_adds(&app.db, caller.user_id, &others).await?;
            let blockers = if invitees.is_empty() {
                Vec::new()
            } else {
                relationships::blocking(&app.db, caller.user_id, &invitees).await?
            };
            let mut members: Vec<Uuid> = others
                .iter()
                .copied()
                .filter(|u| !invitees.contains(u))
                .collect();
            members.push(caller.user_id);
            let description = description.and_then(|d| d.into_inner());
            let told_invitees: Vec<Uuid> = invitees
                .iter()
                .copied()
                .filter(|u| !blockers.contains(u))
                .collect();
            let made = chats::create_group(
                &app.db,
                chats::NewGroup {
                    creator: caller.user_id,
                    client_chat_id: client_chat_id.as_ref().map(ClientId::as_str),
                    name: name.as_str(),
                    description: description.as_deref(),
                    avatar: (avatar_url.as_ref().map(AvatarUrl::as_str), avatar_media_id),
                    members: &members,
                    invitees: &told_invitees,
                },
            )
            .await?;
            match made {
                GroupMade::Now(chat_id) => {
                    invited = invitees;
                    (chat_id, true, true)
                }
                GroupMade::Earlier(chat_id) => {
                    made_before = true;
                    (chat_id, false, false)
                }
            }
        }
    };
    let mut chat = chats::details(&app.db, chat_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    if made_before {
        // Answered as the first attempt was: those named who are not members are invited,
        // blockers among them, so the answer tells no block.
        invited = others
            .into_iter()
            .filter(|u| !chat.participants.iter().any(|p| p.id == *u))
            .collect();
    }
    chat.invited = invited;
    if announced || presence_told {
        // `chat:created` is in the log with the chat (its members read it through the relay or
        // sync, each with the chat as they see it).
        super::relay::wake(app, "chat:created").await;
    }
    let chat = with_participant_views(app, caller, chat).await?;
    Ok(Opened { chat, created })
}

/// A group has one picture: an outside address or an uploaded image (both null clears it).
fn both_pictures() -> ApiError {
    ApiError::Validation("send `avatarUrl` or `avatarMediaId`, not both".into())
}

/// `GET /api/chats/invitations`: the group invitations waiting for the caller's answer, newest
/// first; each waits three days (`expiresAt`), then is gone. The devices online are told of each as it comes (`chat:invitation`); a new device, or
/// one whose sync cursor expired, finds them here.
#[utoipa::path(get, path = "/api/chats/invitations", tag = "chats", security(("bearer" = [])),
    responses((status = 200, description = "Waiting invitations, newest first", body = Envelope<Vec<InvitationListed>>)))]
pub async fn invitations(app: &App, caller: Caller) -> Result<Vec<InvitationListed>, ApiError> {
    let mut waiting = chats::invitations_of(&app.db, caller.user_id).await?;
    let pictures = waiting
        .iter_mut()
        .map(|i| (i.avatar_media_id, &mut i.avatar_url));
    super::media::sign_pictures(app, pictures).await?;
    Ok(waiting)
}

/// `POST /api/chats/{chatId}/invitation`: accept an invitation to a group; the caller is a
/// member from now on (earlier messages are not theirs to read). A full group answers 409 and
/// the invitation stays, to accept once there is room.
#[utoipa::path(post, path = "/api/chats/{chatId}/invitation", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses(
        (status = 200, description = "The group, joined", body = Envelope<ChatDetails>),
        (status = 409, description = "The group is full"),
    ))]
pub async fn accept_invitation(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
) -> Result<ChatDetails, ApiError> {
    answered(app, chat_id, caller.user_id, true).await?;
    super::relay::wake(app, "chat:participant:joined").await;
    get(app, caller, chat_id).await
}

/// `DELETE /api/chats/{chatId}/invitation`: decline it.
#[utoipa::path(delete, path = "/api/chats/{chatId}/invitation", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses((status = 200, description = "Declined", body = Envelope<InvitationDeclined>)))]
pub async fn decline_invitation(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
) -> Result<InvitationDeclined, ApiError> {
    answered(app, chat_id, caller.user_id, false).await?;
    Ok(InvitationDeclined { declined: true })
}

/// Answer `user`'s invitation to `chat_id`, or say why it could not be.
async fn answered(app: &App, chat_id: Uuid, user: Uuid, accept: bool) -> Result<(), ApiError> {
    let max = app.settings.max_group_members;
    match chats::answer_invitation(&app.db, chat_id, user, accept, max).await? {
        InvitationAnswer::Answered => Ok(()),
        InvitationAnswer::NotFound => Err(ApiError::NotFound("invitation")),
        // As a full group answers one more member added or joining by link (409).
        InvitationAnswer::Full => Err(ApiError::AlreadyExists(format!(
            "the group is full ({max} members)"
        ))),
    }
}

/// `GET /api/chats/{chatId}`.
#[utoipa::path(get, path = "/api/chats/{chatId}", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses((status = 200, description = "The chat", body = Envelope<ChatDetails>)))]
pub async fn get(app: &App, caller: Caller, chat_id: Uuid) -> Result<ChatDetails, ApiError> {
    let chat = chats::details(&app.db, chat_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    with_participant_views(app, caller, chat).await
}

/// Add each participant's picture and online state as the caller may see them
/// (`profiles::public_view`), their own as they are; and the chat's picture: the group's, or in a
/// 1:1 chat the other person's.
async fn with_participant_views(
    app: &App,
    caller: Caller,
    mut chat: ChatDetails,
) -> Result<ChatDetails, ApiError> {
    super::media::sign_pictures(app, [(chat.avatar_media_id, &mut chat.avatar_url)]).await?;
    let ids: Vec<Uuid> = chat.participants.iter().map(|p| p.id).collect();
    let views = profiles::seen_by(app, caller.user_id, &ids).await?;
    for participant in &mut chat.participants {
        let Some(view) = views.get(&participant.id) else {
            continue;
        };
        participant.profile_picture_url = Some(view.profile_picture_url.clone());
        participant.is_online = Some(view.is_online);
    }
    // (A 1:1 chat alone names its other person.)
    if let Some(view) = chat.other_user_id.and_then(|id| views.get(&id)) {
        chat.avatar_url = view.profile_picture_url.clone();
        chat.avatar_media_id = view.profile_picture_media_id;
    }
    Ok(chat)
}

/// `GET /api/chats?limit&offset&archived&search&filter`.
#[utoipa::path(get, path = "/api/chats", tag = "chats", security(("bearer" = [])),
    params(ChatListQuery),
    responses((status = 200, description = "The caller's chats: pinned first, then most recently active first; archived ones only with `archived=true`", body = PageEnvelope<Vec<ChatSummary>, OffsetPagination>)))]
pub async fn list(
    app: &App,
    caller: Caller,
    q: ChatListQuery,
) -> Result<Page<Vec<ChatSummary>, OffsetPagination>, ApiError> {
    let (limit, offset) = (q.limit.0, q.offset.0);
    let search = q.search.as_ref().map(|s| s.0.as_str());
    let listing = chats::Listing {
        archived: q.archived,
        search,
        filter: q.filter,
    };
    let (mut page, total) = chats::list(&app.db, caller.user_id, limit, offset, listing).await?;
    let pictures = page
        .iter_mut()
        .map(|c| (c.avatar_media_id, &mut c.avatar_url));
    super::media::sign_pictures(app, pictures).await?;
    // A 1:1 chat shows the other person's picture, as they let the caller see it.
    let others: Vec<Uuid> = page.iter().filter_map(|c| c.other_user_id).collect();
    let views = profiles::seen_by(app, caller.user_id, &others).await?;
    for chat in &mut page {
        if let Some(view) = chat.other_user_id.and_then(|id| views.get(&id)) {
            chat.avatar_url = view.profile_picture_url.clone();
            chat.avatar_media_id = view.profile_picture_media_id;
        }
    }
    let pagination = OffsetPagination::new(limit, offset, page.len(), total);
    Ok(Page {
        items: page,
        pagination,
    })
}

/// `PUT /api/chats/{chatId}`: the group's name and description (its admins), and the caller's
/// own settings of the chat (mute, pin, archive), of a group they left too, until they delete
/// it. Answers the chat as the caller now sees it.
#[utoipa::path(put, path = "/api/chats/{chatId}", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    request_body = UpdateChatRequest,
    responses(
        (status = 200, description = "The chat, changed", body = Envelope<ChatDetails>),
        (status = 403, description = "Group info is changed by the group's admins (and a 1:1 chat has none)"),
    ))]
pub async fn update(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    mut body: UpdateChatRequest,
) -> Result<ChatDetails, ApiError> {
    if let Some(settings) = body.settings.as_mut() {
        check_mute(settings, chrono::Utc::now())?;
    }
    let role = {
        let client = app.db.get().await?;
        match chats::standing(&client, chat_id, caller.user_id).await? {
            Some(standing) => {
                may_change(&standing, &body)?;
                standing.role
            }
            // A group they left stays in their list, read-only, until they delete it: how it
            // shows there (archived, pinned, muted) is still theirs to change, as in WhatsApp.
            None if !body.changes_the_chat()
                && chats::kept_after_leaving(&client, chat_id, caller.user_id).await? =>
            {
                ParticipantRole::Member
            }
            None => {
                return Err(super::participants::not_a_member(app, chat_id, caller.user_id).await)
            }
        }
    };
    let changes_the_chat = body.changes_the_chat();
    if let Patch::Set(file) = body.avatar_media_id {
        super::media::own_picture(app, caller.user_id, file).await?;
    }
    let actor = chats::Acting {
        user: caller.user_id,
        role,
    };
    let shown = match chats::update(&app.db, chat_id, actor, body).await? {
        ChatChange::Changed { shown } => shown,
        ChatChange::TooManyPinned => {
            return Err(ApiError::Validation(format!(
                "at most {MAX_PINNED_CHATS} chats are pinned: unpin one first"
            )))
        }
        ChatChange::ArchivedNotPinned => return Err(ApiError::Validation(
            "`settings.pinChat`: an archived chat is not pinned (archiving unpins): unarchive it \
                 (`archived: false`, in the same request if you like) to pin it"
                .into(),
        )),
    };
    if let Some(shown) = shown {
        super::presence::chat_shown(app, shown.by, shown.to).await;
    }
    super::relay::wake(
        app,
        if changes_the_chat {
            "chat:updated"
        } else {
            "chat:settings"
        },
    )
    .await;
    get(app, caller, chat_id).await
}

/// Refuse what `standing` does not let its member change in `body`: in a group, its info and
/// timer (as its permissions say) and its permissions (admins); in a 1:1 chat, the timer while
/// a block stands either way, and the group things it has none of; both pictures at once.
fn may_change(standing: &chats::Standing, body: &UpdateChatRequest) -> Result<(), ApiError> {
    if body.changes_timer()
        && standing.kind == ChatType::Group
        && !standing.permissions.edit_info.lets(standing.role)
    {
        return Err(ApiError::PermissionDenied(
            "in this group, admins set disappearing messages".into(),
        ));
    }
    // The timer's change reaches the other as a message does: the blocker is told to unblock
    // first; someone blocked is refused too (the chat's one timer is both members', and a
    // change the blocker never saw would make their messages disappear).
    if body.changes_timer() && standing.blocks_other {
        return Err(super::messaging::unblock_to_message());
    }
    if body.changes_timer() && standing.blocked_by_other {
        return Err(super::messaging::cannot_message());
    }
    if (body.changes_group_info() || body.changes_permissions()) && standing.kind != ChatType::Group
    {
        return Err(ApiError::PermissionDenied(
            "a 1:1 chat has no name, description, picture or permissions to change".into(),
        ));
    }
    if body.changes_permissions() && standing.role != ParticipantRole::Admin {
        return Err(ApiError::PermissionDenied(
            "the group's admins change its permissions".into(),
        ));
    }
    if body.changes_group_info() && !standing.permissions.edit_info.lets(standing.role) {
        return Err(ApiError::PermissionDenied(
            "in this group, admins change its name and description".into(),
        ));
    }
    if matches!(
        (&body.avatar_url, &body.avatar_media_id),
        (Patch::Set(_), Patch::Set(_) | Patch::Clear) | (Patch::Clear, Patch::Set(_))
    ) {
        return Err(both_pictures());
    }
    Ok(())
}

/// A mute's end (`muteUntil`) must lie ahead, and mutes until then: alone, it is taken with
/// `muteNotifications: true`; with `false` (unmute) it contradicts it. Either way a mistaken
/// one is refused, not taken as "not muted".
fn check_mute(
    settings: &mut ChatSettingsPatch,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let Some(until) = settings.mute_until else {
        return Ok(());
    };
    if settings.mute_notifications == Some(false) {
        return Err(ApiError::Validation(
            "`settings.muteUntil`: a mute's end goes with `muteNotifications: true` (or alone), not with `false`"
                .into(),
        ));
    }
    if until <= now {
        return Err(ApiError::Validation(
            "`settings.muteUntil`: must be in the future".into(),
        ));
    }
    settings.mute_notifications = Some(true);
    Ok(())
}

/// `POST /api/chats/{chatId}/clear`: clear the chat's history so far for yourself (the others
/// keep theirs); it stays in your list, and so do the messages you starred, unless
/// `keepStarred` is `false` (WhatsApp's "Delete starred messages").
#[utoipa::path(post, path = "/api/chats/{chatId}/clear", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    request_body(content = Option<ClearChatRequest>, description = "Absent: starred messages stay"),
    responses((status = 200, description = "Cleared for the caller", body = Envelope<HistoryCleared>)))]
pub async fn clear(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    body: Option<ClearChatRequest>,
) -> Result<HistoryCleared, ApiError> {
    let keep_starred = body.unwrap_or_default().keep_starred.unwrap_or(true);
    let cleared = chats::clear_for_me(&app.db, chat_id, caller.user_id, keep_starred)
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    super::relay::wake(app, "chat:cleared").await;
    Ok(HistoryCleared {
        chat_id,
        cleared_seq: cleared.cleared_seq,
        kept_starred: cleared.kept_starred,
    })
}

/// `DELETE /api/chats/{chatId}`: leave a group (as `DELETE .../participants/{your id}`; you keep
/// it read-only as it was, `leftAt`), delete a group you left for yourself, or delete a 1:1
/// chat for yourself (it comes back with its next message, without the history).
#[utoipa::path(delete, path = "/api/chats/{chatId}", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses((status = 200, description = "Left, or deleted for the caller", body = Envelope<ChatRemoved>)))]
pub async fn delete(app: &App, caller: Caller, chat_id: Uuid) -> Result<ChatRemoved, ApiError> {
    let client = app.db.get().await?;
    let in_group = chats::group_role(&client, chat_id, caller.user_id)
        .await?
        .is_some();
    drop(client);
    if in_group {
        let user = caller.user_id;
        super::participants::remove(app, caller, chat_id, user).await?;
        return Ok(ChatRemoved {
            chat_id,
            status: ChatRemoval::Left,
        });
    }
    // A 1:1 chat out of one's list takes its partner's presence with it (V60): told at once.
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let before = match chats::partner_in(&tx, chat_id, caller.user_id).await? {
        Some(partner) => Some(Sightlines::between(&tx, caller.user_id, &[partner]).await?),
        None => None,
    };
    if !chats::delete_for_me(&tx, chat_id, caller.user_id).await? {
        return Err(ApiError::NotFound("chat"));
    }
    if let Some(before) = before {
        presence::publish_sightline_changes(&tx, caller.user_id, before).await?;
    }
    tx.commit().await?;
    super::relay::wake(app, "chat:deleted").await;
    Ok(ChatRemoved {
        chat_id,
        status: ChatRemoval::Deleted,
    })
}
