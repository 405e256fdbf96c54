//! WebSocket `$connect`: registers the connection for the authorized device session. A revoked
//! session is refused (401).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use banter_core::services::connections;
use banter_core::App;
use banter_lambda::websocket::{caller, connection_id, refuse, reply};
use banter_lambda::Error;

pub async fn handle(
    app: App,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let result = async {
        let caller = caller(&event)?;
        connections::connect(&app, caller, connection_id(&event)?).await
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
