//! WebSocket `$disconnect`: removes the connection from the registry.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use banter_core::services::connections;
use banter_core::App;
use banter_lambda::websocket::{caller, connection_id, reply};
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
    // The authorizer's context (user, session) comes with every event of the connection, so
    // the record is deleted by its primary key.
    connections::disconnect(&app, caller(&event)?, connection_id(&event)?).await?;
    Ok(reply(None))
}
