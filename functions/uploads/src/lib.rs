//! REST `/api/upload/*` and `/api/media/*`: presigned and multipart upload URLs, completing and
//! aborting uploads; a file with signed URLs to its variants, its processing status, and
//! cancelling its processing. (Processing is the media function's, on S3 `ObjectCreated`.)

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use banter_core::services::media;
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use tracing::Instrument;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    tokens: true,
    queue: true,
    blobs: true,
    ..banter_lambda::Uses::NOTHING
};

pub async fn handle(
    app: App,
    event: ApiGatewayProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let request = Request::new(&event);
    let result = route(&app, &request).instrument(request.span()).await;
    Ok(respond(&request, result))
}

async fn route(app: &App, req: &Request<'_>) -> Result<Reply, ApiError> {
    req.limit_by_ip(app, "general", app.settings.rate_limits.general)
        .await?;
    let caller = req.caller(app).await?;
    let max = app.settings.max_body_bytes;
    match req.route().as_str() {
        "POST /api/upload/presigned-url" => media::upload_url(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/upload/complete" => media::complete_upload(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/upload/multipart" => media::start_multipart(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/upload/multipart/{fileId}/complete" => {
            media::complete_multipart(app, caller, req.path_id("fileId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/upload/multipart/{fileId}" => {
            media::abort_multipart(app, caller, req.path_id("fileId")?)
                .await
                .map(Reply::ok)
        }
        "GET /api/media/{fileId}" => media::get(app, caller, req.path_id("fileId")?)
            .await
            .map(Reply::ok),
        "GET /api/media/{fileId}/status" => media::status(app, caller, req.path_id("fileId")?)
            .await
            .map(Reply::ok),
        "DELETE /api/media/{fileId}/processing" => {
            media::cancel(app, caller, req.path_id("fileId")?)
                .await
                .map(Reply::ok)
        }
        _ => Err(ApiError::NotFound("route")),
    }
}
