//! Registration, login, token refresh and logout (PRD 1.2, API.md "Auth").

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::password::{hash_password, verify_password};
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::db::sessions::{self, NewSession, Rotation};
use crate::db::users::{self, NewUserConflict};
use crate::domain::{Email, Password, Phone, Username};
use crate::error::ApiError;
use crate::App;

use super::{optional_str, rate_limit, require_object, required_str, two_factor, verification};

/// Where a login comes from, recorded on its device session.
#[derive(Debug, Default, Clone)]
pub struct DeviceInfo {
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
}

/// `POST /api/auth/register`.
pub async fn register(app: &App, body: &Value, device: &DeviceInfo) -> Result<Value, ApiError> {
    require_object(body)?;
    let email = Email::parse(required_str(body, "email")?)?;
    let password = Password::parse(required_str(body, "password")?)?;
    let chosen = optional_str(body, "username")?
        .map(Username::parse)
        .transpose()?;
    let phone = optional_str(body, "phone")?.map(Phone::parse).transpose()?;
    let hash = hash_password(password.expose().to_owned()).await?;

    let user_id = Uuid::now_v7();
    let mut username = chosen
        .clone()
        .unwrap_or_else(|| Username::from_email(&email));
    let mut attempt = 0;
    loop {
        match users::insert(&app.db, user_id, &email, &username, phone.as_ref(), &hash).await? {
            Ok(()) => break,
            Err(NewUserConflict::Email) => {
                return Err(ApiError::AlreadyExists(
                    "an account with this email exists".into(),
                ))
            }
            Err(NewUserConflict::Phone) => {
                return Err(ApiError::AlreadyExists(
                    "this phone number is in use".into(),
                ))
            }
            Err(NewUserConflict::Username) if chosen.is_some() => {
                return Err(ApiError::AlreadyExists("this username is taken".into()))
            }
            Err(NewUserConflict::Username) => {
                attempt += 1;
                if attempt > 8 {
                    return Err(ApiError::AlreadyExists(
                        "could not find a free username; choose one".into(),
                    ));
                }
                let suffix = format!("{:04}", rand::random::<u16>() % 10_000);
                username = Username::from_email(&email).with_suffix(&suffix);
            }
        }
    }
    verification::send_email_verification(app, user_id, &email).await?;
    let tokens = start_session(app, user_id, false, device).await?;
    Ok(json!({
        "user": { "id": user_id, "email": email.as_str(), "username": username.as_str(), "isVerified": false },
        "tokens": tokens,
    }))
}

/// `POST /api/auth/login`. Unknown email and wrong password answer alike, in the same time.
pub async fn login(app: &App, body: &Value, device: &DeviceInfo) -> Result<Value, ApiError> {
    require_object(body)?;
    let email = required_str(body, "email")?;
    let password = required_str(body, "password")?;
    if password.len() > 1024 {
        return Err(ApiError::InvalidCredentials);
    }
    let remember_me = body
        .get("rememberMe")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let limits = &app.settings.rate_limits;
    let account_key = format!("account:{}", email.trim().to_lowercase());
    let ip_key = format!("ip:{}", device.ip_address.as_deref().unwrap_or("unknown"));
    for (key, threshold) in [
        (&account_key, limits.account_failures),
        (&ip_key, limits.ip_failures),
    ] {
        if let Some(wait) = rate_limit::login_backoff(&app.db, key, threshold).await? {
            return Err(ApiError::RateLimited {
                retry_after_secs: wait,
            });
        }
    }
    let found = match Email::parse(email) {
        Ok(email) => users::login_credentials(&app.db, &email).await?,
        Err(_) => None,
    };
    let (user_id, stored) = match found {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let ok = verify_password(password.to_owned(), stored).await?;
    let user_id = match (ok, user_id) {
        (true, Some(id)) => id,
        _ => {
            rate_limit::login_failed(&app.db, &[account_key, ip_key]).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    if let Some(required) = two_factor::required_at_login(app, user_id, body).await? {
        return Err(required);
    }
    // Only the account's count is cleared: one good password must not reset an IP's failures.
    rate_limit::login_succeeded(&app.db, &[account_key]).await?;
    let tokens = start_session(app, user_id, remember_me, device).await?;
    let profile = users::own_profile(&app.db, user_id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    Ok(json!({ "user": profile, "tokens": tokens }))
}

/// A new device session and its first pair of tokens.
pub(crate) async fn start_session(
    app: &App,
    user_id: Uuid,
    remember_me: bool,
    device: &DeviceInfo,
) -> Result<Value, ApiError> {
    let session_id = Uuid::now_v7();
    let ttl = if remember_me {
        app.settings.remember_me_ttl
    } else {
        app.settings.refresh_token_ttl
    };
    let (refresh, refresh_hash) = new_opaque_token();
    sessions::create(
        &app.db,
        &NewSession {
            id: session_id,
            user_id,
            remember_me,
            expires_at: Utc::now() + chrono::Duration::from_std(ttl).expect("ttl in range"),
            user_agent: device.user_agent.as_deref(),
            ip_address: device.ip_address.as_deref(),
            refresh_hash: &refresh_hash,
        },
    )
    .await?;
    token_pair(
        app,
        Caller {
            user_id,
            session_id,
        },
        refresh,
    )
}

fn token_pair(app: &App, caller: Caller, refresh: String) -> Result<Value, ApiError> {
    let ttl = app.settings.access_token_ttl.as_secs() as i64;
    let access = app.tokens.issue_access(caller, ttl)?;
    Ok(json!({ "accessToken": access, "refreshToken": refresh, "expiresIn": ttl }))
}

/// `POST /api/auth/refresh`: spend the refresh token, return a new pair. A token presented a
/// second time revokes its whole device session.
pub async fn refresh(app: &App, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let old = required_str(body, "refreshToken")?;
    if old.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    let (new_token, new_hash) = new_opaque_token();
    match sessions::rotate_refresh(&app.db, &hash_token(old), &new_hash).await? {
        Rotation::Rotated {
            user_id,
            session_id,
        } => {
            let tokens = token_pair(
                app,
                Caller {
                    user_id,
                    session_id,
                },
                new_token,
            )?;
            Ok(json!({ "tokens": tokens }))
        }
        Rotation::Reused => {
            tracing::warn!(
                "a spent refresh token was presented again; its device session is revoked"
            );
            Err(ApiError::InvalidToken)
        }
        Rotation::Invalid => Err(ApiError::InvalidToken),
    }
}

/// `POST /api/auth/logout`: revoke the device session of the given refresh token (or, without
/// one, the caller's current session).
pub async fn logout(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    let revoked = match optional_str(body, "refreshToken")? {
        Some(token) => {
            sessions::revoke_by_refresh(&app.db, &hash_token(token), caller.user_id).await?
        }
        None => sessions::revoke_session(&app.db, caller.session_id, caller.user_id).await?,
    };
    if let Some(session) = revoked {
        super::connections::close_sessions(app, caller.user_id, &[session]).await;
    }
    Ok(json!({ "loggedOut": revoked.is_some() }))
}

/// `GET /api/auth/sessions`: the caller's live device sessions, the current one marked.
pub async fn list_sessions(app: &App, caller: Caller) -> Result<Value, ApiError> {
    Ok(json!(sessions::list(&app.db, caller).await?))
}

/// `DELETE /api/auth/sessions/{sessionId}`: revoke one of the caller's sessions and close its
/// WebSocket connections.
pub async fn revoke_session(
    app: &App,
    caller: Caller,
    session_id: &str,
) -> Result<Value, ApiError> {
    let session_id = crate::domain::parse_id(session_id, "sessionId")?;
    let revoked = sessions::revoke_session(&app.db, session_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("session"))?;
    super::connections::close_sessions(app, caller.user_id, &[revoked]).await;
    Ok(json!({ "revoked": revoked }))
}
