//! REST `/api/users/*`: profiles and privacy, user search, blocking, data export and account
//! deletion.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use banter_core::services::data_rights::{self, ExportAnswer};
use banter_core::services::{blocking, profiles};
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use tracing::Instrument;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    tokens: true,
    registry: true,
    push: true,
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
        "GET /api/users/profile" => profiles::own(app, caller).await.map(Reply::ok),
        "PUT /api/users/profile" => profiles::update(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "GET /api/users/search" => profiles::search(app, caller, req.query()?)
            .await
            .map(Reply::page),
        "GET /api/users/blocked" => blocking::list(app, caller).await.map(Reply::ok),
        "POST /api/users/block" => blocking::block(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/users/unblock" => blocking::unblock(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "GET /api/users/me/export" => {
            data_rights::export(app, caller)
                .await
                .map(|answer| match answer {
                    ExportAnswer::Inline(export) => Reply::ok(export),
                    ExportAnswer::Download { url } => Reply::see_other(url),
                })
        }
        "DELETE /api/users/me" => {
            let limit = app.settings.rate_limits.auth;
            req.limit_by_user(app, "auth:DELETE /api/users/me", caller, limit)
                .await?;
            data_rights::delete_account(app, caller, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "GET /api/users/{userId}" => profiles::public(app, caller, req.path_id("userId")?)
            .await
            .map(Reply::ok),
        _ => Err(ApiError::NotFound("route")),
    }
}
