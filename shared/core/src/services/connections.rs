//! WebSocket connection lifecycle: `$connect` registers a connection for a live device session
//! (and, with `since`, asks the relay to replay the events after that cursor first),
//! `$disconnect` (or a push answering 410 Gone) removes it.

use crate::api::requests::SyncCursor;
use crate::auth::tokens::Caller;
use crate::db::events;
use crate::db::presence::ConnectionChange;
use crate::db::sessions;
use crate::error::ApiError;
use crate::ports::ConnectionRecord;
use crate::App;

pub async fn connect(
    app: &App,
    caller: Caller,
    connection_id: &str,
    since: Option<SyncCursor>,
) -> Result<(), ApiError> {
    if connection_id.is_empty() || connection_id.len() > 128 {
        return Err(ApiError::InvalidInput("bad connection id".into()));
    }
    if !sessions::is_active(&app.db, caller.session_id, caller.user_id).await? {
        return Err(ApiError::Unauthorized);
    }
    let max = app.settings.max_connections_per_user;
    if app
        .ports
        .connections
        .connections_of(caller.user_id)
        .await?
        .len()
        >= max
    {
        return Err(ApiError::PermissionDenied(format!(
            "at most {max} connections per user (a phone and its linked devices)"
        )));
    }
    if let Some(SyncCursor(after)) = since {
        // Before the connection is registered, so the relay pushes it nothing newer until it
        // has replayed everything after the cursor.
        let client = app.db.get().await?;
        events::check_resumable(&client, after).await?;
        events::request_replay(
            &client,
            connection_id,
            caller.user_id,
            caller.session_id,
            after,
        )
        .await?;
    }
    let record = ConnectionRecord {
        connection_id: connection_id.to_owned(),
        user_id: caller.user_id,
        session_id: caller.session_id,
        connected_at: chrono::Utc::now().timestamp(),
    };
    app.ports.connections.register(&record).await?;
    super::presence::connection_changed(
        app,
        caller.user_id,
        connection_id,
        ConnectionChange::Opened,
    )
    .await?;
    if since.is_some() {
        super::relay::wake(app, "replay").await;
    }
    Ok(())
}

/// Remove the connection; the user goes offline (and `lastSeen` is set) when it was their last
/// one in use.
pub async fn disconnect(app: &App, caller: Caller, connection_id: &str) -> Result<(), ApiError> {
    app.ports
        .connections
        .unregister(caller.user_id, connection_id)
        .await?;
    super::presence::connection_changed(
        app,
        caller.user_id,
        connection_id,
        ConnectionChange::Closed,
    )
    .await
}

/// Close every WebSocket connection of these device sessions (logout, revocation, password
/// reset, account deletion). Best effort: a connection already gone is simply dropped.
pub async fn close_sessions(app: &App, user_id: uuid::Uuid, sessions: &[uuid::Uuid]) {
    let connections = match app.ports.connections.connections_of(user_id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "could not list connections to close");
            return;
        }
    };
    for c in connections
        .iter()
        .filter(|c| sessions.contains(&c.session_id))
    {
        if let Err(e) = app.ports.push.disconnect(&c.connection_id).await {
            tracing::debug!(error = %e, "closing a connection");
        }
        let _ = app
            .ports
            .connections
            .unregister(user_id, &c.connection_id)
            .await;
        super::presence::connection_closed(app, user_id, &c.connection_id).await;
    }
}
