//! REST `/api/users/*`: profiles and privacy, user search, blocking, data export and account
//! deletion; `/api/reports`: abuse reports; `/api/notifications/device`: this device's push
//! notifications; `/api/keys`, `/api/users/{userId}/keys`: end-to-end encryption keys;
//! `/api/contacts/*`: contacts, contact groups, contact links (QR codes), phone
//! sync, vCard import and export; `/api/backups`: chat backups.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use banter_core::services::data_rights::{self, ExportAnswer};
use banter_core::services::{
    backups, blocking, contacts, encryption_keys, notifications, profiles, reports,
};
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use tracing::Instrument;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    tokens: true,
    registry: true,
    push: true,
    queue: true,
    blobs: true,
    mobile_push: true,
    // Abuse reports are announced to the moderators' address.
    notify: true,
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
        "POST /api/reports" => {
            let limit = app.settings.rate_limits.reports;
            req.limit_by_user(app, "reports", caller, limit).await?;
            reports::file(app, caller, req.body(max)?)
                .await
                .map(Reply::created)
        }
        "POST /api/users/block" => blocking::block(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/users/unblock" => blocking::unblock(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/notifications/device" => {
            notifications::register_device(app, caller, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "GET /api/notifications/device" => notifications::device(app, caller).await.map(Reply::ok),
        "DELETE /api/notifications/device" => notifications::unregister_device(app, caller)
            .await
            .map(Reply::ok),
        "PUT /api/keys" => {
            let limit = app.settings.rate_limits.key_publishes;
            req.limit_by_user(app, "key_publishes", caller, limit)
                .await?;
            encryption_keys::publish(app, caller, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/keys/one-time" => {
            let limit = app.settings.rate_limits.key_publishes;
            req.limit_by_user(app, "key_publishes", caller, limit)
                .await?;
            encryption_keys::add_one_time(app, caller, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "GET /api/keys" => encryption_keys::own(app, caller).await.map(Reply::ok),
        "GET /api/users/{userId}/keys" => {
            let whose = req.path_id("userId")?;
            let limits = &app.settings.rate_limits;
            req.limit_by_user(app, "key_claims", caller, limits.key_claims)
                .await?;
            let of_whom = format!("key_claims:{whose}");
            req.limit_by_user(app, &of_whom, caller, limits.key_claims_per_user)
                .await?;
            encryption_keys::claim(app, caller, whose)
                .await
                .map(Reply::ok)
        }
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
        "GET /api/users/me/qr" => contacts::qr(app, caller, req.query()?)
            .await
            .map(Reply::file),
        "GET /api/users/me/contact-link" => {
            contacts::contact_link(app, caller).await.map(Reply::ok)
        }
        "POST /api/users/me/qr/reset" => contacts::reset_qr(app, caller).await.map(Reply::ok),
        "GET /api/contacts" => contacts::list(app, caller, req.query()?)
            .await
            .map(Reply::page),
        "POST /api/contacts" => contacts::add(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "PUT /api/contacts/{userId}" => {
            contacts::update(app, caller, req.path_id("userId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/contacts/{userId}" => contacts::remove(app, caller, req.path_id("userId")?)
            .await
            .map(Reply::ok),
        "GET /api/contacts/groups" => contacts::groups(app, caller).await.map(Reply::ok),
        "POST /api/contacts/groups" => contacts::create_group(app, caller, req.body(max)?)
            .await
            .map(Reply::created),
        "PUT /api/contacts/groups/{groupId}" => {
            contacts::rename_group(app, caller, req.path_id("groupId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/contacts/groups/{groupId}" => {
            contacts::delete_group(app, caller, req.path_id("groupId")?)
                .await
                .map(Reply::ok)
        }
        "POST /api/contacts/groups/{groupId}/members" => {
            contacts::add_group_members(app, caller, req.path_id("groupId")?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "DELETE /api/contacts/groups/{groupId}/members/{userId}" => {
            let (group, user) = (req.path_id("groupId")?, req.path_id("userId")?);
            contacts::remove_group_member(app, caller, group, user)
                .await
                .map(Reply::ok)
        }
        "GET /api/contacts/resolve/{code}" => contacts::resolve(app, caller, req.path("code")?)
            .await
            .map(Reply::ok),
        "POST /api/contacts/sync" => contacts::sync(app, caller, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/contacts/import" => {
            let text = req.text_body(contacts::MAX_IMPORT_BYTES)?;
            contacts::import(app, caller, &text).await.map(Reply::ok)
        }
        "GET /api/contacts/export" => contacts::export(app, caller).await.map(Reply::file),
        "POST /api/backups" => backups::create(app, caller, req.body(max)?)
            .await
            .map(Reply::accepted),
        "GET /api/backups/{backupId}" => backups::get(app, caller, req.path_id("backupId")?)
            .await
            .map(Reply::ok),
        _ => Err(ApiError::NotFound("route")),
    }
}
