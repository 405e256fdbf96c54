//! Presence state (`V20`): which connections count as active, the one online/offline
//! transition they cause, and who may be told of it.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ApiError;

/// What happened to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionChange {
    /// Connected (active).
    Opened,
    /// Its device is in use again (`user:online`).
    Active,
    /// Its device is idle (`user:offline`).
    Idle,
    /// Disconnected, or found gone.
    Closed,
}

/// The user came online or went offline (`last_seen` set).
pub struct Transition {
    pub username: String,
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
}

/// Apply a connection's change and, if it changes whether the user is online, record that.
/// Under the user's row lock, in the caller's transaction. The lock is `NO KEY UPDATE`: two
/// users going offline at once each append events naming the other (foreign keys take `KEY
/// SHARE` on those rows), which a full `UPDATE` lock would turn into a deadlock.
pub async fn change(
    client: &impl GenericClient,
    user: Uuid,
    connection: &str,
    change: ConnectionChange,
) -> Result<Option<Transition>, ApiError> {
    let lock = client
        .prepare_cached("SELECT is_online FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    let Some(row) = client.query_opt(&lock, &[&user]).await? else {
        return Ok(None);
    };
    let was_online: bool = row.get("is_online");
    let sql = match change {
        ConnectionChange::Opened => {
            "INSERT INTO presence_connections (connection_id, user_id) VALUES ($2, $1)
             ON CONFLICT (connection_id) DO UPDATE SET active = true
             WHERE presence_connections.user_id = $1"
        }
        ConnectionChange::Active => {
            "UPDATE presence_connections SET active = true WHERE connection_id = $2 AND user_id = $1"
        }
        ConnectionChange::Idle => {
            "UPDATE presence_connections SET active = false WHERE connection_id = $2 AND user_id = $1"
        }
        ConnectionChange::Closed => {
            "DELETE FROM presence_connections WHERE connection_id = $2 AND user_id = $1"
        }
    };
    let stmt = client.prepare_cached(sql).await?;
    client.execute(&stmt, &[&user, &connection]).await?;
    let stmt = client
        .prepare_cached(
            "WITH stale AS (
                 DELETE FROM presence_connections
                 WHERE user_id = $1 AND connected_at < now() - interval '2 hours 5 minutes'
             )
             SELECT EXISTS (SELECT 1 FROM presence_connections
                            WHERE user_id = $1 AND active
                              AND connected_at >= now() - interval '2 hours 5 minutes') AS online",
        )
        .await?;
    let online: bool = client.query_one(&stmt, &[&user]).await?.get("online");
    if online == was_online {
        return Ok(None);
    }
    let stmt = client
        .prepare_cached(
            "UPDATE users SET is_online = $2, last_seen = CASE WHEN $2 THEN last_seen ELSE now() END
             WHERE id = $1 RETURNING username, last_seen",
        )
        .await?;
    let row = client.query_one(&stmt, &[&user, &online]).await?;
    Ok(Some(Transition {
        username: row.get("username"),
        online,
        last_seen: (!online).then(|| row.get("last_seen")),
    }))
}

/// Who is told of `owner`'s presence (`presence_audience`, V20), read from the function in
/// `FROM`: there PostgreSQL inlines its body into this statement, whose plan the connection
/// keeps. Called in the select list, its body was planned again at every call (5.5 ms and 790
/// buffers for someone in one chat, against 0.6 ms and 30).
pub const AUDIENCE: &str = "SELECT viewer AS user_id FROM presence_audience($1) AS viewer";

/// Who is told that `owner`'s status text changed (`status_audience`, V36: presence's people,
/// as the owner's `about` setting allows), read as [`AUDIENCE`] is.
pub const STATUS_AUDIENCE: &str = "SELECT viewer AS user_id FROM status_audience($1) AS viewer";

/// Who is told that `owner`'s profile picture changed (`picture_audience`, V65: presence's
/// people, as the owner's `profilePicture` setting allows), read as [`AUDIENCE`] is.
pub const PICTURE_AUDIENCE: &str = "SELECT viewer AS user_id FROM picture_audience($1) AS viewer";

/// Whose presence `viewer` sees: the people in whose [`AUDIENCE`] they are (read as it is).
pub const WATCHED: &str = "SELECT p.v AS user_id FROM presence_people($1) AS p(v)
     WHERE EXISTS (SELECT 1 FROM presence_audience(p.v) AS a(v) WHERE a.v = $1)";

/// Who is told of `owner`'s presence ([`AUDIENCE`]), in a transaction that from here on plans as
/// `keyed_lookup_plans!` says: from the owner's memberships out, by index, however the tables
/// have grown. PostgreSQL's own generic plan, taken after five calls on a connection, hashes
/// whole tables. (The seconds a presence change once took for a user in 500 chats were the
/// privacy check run on every member scanned: `V33`.)
pub async fn audience(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    viewers(tx, AUDIENCE, owner).await
}

/// Who is told that `owner`'s status text changed ([`STATUS_AUDIENCE`]), planned as
/// [`audience`] is.
pub async fn status_audience(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    viewers(tx, STATUS_AUDIENCE, owner).await
}

/// Who is told that `owner`'s profile picture changed ([`PICTURE_AUDIENCE`]), planned as
/// [`audience`] is.
pub async fn picture_audience(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    viewers(tx, PICTURE_AUDIENCE, owner).await
}

/// Whose presence `viewer` sees ([`WATCHED`]), planned as [`audience`] is.
pub async fn watched(
    tx: &deadpool_postgres::Transaction<'_>,
    viewer: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    viewers(tx, WATCHED, viewer).await
}

/// Who sees whose presence between a user and one other person.
pub struct Sightline {
    pub other: Uuid,
    /// The other sees the user's presence.
    pub sees_user: bool,
    /// The user sees the other's.
    pub seen_by_user: bool,
}

/// Between `user` and each of `others`, each read as [`AUDIENCE`] is (a few people: each is one
/// lookup).
pub async fn sightlines_between(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
    others: &[Uuid],
) -> Result<Vec<Sightline>, ApiError> {
    let stmt = tx
        .prepare_cached(
            "SELECT o AS user_id,
                    EXISTS (SELECT 1 FROM presence_audience($1) AS a(v) WHERE a.v = o) AS sees_user,
                    EXISTS (SELECT 1 FROM presence_audience(o) AS a(v) WHERE a.v = $1) AS seen_by_user
             FROM unnest($2::uuid[]) AS o",
        )
        .await?;
    let (_, rows) = tokio::try_join!(super::plan_keyed_lookups(tx), async {
        Ok(tx.query(&stmt, &[&user, &others]).await?)
    })?;
    Ok(rows
        .iter()
        .map(|r| Sightline {
            other: r.get("user_id"),
            sees_user: r.get("sees_user"),
            seen_by_user: r.get("seen_by_user"),
        })
        .collect())
}

async fn viewers(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &str,
    user: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    let stmt = tx.prepare_cached(statement).await?;
    let (_, rows) = tokio::try_join!(super::plan_keyed_lookups(tx), async {
        Ok(tx.query(&stmt, &[&user]).await?)
    })?;
    Ok(rows.iter().map(|r| r.get("user_id")).collect())
}

/// Whether a user is online now, or when they were last.
pub struct Presence {
    pub user_id: Uuid,
    pub username: String,
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
}

/// The presence of each of `users` now.
pub async fn presence_of(
    client: &impl GenericClient,
    users: &[Uuid],
) -> Result<Vec<Presence>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT id, username, is_online, last_seen FROM users WHERE id = ANY($1::uuid[])",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&users])
        .await?
        .iter()
        .map(|r| Presence {
            user_id: r.get("id"),
            username: r.get("username"),
            online: r.get("is_online"),
            last_seen: r.get("last_seen"),
        })
        .collect())
}

/// Set `user`'s status text (`None` clears it). Their username.
pub async fn set_status(
    client: &impl GenericClient,
    user: Uuid,
    status: Option<&str>,
) -> Result<StatusChange, ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE users u SET status = $2
             FROM (SELECT status FROM users WHERE id = $1 FOR UPDATE) AS before
             WHERE u.id = $1
             RETURNING u.username, before.status IS DISTINCT FROM $2::text AS changed",
        )
        .await?;
    let row = client.query_one(&stmt, &[&user, &status]).await?;
    Ok(StatusChange {
        username: row.get("username"),
        changed: row.get("changed"),
    })
}

/// What setting a status text did.
pub struct StatusChange {
    pub username: String,
    /// It differs from the one before.
    pub changed: bool,
}
