//! `GET /api/sync` (API.md "Sync"): every event the caller's devices would have been pushed,
//! after a cursor, in order, from the same event log the relay pushes from. Messages listed
//! here count as delivered, as if pushed.

use crate::api::models::{Envelope, SyncPage};
use crate::api::requests::SyncQuery;
use crate::auth::tokens::Caller;
use crate::db::events::{self, Position};
use crate::db::Planning;
use crate::error::ApiError;
use crate::App;

use super::receipts::{self, Deliveries};
use super::relay::Frames;

/// `GET /api/sync?since&limit`.
#[utoipa::path(get, path = "/api/sync", tag = "sync", security(("bearer" = [])),
    params(SyncQuery),
    responses(
        (status = 200, description = "The caller's events after `since`, in order", body = Envelope<SyncPage>),
        (status = 410, description = "`SYNC_CURSOR_EXPIRED`: the cursor is older than the retention (or ahead of every event: not one this server issued); reload the chat list and history", body = crate::error::ErrorEnvelope),
    ))]
pub async fn sync(app: &App, caller: Caller, q: SyncQuery) -> Result<SyncPage, ApiError> {
    let mut client = app.db.get().await?;
    let Some(since) = q.since.map(|c| c.0) else {
        // From the present: everything below the horizon counts as seen.
        let horizon = events::horizon(&client).await?;
        return Ok(SyncPage {
            events: Vec::new(),
            next_cursor: horizon.encode(),
            has_more: false,
        });
    };
    events::check_resumable(&client, since).await?;
    let limit = q.limit.0;
    let (mut page, horizon) =
        events::for_user(&client, caller.user_id, since, Position::END, limit + 1).await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    let mut frames = Frames::load(app, &client, &page, Planning::PerCall).await?;
    frames.learn_blocks(&client, [caller.user_id]).await?;
    let mut listed = Vec::with_capacity(page.len());
    let mut deliveries = Deliveries::default();
    for event in &page {
        let Some(frame) = frames
            .frame(&client, event, caller.user_id, caller.session_id)
            .await?
        else {
            continue;
        };
        if let Some((chat, sender, seq, message)) = frames.receipt(event, caller.user_id) {
            deliveries.add(chat, sender, caller.user_id, seq, message);
        }
        listed.push(frame);
    }
    receipts::record_handed_over(app, &mut client, &deliveries).await?;
    let last = page.last().map_or(since, |e| e.position);
    let next = if has_more {
        last
    } else {
        last.max(horizon).max(since)
    };
    Ok(SyncPage {
        events: listed,
        next_cursor: next.encode(),
        has_more,
    })
}
