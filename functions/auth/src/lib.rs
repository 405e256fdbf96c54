//! REST `/api/auth/*`: register, login, refresh, logout.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use banter_core::services::accounts;
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;

pub async fn handle(
    app: App,
    event: ApiGatewayProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let request = Request::new(&event);
    let result = route(&app, &request).await;
    Ok(respond(&request, result))
}

async fn route(app: &App, req: &Request<'_>) -> Result<Reply, ApiError> {
    let max = app.settings.max_body_bytes;
    match req.route().as_str() {
        "POST /api/auth/register" => accounts::register(app, &req.json(max)?, &req.device())
            .await
            .map(Reply::created),
        "POST /api/auth/login" => accounts::login(app, &req.json(max)?, &req.device())
            .await
            .map(Reply::ok),
        "POST /api/auth/refresh" => accounts::refresh(app, &req.json(max)?).await.map(Reply::ok),
        "POST /api/auth/logout" => {
            let caller = req.caller(app)?;
            accounts::logout(app, caller, &req.json(max)?)
                .await
                .map(Reply::ok)
        }
        _ => Err(ApiError::NotFound("route")),
    }
}
