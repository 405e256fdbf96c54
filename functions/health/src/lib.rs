//! REST `GET /api/health` (200 when Postgres answers, 503 otherwise) and
//! `GET /api/openapi.json` (the committed OpenAPI document).

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use banter_core::{db, ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use http::header::{HeaderValue, CONTENT_TYPE};
use serde_json::json;

/// The API's OpenAPI document, committed at the repository root.
pub const OPENAPI: &str = include_str!("../../../openapi.json");

pub async fn handle(
    app: App,
    event: ApiGatewayProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let request = Request::new(&event);
    match request.route().as_str() {
        "GET /api/openapi.json" => {
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = 200;
            response
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response.body = Some(Body::Text(OPENAPI.to_owned()));
            Ok(response)
        }
        "GET /api/health" => {
            let result = if db::ping(&app.db).await {
                Ok(Reply::ok(json!({ "status": "ok", "database": "up" })))
            } else {
                Err(ApiError::Unavailable)
            };
            Ok(respond(&request, result))
        }
        _ => Ok(respond(&request, Err(ApiError::NotFound("route")))),
    }
}
