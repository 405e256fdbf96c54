//! REST `/api/chats/*`: create, list and read chats; send messages and read history.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use banter_core::domain::page_limit;
use banter_core::services::{chats, messaging};
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use serde_json::json;

pub async fn handle(
    app: App,
    event: ApiGatewayProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let request = Request::new(&event);
    let result = route(&app, &request).await;
    Ok(respond(&request, result))
}

async fn route(app: &App, req: &Request<'_>) -> Result<Reply, ApiError> {
    req.limit_by_ip(app, "general", app.settings.rate_limits.general)
        .await?;
    let caller = req.caller(app)?;
    let max = app.settings.max_body_bytes;
    match req.route().as_str() {
        "POST /api/chats" => {
            let (chat, created) = chats::create(app, caller, &req.json(max)?).await?;
            Ok(if created {
                Reply::created(chat)
            } else {
                Reply::ok(chat)
            })
        }
        "GET /api/chats" => {
            let limit = page_limit(req.query("limit"))?;
            let offset = match req.query("offset") {
                None => 0,
                Some(o) => o
                    .parse::<i64>()
                    .ok()
                    .filter(|o| (0..=1_000_000).contains(o))
                    .ok_or_else(|| {
                        ApiError::Validation("offset must be a non-negative integer".into())
                    })?,
            };
            let (page, total) = chats::list(app, caller, limit, offset).await?;
            let next = (offset + (page.len() as i64) < total).then_some(offset + page.len() as i64);
            Ok(Reply::ok(json!(page))
                .with_meta(json!({ "pagination": { "limit": limit, "offset": offset, "total": total, "nextOffset": next } })))
        }
        "GET /api/chats/{chatId}" => chats::get(app, caller, req.path_param("chatId")?)
            .await
            .map(Reply::ok),
        "GET /api/chats/{chatId}/messages" => {
            let limit = page_limit(req.query("limit"))?;
            let (page, has_more) = messaging::history(
                app,
                caller,
                req.path_param("chatId")?,
                req.query("before"),
                req.query("after"),
                limit,
            )
            .await?;
            let pagination = json!({
                "limit": limit,
                "hasMore": has_more,
                "before": page.first().map(|m| m["id"].clone()),
                "after": page.last().map(|m| m["id"].clone()),
            });
            Ok(Reply::ok(json!(page)).with_meta(json!({ "pagination": pagination })))
        }
        "POST /api/chats/{chatId}/messages" => {
            let chat_id = req.path_param("chatId")?;
            messaging::send(app, caller, Some(chat_id), &req.json(max)?, None)
                .await
                .map(Reply::created)
        }
        _ => Err(ApiError::NotFound("route")),
    }
}
