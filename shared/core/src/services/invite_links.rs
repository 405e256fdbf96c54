//! Group invite links (API.md, "Paths the PRD leaves open"): admins make, reset, show and
//! revoke a group's link, optionally expiring and optionally needing their approval; anyone
//! holding the code sees which group it is (name, picture, size) and follows it (REST or
//! `chat:join`) and joins, or asks to. Refused: an unknown, revoked or expired code (404), a
//! full group (409), someone an admin blocked (403), and someone an admin removed, unless the
//! link asks the admins first (403). Admins list the waiting requests and approve or reject
//! each; the requester is told either way, and may withdraw a request still waiting.

use chrono::Utc;
use uuid::Uuid;

use crate::api::models::{
    Envelope, InviteFollowed, InviteLinkCreated, InviteLinkRevoked, InvitePreview,
    JoinRequestDecided, JoinRequestListed, JoinRequestWithdrawn, JoinStatus, ParticipantRole,
};
use crate::api::requests::{CreateInviteLinkRequest, QrQuery};
use crate::auth::tokens::{new_opaque_token, Caller};
use crate::db::chats::Acting;
use crate::db::invite_links::{self, Answer, InviteLink, Joining};
use crate::error::ApiError;
use crate::{qr, App};

/// The caller is an admin of the group: 400 for a 1:1 chat, 404 if not a member, 403 if not
/// an admin. A change then made checks it again under the group's lock (the [`Acting`]).
async fn require_admin(app: &App, chat_id: Uuid, caller: &Caller) -> Result<Acting, ApiError> {
    if super::participants::caller_role(app, chat_id, caller).await? != ParticipantRole::Admin {
        return Err(ApiError::PermissionDenied(
            "only the group's admins manage its invite link".into(),
        ));
    }
    Ok(Acting {
        user: caller.user_id,
        role: ParticipantRole::Admin,
    })
}

fn shown(app: &App, link: InviteLink) -> InviteLinkCreated {
    InviteLinkCreated {
        url: format!("{}/invite/{}", app.settings.public_url, link.code),
        code: link.code,
        expires_at: link.expires_at.map(Into::into),
        require_approval: link.require_approval,
    }
}

/// `POST /api/chats/{chatId}/invite-link`: a new link (an earlier one stops working).
#[utoipa::path(post, path = "/api/chats/{chatId}/invite-link", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    request_body(content = Option<CreateInviteLinkRequest>, description = "Absent: a link that never expires and needs no approval"),
    responses(
        (status = 200, description = "The link", body = Envelope<InviteLinkCreated>),
        (status = 403, description = "The caller is not an admin"),
    ))]
pub async fn create(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    body: Option<CreateInviteLinkRequest>,
) -> Result<InviteLinkCreated, ApiError> {
    let body = body.unwrap_or_default();
    let expires_at = body
        .expires_in_seconds
        .map(|secs| Utc::now() + chrono::Duration::seconds(secs.0));
    let admin = require_admin(app, chat_id, &caller).await?;
    // 128 random bits, base64url (22 characters).
    let code = new_opaque_token().0[..22].to_owned();
    let link = invite_links::replace(
        &app.db,
        chat_id,
        &code,
        admin,
        expires_at,
        body.require_approval,
    )
    .await?;
    Ok(shown(app, link))
}

/// `GET /api/chats/{chatId}/invite-link`: the group's live link, for an admin to share again
/// (making a new one would stop the old one working for everyone it was given to).
#[utoipa::path(get, path = "/api/chats/{chatId}/invite-link", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses(
        (status = 200, description = "The live link", body = Envelope<InviteLinkCreated>),
        (status = 403, description = "The caller is not an admin"),
        (status = 404, description = "The group has no live link"),
    ))]
pub async fn current(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
) -> Result<InviteLinkCreated, ApiError> {
    require_admin(app, chat_id, &caller).await?;
    let link = invite_links::current(&app.db, chat_id)
        .await?
        .ok_or(ApiError::NotFound("invite link"))?;
    Ok(shown(app, link))
}

/// `DELETE /api/chats/{chatId}/invite-link`: the code stops working.
#[utoipa::path(delete, path = "/api/chats/{chatId}/invite-link", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses(
        (status = 200, description = "Revoked", body = Envelope<InviteLinkRevoked>),
        (status = 403, description = "The caller is not an admin"),
    ))]
pub async fn revoke(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
) -> Result<InviteLinkRevoked, ApiError> {
    let admin = require_admin(app, chat_id, &caller).await?;
    if !invite_links::revoke(&app.db, chat_id, admin).await? {
        return Err(ApiError::NotFound("invite link"));
    }
    Ok(InviteLinkRevoked { revoked: true })
}

/// `GET /api/chats/{chatId}/invite-link/qr?format=png|svg`: the live link as a QR code
/// (admins, who also see the link itself).
#[utoipa::path(get, path = "/api/chats/{chatId}/invite-link/qr", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), QrQuery),
    responses(
        (status = 200, description = "The QR code of the link's URL", content(
            (Vec<u8> = "image/png"),
            (String = "image/svg+xml"),
        )),
        (status = 403, description = "The caller is not an admin"),
        (status = 404, description = "The group has no live link"),
    ))]
pub async fn qr(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    query: QrQuery,
) -> Result<crate::api::models::RawFile, ApiError> {
    require_admin(app, chat_id, &caller).await?;
    let link = invite_links::current(&app.db, chat_id)
        .await?
        .ok_or(ApiError::NotFound("invite link"))?;
    qr::encode(&shown(app, link).url, query.format)
}

/// Whether `code` is shaped as the codes links are made with (others are not looked up).
fn well_formed(code: &str) -> bool {
    code.len() == 22
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /api/invites/{code}`: the group a code invites to, before joining it.
#[utoipa::path(get, path = "/api/invites/{code}", tag = "chats", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses(
        (status = 200, description = "The group", body = Envelope<InvitePreview>),
        (status = 403, description = "An admin of the group blocked the caller"),
        (status = 404, description = "No such link: unknown, revoked or expired"),
    ))]
pub async fn preview(app: &App, caller: Caller, code: &str) -> Result<InvitePreview, ApiError> {
    if !well_formed(code) {
        return Err(ApiError::NotFound("invite link"));
    }
    match invite_links::preview(&app.db, code, caller.user_id).await? {
        None => Err(ApiError::NotFound("invite link")),
        Some((_, true)) => Err(cannot_join()),
        Some((mut group, false)) => {
            let picture = (group.avatar_media_id, &mut group.avatar_url);
            super::media::sign_pictures(app, [picture]).await?;
            Ok(group)
        }
    }
}

fn cannot_join() -> ApiError {
    ApiError::PermissionDenied("you cannot join this group".into())
}

/// `POST /api/invites/{code}/join` (and `chat:join`): join the group, or ask to when its link
/// needs approval.
#[utoipa::path(post, path = "/api/invites/{code}/join", tag = "chats", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses(
        (status = 200, description = "Joined (or already a member), or the request waits", body = Envelope<InviteFollowed>),
        (status = 403, description = "An admin of the group blocked the caller, or removed them (and the link does not ask the admins)"),
        (status = 404, description = "No such link: unknown, revoked or expired"),
        (status = 409, description = "The group is full"),
    ))]
pub async fn join(app: &App, caller: Caller, code: &str) -> Result<InviteFollowed, ApiError> {
    if !well_formed(code) {
        return Err(ApiError::NotFound("invite link"));
    }
    let max = app.settings.max_group_members;
    let chat_id = match invite_links::join(&app.db, code, caller.user_id, max).await? {
        Joining::Joined(chat_id) => {
            super::relay::wake(app, "chat:participant:joined").await;
            chat_id
        }
        Joining::AlreadyMember(chat_id) => chat_id,
        Joining::Requested(chat_id) => {
            super::relay::wake(app, "chat:join_request").await;
            return Ok(InviteFollowed {
                chat_id,
                status: JoinStatus::Requested,
                chat: None,
            });
        }
        Joining::Full => {
            return Err(ApiError::AlreadyExists(format!(
                "the group is full ({max} members)"
            )))
        }
        Joining::Refused => return Err(cannot_join()),
        Joining::Removed => {
            return Err(ApiError::PermissionDenied(
                "an admin removed you from this group: only an admin can add you back".into(),
            ))
        }
    };
    let chat = super::chats::get(app, caller, chat_id).await?;
    Ok(InviteFollowed {
        chat_id,
        status: JoinStatus::Joined,
        chat: Some(Box::new(chat)),
    })
}

/// `GET /api/chats/{chatId}/join-requests`: who waits for approval (admins).
#[utoipa::path(get, path = "/api/chats/{chatId}/join-requests", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses(
        (status = 200, description = "Waiting requests, oldest first", body = Envelope<Vec<JoinRequestListed>>),
        (status = 403, description = "The caller is not an admin"),
    ))]
pub async fn requests(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
) -> Result<Vec<JoinRequestListed>, ApiError> {
    require_admin(app, chat_id, &caller).await?;
    let mut waiting = invite_links::requests(&app.db, chat_id).await?;
    let ids: Vec<Uuid> = waiting.iter().map(|r| r.user_id).collect();
    let seen = super::profiles::seen_by(app, caller.user_id, &ids).await?;
    for request in &mut waiting {
        let view = seen.get(&request.user_id);
        request.profile_picture_url = view.and_then(|v| v.profile_picture_url.clone());
    }
    Ok(waiting)
}

/// `POST /api/chats/{chatId}/join-requests/{userId}/approve` (or `/reject`): the requester
/// joins (or not), and is told.
#[utoipa::path(post, path = "/api/chats/{chatId}/join-requests/{userId}/approve", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("userId" = Uuid, Path)),
    responses(
        (status = 200, description = "Approved: a member now", body = Envelope<JoinRequestDecided>),
        (status = 403, description = "The caller is not an admin"),
        (status = 404, description = "No such request"),
        (status = 409, description = "The group is full"),
    ))]
pub async fn approve(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    user: Uuid,
) -> Result<JoinRequestDecided, ApiError> {
    decide(app, caller, chat_id, user, true).await
}

/// `POST /api/chats/{chatId}/join-requests/{userId}/reject`.
#[utoipa::path(post, path = "/api/chats/{chatId}/join-requests/{userId}/reject", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("userId" = Uuid, Path)),
    responses(
        (status = 200, description = "Rejected", body = Envelope<JoinRequestDecided>),
        (status = 403, description = "The caller is not an admin"),
        (status = 404, description = "No such request"),
    ))]
pub async fn reject(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    user: Uuid,
) -> Result<JoinRequestDecided, ApiError> {
    decide(app, caller, chat_id, user, false).await
}

/// `DELETE /api/chats/{chatId}/join-request`: the caller takes back their waiting request to
/// join (WhatsApp's "Cancel request"); the group's admins see it go.
#[utoipa::path(delete, path = "/api/chats/{chatId}/join-request", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    responses(
        (status = 200, description = "Withdrawn", body = Envelope<JoinRequestWithdrawn>),
        (status = 404, description = "The caller has no waiting request to join this group"),
    ))]
pub async fn withdraw(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
) -> Result<JoinRequestWithdrawn, ApiError> {
    // A chat that does not exist has no request either: one answer for both.
    let withdrawn = match invite_links::withdraw(&app.db, chat_id, caller.user_id).await {
        Ok(withdrawn) => withdrawn,
        Err(ApiError::NotFound(_)) => false,
        Err(e) => return Err(e),
    };
    if !withdrawn {
        return Err(ApiError::NotFound("join request"));
    }
    super::relay::wake(app, "chat:join_request:closed").await;
    Ok(JoinRequestWithdrawn {
        chat_id,
        withdrawn: true,
    })
}

async fn decide(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    user: Uuid,
    approve: bool,
) -> Result<JoinRequestDecided, ApiError> {
    let admin = require_admin(app, chat_id, &caller).await?;
    let max = app.settings.max_group_members;
    match invite_links::answer(&app.db, chat_id, user, approve, admin, max).await? {
        Answer::Approved | Answer::Rejected => {
            super::relay::wake(app, "chat:join_request:answered").await;
            Ok(JoinRequestDecided {
                chat_id,
                user_id: user,
                approved: approve,
            })
        }
        Answer::NoRequest => Err(ApiError::NotFound("join request")),
        Answer::Full => Err(ApiError::AlreadyExists(format!(
            "the group is full ({max} members)"
        ))),
    }
}
