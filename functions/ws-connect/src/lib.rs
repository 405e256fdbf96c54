//! WebSocket `$connect`: registers the connection for the authorized device session. A revoked
//! session is refused (401); `since=<cursor>` asks for a replay of the events after it (a
//! malformed cursor is refused with 400, one past the retention with 410).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use banter_core::api::requests::SyncCursor;
use banter_core::db::events::Position;
use banter_core::services::connections;
use banter_core::{ApiError, App};
use banter_lambda::websocket::{caller, connection_id, refuse, reply};
use banter_lambda::Error;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    registry: true,
    // Wakes the relay: presence changes (and, on connect, a replay) are published.
    queue: true,
    ..banter_lambda::Uses::NOTHING
};

pub async fn handle(
    app: App,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let result = async {
        let caller = caller(&event)?;
        let since = match event.query_string_parameters.first("since") {
            Some(raw) => Some(
                Position::parse(raw)
                    .map(SyncCursor)
                    .ok_or_else(|| ApiError::Validation("`since` is not a cursor".into()))?,
            ),
            None => None,
        };
        connections::connect(&app, caller, connection_id(&event)?, since).await
    }
    .await;
    Ok(match result {
        Ok(()) => reply(None),
        Err(e) => {
            tracing::info!(error = %e, "connection refused");
            refuse(e.status())
        }
    })
}
