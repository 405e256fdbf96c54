//! Presence and status (PRD 2.2 "User status", API.md): a user is online while any of their
//! connections is open and in use. Connecting, disconnecting and a device's `user:online` /
//! `user:offline` change it; each transition, and each `user:status_update`, is published
//! (through the event log, like every event) to the people who may see it: those sharing a 1:1
//! chat or a contact with the user, never a whole large group, as the privacy settings allow
//! (presence by both last-seen settings, the status text by the user's `about`).

use uuid::Uuid;

use crate::api::models::{DeviceActivity, OnlineStatus, StatusSet, Timestamp};
use crate::api::ws::{ServerEvent, UserPresence, UserStatusUpdated};
use crate::auth::tokens::Caller;
use crate::db::events;
use crate::db::presence::{self, ConnectionChange};
use crate::domain::DisplayText;
use crate::error::ApiError;
use crate::App;

/// A connection of `user` changed; publish the transition it causes, if any.
pub async fn connection_changed(
    app: &App,
    user: Uuid,
    connection: &str,
    change: ConnectionChange,
) -> Result<(), ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let Some(transition) = presence::change(&tx, user, connection, change).await? else {
        tx.commit().await?;
        return Ok(());
    };
    let payload = UserPresence {
        user_id: user,
        username: transition.username,
        status: if transition.online {
            OnlineStatus::Online
        } else {
            OnlineStatus::Offline
        },
        last_seen: transition.last_seen.map(Timestamp),
    };
    let event = if transition.online {
        ServerEvent::UserOnline(payload)
    } else {
        ServerEvent::UserOffline(payload)
    };
    let audience = presence::audience(&tx, user).await?;
    events::append_user_events(&tx, &audience, Some(user), event.name(), &event.data()).await?;
    tx.commit().await?;
    if !audience.is_empty() {
        super::relay::wake(app, event.name()).await;
    }
    Ok(())
}

/// A connection is gone (disconnected, or a push found it gone): best effort, logged.
pub async fn connection_closed(app: &App, user: Uuid, connection: &str) {
    if let Err(e) = connection_changed(app, user, connection, ConnectionChange::Closed).await {
        tracing::warn!(error = %e, "presence: could not record a closed connection");
    }
}

/// `user:online` / `user:offline`: the device of this connection is in use, or idle.
pub async fn set_device_active(
    app: &App,
    caller: Caller,
    connection: &str,
    active: bool,
) -> Result<DeviceActivity, ApiError> {
    let change = if active {
        ConnectionChange::Active
    } else {
        ConnectionChange::Idle
    };
    connection_changed(app, caller.user_id, connection, change).await?;
    Ok(DeviceActivity { active })
}

/// `user:status_update`: set the status text (blank clears it) and tell the presence audience.
pub async fn update_status(
    app: &App,
    caller: Caller,
    status: DisplayText<140>,
) -> Result<StatusSet, ApiError> {
    let status = status.into_inner();
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let username = presence::set_status(&tx, caller.user_id, status.as_deref()).await?;
    publish_status(&tx, caller.user_id, username, status.clone()).await?;
    tx.commit().await?;
    super::relay::wake(app, "user:status_updated").await;
    Ok(StatusSet { status })
}

/// Tell whoever may see `user`'s status text (their `about` setting, as their profile shows it)
/// that it is now `status`, in the transaction that changed it (`user:status_update`, or
/// `status` in `PUT /api/users/profile`).
pub(super) async fn publish_status(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: Uuid,
    username: String,
    status: Option<String>,
) -> Result<(), ApiError> {
    let event = ServerEvent::UserStatusUpdated(UserStatusUpdated {
        user_id,
        username,
        status,
    });
    let audience = presence::status_audience(tx, user_id).await?;
    events::append_user_events(tx, &audience, Some(user_id), event.name(), &event.data()).await
}
