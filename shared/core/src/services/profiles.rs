//! Profiles and privacy (PRD 1.3): the caller's own profile, other users' public profiles and
//! search, each shown through the target's privacy settings and blocks — the one place that
//! decides what of a user another user may see.

use std::collections::HashMap;

use uuid::Uuid;

use crate::api::models::{
    Audience, Envelope, OffsetPagination, OwnProfile, Page, PageEnvelope, PublicUser,
    UserSearchResult, UserView,
};
use crate::api::requests::{Patch, UpdateProfileRequest, UserSearchQuery};
use crate::api::ws::ServerEvent;
use crate::auth::tokens::Caller;
use crate::db::events;
use crate::db::users::{self, ProfileUpdate, PublicRow};
use crate::error::ApiError;
use crate::App;

use super::presence::{self, Sightlines};

/// May the viewer of `row` see a field shown to `audience`?
fn may_see(row: &PublicRow, audience: Option<Audience>) -> bool {
    if row.standing.blocked_by_target {
        return false;
    }
    match audience.unwrap_or(Audience::Everyone) {
        Audience::Everyone => true,
        Audience::Contacts => row.standing.viewer_is_contact,
        Audience::Nobody => false,
    }
}

/// A user as another user sees them, with a signed URL to their picture when they may see it.
pub async fn public_view(app: &App, row: &PublicRow) -> Result<PublicUser, ApiError> {
    let mut users = public_views(app, std::slice::from_ref(row), PictureUrl::Signed).await?;
    Ok(users.remove(0))
}

/// Whether a view of a user carries a signed URL to their picture: answers do; events do not,
/// as the log keeps them past the URL's expiry (a client asks for the profile or the file again).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PictureUrl {
    Signed,
    Omitted,
}

/// The users of `rows` as the viewer sees them, in order.
pub async fn public_views(
    app: &App,
    rows: &[PublicRow],
    url: PictureUrl,
) -> Result<Vec<PublicUser>, ApiError> {
    let mut users: Vec<PublicUser> = rows.iter().map(visible_fields).collect();
    if url == PictureUrl::Signed {
        let pictures = users
            .iter_mut()
            .map(|u| (u.profile_picture_media_id, &mut u.profile_picture_url));
        super::media::sign_pictures(app, pictures).await?;
    }
    Ok(users)
}

/// The users `ids` as `viewer` sees them ([`public_view`]; the viewer themselves, if named,
/// with everything shown), by id; those gone are left out.
pub async fn seen_by(
    app: &App,
    viewer: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, PublicUser>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut rows = users::public_profiles(&app.db.get().await?, viewer, ids).await?;
    for row in rows.iter_mut().filter(|r| r.id == viewer) {
        row.privacy = Default::default();
    }
    let users = public_views(app, &rows, PictureUrl::Signed).await?;
    Ok(users.into_iter().map(|u| (u.id, u)).collect())
}

/// The fields of `row` its privacy settings and blocks show the viewer (no picture URL yet).
fn visible_fields(row: &PublicRow) -> PublicUser {
    let picture = may_see(row, row.privacy.profile_picture);
    let about = may_see(row, row.privacy.about);
    // Presence works both ways, as its events do (`presence_audience`): someone who does not
    // show the user their own last seen (nobody, contacts the user is not one of, or a block)
    // sees none of theirs.
    let last_seen = may_see(row, row.privacy.last_seen) && !row.viewer_hides_last_seen;
    PublicUser {
        id: row.id,
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        profile_picture_url: None,
        profile_picture_media_id: row.profile_picture_media_id.filter(|_| picture),
        status: row.status.clone().filter(|_| about),
        about: row.about.clone().filter(|_| about),
        last_seen: row.last_seen.filter(|_| last_seen),
        is_online: last_seen && row.is_online,
        is_blocked: row.standing.viewer_blocked_target,
    }
}

/// The caller's own profile as answered: with a signed URL to their picture.
pub async fn own_view(app: &App, mut profile: OwnProfile) -> Result<OwnProfile, ApiError> {
    let picture = (
        profile.profile_picture_media_id,
        &mut profile.profile_picture_url,
    );
    super::media::sign_pictures(app, [picture]).await?;
    Ok(profile)
}

/// `GET /api/users/profile`.
#[utoipa::path(get, path = "/api/users/profile", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The caller's own profile", body = Envelope<OwnProfile>)))]
pub async fn own(app: &App, caller: Caller) -> Result<OwnProfile, ApiError> {
    let profile = users::own_profile(&app.db.get().await?, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    own_view(app, profile).await
}

/// `GET /api/users/{userId}`.
#[utoipa::path(get, path = "/api/users/{userId}", tag = "users", security(("bearer" = [])),
    params(("userId" = Uuid, Path)),
    responses((status = 200, description = "The user as their privacy settings allow (the caller's own profile for their own id)", body = Envelope<UserView>)))]
pub async fn public(app: &App, caller: Caller, id: Uuid) -> Result<UserView, ApiError> {
    if id == caller.user_id {
        return own(app, caller).await.map(UserView::Own);
    }
    let row = users::public_profile(&app.db, caller.user_id, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(UserView::Public(public_view(app, &row).await?))
}

/// `GET /api/users/search?query=&limit=&offset=`.
#[utoipa::path(get, path = "/api/users/search", tag = "users", security(("bearer" = [])),
    params(UserSearchQuery),
    responses((status = 200, description = "Users whose username contains the query, exact match first", body = PageEnvelope<UserSearchResult, OffsetPagination>)))]
pub async fn search(
    app: &App,
    caller: Caller,
    q: UserSearchQuery,
) -> Result<Page<UserSearchResult, OffsetPagination>, ApiError> {
    let (limit, offset) = (q.limit.0, q.offset.0);
    let (rows, total) = users::search(&app.db, caller.user_id, &q.query.0, limit, offset).await?;
    let found = public_views(app, &rows, PictureUrl::Signed).await?;
    let pagination = OffsetPagination::new(limit, offset, found.len(), total);
    Ok(Page {
        items: UserSearchResult {
            users: found,
            total,
        },
        pagination,
    })
}

/// `PUT /api/users/profile`: any of `username`, `displayName`, `status`, `about`,
/// `profilePictureMediaId` (an image you uploaded, or null), `privacySettings`,
/// `notificationSettings` (partial objects). A `status` is published as `user:status_update`
/// publishes it.
#[utoipa::path(put, path = "/api/users/profile", tag = "users", security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses((status = 200, description = "The updated profile", body = Envelope<OwnProfile>)))]
pub async fn update(
    app: &App,
    caller: Caller,
    body: UpdateProfileRequest,
) -> Result<OwnProfile, ApiError> {
    if let Patch::Set(file) = body.profile_picture_media_id {
        super::media::own_picture(app, caller.user_id, file).await?;
    }
    let update = ProfileUpdate {
        username: body.username,
        display_name: body.display_name.into_text(),
        status: body.status.into_text(),
        about: body.about.into_text(),
        picture: body.profile_picture_media_id.into_option(),
        privacy: body.privacy_settings.unwrap_or_default(),
        notifications: body.notification_settings.unwrap_or_default(),
    };
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    // Who sees whose presence depends on the last-seen setting.
    let sightlines = match update.privacy.last_seen {
        Some(_) => Some(Sightlines::of(&tx, caller.user_id).await?),
        None => None,
    };
    // And who is told of the picture and the status text, on their settings.
    let seeing_picture = match update.privacy.profile_picture {
        Some(_) => Some(crate::db::presence::picture_audience(&tx, caller.user_id).await?),
        None => None,
    };
    let seeing_status = match update.privacy.about {
        Some(_) => Some(crate::db::presence::status_audience(&tx, caller.user_id).await?),
        None => None,
    };
    let updated = users::update_profile(&tx, caller.user_id, &update).await?;
    if let Some(before) = sightlines {
        presence::publish_sightline_changes(&tx, caller.user_id, before).await?;
    }
    let picture = presence::ShownChange {
        now: updated.picture,
        changed: updated.picture_changed,
        seen_before_by: seeing_picture,
    };
    presence::publish_picture(&tx, caller.user_id, &updated.username, picture).await?;
    let status = presence::ShownChange {
        now: updated.status,
        changed: update.status.is_some(),
        seen_before_by: seeing_status,
    };
    presence::publish_status(&tx, caller.user_id, &updated.username, status).await?;
    commit_own_profile_change(app, tx, caller.user_id).await
}

/// Commit `tx`, a change to `user`'s own profile, with `user:profile:updated` telling their
/// devices the profile as it is now, and wake the relay; answer the profile.
pub(super) async fn commit_own_profile_change(
    app: &App,
    tx: deadpool_postgres::Transaction<'_>,
    user: Uuid,
) -> Result<OwnProfile, ApiError> {
    let profile = users::own_profile(&tx, user)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let event = ServerEvent::ProfileUpdated(Box::new(profile.clone()));
    events::append_own_event(&tx, user, &event).await?;
    tx.commit().await?;
    super::relay::wake(app, event.name()).await;
    own_view(app, profile).await
}
