//! REST `/api/chats/*`: create, list and read chats; manage a group's participants; send,
//! edit, delete, react to, pin, star and read messages, vote in polls, and read history; the
//! caller's starred messages; the caller's call history (`/api/calls`). And
//! `/api/sync`: the caller's event stream after a cursor.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use banter_core::services::{
    calls, chats, invite_links, message_changes, message_marks, messaging, participants, polls,
    receipts, search, sync,
};
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use tracing::Instrument;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    tokens: true,
    queue: true,
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
        "POST /api/chats" => {
            let opened = chats::create(app, caller, req.body(max)?).await?;
            Ok(if opened.created {
                Reply::created(opened.chat)
            } else {
                Reply::ok(opened.chat)
            })
        }
        "GET /api/chats" => chats::list(app, caller, req.query()?)
            .await
            .map(Reply::page),
        "GET /api/chats/{chatId}" => chats::get(app, caller, req.path_id("chatId")?)
            .await
            .map(Reply::ok),
        "DELETE /api/chats/{chatId}" => chats::delete(app, caller, req.path_id("chatId")?)
            .await
            .map(Reply::ok),
        "PUT /api/chats/{chatId}" => {
            chats::update(app, caller, req.path_id("chatId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "GET /api/chats/{chatId}/messages" => {
            messaging::history(app, caller, req.path_id("chatId")?, req.query()?)
                .await
                .map(Reply::page)
        }
        "POST /api/chats/{chatId}/messages" => {
            let chat_id = req.path_id("chatId")?;
            messaging::send(app, caller, chat_id, req.body(max)?, None)
                .await
                .map(Reply::created)
        }
        "PUT /api/chats/{chatId}/messages/{messageId}" => message_changes::edit(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            req.body(max)?,
        )
        .await
        .map(Reply::ok),
        "DELETE /api/chats/{chatId}/messages/{messageId}" => message_changes::delete(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            // The body is optional (`null` too): for the caller only.
            req.body::<Option<_>>(max)?.unwrap_or_default(),
            None,
        )
        .await
        .map(Reply::ok),
        "GET /api/chats/{chatId}/messages/{messageId}/edits" => message_changes::edits(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/messages/{messageId}/reactions" => message_changes::react(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            req.body(max)?,
            None,
        )
        .await
        .map(Reply::ok),
        "DELETE /api/chats/{chatId}/messages/{messageId}/reactions/{emoji}" => {
            message_changes::unreact(
                app,
                caller,
                req.path_id("chatId")?,
                req.path_id("messageId")?,
                req.path("emoji")?,
                None,
            )
            .await
            .map(Reply::ok)
        }
        "PUT /api/chats/{chatId}/messages/{messageId}/poll/vote" => polls::vote(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            req.body(max)?,
            None,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/messages/{messageId}/keep" => message_marks::keep(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "DELETE /api/chats/{chatId}/messages/{messageId}/keep" => message_marks::unkeep(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "GET /api/chats/{chatId}/messages/{messageId}/poll" => polls::results(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/messages/{messageId}/read" => receipts::read(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            None,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/messages/{messageId}/forward" => messaging::forward(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            req.body(max)?,
        )
        .await
        .map(Reply::ok),
        "GET /api/chats/{chatId}/media" => {
            messaging::gallery(app, caller, req.path_id("chatId")?, req.query()?)
                .await
                .map(Reply::page)
        }
        "PUT /api/chats/{chatId}/messages/{messageId}/location" => messaging::move_live_location(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            req.body(max)?,
        )
        .await
        .map(Reply::ok),
        "DELETE /api/chats/{chatId}/messages/{messageId}/location" => {
            messaging::stop_live_location(
                app,
                caller,
                req.path_id("chatId")?,
                req.path_id("messageId")?,
            )
            .await
            .map(Reply::ok)
        }
        "POST /api/chats/{chatId}/messages/{messageId}/open" => messaging::open_view_once(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/messages/{messageId}/played" => receipts::played(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            None,
        )
        .await
        .map(Reply::ok),
        "GET /api/chats/{chatId}/messages/{messageId}/info" => receipts::info(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/messages/{messageId}/pin" => message_marks::pin(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            req.body(max)?,
        )
        .await
        .map(Reply::ok),
        "DELETE /api/chats/{chatId}/messages/{messageId}/pin" => message_marks::unpin(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/messages/{messageId}/star" => message_marks::star(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
            true,
        )
        .await
        .map(Reply::ok),
        "DELETE /api/chats/{chatId}/messages/{messageId}/star" => message_marks::unstar(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("messageId")?,
        )
        .await
        .map(Reply::ok),
        "GET /api/messages/starred" => message_marks::starred(app, caller, req.query()?)
            .await
            .map(Reply::page),
        "GET /api/calls" => calls::history(app, caller, req.query()?)
            .await
            .map(Reply::page),
        "GET /api/calls/ice-servers" => calls::ice_servers(app, caller).await.map(Reply::ok),
        "GET /api/messages/search" => search::messages(app, caller, req.query()?)
            .await
            .map(Reply::page),
        "POST /api/chats/{chatId}/invitation" => {
            chats::accept_invitation(app, caller, req.path_id("chatId")?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/chats/{chatId}/invitation" => {
            chats::decline_invitation(app, caller, req.path_id("chatId")?)
                .await
                .map(Reply::ok)
        }
        "POST /api/chats/{chatId}/participants" => {
            participants::add(app, caller, req.path_id("chatId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/chats/{chatId}/participants/{userId}" => {
            participants::remove(app, caller, req.path_id("chatId")?, req.path_id("userId")?)
                .await
                .map(Reply::ok)
        }
        "GET /api/chats/{chatId}/past-participants" => {
            participants::past(app, caller, req.path_id("chatId")?, req.query()?)
                .await
                .map(Reply::page)
        }
        "PUT /api/chats/{chatId}/participants/{userId}/role" => participants::set_role(
            app,
            caller,
            req.path_id("chatId")?,
            req.path_id("userId")?,
            req.body(max)?,
        )
        .await
        .map(Reply::ok),
        "POST /api/chats/{chatId}/clear" => {
            chats::clear(app, caller, req.path_id("chatId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/chats/{chatId}/invite-link" => {
            invite_links::create(app, caller, req.path_id("chatId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "GET /api/chats/{chatId}/invite-link" => {
            invite_links::current(app, caller, req.path_id("chatId")?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/chats/{chatId}/invite-link" => {
            invite_links::revoke(app, caller, req.path_id("chatId")?)
                .await
                .map(Reply::ok)
        }
        "GET /api/chats/{chatId}/invite-link/qr" => {
            invite_links::qr(app, caller, req.path_id("chatId")?, req.query()?)
                .await
                .map(Reply::file)
        }
        "GET /api/chats/invitations" => chats::invitations(app, caller).await.map(Reply::ok),
        "GET /api/invites/{code}" => invite_links::preview(app, caller, req.path("code")?)
            .await
            .map(Reply::ok),
        "POST /api/invites/{code}/join" => invite_links::join(app, caller, req.path("code")?)
            .await
            .map(Reply::ok),
        "GET /api/chats/{chatId}/join-requests" => {
            invite_links::requests(app, caller, req.path_id("chatId")?)
                .await
                .map(Reply::ok)
        }
        "POST /api/chats/{chatId}/join-requests/{userId}/approve" => {
            invite_links::approve(app, caller, req.path_id("chatId")?, req.path_id("userId")?)
                .await
                .map(Reply::ok)
        }
        "POST /api/chats/{chatId}/join-requests/{userId}/reject" => {
            invite_links::reject(app, caller, req.path_id("chatId")?, req.path_id("userId")?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/chats/{chatId}/join-request" => {
            invite_links::withdraw(app, caller, req.path_id("chatId")?)
                .await
                .map(Reply::ok)
        }
        "GET /api/sync" => sync::sync(app, caller, req.query()?).await.map(Reply::ok),
        _ => Err(ApiError::NotFound("route")),
    }
}
