//! Optional two-factor authentication with an authenticator app (TOTP): enrol, confirm with a
//! first code (which also issues ten single-use recovery codes), require a code at login,
//! disable with password and code.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::password::verify_password;
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::auth::totp;
use crate::db::users;
use crate::error::ApiError;
use crate::App;

use super::{optional_str, require_object, required_str};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `POST /api/auth/2fa/setup`: a new secret to put in an authenticator app (not active until
/// confirmed).
pub async fn setup(app: &App, caller: Caller) -> Result<Value, ApiError> {
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
    Ok(json!({ "secret": secret, "otpauthUrl": url }))
}

/// `POST /api/auth/2fa/enable {code}`: turn it on; answers the recovery codes, shown once.
pub async fn enable(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let code = required_str(body, "code")?;
    let (enabled, secret) = users::totp_state(&app.db, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if enabled {
        return Err(ApiError::AlreadyExists(
            "two-factor authentication is already on".into(),
        ));
    }
    let secret =
        secret.ok_or_else(|| ApiError::Validation("call /api/auth/2fa/setup first".into()))?;
    if !totp::verify(&secret, code, now()) {
        return Err(ApiError::Validation("the code is wrong".into()));
    }
    let codes: Vec<String> = (0..10)
        .map(|_| new_opaque_token().0[..12].to_owned())
        .collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| hash_token(c)).collect();
    users::enable_totp(&app.db, caller.user_id, &hashes).await?;
    Ok(json!({ "enabled": true, "recoveryCodes": codes }))
}

/// `POST /api/auth/2fa/disable {password, code}`.
pub async fn disable(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let password = required_str(body, "password")?;
    let code = required_str(body, "code")?;
    let stored = users::password_hash(&app.db, caller.user_id).await?;
    if !verify_password(password.to_owned(), stored).await? {
        return Err(ApiError::InvalidCredentials);
    }
    if !second_factor_ok(app, caller.user_id, Some(code), None).await? {
        return Err(ApiError::InvalidCredentials);
    }
    users::set_totp_secret(&app.db, caller.user_id, None).await?;
    Ok(json!({ "enabled": false }))
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
        return Ok(totp::verify(secret, code, now()));
    }
    match recovery {
        Some(r) if r.len() <= 64 => users::use_recovery_code(&app.db, user, &hash_token(r)).await,
        _ => Ok(false),
    }
}

/// At login, after the password checked out: `None` when the account needs no second factor or
/// the body carries a good `totpCode` / `recoveryCode`, otherwise the error to answer.
pub async fn required_at_login(
    app: &App,
    user: Uuid,
    body: &Value,
) -> Result<Option<ApiError>, ApiError> {
    let (enabled, _) = users::totp_state(&app.db, user)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    if !enabled {
        return Ok(None);
    }
    let code = optional_str(body, "totpCode")?;
    let recovery = optional_str(body, "recoveryCode")?;
    if code.is_none() && recovery.is_none() {
        return Ok(Some(ApiError::TwoFactorRequired));
    }
    Ok((!second_factor_ok(app, user, code, recovery).await?)
        .then_some(ApiError::InvalidCredentials))
}
