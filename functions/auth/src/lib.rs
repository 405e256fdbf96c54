//! REST `/api/auth/*`: register, login, refresh, logout, email and phone verification, password
//! reset, password and email changes, device sessions, account activity and two-factor
//! authentication.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use banter_core::services::{accounts, credentials, two_factor, verification};
use banter_core::{ApiError, App};
use banter_lambda::rest::{respond, Reply, Request};
use banter_lambda::Error;
use tracing::Instrument;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    tokens: true,
    registry: true,
    push: true,
    notify: true,
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

/// Routes that take credentials or send codes without a session: the PRD's strict `auth`
/// limit, per client IP, each route its own bucket (so one route's use does not block another).
/// Login is not here: only its failures count (backoff in `accounts::login`).
const ANONYMOUS_CREDENTIAL_ROUTES: &[&str] = &[
    "POST /api/auth/register",
    "POST /api/auth/verify-email",
    "POST /api/auth/forgot-password",
    "POST /api/auth/reset-password",
    "POST /api/auth/change-email/confirm",
    "POST /api/auth/change-email/undo",
    "POST /api/auth/2fa/reset",
    "POST /api/auth/2fa/reset/confirm",
];

/// The same with a session: per user, so people behind one NAT never share a bucket.
const SIGNED_IN_CREDENTIAL_ROUTES: &[&str] = &[
    "POST /api/auth/change-password",
    "POST /api/auth/change-email",
    "POST /api/auth/phone/start",
    "POST /api/auth/phone/verify",
    "POST /api/auth/2fa/setup",
    "POST /api/auth/2fa/enable",
    "POST /api/auth/2fa/disable",
];

async fn route(app: &App, req: &Request<'_>) -> Result<Reply, ApiError> {
    let limits = &app.settings.rate_limits;
    req.limit_by_ip(app, "general", limits.general).await?;
    let route = req.route();
    if ANONYMOUS_CREDENTIAL_ROUTES.contains(&route.as_str()) {
        req.limit_by_ip(app, &format!("auth:{route}"), limits.auth)
            .await?;
    }
    if SIGNED_IN_CREDENTIAL_ROUTES.contains(&route.as_str()) {
        let caller = req.caller(app).await?;
        req.limit_by_user(app, &format!("auth:{route}"), caller, limits.auth)
            .await?;
    }
    let max = app.settings.max_body_bytes;
    match route.as_str() {
        "POST /api/auth/register" => accounts::register(app, req.body(max)?, &req.device())
            .await
            .map(Reply::created),
        "POST /api/auth/login" => accounts::login(app, req.body(max)?, &req.device())
            .await
            .map(Reply::ok),
        "POST /api/auth/refresh" => accounts::refresh(app, req.body(max)?).await.map(Reply::ok),
        "POST /api/auth/logout" => accounts::logout(app, req.caller(app).await?, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/auth/verify-email" => verification::verify_email(app, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/auth/forgot-password" => verification::forgot_password(app, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/auth/reset-password" => verification::reset_password(app, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/auth/change-password" => {
            credentials::change_password(app, req.caller(app).await?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/auth/change-email" => {
            credentials::start_email_change(app, req.caller(app).await?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/auth/change-email/confirm" => {
            credentials::confirm_email_change(app, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/auth/change-email/undo" => credentials::undo_email_change(app, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/auth/phone/start" => {
            verification::start_phone(app, req.caller(app).await?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/auth/phone/verify" => {
            verification::verify_phone(app, req.caller(app).await?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "GET /api/auth/sessions" => accounts::list_sessions(app, req.caller(app).await?)
            .await
            .map(Reply::ok),
        "GET /api/auth/activity" => {
            accounts::list_activity(app, req.caller(app).await?, req.query()?)
                .await
                .map(Reply::page)
        }
        "DELETE /api/auth/sessions" => accounts::revoke_other_sessions(app, req.caller(app).await?)
            .await
            .map(Reply::ok),
        "DELETE /api/auth/sessions/{sessionId}" => {
            accounts::revoke_session(app, req.caller(app).await?, req.path_id("sessionId")?)
                .await
                .map(Reply::ok)
        }
        "POST /api/auth/2fa/setup" => two_factor::setup(app, req.caller(app).await?)
            .await
            .map(Reply::ok),
        "POST /api/auth/2fa/enable" => {
            two_factor::enable(app, req.caller(app).await?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/auth/2fa/disable" => {
            two_factor::disable(app, req.caller(app).await?, req.body(max)?)
                .await
                .map(Reply::ok)
        }
        "POST /api/auth/2fa/reset" => two_factor::request_reset(app, req.body(max)?)
            .await
            .map(Reply::ok),
        "POST /api/auth/2fa/reset/confirm" => two_factor::confirm_reset(app, req.body(max)?)
            .await
            .map(Reply::ok),
        _ => Err(ApiError::NotFound("route")),
    }
}
