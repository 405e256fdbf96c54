//! An account's security activity (`V46`): what happened to it and from which device, for its
//! owner to check. Kept 180 days.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::api::models::{AccountActivity, ActivityKind, Timestamp};
use crate::auth::tokens::Caller;
use crate::error::ApiError;

use super::truncate_chars;

/// Where an entry came from.
pub enum Origin<'a> {
    /// A device session: the one that made the change, or the one it is about. Its user agent
    /// and login address are recorded with it.
    Session(Uuid),
    /// A request without a session (a failed login): its user agent and address.
    Request {
        user_agent: Option<&'a str>,
        ip_address: Option<&'a str>,
    },
    /// A link emailed to the account's address.
    Link,
}

/// Record `kind` for `user`, from `origin` (in the caller's transaction, if it has one).
pub async fn record(
    client: &impl GenericClient,
    user: Uuid,
    kind: ActivityKind,
    origin: Origin<'_>,
) -> Result<(), ApiError> {
    let (session, user_agent, ip_address) = match origin {
        Origin::Session(id) => (Some(id), None, None),
        Origin::Request {
            user_agent,
            ip_address,
        } => (None, user_agent, ip_address),
        Origin::Link => (None, None, None),
    };
    let stmt = client
        .prepare_cached(
            "INSERT INTO account_activity (id, user_id, kind, session_id, user_agent, ip_address)
             SELECT $1, $2, $3, $4, COALESCE($5, s.user_agent), COALESCE($6, s.ip_address)
             FROM (VALUES (1)) AS one LEFT JOIN device_sessions s ON s.id = $4 AND s.user_id = $2",
        )
        .await?;
    let user_agent = user_agent.map(|u| truncate_chars(u, 500));
    let ip_address = ip_address.map(|i| truncate_chars(i, 100));
    client
        .execute(
            &stmt,
            &[
                &Uuid::now_v7(),
                &user,
                &kind.as_stored(),
                &session,
                &user_agent,
                &ip_address,
            ],
        )
        .await?;
    Ok(())
}

/// A page of the caller's activity, newest first, and how much there is in all.
pub async fn list(
    client: &impl GenericClient,
    caller: Caller,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AccountActivity>, i64), ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT id, kind, session_id, user_agent, ip_address, created_at, count(*) OVER () AS total
             FROM account_activity WHERE user_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&caller.user_id, &limit, &offset])
        .await?;
    let total = rows.first().map_or(0, |r| r.get::<_, i64>("total"));
    let entries = rows
        .iter()
        .filter_map(|r| {
            let session_id: Option<Uuid> = r.get("session_id");
            Some(AccountActivity {
                id: r.get("id"),
                kind: ActivityKind::parse_stored(r.get("kind"))?,
                session_id,
                user_agent: r.get("user_agent"),
                ip_address: r.get("ip_address"),
                current_session: session_id == Some(caller.session_id),
                created_at: Timestamp(r.get("created_at")),
            })
        })
        .collect();
    Ok((entries, total))
}

/// Delete entries older than 180 days. Returns how many.
pub async fn forget_old(client: &impl GenericClient) -> Result<u64, ApiError> {
    Ok(client
        .execute(
            "DELETE FROM account_activity WHERE created_at < now() - interval '180 days'",
            &[],
        )
        .await?)
}
