//! Group invite links and join requests: the rows (`chat_invite_links`, `chat_join_requests`),
//! joining by code in one transaction with its events, and approving or rejecting requests.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::chats::{join_group, lock_group, lock_group_as, Acting};
use super::events::append_user_events;
use super::Db;
use crate::api::models::{InvitePreview, JoinRequestListed, ParticipantRole};
use crate::api::ws::{
    JoinRequestAnswered, JoinRequestClosed, JoinRequestOutcome, JoinRequested, ServerEvent,
};
use crate::error::ApiError;

/// A group's live invite link.
pub struct InviteLink {
    pub code: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub require_approval: bool,
}

impl InviteLink {
    fn from_row(row: &tokio_postgres::Row) -> Self {
        Self {
            code: row.get("code"),
            expires_at: row.get("expires_at"),
            require_approval: row.get("require_approval"),
        }
    }
}

/// Make the group's link, replacing any it had (whose code then stops working), as the admin
/// `created_by` still is under the group's lock.
pub async fn replace(
    db: &Db,
    chat_id: Uuid,
    code: &str,
    created_by: Acting,
    expires_at: Option<DateTime<Utc>>,
    require_approval: bool,
) -> Result<InviteLink, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    lock_group_as(&tx, chat_id, created_by).await?;
    let row = tx
        .query_one(
            "INSERT INTO chat_invite_links (chat_id, code, created_by, expires_at, require_approval)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (chat_id) DO UPDATE
             SET code = EXCLUDED.code, created_by = EXCLUDED.created_by, created_at = now(),
                 expires_at = EXCLUDED.expires_at, require_approval = EXCLUDED.require_approval
             RETURNING code, expires_at, require_approval",
            &[
                &chat_id,
                &code,
                &created_by.user,
                &expires_at,
                &require_approval,
            ],
        )
        .await?;
    tx.commit().await?;
    Ok(InviteLink::from_row(&row))
}

/// Revoke the group's link, as the admin `revoked_by` still is under the group's lock; `false`
/// if it had none.
pub async fn revoke(db: &Db, chat_id: Uuid, revoked_by: Acting) -> Result<bool, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    lock_group_as(&tx, chat_id, revoked_by).await?;
    let revoked = tx
        .execute(
            "DELETE FROM chat_invite_links WHERE chat_id = $1",
            &[&chat_id],
        )
        .await?
        == 1;
    tx.commit().await?;
    Ok(revoked)
}

/// The group's live (unexpired) link, if it has one.
pub async fn current(db: &Db, chat_id: Uuid) -> Result<Option<InviteLink>, ApiError> {
    let client = db.get().await?;
    Ok(client
        .query_opt(
            "SELECT code, expires_at, require_approval FROM chat_invite_links
             WHERE chat_id = $1 AND (expires_at IS NULL OR expires_at > now())",
            &[&chat_id],
        )
        .await?
        .as_ref()
        .map(InviteLink::from_row))
}

/// The group a live `code` invites to, as `user` may see it before joining, and whether an
/// admin of the group blocks `user`; `None` for a code that is unknown, revoked or expired.
pub async fn preview(
    db: &Db,
    code: &str,
    user: Uuid,
) -> Result<Option<(InvitePreview, bool)>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT c.id, c.name, c.description, c.avatar_url, c.avatar_media_id, l.require_approval,
                    (SELECT count(*) FROM chat_participants p
                      WHERE p.chat_id = c.id AND p.left_at IS NULL) AS members,
                    EXISTS (SELECT 1 FROM chat_participants p
                            WHERE p.chat_id = c.id AND p.user_id = $2 AND p.left_at IS NULL) AS member,
                    EXISTS (SELECT 1 FROM chat_participants p JOIN user_relationships r
                              ON r.user_id = p.user_id AND r.related_user_id = $2
                             AND r.relationship_type = 'blocked'
                            WHERE p.chat_id = c.id AND p.left_at IS NULL AND p.role = 'admin') AS refused
             FROM chat_invite_links l JOIN chats c ON c.id = l.chat_id
             WHERE l.code = $1 AND (l.expires_at IS NULL OR l.expires_at > now())",
        )
        .await?;
    Ok(client.query_opt(&stmt, &[&code, &user]).await?.map(|r| {
        (
            InvitePreview {
                chat_id: r.get("id"),
                name: r.get("name"),
                description: r.get("description"),
                avatar_url: r.get("avatar_url"),
                avatar_media_id: r.get("avatar_media_id"),
                participant_count: r.get("members"),
                require_approval: r.get("require_approval"),
                already_member: r.get("member"),
            },
            r.get("refused"),
        )
    }))
}

/// What following a code came to.
pub enum Joining {
    Joined(Uuid),
    /// Already a member: nothing changed.
    AlreadyMember(Uuid),
    /// The link needs an admin's approval: the request is waiting (the admins were told the
    /// first time).
    Requested(Uuid),
    Full,
    /// An admin of the group blocked the caller.
    Refused,
    /// An admin removed the caller, and the link does not ask the admins first.
    Removed,
}

/// Follow an invite `code`: join the group (with its events and system message), or ask to.
/// `NotFound` for a code that is unknown, revoked or expired.
pub async fn join(
    db: &Db,
    code: &str,
    user: Uuid,
    max_members: usize,
) -> Result<Joining, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let link = tx
        .query_opt(
            "SELECT chat_id, require_approval FROM chat_invite_links
             WHERE code = $1 AND (expires_at IS NULL OR expires_at > now())",
            &[&code],
        )
        .await?
        .ok_or(ApiError::NotFound("invite link"))?;
    let chat_id: Uuid = link.get("chat_id");
    lock_group(&tx, chat_id).await?;
    let row = tx
        .query_one(
            "SELECT count(*) FILTER (WHERE p.left_at IS NULL) AS members,
                    bool_or(p.user_id = $2 AND p.left_at IS NULL) AS present,
                    bool_or(p.user_id = $2 AND p.left_at IS NOT NULL AND p.removed_by_admin) AS removed,
                    bool_or(p.left_at IS NULL AND p.role = 'admin' AND EXISTS (
                        SELECT 1 FROM user_relationships r
                        WHERE r.user_id = p.user_id AND r.related_user_id = $2
                          AND r.relationship_type = 'blocked')) AS refused,
                    array_agg(p.user_id) FILTER (WHERE p.left_at IS NULL AND p.role = 'admin')
                        AS admins
             FROM chat_participants p WHERE p.chat_id = $1",
            &[&chat_id, &user],
        )
        .await?;
    if row.get::<_, Option<bool>>("present").unwrap_or(false) {
        return Ok(Joining::AlreadyMember(chat_id));
    }
    // The last member left (and the link with them) while this request waited for the lock.
    if row.get::<_, i64>("members") == 0 {
        return Err(ApiError::NotFound("invite link"));
    }
    if row.get::<_, Option<bool>>("refused").unwrap_or(false) {
        return Ok(Joining::Refused);
    }
    let require_approval: bool = link.get("require_approval");
    if row.get::<_, Option<bool>>("removed").unwrap_or(false) && !require_approval {
        return Ok(Joining::Removed);
    }
    if row.get::<_, i64>("members") as usize >= max_members {
        return Ok(Joining::Full);
    }
    if require_approval {
        let new = tx
            .query_opt(
                "INSERT INTO chat_join_requests (chat_id, user_id) VALUES ($1, $2)
                 ON CONFLICT (chat_id, user_id) DO NOTHING
                 RETURNING (SELECT username FROM users WHERE id = $2) AS username",
                &[&chat_id, &user],
            )
            .await?;
        if let Some(new) = new {
            let admins: Vec<Uuid> = row
                .get::<_, Option<Vec<Uuid>>>("admins")
                .unwrap_or_default();
            let event = ServerEvent::JoinRequested(JoinRequested {
                chat_id,
                user_id: user,
                username: new.get("username"),
            });
            append_user_events(&tx, &admins, Some(user), event.name(), &event.data()).await?;
        }
        tx.commit().await?;
        return Ok(Joining::Requested(chat_id));
    }
    // (Any request of theirs that waited is closed as they join.)
    join_group(&tx, chat_id, user, ParticipantRole::Member, None).await?;
    tx.commit().await?;
    Ok(Joining::Joined(chat_id))
}

/// The group's waiting join requests, oldest first.
pub async fn requests(db: &Db, chat_id: Uuid) -> Result<Vec<JoinRequestListed>, ApiError> {
    let client = db.get().await?;
    Ok(client
        .query(
            &format!(
                "SELECT r.user_id, u.username, u.display_name, r.requested_at
                 FROM chat_join_requests r JOIN users u ON u.id = r.user_id
                 WHERE r.chat_id = $1 AND NOT {}
                 ORDER BY r.requested_at, r.user_id LIMIT 1000",
                member_now("r")
            ),
            &[&chat_id],
        )
        .await?
        .iter()
        .map(|r| JoinRequestListed {
            user_id: r.get("user_id"),
            username: r.get("username"),
            display_name: r.get("display_name"),
            // As the admin asking sees it: `services::invite_links::requests`.
            profile_picture_url: None,
            requested_at: r.get::<_, DateTime<Utc>>("requested_at").into(),
        })
        .collect())
}

/// What answering a join request came to.
pub enum Answer {
    Approved,
    Rejected,
    NoRequest,
    Full,
}

/// Approve (the requester joins, with its events) or reject a waiting request, as an admin
/// still (checked under the group's lock); either way the requester is told
/// (`chat:join_request:answered`).
pub async fn answer(
    db: &Db,
    chat_id: Uuid,
    user: Uuid,
    approve: bool,
    answered_by: Acting,
    max_members: usize,
) -> Result<Answer, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    lock_group_as(&tx, chat_id, answered_by).await?;
    let answered_by = answered_by.user;
    // (A member has no request waiting: one kept from before joining closed as they joined.)
    let found = tx
        .execute(
            &format!(
                "DELETE FROM chat_join_requests r WHERE r.chat_id = $1 AND r.user_id = $2
                   AND NOT {}",
                member_now("r")
            ),
            &[&chat_id, &user],
        )
        .await?
        == 1;
    if !found {
        return Ok(Answer::NoRequest);
    }
    if approve {
        if super::chats::is_full(&tx, chat_id, max_members).await? {
            return Ok(Answer::Full);
        }
        join_group(
            &tx,
            chat_id,
            user,
            ParticipantRole::Member,
            Some(answered_by),
        )
        .await?;
    }
    let event = ServerEvent::JoinRequestAnswered(JoinRequestAnswered {
        chat_id,
        approved: approve,
    });
    append_user_events(&tx, &[user], Some(answered_by), event.name(), &event.data()).await?;
    let outcome = if approve {
        JoinRequestOutcome::Approved
    } else {
        JoinRequestOutcome::Rejected
    };
    closed(&tx, chat_id, user, outcome, Some(answered_by)).await?;
    tx.commit().await?;
    Ok(if approve {
        Answer::Approved
    } else {
        Answer::Rejected
    })
}

/// In the transaction where the last member left a group: the group has ended, so its invite
/// link goes (its code then finds nothing) and each waiting request ends unanswered, as a
/// rejection its requester is told of (`chat:join_request:answered`, `approved: false`).
pub(super) async fn end_with_the_group(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
) -> Result<(), ApiError> {
    tx.execute(
        "DELETE FROM chat_invite_links WHERE chat_id = $1",
        &[&chat_id],
    )
    .await?;
    let requesters: Vec<Uuid> = tx
        .query(
            "DELETE FROM chat_join_requests WHERE chat_id = $1 RETURNING user_id",
            &[&chat_id],
        )
        .await?
        .iter()
        .map(|r| r.get("user_id"))
        .collect();
    let event = ServerEvent::JoinRequestAnswered(JoinRequestAnswered {
        chat_id,
        approved: false,
    });
    append_user_events(tx, &requesters, None, event.name(), &event.data()).await
}

/// Take back `user`'s waiting request to join `chat_id`; `false` if there is none.
pub async fn withdraw(db: &Db, chat_id: Uuid, user: Uuid) -> Result<bool, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    lock_group(&tx, chat_id).await?;
    let found = tx
        .execute(
            "DELETE FROM chat_join_requests WHERE chat_id = $1 AND user_id = $2",
            &[&chat_id, &user],
        )
        .await?
        == 1;
    if !found {
        return Ok(false);
    }
    closed(
        &tx,
        chat_id,
        user,
        JoinRequestOutcome::Withdrawn,
        Some(user),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A statement's condition (SQL) that the requester of the join request `r` is a member now
/// (a request kept from before a member joined another way waits for nothing).
fn member_now(r: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM chat_participants p
                 WHERE p.chat_id = {r}.chat_id AND p.user_id = {r}.user_id AND p.left_at IS NULL)"
    )
}

/// Tell the group's admins (and, for a withdrawal, the requester's devices) that `user`'s
/// request waits no more (`chat:join_request:closed`), in the caller's transaction.
pub(super) async fn closed(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    user: Uuid,
    outcome: JoinRequestOutcome,
    actor: Option<Uuid>,
) -> Result<(), ApiError> {
    let mut told: Vec<Uuid> = tx
        .query(
            "SELECT user_id FROM chat_participants
             WHERE chat_id = $1 AND left_at IS NULL AND role = 'admin'",
            &[&chat_id],
        )
        .await?
        .iter()
        .map(|r| r.get("user_id"))
        .collect();
    if outcome == JoinRequestOutcome::Withdrawn {
        told.push(user);
    }
    let event = ServerEvent::JoinRequestClosed(JoinRequestClosed {
        chat_id,
        user_id: user,
        outcome,
    });
    append_user_events(tx, &told, actor, event.name(), &event.data()).await
}
