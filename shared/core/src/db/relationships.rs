//! Contacts, favorites and blocks (`user_relationships`).

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ApiError;

use super::Db;

/// How two users stand towards each other, from the viewer's side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// The target has the viewer in their contacts ("my contacts" privacy).
    pub viewer_is_contact: bool,
    /// The target blocked the viewer.
    pub blocked_by_target: bool,
    /// The viewer blocked the target.
    pub viewer_blocked_target: bool,
}

pub async fn standing(db: &Db, viewer: Uuid, target: Uuid) -> Result<Standing, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT
                 EXISTS (SELECT 1 FROM user_relationships WHERE user_id = $2 AND related_user_id = $1 AND relationship_type = 'contact')
                     AS viewer_is_contact,
                 EXISTS (SELECT 1 FROM user_relationships WHERE user_id = $2 AND related_user_id = $1 AND relationship_type = 'blocked')
                     AS blocked_by_target,
                 EXISTS (SELECT 1 FROM user_relationships WHERE user_id = $1 AND related_user_id = $2 AND relationship_type = 'blocked')
                     AS viewer_blocked_target",
        )
        .await?;
    let r = client.query_one(&stmt, &[&viewer, &target]).await?;
    Ok(Standing {
        viewer_is_contact: r.get("viewer_is_contact"),
        blocked_by_target: r.get("blocked_by_target"),
        viewer_blocked_target: r.get("viewer_blocked_target"),
    })
}

/// Since when each of `viewers` blocks each of `senders`, for those who do: what decides which
/// quotes and reactions a viewer does not see (`Message::as_seen_by`). Nothing is asked when
/// either list is empty.
pub async fn blocks_since(
    client: &impl GenericClient,
    viewers: &[Uuid],
    senders: &[Uuid],
) -> Result<std::collections::HashMap<(Uuid, Uuid), chrono::DateTime<chrono::Utc>>, ApiError> {
    if viewers.is_empty() || senders.is_empty() {
        return Ok(Default::default());
    }
    let stmt = client
        .prepare_cached(
            "SELECT user_id, related_user_id, created_at FROM user_relationships
             WHERE user_id = ANY($1) AND related_user_id = ANY($2) AND relationship_type = 'blocked'",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&viewers, &senders])
        .await?
        .iter()
        .map(|r| {
            (
                (r.get("user_id"), r.get("related_user_id")),
                r.get("created_at"),
            )
        })
        .collect())
}

/// Of `(viewer, owner)` pairs, those where the viewer may learn the owner's presence
/// (`presence_shown_to`, V75).
pub async fn presence_visible_pairs(
    client: &impl deadpool_postgres::GenericClient,
    pairs: &[(Uuid, Uuid)],
) -> Result<std::collections::HashSet<(Uuid, Uuid)>, ApiError> {
    if pairs.is_empty() {
        return Ok(Default::default());
    }
    let viewers: Vec<Uuid> = pairs.iter().map(|p| p.0).collect();
    let owners: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    let stmt = client
        .prepare_cached(&format!(
            "SELECT v, o FROM unnest($1::uuid[], $2::uuid[]) x(v, o) WHERE {}",
            super::presence_shown("o", "v")
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&viewers, &owners])
        .await?
        .iter()
        .map(|r| (r.get("v"), r.get("o")))
        .collect())
}

/// Those of `users` who block `adder` (they are neither added nor invited).
pub async fn blocking(db: &Db, adder: Uuid, users: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT user_id FROM user_relationships
             WHERE user_id = ANY($2) AND related_user_id = $1 AND relationship_type = 'blocked'",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&adder, &users])
        .await?
        .iter()
        .map(|r| r.get("user_id"))
        .collect())
}

/// Which of `users` may not be added to a group by `adder`: those who block the adder, and
/// those whose `groups` privacy says `nobody`, or `contacts` without the adder among theirs.
pub async fn refusing_group_adds(
    db: &Db,
    adder: Uuid,
    users: &[Uuid],
) -> Result<Vec<Uuid>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT u.id AS user_id FROM users u
             WHERE u.id = ANY($2) AND (
                 EXISTS (SELECT 1 FROM user_relationships b WHERE b.user_id = u.id
                         AND b.related_user_id = $1 AND b.relationship_type = 'blocked')
                 OR u.privacy_settings->>'groups' = 'nobody'
                 OR (u.privacy_settings->>'groups' = 'contacts'
                     AND NOT EXISTS (SELECT 1 FROM user_relationships c WHERE c.user_id = u.id
                                     AND c.related_user_id = $1 AND c.relationship_type = 'contact')))",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&adder, &users])
        .await?
        .iter()
        .map(|r| r.get("user_id"))
        .collect())
}

/// Add a relationship (idempotent): the related user and since when, if it is new.
pub async fn add(
    client: &impl GenericClient,
    user: Uuid,
    related: Uuid,
    kind: &str,
) -> Result<Option<Related>, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH added AS (
                 INSERT INTO user_relationships (user_id, related_user_id, relationship_type) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING RETURNING related_user_id, created_at)
             SELECT u.id, u.username, a.created_at AS since FROM added a JOIN users u ON u.id = a.related_user_id",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&user, &related, &kind])
        .await?
        .map(|r| related_row(&r)))
}

/// Remove a relationship; whether there was one.
pub async fn remove(
    client: &impl GenericClient,
    user: Uuid,
    related: Uuid,
    kind: &str,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached("DELETE FROM user_relationships WHERE user_id = $1 AND related_user_id = $2 AND relationship_type = $3")
        .await?;
    Ok(client.execute(&stmt, &[&user, &related, &kind]).await? == 1)
}

/// One user another is related to, and since when.
pub struct Related {
    pub id: Uuid,
    pub username: String,
    pub since: chrono::DateTime<chrono::Utc>,
}

fn related_row(r: &tokio_postgres::Row) -> Related {
    Related {
        id: r.get("id"),
        username: r.get("username"),
        since: r.get("since"),
    }
}

/// The users `user` has in relationship `kind`, newest first.
pub async fn list(db: &Db, user: Uuid, kind: &str) -> Result<Vec<Related>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT u.id, u.username, r.created_at AS since FROM user_relationships r JOIN users u ON u.id = r.related_user_id
             WHERE r.user_id = $1 AND r.relationship_type = $2 ORDER BY r.created_at DESC",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&user, &kind])
        .await?
        .iter()
        .map(related_row)
        .collect())
}
