//! REST `GET /api/health` (200 when Postgres answers, 503 otherwise), `GET /api/openapi.json`
//! and `GET /api/asyncapi.json` (the committed API documents).

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use banter_core::services::health;
use banter_core::{ApiError, App};
use banter_lambda::rest::{common_headers, respond, Reply, Request};
use banter_lambda::Error;
use http::header::{HeaderValue, CONTENT_TYPE};

/// The API's OpenAPI document, generated from the code and committed at the repository root
/// (`banter_core::api::docs`; a test keeps the file current).
pub const OPENAPI: &str = include_str!("../../../openapi.json");

/// The WebSocket protocol's AsyncAPI document, generated and committed the same way.
pub const ASYNCAPI: &str = include_str!("../../../asyncapi.json");

/// A committed document, as it is (no envelope), readable by a browser's API explorer.
fn document(text: &str) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    common_headers(&mut response.headers);
    response.body = Some(Body::Text(text.to_owned()));
    response
}

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses::NOTHING;

pub async fn handle(
    app: App,
    event: ApiGatewayProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let request = Request::new(&event);
    match request.route().as_str() {
        "GET /api/openapi.json" => Ok(document(OPENAPI)),
        "GET /api/asyncapi.json" => Ok(document(ASYNCAPI)),
        "GET /api/health" => Ok(respond(&request, health::check(&app).await.map(Reply::ok))),
        _ => Ok(respond(&request, Err(ApiError::NotFound("route")))),
    }
}
