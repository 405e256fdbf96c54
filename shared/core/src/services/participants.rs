//! Group membership (PRD 1.4, "participants"): adding members, removing them, leaving, and
//! roles. Who may do what:
//!
//! | action | admin | moderator | member |
//! |---|---|---|---|
//! | add someone | yes | if the group lets all add | if the group lets all add |
//! | remove a member | yes | yes | no |
//! | remove a moderator or an admin | yes | no | no |
//! | change a role | yes | no | no |
//! | leave | yes | yes | yes |
//! | send messages | yes | unless the group lets only admins send | the same |
//! | edit name, description | yes | if the group lets all edit | the same |
//! | change the group's permissions | yes | no | no |
//!
//! A non-member (or a 1:1 chat) gets 404, as for any chat they cannot see; a former member who
//! kept the group sees it, and gets 403. Every change publishes its event through the event log
//! with the change; a removed member is told, and gets nothing newer.

use uuid::Uuid;

use crate::api::models::{
    AddStatus, ChatType, Envelope, OffsetPagination, Page, PageEnvelope, ParticipantAdded,
    ParticipantRemoved, ParticipantRole, ParticipantRoleSet, PastParticipant, RemovalStatus,
};
use crate::api::requests::{AddParticipantRequest, OffsetPageQuery, UpdateParticipantRoleRequest};
use crate::auth::tokens::Caller;
use crate::db::chats::{self, Acting, Addition, RoleChange};
use crate::db::{relationships, users};
use crate::error::ApiError;
use crate::App;

/// The caller's role in the group; 400 for a 1:1 chat of theirs, 403 for a former member who
/// kept the group, 404 for anyone else.
pub(super) async fn caller_role(
    app: &App,
    chat_id: Uuid,
    caller: &Caller,
) -> Result<ParticipantRole, ApiError> {
    let client = app.db.get().await?;
    match chats::group_role(&client, chat_id, caller.user_id).await? {
        Some(role) => Ok(role),
        None => Err(not_a_group_member(app, chat_id, caller.user_id).await),
    }
}

/// Why `user` may not manage `chat_id`'s members: a 1:1 chat of theirs has none to manage
/// (400: it exists, and they see it), else as [`not_a_member`].
async fn not_a_group_member(app: &App, chat_id: Uuid, user: Uuid) -> ApiError {
    let standing = match app.db.get().await {
        Ok(client) => chats::standing(&client, chat_id, user).await,
        Err(e) => Err(e.into()),
    };
    match standing {
        Ok(Some(s)) if s.kind == ChatType::Individual => ApiError::Validation(
            "this is a 1:1 chat, not a group: it has no members to add, remove or change \
             (to leave it, delete it for yourself: DELETE /api/chats/{chatId})"
                .into(),
        ),
        Ok(_) => not_a_member(app, chat_id, user).await,
        Err(e) => e,
    }
}

/// A former member who kept the group sees it, as it was when they left, but changes nothing
/// in it: what they are told when they try.
pub(crate) fn no_longer_a_member() -> ApiError {
    ApiError::PermissionDenied("you are no longer a member of this group".into())
}

/// Why `user`, who is not a member of `chat_id`, may not act in it: 403 for a former member who
/// kept it (they see it, so it is no secret), 404 for anyone else, as for any chat they cannot
/// see.
pub(crate) async fn not_a_member(app: &App, chat_id: Uuid, user: Uuid) -> ApiError {
    let kept = match app.db.get().await {
        Ok(client) => chats::kept_after_leaving(&client, chat_id, user).await,
        Err(e) => Err(e.into()),
    };
    match kept {
        Ok(true) => no_longer_a_member(),
        Ok(false) => ApiError::NotFound("chat"),
        Err(e) => e,
    }
}

/// `POST /api/chats/{chatId}/participants`: an admin adds someone (as a member unless said).
/// Someone whose privacy leaves the admin out is invited instead; someone who blocked the
/// admin is answered as invited and never told; someone an admin removed is added back only by
/// an admin.
#[utoipa::path(post, path = "/api/chats/{chatId}/participants", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path)),
    request_body = AddParticipantRequest,
    responses(
        (status = 200, description = "Added, or invited", body = Envelope<ParticipantAdded>),
        (status = 403, description = "The caller may not add members"),
        (status = 409, description = "Already a member, or the group is full"),
    ))]
pub async fn add(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    body: AddParticipantRequest,
) -> Result<ParticipantAdded, ApiError> {
    let standing = {
        let client = app.db.get().await?;
        match chats::group_standing(&client, chat_id, caller.user_id).await? {
            Some(standing) => standing,
            None => return Err(not_a_group_member(app, chat_id, caller.user_id).await),
        }
    };
    if !standing.permissions.add_members.lets(standing.role) {
        return Err(ApiError::PermissionDenied(
            "in this group, admins add members".into(),
        ));
    }
    let user = body.user_id;
    if !users::all_exist(&app.db, &[user]).await? {
        return Err(ApiError::NotFound("user"));
    }
    let outcome = |status, role| ParticipantAdded {
        chat_id,
        user_id: user,
        status,
        role,
    };
    if !relationships::refusing_group_adds(&app.db, caller.user_id, &[user])
        .await?
        .is_empty()
    {
        // One in the group already is told so, whatever their privacy.
        if chats::group_role(&app.db.get().await?, chat_id, user)
            .await?
            .is_some()
        {
            return Err(already_a_member());
        }
        // Someone who blocks the caller is answered as invited, and never told (a refusal
        // would tell the caller of the block).
        let blocks_caller = !relationships::blocking(&app.db, caller.user_id, &[user])
            .await?
            .is_empty();
        if !blocks_caller {
            chats::invite(&app.db, chat_id, user, caller.user_id).await?;
            super::relay::wake(app, "chat:invitation").await;
        }
        return Ok(outcome(AddStatus::Invited, None));
    }
    let role = body.role.map_or(ParticipantRole::Member, Into::into);
    match chats::add_participant(
        &app.db,
        chat_id,
        user,
        role,
        Acting {
            user: caller.user_id,
            role: standing.role,
        },
        app.settings.max_group_members,
    )
    .await?
    {
        Addition::Added => {
            super::relay::wake(app, "chat:participant:joined").await;
            Ok(outcome(AddStatus::Added, Some(role)))
        }
        Addition::AlreadyMember => Err(already_a_member()),
        // A state the request conflicts with, as a full group is to an invite link (409).
        Addition::Full => Err(ApiError::AlreadyExists(format!(
            "the group is full ({} members)",
            app.settings.max_group_members
        ))),
        // As the invite link tells them (`invite_links::join`).
        Addition::RemovedByAdmin => Err(ApiError::PermissionDenied(
            "an admin removed this user from the group: only an admin can add them back".into(),
        )),
    }
}

fn already_a_member() -> ApiError {
    ApiError::AlreadyExists("this user is already a member".into())
}

/// `DELETE /api/chats/{chatId}/participants/{userId}`: remove someone, or leave (your own id).
/// When the last admin goes, the longest-standing member becomes admin.
#[utoipa::path(delete, path = "/api/chats/{chatId}/participants/{userId}", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("userId" = Uuid, Path)),
    responses(
        (status = 200, description = "No longer a member", body = Envelope<ParticipantRemoved>),
        (status = 403, description = "The caller may not remove this member"),
    ))]
pub async fn remove(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    user: Uuid,
) -> Result<ParticipantRemoved, ApiError> {
    let role = caller_role(app, chat_id, &caller).await?;
    let removed_by = if user == caller.user_id {
        None
    } else {
        let client = app.db.get().await?;
        let target = chats::group_role(&client, chat_id, user)
            .await?
            .ok_or(ApiError::NotFound("participant"))?;
        let allowed = match role {
            ParticipantRole::Admin => true,
            ParticipantRole::Moderator => target == ParticipantRole::Member,
            ParticipantRole::Member => false,
        };
        if !allowed {
            return Err(ApiError::PermissionDenied(
                "your role does not let you remove this member".into(),
            ));
        }
        let actor = Acting {
            user: caller.user_id,
            role,
        };
        Some((actor, target))
    };
    if !chats::remove_participant(&app.db, chat_id, user, removed_by).await? {
        return Err(ApiError::NotFound("participant"));
    }
    super::relay::wake(app, "chat:participant:left").await;
    Ok(ParticipantRemoved {
        chat_id,
        user_id: user,
        status: if removed_by.is_some() {
            RemovalStatus::Removed
        } else {
            RemovalStatus::Left
        },
    })
}

/// How long someone who left is listed among a group's past participants (WhatsApp's 60 days).
const PAST_PARTICIPANTS_FOR: std::time::Duration = std::time::Duration::from_secs(60 * 24 * 3600);

/// `GET /api/chats/{chatId}/past-participants?limit&offset`: who left the group or was removed
/// in the last 60 days (and is not a member again), the latest first, for its members: someone
/// leaving is a line for the admins alone, and this is where the others see who left.
#[utoipa::path(get, path = "/api/chats/{chatId}/past-participants", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), OffsetPageQuery),
    responses(
        (status = 200, description = "Who left in the last 60 days, the latest first", body = PageEnvelope<Vec<PastParticipant>, OffsetPagination>),
        (status = 400, description = "A 1:1 chat of the caller's: it has no members to list (`VALIDATION_ERROR`)"),
        (status = 403, description = "The caller left the group"),
    ))]
pub async fn past(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    q: OffsetPageQuery,
) -> Result<Page<Vec<PastParticipant>, OffsetPagination>, ApiError> {
    caller_role(app, chat_id, &caller).await?;
    let (limit, offset) = (q.limit.0, q.offset.0);
    let (mut items, total) =
        chats::past_members(&app.db, chat_id, PAST_PARTICIPANTS_FOR, limit, offset).await?;
    let ids: Vec<Uuid> = items.iter().map(|p| p.id).collect();
    let views = super::profiles::seen_by(app, caller.user_id, &ids).await?;
    for past in &mut items {
        past.profile_picture_url = views
            .get(&past.id)
            .and_then(|v| v.profile_picture_url.clone());
    }
    let pagination = OffsetPagination::new(limit, offset, items.len(), total);
    Ok(Page { items, pagination })
}

/// `PUT /api/chats/{chatId}/participants/{userId}/role`: an admin changes a member's role. A
/// group keeps at least one admin.
#[utoipa::path(put, path = "/api/chats/{chatId}/participants/{userId}/role", tag = "chats", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("userId" = Uuid, Path)),
    request_body = UpdateParticipantRoleRequest,
    responses(
        (status = 200, description = "The role now", body = Envelope<ParticipantRoleSet>),
        (status = 403, description = "The caller is not an admin, or it would leave the group without one"),
    ))]
pub async fn set_role(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    user: Uuid,
    body: UpdateParticipantRoleRequest,
) -> Result<ParticipantRoleSet, ApiError> {
    if caller_role(app, chat_id, &caller).await? != ParticipantRole::Admin {
        return Err(ApiError::PermissionDenied(
            "only the group's admins change roles".into(),
        ));
    }
    let admin = Acting {
        user: caller.user_id,
        role: ParticipantRole::Admin,
    };
    match chats::set_role(&app.db, chat_id, user, body.role, admin).await? {
        RoleChange::Changed => {
            super::relay::wake(app, "chat:participant:role_changed").await;
            Ok(ParticipantRoleSet {
                chat_id,
                user_id: user,
                role: body.role,
            })
        }
        RoleChange::NotMember => Err(ApiError::NotFound("participant")),
        RoleChange::LastAdmin => Err(ApiError::PermissionDenied(
            "a group keeps at least one admin: make someone else admin first".into(),
        )),
    }
}
