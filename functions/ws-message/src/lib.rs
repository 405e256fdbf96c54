//! WebSocket messages: `$default` and every custom route (`message:send`, ...). Parses the
//! frame, dispatches on its `action`, and answers with exactly one `ack` or `error:general`
//! frame per `requestId`. A malformed frame or an unknown action is answered, never fatal.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use banter_core::services::messaging;
use banter_core::wire::{ack_frame, error_frame, ClientFrame, MAX_REQUEST_ID_LEN};
use banter_core::{ApiError, App};
use banter_lambda::websocket::{caller, connection_id, reply};
use banter_lambda::Error;
use serde_json::Value;

/// API Gateway's WebSocket message limit.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

pub async fn handle(
    app: App,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    Ok(reply(dispatch(&app, &event).await))
}

async fn dispatch(app: &App, event: &ApiGatewayWebsocketProxyRequest) -> Option<String> {
    let body = event.body.as_deref().unwrap_or("");
    if body.len() > MAX_MESSAGE_BYTES {
        return Some(error_frame(
            None,
            "FILE_TOO_LARGE",
            "frames are at most 128 KB",
        ));
    }
    let frame: ClientFrame = match serde_json::from_str(body) {
        Ok(frame) => frame,
        Err(_) => {
            let request_id = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["requestId"].as_str().map(str::to_owned));
            let request_id = request_id.filter(|r| r.len() <= MAX_REQUEST_ID_LEN);
            return Some(error_frame(
                request_id.as_deref(),
                "INVALID_INPUT",
                "a frame is a JSON object {\"action\", \"requestId\", \"data\"}",
            ));
        }
    };
    if frame
        .request_id
        .as_ref()
        .is_some_and(|r| r.len() > MAX_REQUEST_ID_LEN)
    {
        return Some(error_frame(
            None,
            "VALIDATION_ERROR",
            "requestId is at most 128 characters",
        ));
    }
    let request_id = frame.request_id.as_deref();
    match run_action(app, event, &frame).await {
        Ok(data) => request_id.map(|_| ack_frame(request_id, data)),
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(action = %frame.action, error = %e, "action failed");
            }
            Some(error_frame(request_id, e.code(), &e.public_message()))
        }
    }
}

async fn run_action(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
    frame: &ClientFrame,
) -> Result<Value, ApiError> {
    let caller = caller(event)?;
    match frame.action.as_str() {
        "message:send" => {
            messaging::send(app, caller, None, &frame.data, Some(connection_id(event)?)).await
        }
        other => {
            let shown: String = other.chars().take(64).collect();
            Err(ApiError::Validation(format!("unknown action `{shown}`")))
        }
    }
}
