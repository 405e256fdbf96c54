//! WebSocket events in, frames out. On `$connect` the authorizer's context (user and session)
//! is attached to the connection, and API Gateway adds it to every later event of that
//! connection; [`caller`] reads it back. A route's reply is the Lambda response body, which
//! API Gateway (route response `$default`) sends to the client.

use aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayRequestAuthorizer, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::encodings::Body;
use banter_core::auth::tokens::Caller;
use banter_core::ApiError;
use serde_json::Value;
use uuid::Uuid;

/// The authorizer context keys.
pub const USER_ID: &str = "userId";
pub const SESSION_ID: &str = "sessionId";

/// A value from the authorizer context. REST-style (v1) events put the context fields directly
/// in `requestContext.authorizer`; HTTP-API-style ones under `lambda`. Both are read.
fn authorizer_field<'a>(authorizer: &'a ApiGatewayRequestAuthorizer, key: &str) -> Option<&'a str> {
    authorizer
        .fields
        .get(key)
        .or_else(|| authorizer.other.get(key))
        .and_then(Value::as_str)
}

/// The caller of a WebSocket event, from the authorizer context.
pub fn caller(event: &ApiGatewayWebsocketProxyRequest) -> Result<Caller, ApiError> {
    let auth = &event.request_context.authorizer;
    let user = authorizer_field(auth, USER_ID).and_then(|s| Uuid::parse_str(s).ok());
    let session = authorizer_field(auth, SESSION_ID).and_then(|s| Uuid::parse_str(s).ok());
    match (user, session) {
        (Some(user_id), Some(session_id)) => Ok(Caller {
            user_id,
            session_id,
        }),
        _ => Err(ApiError::Unauthorized),
    }
}

pub fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Result<&str, ApiError> {
    event
        .request_context
        .connection_id
        .as_deref()
        .ok_or(ApiError::InvalidInput(
            "the event has no connection id".into(),
        ))
}

/// A 200 response whose body (if any) is sent to the client as one frame.
pub fn reply(frame: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response.body = frame.map(Body::Text);
    response
}

/// A refusal (on `$connect`, a non-2xx status refuses the handshake).
pub fn refuse(status: u16) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response
}
