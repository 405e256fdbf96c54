//! WebSocket `$connect` authorizer: verifies the access token from `?token=` with the public
//! key and allows the connection with the user and session as context. A missing, bad or
//! expired token fails with `Unauthorized`, which API Gateway answers with HTTP 401.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use banter_core::App;
use banter_lambda::websocket::{SESSION_ID, USER_ID};
use banter_lambda::Error;
use serde_json::json;

/// The error text API Gateway turns into a 401.
pub const UNAUTHORIZED: &str = "Unauthorized";

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    tokens: true,
    ..banter_lambda::Uses::NOTHING
};

pub async fn handle(
    app: App,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, Error> {
    let token = event
        .query_string_parameters
        .first("token")
        .ok_or(UNAUTHORIZED)?;
    let caller = app.tokens.verify_access(token).map_err(|_| UNAUTHORIZED)?;

    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![event.method_arn.clone().unwrap_or_else(|| "*".into())];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];

    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(caller.user_id.to_string());
    response.policy_document = policy;
    response.context = json!({ USER_ID: caller.user_id, SESSION_ID: caller.session_id });
    Ok(response)
}
