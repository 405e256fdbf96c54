//! Blocking (PRD 1.3). A block is one row; what it means is enforced where each path decides:
//! messaging refuses 1:1 sends and leaves blockers out of group deliveries, chat creation
//! refuses, and profile views hide presence, picture and about (`profiles::public_view`);
//! presence events stop both ways, at once.

use uuid::Uuid;

use crate::api::models::{BlockState, BlockedUser, Envelope, Timestamp};
use crate::api::requests::BlockRequest;
use crate::api::ws::ServerEvent;
use crate::auth::tokens::Caller;
use crate::db::{calls, chats, events, messages, relationships, users};
use crate::error::ApiError;
use crate::App;

use super::presence::{self, Sightlines};

const BLOCKED: &str = "blocked";

async fn target(app: &App, caller: Caller, body: &BlockRequest) -> Result<Uuid, ApiError> {
    let id = body.user_id;
    if id == caller.user_id {
        return Err(ApiError::Validation("you cannot block yourself".into()));
    }
    if !users::all_exist(&app.db, &[id]).await? {
        return Err(ApiError::NotFound("user"));
    }
    Ok(id)
}

/// `POST /api/users/block {userId}`.
#[utoipa::path(post, path = "/api/users/block", tag = "users", security(("bearer" = [])),
    request_body = BlockRequest,
    responses((status = 200, description = "The user is blocked", body = Envelope<BlockState>)))]
pub async fn block(app: &App, caller: Caller, body: BlockRequest) -> Result<BlockState, ApiError> {
    let id = target(app, caller, &body).await?;
    set_block(app, caller.user_id, id, true).await?;
    Ok(BlockState {
        user_id: id,
        blocked: true,
    })
}

/// `POST /api/users/unblock {userId}`.
#[utoipa::path(post, path = "/api/users/unblock", tag = "users", security(("bearer" = [])),
    request_body = BlockRequest,
    responses((status = 200, description = "The user is not blocked", body = Envelope<BlockState>)))]
pub async fn unblock(
    app: &App,
    caller: Caller,
    body: BlockRequest,
) -> Result<BlockState, ApiError> {
    let id = target(app, caller, &body).await?;
    set_block(app, caller.user_id, id, false).await?;
    Ok(BlockState {
        user_id: id,
        blocked: false,
    })
}

/// Block `blocked` or not; neither sees the other's presence while a block holds, and each is
/// told at once (`presence::publish_sightline_changes`); a block stops the live locations either
/// shares in their 1:1, and ends a call between them. The blocker's devices are told of a change (`user:blocked`,
/// `user:unblocked`).
async fn set_block(app: &App, user: Uuid, blocked: Uuid, on: bool) -> Result<(), ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let before = Sightlines::between(&tx, user, &[blocked]).await?;
    let change = if on {
        relationships::add(&tx, user, blocked, BLOCKED)
            .await?
            .map(|added| ServerEvent::UserBlocked(shown(added)))
    } else {
        relationships::remove(&tx, user, blocked, BLOCKED)
            .await?
            .then_some(ServerEvent::UserUnblocked(BlockState {
                user_id: blocked,
                blocked: false,
            }))
    };
    if let Some(event) = &change {
        events::append_own_event(&tx, user, event).await?;
    }
    if on && change.is_some() {
        // Neither goes on seeing where the other is (told as the blocker's doing: the blocker
        // is told nothing the blocked one does).
        if let Some(chat) = chats::individual_between(&tx, user, blocked).await? {
            for sender in [user, blocked] {
                messages::stop_live_locations(&tx, chat, sender, user).await?;
            }
            // Nor goes on ringing, or talking to, the other.
            calls::end_live(&tx, chat, user).await?;
        }
    }
    let published = presence::publish_sightline_changes(&tx, user, before).await?;
    tx.commit().await?;
    if published || change.is_some() {
        super::relay::wake(app, "user:blocked").await;
    }
    Ok(())
}

fn shown(row: relationships::Related) -> BlockedUser {
    BlockedUser {
        id: row.id,
        username: row.username,
        blocked_at: Timestamp(row.since),
    }
}

/// `GET /api/users/blocked`.
#[utoipa::path(get, path = "/api/users/blocked", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The users the caller blocks, newest first", body = Envelope<Vec<BlockedUser>>)))]
pub async fn list(app: &App, caller: Caller) -> Result<Vec<BlockedUser>, ApiError> {
    let rows = relationships::list(&app.db, caller.user_id, BLOCKED).await?;
    Ok(rows.into_iter().map(shown).collect())
}
