//! Optional two-factor authentication with an authenticator app (TOTP): enrol, confirm with a
//! first code (which also issues ten single-use recovery codes), require a code at login,
//! disable with password and code, and, for an owner who lost both authenticator and recovery
//! codes, a reset by email that takes effect only after a waiting period (7 days, as
//! WhatsApp), announced to the owner and cancelled by any login with a code.

use uuid::Uuid;

use crate::api::models::{
    ActivityKind, Envelope, Sent, Timestamp, TwoFactorResetScheduled, TwoFactorSetup,
    TwoFactorState,
};
use crate::api::requests::{
    TwoFactorDisableRequest, TwoFactorEnableRequest, TwoFactorResetConfirmRequest,
    TwoFactorResetRequest,
};
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::auth::totp;
use crate::db::account_activity::{self, Origin};
use crate::db::{tokens, users};
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
    let username =
        users::set_totp_secret(&app.db.get().await?, caller.user_id, Some(&secret)).await?;
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
    let verified_email = users::own_profile(&app.db.get().await?, caller.user_id)
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
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    users::enable_totp(&tx, caller.user_id, &hashes).await?;
    let kind = ActivityKind::TwoFactorEnabled;
    account_activity::record(
        &tx,
        caller.user_id,
        kind,
        Origin::Session(caller.session_id),
    )
    .await?;
    super::profiles::commit_own_profile_change(app, tx, caller.user_id).await?;
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
        return Err(ApiError::WrongPassword);
    }
    if !second_factor_ok(app, caller.user_id, Some(code), None).await? {
        return Err(ApiError::InvalidSecondFactor);
    }
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    users::set_totp_secret(&tx, caller.user_id, None).await?;
    let kind = ActivityKind::TwoFactorDisabled;
    account_activity::record(
        &tx,
        caller.user_id,
        kind,
        Origin::Session(caller.session_id),
    )
    .await?;
    super::profiles::commit_own_profile_change(app, tx, caller.user_id).await?;
    Ok(TwoFactorState {
        enabled: false,
        recovery_codes: None,
    })
}

/// Does `code` (or `recovery`) pass the user's second factor? `true` when 2FA is off.
pub(crate) async fn second_factor_ok(
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
        // A reset confirmed by email and waited out: the right password is enough, once.
        let mut client = app.db.get().await?;
        let tx = client.transaction().await?;
        if users::apply_due_totp_reset(&tx, user).await? {
            super::profiles::commit_own_profile_change(app, tx, user).await?;
            drop(client);
            notify_owner(
                app,
                user,
                "Two-factor authentication is off",
                "Two-factor authentication was turned off on your Banter account after a reset \
                 requested by email. Turn it on again in your settings.",
            )
            .await;
            return Ok(None);
        }
        return Ok(Some(ApiError::TwoFactorRequired));
    }
    if !second_factor_ok(app, user, code, recovery).await? {
        return Ok(Some(ApiError::InvalidSecondFactor));
    }
    users::cancel_totp_reset(&app.db, user).await?;
    Ok(None)
}

/// `POST /api/auth/2fa/reset {email}`: email a reset link to an account with 2FA on. Always
/// the same answer, no sooner than `forgot_password_floor`, as forgot-password.
#[utoipa::path(post, path = "/api/auth/2fa/reset", tag = "auth", request_body = TwoFactorResetRequest,
    responses((status = 200, description = "Always the same answer", body = Envelope<Sent>)))]
pub async fn request_reset(app: &App, body: TwoFactorResetRequest) -> Result<Sent, ApiError> {
    let answer_at = tokio::time::Instant::now() + app.settings.forgot_password_floor;
    if let Some(user) = users::id_by_email(&app.db, &body.email).await? {
        let (enabled, _) = users::totp_state(&app.db, user)
            .await?
            .unwrap_or((false, None));
        if enabled {
            let (token, hash) = new_opaque_token();
            let expires = chrono::Utc::now()
                + chrono::Duration::from_std(app.settings.reset_token_ttl).expect("ttl in range");
            tokens::create_email_token(&app.db, user, tokens::RESET_TWO_FACTOR, &hash, expires)
                .await?;
            let days = app
                .settings
                .two_factor_reset_wait
                .as_secs()
                .div_ceil(86_400);
            let text = format!(
                "Someone asked to turn off two-factor authentication on your Banter account. If it \
                 was you: {}/reset-2fa?token={token}\n\n(Or POST /api/auth/2fa/reset/confirm with \
                 {{\"token\": \"{token}\"}}.) It then takes effect after {days} days. If it was not \
                 you, ignore this email.",
                app.settings.public_url
            );
            app.ports
                .notifier
                .send_email(
                    body.email.as_str(),
                    "Reset two-factor authentication",
                    &text,
                )
                .await?;
        }
    }
    tokio::time::sleep_until(answer_at).await;
    Ok(Sent { sent: true })
}

/// `POST /api/auth/2fa/reset/confirm {token}`: schedule the reset; 2FA goes off at the first
/// login after the waiting period, unless a login with a code cancels it before.
#[utoipa::path(post, path = "/api/auth/2fa/reset/confirm", tag = "auth", request_body = TwoFactorResetConfirmRequest,
    responses((status = 200, description = "When the reset takes effect", body = Envelope<TwoFactorResetScheduled>)))]
pub async fn confirm_reset(
    app: &App,
    body: TwoFactorResetConfirmRequest,
) -> Result<TwoFactorResetScheduled, ApiError> {
    let token = body.token.expose();
    if token.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    let user =
        tokens::consume_email_token(&app.db, tokens::RESET_TWO_FACTOR, &hash_token(token)).await?;
    let wait = app.settings.two_factor_reset_wait.as_secs_f64();
    let reset_after = users::schedule_totp_reset(&app.db, user, wait)
        .await?
        .ok_or(ApiError::NotFound("two-factor authentication to reset"))?;
    let kind = ActivityKind::TwoFactorResetConfirmed;
    super::accounts::record_activity(app, user, kind, Origin::Link).await?;
    notify_owner(
        app,
        user,
        "Two-factor authentication will be turned off",
        &format!(
            "A reset of two-factor authentication on your Banter account was confirmed. It takes \
             effect after {}. If it was not you, log in with your authenticator code before \
             then: that cancels it.",
            reset_after.to_rfc3339()
        ),
    )
    .await;
    Ok(TwoFactorResetScheduled {
        reset_after: Timestamp(reset_after),
    })
}

/// Tell an account's owner about a security change by email. Best effort: the change stands
/// even if the mail cannot go out now (it is logged).
pub(crate) async fn notify_owner(app: &App, user: Uuid, subject: &str, text: &str) {
    let profile = match app.db.get().await {
        Ok(client) => users::own_profile(&client, user).await,
        Err(e) => Err(e.into()),
    };
    let email = match profile {
        Ok(Some(profile)) => profile.email,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "no address for a security notice");
            return;
        }
    };
    send_notice(app, &email, subject, text).await;
}

/// Email a security notice to `to`. Best effort: what it tells of stands even if the mail
/// cannot go out now (it is logged).
pub(crate) async fn send_notice(app: &App, to: &str, subject: &str, text: &str) {
    if let Err(e) = app.ports.notifier.send_email(to, subject, text).await {
        tracing::warn!(error = %e, "a security notice was not sent");
    }
}
