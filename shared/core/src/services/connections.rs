//! WebSocket connection lifecycle: `$connect` registers a connection for a live device session,
//! `$disconnect` (or a push answering 410 Gone) removes it.

use crate::auth::tokens::Caller;
use crate::db::sessions;
use crate::error::ApiError;
use crate::ports::ConnectionRecord;
use crate::App;

pub async fn connect(app: &App, caller: Caller, connection_id: &str) -> Result<(), ApiError> {
    if connection_id.is_empty() || connection_id.len() > 128 {
        return Err(ApiError::InvalidInput("bad connection id".into()));
    }
    if !sessions::is_active(&app.db, caller.session_id, caller.user_id).await? {
        return Err(ApiError::Unauthorized);
    }
    let record = ConnectionRecord {
        connection_id: connection_id.to_owned(),
        user_id: caller.user_id,
        session_id: caller.session_id,
        connected_at: chrono::Utc::now().timestamp(),
    };
    app.ports.connections.register(&record).await?;
    Ok(())
}

pub async fn disconnect(app: &App, connection_id: &str) -> Result<(), ApiError> {
    app.ports.connections.unregister(connection_id).await?;
    Ok(())
}
