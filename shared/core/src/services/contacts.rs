//! Contacts (PRD 2): the caller's contact list with nicknames, notes, favorites and groups
//! (labels); contact links and their QR codes; finding people by phone number (contact sync)
//! and vCard import and export. "My contacts" in every privacy setting means exactly this list.
//! Each change is told to the caller's other devices through the event log (`contact:*`).
//!
//! Finding people by phone or email is what could reveal who uses Banter, so it matches only
//! verified, discoverable numbers and addresses, never stores one that matched nobody, and
//! counts every number looked up against a daily budget per user (`contact_lookups`).

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::{
    Contact, ContactGroup, ContactGroupDeleted, ContactImportResult, ContactLink, ContactRemoved,
    ContactSyncResult, Envelope, OffsetPagination, Page, PageEnvelope, PhoneMatch, PublicUser,
    RawFile, Timestamp,
};
use crate::api::requests::{
    AddContactRequest, ContactGroupMembersRequest, ContactGroupRequest, ContactListQuery,
    ContactSyncRequest, QrQuery, UpdateContactRequest,
};
use crate::api::ws::ServerEvent;
use crate::auth::tokens::{new_opaque_token, Caller};
use crate::db::contacts::{self, ContactChange, ContactRow};
use crate::db::events;
use crate::db::users::{self, PublicRow};
use crate::domain::{address_book_phone, phone_region, DisplayText, NameText};
use crate::error::ApiError;
use crate::{qr, vcards, App};

use super::presence::{self, Sightlines};
use super::profiles::{public_view, public_views, PictureUrl};

/// Largest vCard file `POST /api/contacts/import` reads.
pub const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

/// Contact rows with their users' profiles as `owner` may see them (rows whose user is gone
/// are left out).
async fn shown(
    app: &App,
    client: &impl GenericClient,
    owner: Uuid,
    rows: Vec<ContactRow>,
    url: PictureUrl,
) -> Result<Vec<Contact>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let people = users::public_profiles(client, owner, &ids).await?;
    with_profiles(app, &people, rows, url).await
}

/// Contact rows with their users' profiles, read already (rows whose user is not among
/// `people` are left out).
async fn with_profiles(
    app: &App,
    people: &[PublicRow],
    rows: Vec<ContactRow>,
    url: PictureUrl,
) -> Result<Vec<Contact>, ApiError> {
    let mut profiles: HashMap<Uuid, PublicUser> = public_views(app, people, url)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Contact {
                user: profiles.remove(&r.user_id)?,
                nickname: r.nickname,
                note: r.note,
                favorite: r.favorite,
                group_ids: r.group_ids,
                added_at: Timestamp(r.added_at),
            })
        })
        .collect())
}

/// `GET /api/contacts?favorite=&groupId=&search=`.
///
/// A `groupId` that is not one of the caller's groups (deleted, or someone else's) answers 404,
/// not an empty page.
#[utoipa::path(get, path = "/api/contacts", tag = "contacts", security(("bearer" = [])),
    params(ContactListQuery),
    responses((status = 200, description = "The caller's contacts, favorites first, then in the order they were added", body = PageEnvelope<Vec<Contact>, OffsetPagination>),
        (status = 404, description = "No such contact group of the caller's")))]
pub async fn list(
    app: &App,
    caller: Caller,
    q: ContactListQuery,
) -> Result<Page<Vec<Contact>, OffsetPagination>, ApiError> {
    if let Some(group) = q.group_id {
        let client = app.db.get().await?;
        contacts::group(&client, caller.user_id, group)
            .await?
            .ok_or(ApiError::NotFound("contact group"))?;
    }
    let (limit, offset) = (q.limit.0, q.offset.0);
    let (rows, total) = contacts::list(
        &app.db,
        caller.user_id,
        q.favorite,
        q.group_id,
        q.search.as_ref().map(|s| s.0.as_str()),
        limit,
        offset,
    )
    .await?;
    let items = shown(
        app,
        &app.db.get().await?,
        caller.user_id,
        rows,
        PictureUrl::Signed,
    )
    .await?;
    let pagination = OffsetPagination::new(limit, offset, items.len(), total);
    Ok(Page { items, pagination })
}

/// Apply `change` to the contact `user` (adding them when `add`), tell the caller's devices,
/// and answer the contact as it is now. 404 when `user` is not a contact and `add` is false.
async fn save(
    app: &App,
    owner: Uuid,
    user: Uuid,
    change: ContactChange,
    add: bool,
) -> Result<Contact, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    if add {
        // A contact may see presence that a `contacts` last-seen setting hid (told with the
        // contact, by the same wake-up).
        let before = Sightlines::between(&tx, owner, &[user]).await?;
        contacts::add_many(&tx, owner, &[user], &[None], &[None]).await?;
        presence::publish_sightline_changes(&tx, owner, before).await?;
    }
    contacts::update(&tx, owner, user, &change).await?;
    let row = contacts::one(&tx, owner, user)
        .await?
        .ok_or(ApiError::NotFound("contact"))?;
    // As the transaction leaves them: a contact added now may show presence (V72).
    let contact = shown(app, &tx, owner, vec![row], PictureUrl::Signed)
        .await?
        .pop()
        .ok_or(ApiError::NotFound("contact"))?;
    let mut told = contact.clone();
    told.user.profile_picture_url = None;
    events::append_own_event(&tx, owner, &ServerEvent::ContactUpdated(Box::new(told))).await?;
    tx.commit().await?;
    super::relay::wake(app, "contact:updated").await;
    Ok(contact)
}

/// `POST /api/contacts`.
#[utoipa::path(post, path = "/api/contacts", tag = "contacts", security(("bearer" = [])),
    request_body = AddContactRequest,
    responses((status = 200, description = "The contact, added or updated", body = Envelope<Contact>)))]
pub async fn add(app: &App, caller: Caller, body: AddContactRequest) -> Result<Contact, ApiError> {
    if body.user_id == caller.user_id {
        return Err(ApiError::Validation(
            "you cannot add yourself as a contact".into(),
        ));
    }
    if users::public_profile(&app.db, caller.user_id, body.user_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("user"));
    }
    let change = ContactChange {
        nickname: body.nickname.into_text(),
        note: body.note.into_text(),
        favorite: body.favorite,
    };
    save(app, caller.user_id, body.user_id, change, true).await
}

/// `PUT /api/contacts/{userId}`.
#[utoipa::path(put, path = "/api/contacts/{userId}", tag = "contacts", security(("bearer" = [])),
    params(("userId" = Uuid, Path)), request_body = UpdateContactRequest,
    responses((status = 200, description = "The contact as changed", body = Envelope<Contact>)))]
pub async fn update(
    app: &App,
    caller: Caller,
    user: Uuid,
    body: UpdateContactRequest,
) -> Result<Contact, ApiError> {
    let change = ContactChange {
        nickname: body.nickname.into_text(),
        note: body.note.into_text(),
        favorite: body.favorite,
    };
    save(app, caller.user_id, user, change, false).await
}

/// `DELETE /api/contacts/{userId}`: also takes them out of every contact group.
#[utoipa::path(delete, path = "/api/contacts/{userId}", tag = "contacts", security(("bearer" = [])),
    params(("userId" = Uuid, Path)),
    responses((status = 200, description = "Removed", body = Envelope<ContactRemoved>)))]
pub async fn remove(app: &App, caller: Caller, user: Uuid) -> Result<ContactRemoved, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let before = Sightlines::between(&tx, caller.user_id, &[user]).await?;
    if !contacts::remove(&tx, caller.user_id, user).await? {
        return Err(ApiError::NotFound("contact"));
    }
    presence::publish_sightline_changes(&tx, caller.user_id, before).await?;
    let removed = ContactRemoved { user_id: user };
    events::append_own_event(
        &tx,
        caller.user_id,
        &ServerEvent::ContactRemoved(removed.clone()),
    )
    .await?;
    tx.commit().await?;
    super::relay::wake(app, "contact:removed").await;
    Ok(removed)
}

// --- groups ------------------------------------------------------------------------------------

/// `GET /api/contacts/groups`.
#[utoipa::path(get, path = "/api/contacts/groups", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, description = "The caller's contact groups by name", body = Envelope<Vec<ContactGroup>>)))]
pub async fn groups(app: &App, caller: Caller) -> Result<Vec<ContactGroup>, ApiError> {
    contacts::groups(&app.db, caller.user_id).await
}

/// Tell `owner`'s devices the group as the transaction `tx` left it, and commit: the group,
/// or 404 when it is not theirs (then nothing is committed).
async fn commit_group(
    app: &App,
    tx: deadpool_postgres::Transaction<'_>,
    owner: Uuid,
    id: Uuid,
) -> Result<ContactGroup, ApiError> {
    let group = contacts::group(&tx, owner, id)
        .await?
        .ok_or(ApiError::NotFound("contact group"))?;
    events::append_own_event(&tx, owner, &ServerEvent::ContactGroupUpdated(group.clone())).await?;
    tx.commit().await?;
    super::relay::wake(app, "contact:group:updated").await;
    Ok(group)
}

fn name_taken() -> ApiError {
    ApiError::AlreadyExists("you have a contact group of that name".into())
}

/// `POST /api/contacts/groups {name}`.
#[utoipa::path(post, path = "/api/contacts/groups", tag = "contacts", security(("bearer" = [])),
    request_body = ContactGroupRequest,
    responses((status = 201, description = "The new group", body = Envelope<ContactGroup>)))]
pub async fn create_group(
    app: &App,
    caller: Caller,
    body: ContactGroupRequest,
) -> Result<ContactGroup, ApiError> {
    let owner = caller.user_id;
    let id = Uuid::now_v7();
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    users::lock(&tx, owner).await?;
    if contacts::group_count(&tx, owner).await? >= contacts::MAX_GROUPS {
        return Err(ApiError::AlreadyExists(format!(
            "at most {} contact groups",
            contacts::MAX_GROUPS
        )));
    }
    if !contacts::create_group(&tx, owner, id, &body.name.0).await? {
        return Err(name_taken());
    }
    commit_group(app, tx, owner, id).await
}

/// `PUT /api/contacts/groups/{groupId} {name}`.
#[utoipa::path(put, path = "/api/contacts/groups/{groupId}", tag = "contacts", security(("bearer" = [])),
    params(("groupId" = Uuid, Path)), request_body = ContactGroupRequest,
    responses((status = 200, description = "The renamed group", body = Envelope<ContactGroup>)))]
pub async fn rename_group(
    app: &App,
    caller: Caller,
    id: Uuid,
    body: ContactGroupRequest,
) -> Result<ContactGroup, ApiError> {
    let owner = caller.user_id;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    match contacts::rename_group(&tx, owner, id, &body.name.0).await? {
        None => Err(ApiError::NotFound("contact group")),
        Some(false) => Err(name_taken()),
        Some(true) => commit_group(app, tx, owner, id).await,
    }
}

/// `DELETE /api/contacts/groups/{groupId}` (the contacts stay).
#[utoipa::path(delete, path = "/api/contacts/groups/{groupId}", tag = "contacts", security(("bearer" = [])),
    params(("groupId" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<ContactGroupDeleted>)))]
pub async fn delete_group(
    app: &App,
    caller: Caller,
    id: Uuid,
) -> Result<ContactGroupDeleted, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    if !contacts::delete_group(&tx, caller.user_id, id).await? {
        return Err(ApiError::NotFound("contact group"));
    }
    let deleted = ContactGroupDeleted { group_id: id };
    events::append_own_event(
        &tx,
        caller.user_id,
        &ServerEvent::ContactGroupDeleted(deleted.clone()),
    )
    .await?;
    tx.commit().await?;
    super::relay::wake(app, "contact:group:deleted").await;
    Ok(deleted)
}

/// `POST /api/contacts/groups/{groupId}/members {userIds}`: each must be a contact (404 names
/// the first that is not).
#[utoipa::path(post, path = "/api/contacts/groups/{groupId}/members", tag = "contacts", security(("bearer" = [])),
    params(("groupId" = Uuid, Path)), request_body = ContactGroupMembersRequest,
    responses((status = 200, description = "The group with its members", body = Envelope<ContactGroup>)))]
pub async fn add_group_members(
    app: &App,
    caller: Caller,
    id: Uuid,
    body: ContactGroupMembersRequest,
) -> Result<ContactGroup, ApiError> {
    let owner = caller.user_id;
    let users = body.user_ids.0;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    if contacts::group(&tx, owner, id).await?.is_none() {
        return Err(ApiError::NotFound("contact group"));
    }
    if !contacts::not_contacts(&tx, owner, &users).await?.is_empty() {
        return Err(ApiError::NotFound("contact"));
    }
    contacts::add_members(&tx, owner, id, &users).await?;
    commit_group(app, tx, owner, id).await
}

/// `DELETE /api/contacts/groups/{groupId}/members/{userId}` (200 also when they were not in
/// it).
#[utoipa::path(delete, path = "/api/contacts/groups/{groupId}/members/{userId}", tag = "contacts", security(("bearer" = [])),
    params(("groupId" = Uuid, Path), ("userId" = Uuid, Path)),
    responses((status = 200, description = "The group without them", body = Envelope<ContactGroup>)))]
pub async fn remove_group_member(
    app: &App,
    caller: Caller,
    id: Uuid,
    user: Uuid,
) -> Result<ContactGroup, ApiError> {
    let owner = caller.user_id;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    // Idempotent: someone not in the group is not in it afterwards either. Another user's
    // group matches no row here, and `commit_group` answers 404 for it.
    contacts::remove_member(&tx, owner, id, user).await?;
    commit_group(app, tx, owner, id).await
}

// --- contact links -----------------------------------------------------------------------------

fn fresh_code() -> String {
    new_opaque_token().0[..22].to_owned()
}

fn link(app: &App, code: String) -> ContactLink {
    ContactLink {
        url: format!("{}/contact/{code}", app.settings.public_url),
        code,
    }
}

/// `GET /api/users/me/qr?format=png|svg`: the caller's contact link as a QR code.
#[utoipa::path(get, path = "/api/users/me/qr", tag = "contacts", security(("bearer" = [])),
    params(QrQuery),
    responses((status = 200, description = "The caller's contact link as a QR code", content(
        (Vec<u8> = "image/png"), (String = "image/svg+xml")))))]
pub async fn qr(app: &App, caller: Caller, query: QrQuery) -> Result<RawFile, ApiError> {
    let code = contacts::contact_code(&app.db, caller.user_id, &fresh_code()).await?;
    qr::encode(&link(app, code).url, query.format)
}

/// `GET /api/users/me/contact-link`: the caller's contact link as text, to paste anywhere (the
/// link `GET /api/users/me/qr` draws).
#[utoipa::path(get, path = "/api/users/me/contact-link", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, description = "The caller's contact link", body = Envelope<ContactLink>)))]
pub async fn contact_link(app: &App, caller: Caller) -> Result<ContactLink, ApiError> {
    let code = contacts::contact_code(&app.db, caller.user_id, &fresh_code()).await?;
    Ok(link(app, code))
}

/// `POST /api/users/me/qr/reset`: a new contact link; the old one stops working. The caller's
/// other devices are told (`contact:link:reset`), so none goes on showing the old QR code.
#[utoipa::path(post, path = "/api/users/me/qr/reset", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, description = "The new contact link", body = Envelope<ContactLink>)))]
pub async fn reset_qr(app: &App, caller: Caller) -> Result<ContactLink, ApiError> {
    let code = fresh_code();
    let new = link(app, code);
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    contacts::reset_contact_code(&tx, caller.user_id, &new.code).await?;
    let event = ServerEvent::ContactLinkReset(new.clone());
    events::append_own_event(&tx, caller.user_id, &event).await?;
    tx.commit().await?;
    super::relay::wake(app, event.name()).await;
    Ok(new)
}

/// `GET /api/contacts/resolve/{code}`: whose contact link this is (404 once it was reset).
#[utoipa::path(get, path = "/api/contacts/resolve/{code}", tag = "contacts", security(("bearer" = [])),
    params(("code" = String, Path, max_length = 64)),
    responses((status = 200, description = "The user behind the link, as their privacy allows", body = Envelope<PublicUser>)))]
pub async fn resolve(app: &App, caller: Caller, code: &str) -> Result<PublicUser, ApiError> {
    let id = contacts::by_contact_code(&app.db, code)
        .await?
        .ok_or(ApiError::NotFound("contact link"))?;
    let row = users::public_profile(&app.db, caller.user_id, id)
        .await?
        .ok_or(ApiError::NotFound("contact link"))?;
    public_view(app, &row).await
}

// --- discovery ---------------------------------------------------------------------------------

/// Look up `addresses` (E.164 phones and lower-cased emails), after counting them against the
/// caller's daily budget: the users found, by address.
async fn discover(
    app: &App,
    caller: Caller,
    phones: &[String],
    emails: &[String],
) -> Result<HashMap<String, Uuid>, ApiError> {
    let looked_up = i32::try_from(phones.len() + emails.len()).unwrap_or(i32::MAX);
    if looked_up == 0 {
        return Ok(HashMap::new());
    }
    super::rate_limit::hits(
        &app.db,
        &format!("contacts:lookup:{}", caller.user_id),
        app.settings.rate_limits.contact_lookups,
        looked_up,
    )
    .await?;
    Ok(
        contacts::discoverable(&app.db, caller.user_id, phones, emails)
            .await?
            .into_iter()
            .collect(),
    )
}

/// Someone an address book names, and what it says of them.
#[derive(Default)]
struct Found {
    user: Uuid,
    /// For a new contact.
    nickname: Option<String>,
    /// For a new contact.
    note: Option<String>,
    /// Contact groups to file them under (found by name ignoring case, else created).
    groups: Vec<String>,
}

/// Make each of `found` a contact of `owner` and file them into their groups, telling their
/// devices about the new contacts and the changed groups, in one transaction. The profiles of
/// everyone found, as `owner` sees them, read once in that transaction for the devices and
/// the answer alike (for hundreds of people a read costs a phone sync several milliseconds).
async fn add_found(app: &App, owner: Uuid, found: &[Found]) -> Result<Vec<PublicRow>, ApiError> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<Uuid> = found.iter().map(|f| f.user).collect();
    let nicknames: Vec<Option<&str>> = found.iter().map(|f| f.nickname.as_deref()).collect();
    let notes: Vec<Option<&str>> = found.iter().map(|f| f.note.as_deref()).collect();
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    // (Presence a `contacts` last-seen setting now shows them comes with the next change: read
    // for hundreds of people at once, the sightlines took a phone sync from 28 ms to 1.5 s.)
    let added = contacts::add_many(&tx, owner, &users, &nicknames, &notes).await?;
    let rows = contacts::some(&tx, owner, &added).await?;
    let people = users::public_profiles(&tx, owner, &users).await?;
    let told: Vec<(Uuid, serde_json::Value)> =
        with_profiles(app, &people, rows, PictureUrl::Omitted)
            .await?
            .into_iter()
            .map(|contact| (owner, ServerEvent::ContactUpdated(Box::new(contact)).data()))
            .collect();
    events::append_user_events_each(&tx, None, "contact:updated", &told).await?;
    let filed = file_into_groups(&tx, owner, found).await?;
    for id in &filed {
        if let Some(group) = contacts::group(&tx, owner, *id).await? {
            events::append_own_event(&tx, owner, &ServerEvent::ContactGroupUpdated(group)).await?;
        }
    }
    tx.commit().await?;
    super::relay::wake(app, "contact:updated").await;
    Ok(people)
}

/// Put each of `found` into the groups it names, creating the groups `owner` has no group of
/// that name for (while they have fewer than [`contacts::MAX_GROUPS`]; names past that, or
/// not a valid group name, are left out). The groups that changed.
async fn file_into_groups(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
    found: &[Found],
) -> Result<Vec<Uuid>, ApiError> {
    let mut members: HashMap<String, (String, Vec<Uuid>)> = HashMap::new();
    for f in found {
        for name in &f.groups {
            let Some(name) = NameText::<50>::parse(name)
                .ok()
                .and_then(NameText::into_inner)
            else {
                continue;
            };
            members
                .entry(name.to_lowercase())
                .or_insert_with(|| (name, Vec::new()))
                .1
                .push(f.user);
        }
    }
    if members.is_empty() {
        return Ok(Vec::new());
    }
    users::lock(tx, owner).await?;
    let mut room = contacts::MAX_GROUPS - contacts::group_count(tx, owner).await?;
    let mut filed = Vec::new();
    let mut names: Vec<_> = members.into_values().collect();
    names.sort();
    for (name, users) in names {
        let id = match contacts::group_named(tx, owner, &name).await? {
            Some(id) => id,
            None if room > 0 => {
                let id = Uuid::now_v7();
                contacts::create_group(tx, owner, id, &name).await?;
                room -= 1;
                id
            }
            None => continue,
        };
        contacts::add_members(tx, owner, id, &users).await?;
        // (Two spellings Rust lower-cases apart and PostgreSQL together name one group.)
        if !filed.contains(&id) {
            filed.push(id);
        }
    }
    Ok(filed)
}

/// The region national numbers are read in: the request's, else that of the caller's
/// verified phone, else the server's default.
async fn region(
    app: &App,
    caller: Caller,
    asked: Option<&str>,
) -> Result<Option<phonenumber::country::Id>, ApiError> {
    if let Some(code) = asked {
        return code
            .parse()
            .map(Some)
            .map_err(|_| ApiError::Validation(format!("`region`: `{code}` is not a region code")));
    }
    if let Some(own) = contacts::verified_phone(&app.db, caller.user_id).await? {
        if let Some(id) = phone_region(&own) {
            return Ok(Some(id));
        }
    }
    Ok(phone_region(&app.settings.default_phone_region))
}

/// `POST /api/contacts/sync {phones, region?}`.
#[utoipa::path(post, path = "/api/contacts/sync", tag = "contacts", security(("bearer" = [])),
    request_body = ContactSyncRequest,
    responses((status = 200, description = "The Banter users among the numbers (verified, discoverable numbers only), now the caller's contacts; numbers that matched nobody are not kept", body = Envelope<ContactSyncResult>)))]
pub async fn sync(
    app: &App,
    caller: Caller,
    body: ContactSyncRequest,
) -> Result<ContactSyncResult, ApiError> {
    let region = region(app, caller, body.region.as_ref().map(|r| r.0.as_str())).await?;
    let sent: Vec<String> = body.phones.0.into_iter().map(|p| p.0).collect();
    let normalized: Vec<Option<String>> = sent
        .iter()
        .map(|raw| address_book_phone(raw, region))
        .collect();
    let unique: Vec<String> = normalized
        .iter()
        .flatten()
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let found = discover(app, caller, &unique, &[]).await?;
    let users: Vec<Found> = found
        .values()
        .map(|id| Found {
            user: *id,
            ..Found::default()
        })
        .collect();
    let people = add_found(app, caller.user_id, &users).await?;
    let profiles: HashMap<Uuid, PublicUser> = public_views(app, &people, PictureUrl::Signed)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut seen = HashSet::new();
    let matches = sent
        .iter()
        .zip(&normalized)
        .filter_map(|(raw, e164)| {
            let e164 = e164.as_ref()?;
            let user = profiles.get(found.get(e164)?)?;
            seen.insert(e164.clone()).then(|| PhoneMatch {
                phone: raw.clone(),
                e164: e164.clone(),
                user: user.clone(),
            })
        })
        .collect();
    Ok(ContactSyncResult {
        matches,
        checked: sent.len(),
        invalid: normalized.iter().filter(|n| n.is_none()).count(),
    })
}

/// `POST /api/contacts/import` (a `text/vcard` body): each card that names a Banter user by a
/// verified phone or email, or by the `UID` export writes, becomes a contact (named and
/// noted as the card says, when new) and joins the contact groups its `CATEGORIES` name.
#[utoipa::path(post, path = "/api/contacts/import", tag = "contacts", security(("bearer" = [])),
    request_body(content = String, content_type = "text/vcard", description = "vCard 2.1, 3.0 or 4.0: one or more cards"),
    responses((status = 200, description = "What the import did", body = Envelope<ContactImportResult>)))]
pub async fn import(
    app: &App,
    caller: Caller,
    text: &str,
) -> Result<ContactImportResult, ApiError> {
    let cards = vcards::parse(text).map_err(|e| ApiError::Validation(e.to_string()))?;
    let region = region(app, caller, None).await?;
    let card_phones: Vec<Vec<String>> = cards
        .iter()
        .map(|c| {
            c.phones
                .iter()
                .filter_map(|p| address_book_phone(p, region))
                .collect()
        })
        .collect();
    let card_emails: Vec<Vec<String>> = cards
        .iter()
        .map(|c| {
            c.emails
                .iter()
                .map(|e| e.trim().to_lowercase())
                .filter(|e| e.contains('@'))
                .collect()
        })
        .collect();
    let unique = |lists: &Vec<Vec<String>>| -> Vec<String> {
        lists
            .iter()
            .flatten()
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect()
    };
    let found = discover(app, caller, &unique(&card_phones), &unique(&card_emails)).await?;
    // The profiles of everyone the cards may name, read once: Banter ids from an earlier
    // export (people the caller could add by id anyway) and the users found.
    let ids: Vec<Uuid> = cards
        .iter()
        .filter_map(|c| c.banter_id)
        .chain(found.values().copied())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let profiles = users::public_profiles_by_id(&app.db, caller.user_id, &ids).await?;
    let addable_by_id = |id: &Uuid| {
        profiles
            .get(id)
            .is_some_and(|p| p.id != caller.user_id && !p.standing.blocked_by_target)
    };
    let mut matched: Vec<Found> = Vec::new();
    for (i, card) in cards.iter().enumerate() {
        let user = card.banter_id.filter(addable_by_id).or_else(|| {
            card_phones[i]
                .iter()
                .chain(&card_emails[i])
                .find_map(|a| found.get(a).copied())
        });
        let Some(user) = user else {
            continue;
        };
        // A card naming someone as they name themselves (what export writes for a contact
        // without a nickname) gives no nickname: it would freeze their name as it is today.
        let own_name = |name: &String| {
            profiles
                .get(&user)
                .is_some_and(|p| *name == p.username || Some(name) == p.display_name.as_ref())
        };
        matched.push(Found {
            user,
            nickname: card
                .name
                .as_deref()
                .and_then(|n| NameText::<100>::parse(n).ok())
                .and_then(NameText::into_inner)
                .filter(|n| !own_name(n)),
            note: card
                .note
                .as_deref()
                .and_then(|n| DisplayText::<1000>::parse(n).ok())
                .and_then(DisplayText::into_inner),
            groups: card.categories.clone(),
        });
    }
    add_found(app, caller.user_id, &matched).await?;
    Ok(ContactImportResult {
        imported: cards.len(),
        matched: matched.len(),
        skipped: cards.len() - matched.len(),
    })
}

/// `GET /api/contacts/export`: the caller's contacts as vCard 4.0.
#[utoipa::path(get, path = "/api/contacts/export", tag = "contacts", security(("bearer" = [])),
    responses((status = 200, description = "vCard 4.0, one card per contact (UID urn:uuid:<userId>, FN, NICKNAME = username, NOTE, CATEGORIES = groups)", content_type = "text/vcard", body = String)))]
pub async fn export(app: &App, caller: Caller) -> Result<RawFile, ApiError> {
    let rows = contacts::all_with_group_names(&app.db, caller.user_id).await?;
    let ids: Vec<Uuid> = rows.iter().map(|(r, _)| r.user_id).collect();
    // A card names its contact; their picture is not in it.
    let profiles = users::public_profiles_by_id(&app.db, caller.user_id, &ids).await?;
    let cards: Vec<vcards::ExportedContact<'_>> = rows
        .iter()
        .filter_map(|(row, groups)| {
            let user = profiles.get(&row.user_id)?;
            Some(vcards::ExportedContact {
                user_id: row.user_id,
                name: row
                    .nickname
                    .as_deref()
                    .or(user.display_name.as_deref())
                    .unwrap_or(&user.username),
                username: &user.username,
                note: row.note.as_deref(),
                groups: groups.iter().map(String::as_str).collect(),
            })
        })
        .collect();
    Ok(RawFile {
        content_type: "text/vcard; charset=utf-8",
        bytes: vcards::write(&cards).into_bytes(),
    })
}
