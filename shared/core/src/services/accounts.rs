//! Registration, login, token refresh and logout (PRD 1.2, API.md "Auth").

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use uuid::Uuid;

use crate::api::models::{
    AccountActivity, ActivityKind, Envelope, LoggedOut, LoginResult, OffsetPagination,
    OtherSessionsRevoked, OwnProfile, Page, PageEnvelope, Refreshed, RegisteredUser, Registration,
    Session, SessionRevoked, Timestamp, Tokens,
};
use crate::api::requests::{
    LoginRequest, LogoutRequest, OffsetPageQuery, RefreshRequest, RegisterRequest,
};
use crate::api::ws::{NewLogin, ServerEvent};
use crate::auth::password::{hash_password, verify_password};
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::db::account_activity::{self, Origin};
use crate::db::sessions::{self, NewSession, Rotation};
use crate::db::users::{self, NewUserConflict};
use crate::db::{events, tokens};
use crate::domain::{Email, Password, Secret, Username};
use crate::error::ApiError;
use crate::App;

use super::{rate_limit, two_factor, verification};

/// Where a login comes from, recorded on its device session.
#[derive(Debug, Default, Clone)]
pub struct DeviceInfo {
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
}

/// `POST /api/auth/register`.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "The account and its first device session", body = Envelope<Registration>)))]
pub async fn register(
    app: &App,
    body: RegisterRequest,
    device: &DeviceInfo,
) -> Result<Registration, ApiError> {
    let RegisterRequest {
        email,
        password,
        username: chosen,
        phone,
    } = body;
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
    let start = SessionStart::Registration;
    let (tokens, _) = start_session(app, user_id, false, device, start).await?;
    let device_token = remember_device(app, user_id).await?;
    Ok(Registration {
        user: RegisteredUser {
            id: user_id,
            email: email.as_str().to_owned(),
            username: username.as_str().to_owned(),
            is_verified: false,
        },
        tokens,
        device_token,
    })
}

/// `POST /api/auth/login`. Unknown email and wrong password answer alike, in the same time.
///
/// Failed logins back off per source: per account and IP, per IP, and per account from all
/// sources; a known device (one holding a `deviceToken` of this account) answers only to its
/// own count, so failures elsewhere never lock the owner's devices out.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "A new device session", body = Envelope<LoginResult>)))]
pub async fn login(
    app: &App,
    body: LoginRequest,
    device: &DeviceInfo,
) -> Result<LoginResult, ApiError> {
    let email = body.email.expose();
    let password = body.password.expose();
    let limits = &app.settings.rate_limits;
    let found = match Email::parse(email) {
        Ok(email) => users::login_credentials(&app.db, &email).await?,
        Err(_) => None,
    };
    let (user_id, stored, suspended) = match found {
        Some(account) => (
            Some(account.id),
            Some(account.password_hash),
            account.suspended,
        ),
        None => (None, None, false),
    };
    let known_device = match (user_id, &body.device_token) {
        (Some(user), Some(token)) if token.expose().len() <= 200 => {
            let hash = hash_token(token.expose());
            tokens::is_known_device(&app.db, user, &hash)
                .await?
                .then(|| (token.expose().to_owned(), hash))
        }
        _ => None,
    };
    let account = format!("account:{}", email.trim().to_lowercase());
    let ip = device.ip_address.as_deref().unwrap_or("unknown");
    // (key, failures before it backs off); the first is this source's own count.
    let backoffs: Vec<(String, i32)> = match &known_device {
        Some((_, hash)) => vec![(
            format!("device:{}", URL_SAFE_NO_PAD.encode(hash)),
            limits.account_failures,
        )],
        None => vec![
            (format!("{account}:ip:{ip}"), limits.account_failures),
            (account.clone(), limits.account_failures_any_source),
            (format!("ip:{ip}"), limits.ip_failures),
        ],
    };
    for (key, threshold) in &backoffs {
        if let Some(wait) = rate_limit::login_backoff(&app.db, key, *threshold).await? {
            return Err(ApiError::RateLimited {
                retry_after_secs: wait,
            });
        }
    }
    // A failure counts for every source it came through, and for the account as a whole.
    let mut failure_keys: Vec<String> = backoffs.iter().map(|(k, _)| k.clone()).collect();
    if !failure_keys.contains(&account) {
        failure_keys.push(account);
    }
    let ok = verify_password(password.to_owned(), stored).await?;
    let user_id = match (ok, user_id) {
        (true, Some(id)) => id,
        (_, known) => {
            rate_limit::login_failed(&app.db, &failure_keys).await?;
            if let Some(user) = known {
                record_failed_login(app, user, device).await?;
            }
            return Err(ApiError::InvalidCredentials);
        }
    };
    // Only the right password learns of a suspension.
    if suspended {
        return Err(ApiError::PermissionDenied(
            "this account is suspended".into(),
        ));
    }
    let second_factor = (
        body.totp_code.as_ref().map(|c| c.expose()),
        body.recovery_code.as_ref().map(|c| c.expose()),
    );
    if let Some(required) = two_factor::required_at_login(app, user_id, second_factor).await? {
        // A wrong second factor after the right password is a failed login like any other.
        if matches!(required, ApiError::InvalidSecondFactor) {
            rate_limit::login_failed(&app.db, &failure_keys).await?;
            record_failed_login(app, user_id, device).await?;
        }
        return Err(required);
    }
    // Only this source's own count is cleared: one good password must not reset an IP's
    // failures, nor the account-wide count others' failures built up.
    rate_limit::login_succeeded(
        &app.db,
        &backoffs[..1]
            .iter()
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>(),
    )
    .await?;
    let new_device = known_device.is_none();
    let device_token = match known_device {
        Some((token, _)) => token,
        None => remember_device(app, user_id).await?,
    };
    let start = SessionStart::Login { new_device };
    let (tokens, session) = start_session(app, user_id, body.remember_me, device, start).await?;
    let profile = users::own_profile(&app.db.get().await?, user_id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let profile = super::profiles::own_view(app, profile).await?;
    if new_device {
        email_new_login(app, &profile, &session).await;
    }
    Ok(LoginResult {
        user: profile,
        tokens,
        device_token,
    })
}

/// A wrong password or second factor for `user`'s account, in its activity.
async fn record_failed_login(app: &App, user: Uuid, device: &DeviceInfo) -> Result<(), ApiError> {
    let origin = Origin::Request {
        user_agent: device.user_agent.as_deref(),
        ip_address: device.ip_address.as_deref(),
    };
    let client = app.db.get().await?;
    account_activity::record(&client, user, ActivityKind::LoginFailed, origin).await
}

/// Email a verified address of a login from a device the account had not been used on (its
/// other devices were told with `account:login`), so that the owner can revoke a session that
/// was not them. Best effort, as every security notice.
async fn email_new_login(app: &App, profile: &OwnProfile, session: &NewLogin) {
    if !profile.is_verified {
        return;
    }
    let text =
        format!(
        "Your Banter account was just logged in to on a new device ({}, from {}). If it was not \
         you, revoke that session (DELETE /api/auth/sessions/{}) and change your password.",
        session.user_agent.as_deref().unwrap_or("unknown device"),
        session.ip_address.as_deref().unwrap_or("an unknown address"),
        session.session_id,
    );
    let subject = "New login to your Banter account";
    two_factor::send_notice(app, &profile.email, subject, &text).await;
}

/// A new known-device token for `user`: the device keeps it and sends it with later logins.
async fn remember_device(app: &App, user: Uuid) -> Result<String, ApiError> {
    let (token, hash) = new_opaque_token();
    tokens::remember_device(&app.db, user, &hash).await?;
    Ok(token)
}

/// The caller of a verified access token, if its device session is still live (not logged
/// out, revoked, reset or erased): checked against the database at most once per
/// `session_check_ttl` per instance.
pub async fn ensure_live(app: &App, caller: Caller) -> Result<Caller, ApiError> {
    let live = match app.sessions.cached(caller.session_id) {
        Some(live) => live,
        None => {
            let live = sessions::is_active(&app.db, caller.session_id, caller.user_id).await?;
            app.sessions.remember(caller.session_id, live);
            live
        }
    };
    if live {
        Ok(caller)
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// Step-up for a sensitive change (2FA, phone): the caller proves it is the account's owner
/// with the current `password`, or by having logged in on this device within
/// `step_up_window`. A stolen token alone cannot make these changes later on.
pub async fn step_up(app: &App, caller: Caller, password: Option<&Secret>) -> Result<(), ApiError> {
    match password {
        Some(password) if password_matches(app, caller.user_id, password).await? => Ok(()),
        Some(_) => Err(ApiError::WrongPassword),
        None if sessions::started_within(
            &app.db,
            caller.session_id,
            app.settings.step_up_window,
        )
        .await? =>
        {
            Ok(())
        }
        None => Err(ApiError::PermissionDenied(
            "confirm this change with your current `password`".into(),
        )),
    }
}

/// Is `password` the account's current password? (An erased account has none.)
pub(crate) async fn password_matches(
    app: &App,
    user: Uuid,
    password: &Secret,
) -> Result<bool, ApiError> {
    let stored = users::password_hash(&app.db, user).await?;
    verify_password(password.expose().to_owned(), stored).await
}

/// Set `user`'s new password and revoke their device sessions but `keep` (a reset keeps none, a
/// change the device that made it); reset links still out stop working. The sessions revoked.
pub(crate) async fn replace_password(
    app: &App,
    user: Uuid,
    password: &Password,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<Vec<Uuid>, ApiError> {
    let hash = hash_password(password.expose().to_owned()).await?;
    users::set_password(&app.db, user, &hash).await?;
    tokens::spend_outstanding(&app.db.get().await?, user, &[tokens::RESET_PASSWORD]).await?;
    let revoked = sessions::revoke_all(&app.db, user, keep, reason).await?;
    end_sessions(app, user, &revoked).await;
    Ok(revoked)
}

/// Revoked device sessions: this instance stops accepting them at once, and their WebSocket
/// connections close.
pub(crate) async fn end_sessions(app: &App, user: Uuid, revoked: &[Uuid]) {
    app.sessions.forget(revoked);
    super::connections::close_sessions(app, user, revoked).await;
    // Ending them told the chats of the encryption keys that went with them (`V54`).
    super::relay::wake(app, "keys:changed").await;
}

/// Why a device session starts.
pub(crate) enum SessionStart {
    Registration,
    /// A login; from a `new_device`, the account's other devices are told.
    Login {
        new_device: bool,
    },
}

/// A new device session and its first pair of tokens, recorded in the account's activity (and,
/// from a new device, told to the others with `account:login`, in the same transaction).
pub(crate) async fn start_session(
    app: &App,
    user_id: Uuid,
    remember_me: bool,
    device: &DeviceInfo,
    start: SessionStart,
) -> Result<(Tokens, NewLogin), ApiError> {
    let session_id = Uuid::now_v7();
    let ttl = if remember_me {
        app.settings.remember_me_ttl
    } else {
        app.settings.refresh_token_ttl
    };
    let (refresh, refresh_hash) = new_opaque_token();
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    sessions::create(
        &tx,
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
    let signed_out =
        sessions::revoke_least_recently_used(&tx, user_id, app.settings.max_sessions_per_user)
            .await?;
    for session in &signed_out {
        let kind = ActivityKind::SignedOutForNewDevice;
        account_activity::record(&tx, user_id, kind, Origin::Session(*session)).await?;
    }
    let (kind, tell_devices) = match start {
        SessionStart::Registration => (ActivityKind::Registered, false),
        SessionStart::Login { new_device } => (ActivityKind::Login, new_device),
    };
    account_activity::record(&tx, user_id, kind, Origin::Session(session_id)).await?;
    let login = NewLogin {
        session_id,
        user_agent: device.user_agent.clone(),
        ip_address: device.ip_address.clone(),
        created_at: Timestamp::now(),
    };
    if tell_devices {
        let event = ServerEvent::NewLogin(login.clone());
        events::append_own_event(&tx, user_id, &event).await?;
    }
    tx.commit().await?;
    drop(client);
    if !signed_out.is_empty() {
        end_sessions(app, user_id, &signed_out).await;
    }
    if tell_devices {
        super::relay::wake(app, "account:login").await;
    }
    let caller = Caller {
        user_id,
        session_id,
    };
    Ok((token_pair(app, caller, refresh)?, login))
}

fn token_pair(app: &App, caller: Caller, refresh: String) -> Result<Tokens, ApiError> {
    let ttl = app.settings.access_token_ttl.as_secs() as i64;
    let access = app.tokens.issue_access(caller, ttl)?;
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: ttl,
    })
}

/// `POST /api/auth/refresh`: spend the refresh token, return a new pair. A token presented a
/// second time revokes its whole device session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "A new token pair", body = Envelope<Refreshed>)))]
pub async fn refresh(app: &App, body: RefreshRequest) -> Result<Refreshed, ApiError> {
    let old = body.refresh_token.expose();
    if old.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    let (new_token, new_hash) = new_opaque_token();
    let grace = app.settings.refresh_retry_grace;
    match sessions::rotate_refresh(&app.db, &hash_token(old), &new_hash, grace).await? {
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
            Ok(Refreshed { tokens })
        }
        Rotation::Reused {
            user_id,
            session_id,
        } => {
            tracing::warn!(
                %session_id,
                "a spent refresh token was presented again; its device session is revoked"
            );
            end_sessions(app, user_id, &[session_id]).await;
            let kind = ActivityKind::RefreshTokenReused;
            record_activity(app, user_id, kind, Origin::Session(session_id)).await?;
            Err(ApiError::InvalidToken)
        }
        Rotation::Invalid => Err(ApiError::InvalidToken),
    }
}

/// `POST /api/auth/logout`: revoke the device session of the given refresh token (or, without
/// one, the caller's current session).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>),
    security(("bearer" = [])),
    responses((status = 200, description = "Whether a session was revoked", body = Envelope<LoggedOut>)))]
pub async fn logout(
    app: &App,
    caller: Caller,
    body: Option<LogoutRequest>,
) -> Result<LoggedOut, ApiError> {
    let revoked = match body.and_then(|b| b.refresh_token) {
        Some(token) => {
            sessions::revoke_by_refresh(&app.db, &hash_token(token.expose()), caller.user_id)
                .await?
        }
        None => sessions::revoke_session(&app.db, caller.session_id, caller.user_id).await?,
    };
    if let Some(session) = revoked {
        end_sessions(app, caller.user_id, &[session]).await;
        let kind = ActivityKind::LoggedOut;
        record_activity(app, caller.user_id, kind, Origin::Session(session)).await?;
    }
    Ok(LoggedOut {
        logged_out: revoked.is_some(),
    })
}

/// `GET /api/auth/sessions`: the caller's live device sessions, the current one marked.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Live device sessions, newest first", body = Envelope<Vec<Session>>)))]
pub async fn list_sessions(app: &App, caller: Caller) -> Result<Vec<Session>, ApiError> {
    sessions::list(&app.db, caller).await
}

/// `DELETE /api/auth/sessions/{sessionId}`: revoke one of the caller's sessions and close its
/// WebSocket connections.
#[utoipa::path(delete, path = "/api/auth/sessions/{sessionId}", tag = "auth", security(("bearer" = [])),
    params(("sessionId" = Uuid, Path, description = "One of the caller's sessions")),
    responses((status = 200, description = "The session is revoked", body = Envelope<SessionRevoked>)))]
pub async fn revoke_session(
    app: &App,
    caller: Caller,
    session_id: Uuid,
) -> Result<SessionRevoked, ApiError> {
    let revoked = sessions::revoke_session(&app.db, session_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("session"))?;
    end_sessions(app, caller.user_id, &[revoked]).await;
    let kind = ActivityKind::SessionRevoked;
    record_activity(app, caller.user_id, kind, Origin::Session(revoked)).await?;
    Ok(SessionRevoked { revoked })
}

/// `DELETE /api/auth/sessions`: log out every device but this one ("log out of all other
/// devices"), closing their WebSocket connections.
#[utoipa::path(delete, path = "/api/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The other sessions, revoked", body = Envelope<OtherSessionsRevoked>)))]
pub async fn revoke_other_sessions(
    app: &App,
    caller: Caller,
) -> Result<OtherSessionsRevoked, ApiError> {
    let revoked = sessions::revoke_all(
        &app.db,
        caller.user_id,
        Some(caller.session_id),
        "logged out by another device",
    )
    .await?;
    end_sessions(app, caller.user_id, &revoked).await;
    for &session in &revoked {
        let kind = ActivityKind::SessionRevoked;
        record_activity(app, caller.user_id, kind, Origin::Session(session)).await?;
    }
    Ok(OtherSessionsRevoked { revoked })
}

/// `GET /api/auth/activity?limit&offset`: the caller's account activity, newest first: logins
/// and failed logins, sessions ended, password, email and two-factor changes, data exports
/// (the last 180 days).
#[utoipa::path(get, path = "/api/auth/activity", tag = "auth", security(("bearer" = [])),
    params(OffsetPageQuery),
    responses((status = 200, description = "The account's activity, newest first", body = PageEnvelope<Vec<AccountActivity>, OffsetPagination>)))]
pub async fn list_activity(
    app: &App,
    caller: Caller,
    q: OffsetPageQuery,
) -> Result<Page<Vec<AccountActivity>, OffsetPagination>, ApiError> {
    let (limit, offset) = (q.limit.0, q.offset.0);
    let client = app.db.get().await?;
    let (items, total) = account_activity::list(&client, caller, limit, offset).await?;
    let pagination = OffsetPagination::new(limit, offset, items.len(), total);
    Ok(Page { items, pagination })
}

/// Record `kind` in `user`'s activity, from `origin`, on its own (a change that has no
/// transaction to record it in).
pub(crate) async fn record_activity(
    app: &App,
    user: Uuid,
    kind: ActivityKind,
    origin: Origin<'_>,
) -> Result<(), ApiError> {
    let client = app.db.get().await?;
    account_activity::record(&client, user, kind, origin).await
}
