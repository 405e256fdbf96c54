//! Optional two-factor authentication with an authenticator app (TOTP): enrol, confirm with a
//! first code (which also issues ten single-use recovery codes), require a code at login,
//! disable with password and code.

use uuid::Uuid;

use crate::api::models::{Envelope, TwoFactorSetup, TwoFactorState};
use crate::api::requests::{TwoFactorDisableRequest, TwoFactorEnableRequest};
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::auth::totp;
use crate::db::users;
use crate::error::ApiError;
use crate::App;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `POST /api/auth/2fa/setup`: a new secret to put in an authenticator app (not active until
/// confirmed).
#[utoipa::path(post, path = "/api/auth/2fa/setup", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "A pending secret", body = Envelope<TwoFactorSetup>)))]
pub async fn setup(app: &App, caller: Caller) -> Result<TwoFactorSetup, ApiError> {
    let (enabled, _) = users::totp_state(&app.db, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if enabled {
        return Err(ApiError::AlreadyExists(
            "two-factor authentication is already on".into(),
        ));
    }
    let secret = totp::new_secret();
    let username = users::set_totp_secret(&app.db, caller.user_id, Some(&secret)).await?;
    let url = format!("otpauth://totp/Banter:{username}?secret={secret}&issuer=Banter&algorithm=SHA1&digits=6&period=30");
    Ok(TwoFactorSetup {
        secret,
        otpauth_url: url,
    })
}

/// `POST /api/auth/2fa/enable {code}`: turn it on; answers the recovery codes, shown once.
#[utoipa::path(post, path = "/api/auth/2fa/enable", tag = "auth", security(("bearer" = [])),
    request_body = TwoFactorEnableRequest,
    responses((status = 200, description = "On, with its recovery codes", body = Envelope<TwoFactorState>)))]
pub async fn enable(
    app: &App,
    caller: Caller,
    body: TwoFactorEnableRequest,
) -> Result<TwoFactorState, ApiError> {
    let code = body.code.as_str();
    super::accounts::step_up(app, caller, body.password.as_ref()).await?;
    let verified_email = users::own_profile(&app.db, caller.user_id)
        .await?
        .is_some_and(|p| p.is_verified);
    if !verified_email {
        // A reset by email is the way back from a lost authenticator: it needs a working address.
        return Err(ApiError::PermissionDenied(
            "verify your email address before turning on two-factor authentication".into(),
        ));
    }
    let (enabled, secret) = users::totp_state(&app.db, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if enabled {
        return Err(ApiError::AlreadyExists(
            "two-factor authentication is already on".into(),
        ));
    }
    // No pending secret: there is nothing to confirm (`/api/auth/2fa/setup` makes one).
    let secret = secret.ok_or(ApiError::NotFound("pending two-factor secret"))?;
    if !totp::verify(&secret, code, now()) {
        return Err(ApiError::Validation("the code is wrong".into()));
    }
    let codes: Vec<String> = (0..10)
        .map(|_| new_opaque_token().0[..12].to_owned())
        .collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| hash_token(c)).collect();
    users::enable_totp(&app.db, caller.user_id, &hashes).await?;
    Ok(TwoFactorState {
        enabled: true,
        recovery_codes: Some(codes),
    })
}

/// `POST /api/auth/2fa/disable {password, code}`.
#[utoipa::path(post, path = "/api/auth/2fa/disable", tag = "auth", security(("bearer" = [])),
    request_body = TwoFactorDisableRequest,
    responses((status = 200, description = "Off", body = Envelope<TwoFactorState>)))]
pub async fn disable(
    app: &App,
    caller: Caller,
    body: TwoFactorDisableRequest,
) -> Result<TwoFactorState, ApiError> {
    let code = body.code.as_str();
    if !super::accounts::password_matches(app, caller.user_id, &body.password).await? {
        return Err(ApiError::InvalidCredentials);
    }
    if !second_factor_ok(app, caller.user_id, Some(code), None).await? {
        return Err(ApiError::InvalidCredentials);
    }
    users::set_totp_secret(&app.db, caller.user_id, None).await?;
    Ok(TwoFactorState {
        enabled: false,
        recovery_codes: None,
    })
}

async fn second_factor_ok(
    app: &App,
    user: Uuid,
    code: Option<&str>,
    recovery: Option<&str>,
) -> Result<bool, ApiError> {
    let (enabled, secret) = users::totp_state(&app.db, user)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    if !enabled {
        return Ok(true);
    }
    if let (Some(code), Some(secret)) = (code, secret.as_deref()) {
        return match totp::matching_step(secret, code, now()) {
            // A code is spent once: the same code (or an older one) again is refused.
            Some(step) => users::spend_totp_step(&app.db, user, step).await,
            None => Ok(false),
        };
    }
    match recovery {
        Some(r) if r.len() <= 64 => users::use_recovery_code(&app.db, user, &hash_token(r)).await,
        _ => Ok(false),
    }
}

/// At login, after the password checked out: `None` when the account needs no second factor or
/// the login carries a good `(totpCode, recoveryCode)`, otherwise the error to answer.
pub async fn required_at_login(
    app: &App,
    user: Uuid,
    (code, recovery): (Option<&str>, Option<&str>),
) -> Result<Option<ApiError>, ApiError> {
    let (enabled, _) = users::totp_state(&app.db, user)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    if !enabled {
        return Ok(None);
    }
    if code.is_none() && recovery.is_none() {
        return Ok(Some(ApiError::TwoFactorRequired));
    }
    Ok((!second_factor_ok(app, user, code, recovery).await?)
        .then_some(ApiError::InvalidCredentials))
}
