//! REST `GET /api/health` (200 when Postgres answers, 503 otherwise) and
//! `GET /api/openapi.json` (the committed OpenAPI document).

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use banter_core::services::health;
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use http::header::{HeaderValue, CONTENT_TYPE};

/// The API's OpenAPI document, generated from the code and committed at the repository root
/// (`banter_core::api::docs`; a test keeps the file current).
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
        "GET /api/health" => Ok(respond(&request, health::check(&app).await.map(Reply::ok))),
        _ => Ok(respond(&request, Err(ApiError::NotFound("route")))),
    }
}
