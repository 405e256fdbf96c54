//! Contacts (`user_relationships` rows of type `contact`), contact groups (labels), contact
//! links, and finding users by verified phone or email for contact sync and vCard import.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::api::models::{ContactGroup, Timestamp};
use crate::error::ApiError;

use super::Db;

/// A contact row as the owner keeps it (the contact's profile is read separately, through
/// their privacy).
pub struct ContactRow {
    pub user_id: Uuid,
    pub nickname: Option<String>,
    pub note: Option<String>,
    pub favorite: bool,
    pub group_ids: Vec<Uuid>,
    pub added_at: DateTime<Utc>,
}

const CONTACT_SELECT: &str = "SELECT c.related_user_id, c.nickname, c.note, c.favorite, c.created_at,
        coalesce((SELECT array_agg(m.group_id ORDER BY m.added_at) FROM contact_group_members m
                  WHERE m.owner_id = c.user_id AND m.user_id = c.related_user_id), '{}') AS group_ids,
        count(*) OVER () AS total
     FROM user_relationships c JOIN users u ON u.id = c.related_user_id AND u.deleted_at IS NULL
     WHERE c.user_id = $1 AND c.relationship_type = 'contact'";

fn contact_row(r: &Row) -> ContactRow {
    ContactRow {
        user_id: r.get("related_user_id"),
        nickname: r.get("nickname"),
        note: r.get("note"),
        favorite: r.get("favorite"),
        group_ids: r.get("group_ids"),
        added_at: r.get("created_at"),
    }
}

/// What to change on a contact: `None` keeps a field, `Some(None)` clears a text.
#[derive(Default)]
pub struct ContactChange {
    pub nickname: Option<Option<String>>,
    pub note: Option<Option<String>>,
    pub favorite: Option<bool>,
}

fn split(field: &Option<Option<String>>) -> (bool, Option<&str>) {
    match field {
        None => (false, None),
        Some(v) => (true, v.as_deref()),
    }
}

/// Change an existing contact (in the caller's transaction); `false` if `user` is not one.
/// A new contact is added by [`add_many`] first, then given its fields here.
pub async fn update(
    client: &impl GenericClient,
    owner: Uuid,
    user: Uuid,
    change: &ContactChange,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE user_relationships c SET
                 nickname = CASE WHEN $3 THEN $4 ELSE c.nickname END,
                 note = CASE WHEN $5 THEN $6 ELSE c.note END,
                 favorite = coalesce($7, c.favorite)
             WHERE c.user_id = $1 AND c.related_user_id = $2 AND c.relationship_type = 'contact'",
        )
        .await?;
    let (set_nickname, nickname) = split(&change.nickname);
    let (set_note, note) = split(&change.note);
    Ok(client
        .execute(
            &stmt,
            &[
                &owner,
                &user,
                &set_nickname,
                &nickname,
                &set_note,
                &note,
                &change.favorite,
            ],
        )
        .await?
        == 1)
}

/// Remove a contact (and so its group memberships); whether there was one.
pub async fn remove(
    client: &impl GenericClient,
    owner: Uuid,
    user: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM user_relationships
             WHERE user_id = $1 AND related_user_id = $2 AND relationship_type = 'contact'",
        )
        .await?;
    Ok(client.execute(&stmt, &[&owner, &user]).await? == 1)
}

/// `owner`'s contacts, favorites first then by when they were added, optionally only
/// favorites (or not) or one group's members; the page and the total.
pub async fn list(
    db: &Db,
    owner: Uuid,
    favorite: Option<bool>,
    group: Option<Uuid>,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ContactRow>, i64), ApiError> {
    let pattern = search.map(|q| super::like_pattern(q, false));
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "{CONTACT_SELECT}
               AND ($2::boolean IS NULL OR c.favorite = $2)
               AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM contact_group_members m
                    WHERE m.group_id = $3 AND m.owner_id = c.user_id AND m.user_id = c.related_user_id))
               AND ($6::text IS NULL OR lower(c.nickname) LIKE $6 OR lower(u.display_name) LIKE $6
                    OR u.username LIKE $6)
             ORDER BY c.favorite DESC, c.created_at, c.related_user_id LIMIT $4 OFFSET $5"
        ))
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&owner, &favorite, &group, &limit, &offset, &pattern],
        )
        .await?;
    let total = rows.first().map(|r| r.get::<_, i64>("total")).unwrap_or(0);
    Ok((rows.iter().map(contact_row).collect(), total))
}

/// One of `owner`'s contacts.
pub async fn one(
    client: &impl GenericClient,
    owner: Uuid,
    user: Uuid,
) -> Result<Option<ContactRow>, ApiError> {
    let stmt = client
        .prepare_cached(&format!("{CONTACT_SELECT} AND c.related_user_id = $2"))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&owner, &user])
        .await?
        .map(|r| contact_row(&r)))
}

/// Add each of `users` (with its nickname and note) as a contact of `owner`, in one statement,
/// unless they are one already; the users added.
pub async fn add_many(
    client: &impl GenericClient,
    owner: Uuid,
    users: &[Uuid],
    nicknames: &[Option<&str>],
    notes: &[Option<&str>],
) -> Result<Vec<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO user_relationships (user_id, related_user_id, relationship_type, nickname, note)
             SELECT $1, u, 'contact', n, t FROM unnest($2::uuid[], $3::text[], $4::text[]) x(u, n, t)
             ON CONFLICT DO NOTHING RETURNING related_user_id",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&owner, &users, &nicknames, &notes])
        .await?
        .iter()
        .map(|r| r.get("related_user_id"))
        .collect())
}

/// Several of `owner`'s contacts.
pub async fn some(
    client: &impl GenericClient,
    owner: Uuid,
    users: &[Uuid],
) -> Result<Vec<ContactRow>, ApiError> {
    let stmt = client
        .prepare_cached(&format!("{CONTACT_SELECT} AND c.related_user_id = ANY($2)"))
        .await?;
    Ok(client
        .query(&stmt, &[&owner, &users])
        .await?
        .iter()
        .map(contact_row)
        .collect())
}

/// Every contact of `owner` with the names of their groups, for export.
pub async fn all_with_group_names(
    db: &Db,
    owner: Uuid,
) -> Result<Vec<(ContactRow, Vec<String>)>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT x.*, coalesce((SELECT array_agg(g.name ORDER BY g.name) FROM contact_groups g
                                   WHERE g.id = ANY(x.group_ids)), '{{}}') AS group_names
             FROM ({CONTACT_SELECT}) x ORDER BY x.created_at"
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&owner])
        .await?
        .iter()
        .map(|r| (contact_row(r), r.get("group_names")))
        .collect())
}

// --- groups (labels) ---------------------------------------------------------------------------

/// Contact groups one user may have.
pub const MAX_GROUPS: i64 = 100;

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.created_at,
        coalesce((SELECT array_agg(m.user_id ORDER BY m.added_at) FROM contact_group_members m
                  WHERE m.group_id = g.id), '{}') AS member_ids
     FROM contact_groups g";

fn group_row(r: &Row) -> ContactGroup {
    ContactGroup {
        id: r.get("id"),
        name: r.get("name"),
        member_ids: r.get("member_ids"),
        created_at: Timestamp(r.get("created_at")),
    }
}

pub async fn groups(db: &Db, owner: Uuid) -> Result<Vec<ContactGroup>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "{GROUP_SELECT} WHERE g.owner_id = $1 ORDER BY lower(g.name), g.id"
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&owner])
        .await?
        .iter()
        .map(group_row)
        .collect())
}

/// One of `owner`'s groups, as it is now (in the caller's transaction).
pub async fn group(
    client: &impl GenericClient,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<ContactGroup>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "{GROUP_SELECT} WHERE g.id = $1 AND g.owner_id = $2"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &owner])
        .await?
        .map(|r| group_row(&r)))
}

pub async fn group_count(client: &impl GenericClient, owner: Uuid) -> Result<i64, ApiError> {
    let stmt = client
        .prepare_cached("SELECT count(*) AS n FROM contact_groups WHERE owner_id = $1")
        .await?;
    Ok(client.query_one(&stmt, &[&owner]).await?.get("n"))
}

/// The id of `owner`'s group called `name` (ignoring case), in the caller's transaction.
pub async fn group_named(
    client: &impl GenericClient,
    owner: Uuid,
    name: &str,
) -> Result<Option<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT id FROM contact_groups WHERE owner_id = $1 AND lower(name) = lower($2)",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&owner, &name])
        .await?
        .map(|r| r.get("id")))
}

/// A new group; `false` if the owner has one of that name (ignoring case).
pub async fn create_group(
    client: &impl GenericClient,
    owner: Uuid,
    id: Uuid,
    name: &str,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO contact_groups (id, owner_id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .await?;
    Ok(client.execute(&stmt, &[&id, &owner, &name]).await? == 1)
}

/// Rename a group: `None` if there is no such group of `owner`'s, `Some(false)` if the name is
/// another group's.
pub async fn rename_group(
    client: &impl GenericClient,
    owner: Uuid,
    id: Uuid,
    name: &str,
) -> Result<Option<bool>, ApiError> {
    let taken = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM contact_groups WHERE owner_id = $1 AND lower(name) = lower($3) AND id <> $2) AS taken",
        )
        .await?;
    if client
        .query_one(&taken, &[&owner, &id, &name])
        .await?
        .get::<_, bool>("taken")
    {
        return Ok(Some(false));
    }
    let stmt = client
        .prepare_cached("UPDATE contact_groups SET name = $3 WHERE owner_id = $1 AND id = $2")
        .await?;
    Ok((client.execute(&stmt, &[&owner, &id, &name]).await? == 1).then_some(true))
}

pub async fn delete_group(
    client: &impl GenericClient,
    owner: Uuid,
    id: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached("DELETE FROM contact_groups WHERE owner_id = $1 AND id = $2")
        .await?;
    Ok(client.execute(&stmt, &[&owner, &id]).await? == 1)
}

/// Of `users`, those who are not `owner`'s contacts.
pub async fn not_contacts(
    client: &impl GenericClient,
    owner: Uuid,
    users: &[Uuid],
) -> Result<Vec<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT u FROM unnest($2::uuid[]) u
             WHERE NOT EXISTS (SELECT 1 FROM user_relationships c
                               WHERE c.user_id = $1 AND c.related_user_id = u AND c.relationship_type = 'contact')",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&owner, &users])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Put contacts into one of `owner`'s groups (those in it already stay).
pub async fn add_members(
    client: &impl GenericClient,
    owner: Uuid,
    group: Uuid,
    users: &[Uuid],
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO contact_group_members (group_id, owner_id, user_id)
             SELECT $2, $1, u FROM unnest($3::uuid[]) u ON CONFLICT DO NOTHING",
        )
        .await?;
    client.execute(&stmt, &[&owner, &group, &users]).await?;
    Ok(())
}

/// Take `user` out of one of `owner`'s groups; whether they were in it.
pub async fn remove_member(
    client: &impl GenericClient,
    owner: Uuid,
    group: Uuid,
    user: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM contact_group_members WHERE owner_id = $1 AND group_id = $2 AND user_id = $3",
        )
        .await?;
    Ok(client.execute(&stmt, &[&owner, &group, &user]).await? == 1)
}

// --- contact links -----------------------------------------------------------------------------

/// `user`'s contact link code, made now (as `fresh`) if they have none.
pub async fn contact_code(db: &Db, user: Uuid, fresh: &str) -> Result<String, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE users SET contact_code = coalesce(contact_code, $2) WHERE id = $1 RETURNING contact_code",
        )
        .await?;
    client
        .query_opt(&stmt, &[&user, &fresh])
        .await?
        .map(|r| r.get("contact_code"))
        .ok_or(ApiError::NotFound("user"))
}

/// Replace `user`'s contact link code with `fresh`.
pub async fn reset_contact_code(
    client: &impl GenericClient,
    user: Uuid,
    fresh: &str,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached("UPDATE users SET contact_code = $2 WHERE id = $1")
        .await?;
    client.execute(&stmt, &[&user, &fresh]).await?;
    Ok(())
}

/// The user behind a contact link code (none while suspended).
pub async fn by_contact_code(db: &Db, code: &str) -> Result<Option<Uuid>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT id FROM users WHERE contact_code = $1 AND deleted_at IS NULL AND suspended_at IS NULL")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&code])
        .await?
        .map(|r| r.get("id")))
}

// --- discovery ---------------------------------------------------------------------------------

/// Who of the users with these verified phones (E.164) or verified emails (lower-cased) may
/// be found by `viewer`: discoverable (privacy `discoverable`, default on), not `viewer`, not
/// blocking them, not suspended. `(phone or email, user)` pairs.
pub async fn discoverable(
    db: &Db,
    viewer: Uuid,
    phones: &[String],
    emails: &[String],
) -> Result<Vec<(String, Uuid)>, ApiError> {
    if phones.is_empty() && emails.is_empty() {
        return Ok(Vec::new());
    }
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT x.address, x.id FROM (
                 SELECT u.phone AS address, u.id, u.privacy_settings FROM users u
                 WHERE u.phone = ANY($2) AND u.phone_verified AND u.deleted_at IS NULL
                   AND u.suspended_at IS NULL
                 UNION ALL
                 SELECT lower(u.email), u.id, u.privacy_settings FROM users u
                 WHERE lower(u.email) = ANY($3) AND u.email_verified AND u.deleted_at IS NULL
                   AND u.suspended_at IS NULL) x
             WHERE x.id <> $1 AND coalesce((x.privacy_settings->>'discoverable')::boolean, true)
               AND NOT EXISTS (SELECT 1 FROM user_relationships b
                               WHERE b.user_id = x.id AND b.related_user_id = $1 AND b.relationship_type = 'blocked')",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&viewer, &phones, &emails])
        .await?
        .iter()
        .map(|r| (r.get("address"), r.get("id")))
        .collect())
}

/// `user`'s verified phone, if any.
pub async fn verified_phone(db: &Db, user: Uuid) -> Result<Option<String>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT phone FROM users WHERE id = $1 AND phone_verified")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&user])
        .await?
        .and_then(|r| r.get("phone")))
}
