//! A signed-in account changing its own credentials: its password (the other devices are logged
//! out) and its email address (confirmed by a link sent to the new address). Both ask for the
//! current password, so a stolen access token alone cannot take the account over, and both tell
//! the old address what happened.

use std::time::Duration;

use uuid::Uuid;

use crate::api::models::{
    ActivityKind, EmailChangeStarted, EmailChangeUndone, EmailChanged, Envelope, PasswordChanged,
};
use crate::api::requests::{ChangeEmailRequest, ChangePasswordRequest, EmailChangeLinkRequest};
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::db::account_activity::{self, Origin};
use crate::db::{sessions, tokens, users};
use crate::domain::Email;
use crate::error::ApiError;
use crate::App;

use super::accounts::{end_sessions, password_matches, record_activity, replace_password};
use super::two_factor::{notify_owner, second_factor_ok, send_notice};
use super::verification::expires_in;

/// `POST /api/auth/change-password {currentPassword, newPassword}`: sets the new password and
/// revokes every other device session (their WebSockets close); this one stays signed in.
/// Reset links sent earlier stop working.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 200, description = "The password is changed; the other sessions are revoked", body = Envelope<PasswordChanged>)))]
pub async fn change_password(
    app: &App,
    caller: Caller,
    body: ChangePasswordRequest,
) -> Result<PasswordChanged, ApiError> {
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = body;
    if !password_matches(app, caller.user_id, &current_password).await? {
        return Err(ApiError::WrongPassword);
    }
    if new_password.expose() == current_password.expose() {
        return Err(ApiError::Validation(
            "the new password is the one the account has".into(),
        ));
    }
    let keep = Some(caller.session_id);
    let revoked =
        replace_password(app, caller.user_id, &new_password, keep, "password changed").await?;
    let kind = ActivityKind::PasswordChanged;
    record_activity(
        app,
        caller.user_id,
        kind,
        Origin::Session(caller.session_id),
    )
    .await?;
    notify_owner(
        app,
        caller.user_id,
        "Your Banter password was changed",
        "The password of your Banter account was changed from one of your signed-in devices, \
         and every other device was logged out. If it was not you, reset your password now.",
    )
    .await;
    Ok(PasswordChanged {
        changed: true,
        sessions_revoked: revoked.len() as i64,
    })
}

/// `POST /api/auth/change-email {newEmail, password, code?}`: sends a confirmation link to the
/// new address (the account keeps its address until the link is used) and tells the old one.
/// With two-factor authentication on, it takes a code from the authenticator too.
#[utoipa::path(post, path = "/api/auth/change-email", tag = "auth", security(("bearer" = [])),
    request_body = ChangeEmailRequest,
    responses((status = 200, description = "A confirmation link is on its way to the new address", body = Envelope<EmailChangeStarted>)))]
pub async fn start_email_change(
    app: &App,
    caller: Caller,
    body: ChangeEmailRequest,
) -> Result<EmailChangeStarted, ApiError> {
    let ChangeEmailRequest {
        new_email,
        password,
        code,
    } = body;
    if !password_matches(app, caller.user_id, &password).await? {
        return Err(ApiError::WrongPassword);
    }
    // The address is where a 2FA reset goes: with 2FA on, changing it takes a code too.
    let code = code.as_ref().map(|c| c.as_str());
    if !second_factor_ok(app, caller.user_id, code, None).await? {
        return Err(match code {
            None => ApiError::PermissionDenied(
                "two-factor authentication is on: give a `code` from your authenticator".into(),
            ),
            Some(_) => ApiError::InvalidSecondFactor,
        });
    }
    match users::id_by_email(&app.db, &new_email).await? {
        Some(owner) if owner == caller.user_id => {
            return Err(ApiError::Validation(
                "`newEmail` is the account's address already".into(),
            ))
        }
        Some(_) => return Err(ApiError::AlreadyExists("this email is in use".into())),
        None => {}
    }
    let (token, hash) = new_opaque_token();
    let ttl = app.settings.email_token_ttl;
    tokens::create_address_token(
        &app.db.get().await?,
        caller.user_id,
        tokens::CHANGE_EMAIL,
        &new_email,
        &hash,
        expires_in(ttl),
    )
    .await?;
    let link = format!(
        "{}/confirm-email-change?token={token}",
        app.settings.public_url
    );
    let text = format!(
        "Confirm {} as the email address of your Banter account: {link}\n\n\
         (Or POST /api/auth/change-email/confirm with {{\"token\": \"{token}\"}}.) The link \
         expires in 24 hours. If you did not ask for this, ignore this email.",
        new_email.as_str()
    );
    app.ports
        .notifier
        .send_email(new_email.as_str(), "Confirm your new Banter email", &text)
        .await?;
    notify_owner(
        app,
        caller.user_id,
        "A new email address for your Banter account",
        &format!(
            "Someone signed in to your Banter account asked to change its email address to {}. \
             It changes only once a link sent there is used. If it was not you, change your \
             password now.",
            new_email.as_str()
        ),
    )
    .await;
    Ok(EmailChangeStarted {
        sent: true,
        pending_email: new_email.as_str().to_owned(),
        expires_in: ttl.as_secs() as i64,
    })
}

/// How long the link that undoes an email change works, from the old address.
const UNDO_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// `POST /api/auth/change-email/confirm {token}`: the link from the new address's email. The
/// address becomes the account's, verified; the account's own devices get
/// `user:profile:updated`; links sent to the old address (verification, password and 2FA
/// reset) stop working; and the old address is told, with a link that undoes the change for 7
/// days (`/change-email/undo`).
#[utoipa::path(post, path = "/api/auth/change-email/confirm", tag = "auth",
    request_body = EmailChangeLinkRequest,
    responses((status = 200, description = "The account's address is the new one, verified", body = Envelope<EmailChanged>)))]
pub async fn confirm_email_change(
    app: &App,
    body: EmailChangeLinkRequest,
) -> Result<EmailChanged, ApiError> {
    let (user, new_email) = spend_link(app, tokens::CHANGE_EMAIL, &body).await?;
    let old_email = current_email(app, user).await?;
    let (undo, undo_hash) = new_opaque_token();
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    take_address(&tx, user, &new_email, &[]).await?;
    tokens::create_address_token(
        &tx,
        user,
        tokens::UNDO_EMAIL_CHANGE,
        &old_email,
        &undo_hash,
        expires_in(UNDO_WINDOW),
    )
    .await?;
    account_activity::record(&tx, user, ActivityKind::EmailChanged, Origin::Link).await?;
    let profile = super::profiles::commit_own_profile_change(app, tx, user).await?;
    let link = format!("{}/undo-email-change?token={undo}", app.settings.public_url);
    let notice = format!(
        "The email address of your Banter account is now {}. If you did not make this change, \
         undo it within 7 days: {link}\n\n(Or POST /api/auth/change-email/undo with \
         {{\"token\": \"{undo}\"}}.) Undoing it logs every device out; then reset your password.",
        new_email.as_str()
    );
    let subject = "Your Banter email was changed";
    send_notice(app, old_email.as_str(), subject, &notice).await;
    Ok(EmailChanged {
        email: profile.email,
        verified: true,
    })
}

/// `POST /api/auth/change-email/undo {token}`: the link sent to the old address once the
/// address changed. The old address is the account's again (verified), every device session is
/// revoked (whoever changed it is logged out) and every link still out is spent; the owner then
/// resets the password from the restored address.
#[utoipa::path(post, path = "/api/auth/change-email/undo", tag = "auth",
    request_body = EmailChangeLinkRequest,
    responses((status = 200, description = "The old address is the account's again; every session is revoked", body = Envelope<EmailChangeUndone>)))]
pub async fn undo_email_change(
    app: &App,
    body: EmailChangeLinkRequest,
) -> Result<EmailChangeUndone, ApiError> {
    let (user, old_email) = spend_link(app, tokens::UNDO_EMAIL_CHANGE, &body).await?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    take_address(&tx, user, &old_email, &[tokens::CHANGE_EMAIL]).await?;
    let kind = ActivityKind::EmailChangeUndone;
    account_activity::record(&tx, user, kind, Origin::Link).await?;
    let profile = super::profiles::commit_own_profile_change(app, tx, user).await?;
    drop(client);
    let revoked = sessions::revoke_all(&app.db, user, None, "email change undone").await?;
    end_sessions(app, user, &revoked).await;
    notify_owner(
        app,
        user,
        "Your Banter email change was undone",
        "The email address of your Banter account is this one again, and every device was \
         logged out. Reset your password now (POST /api/auth/forgot-password), and check your \
         two-factor authentication.",
    )
    .await;
    Ok(EmailChangeUndone {
        email: profile.email,
        sessions_revoked: revoked.len() as i64,
    })
}

/// Make `email` the account's address, verified, in `tx` (409 if another account has it), and
/// spend the links still out that went to the address it replaces (verification, password and
/// 2FA reset) and those of the `also` purposes.
async fn take_address(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
    email: &Email,
    also: &[&str],
) -> Result<(), ApiError> {
    if !users::set_confirmed_email(tx, user, email).await? {
        return Err(ApiError::AlreadyExists("this email is in use".into()));
    }
    let mut stale = vec![
        tokens::VERIFY_EMAIL,
        tokens::RESET_PASSWORD,
        tokens::RESET_TWO_FACTOR,
    ];
    stale.extend_from_slice(also);
    tokens::spend_outstanding(tx, user, &stale).await
}

/// Spend an email-change link of `purpose`: its account and the address it sets.
async fn spend_link(
    app: &App,
    purpose: &str,
    body: &EmailChangeLinkRequest,
) -> Result<(Uuid, Email), ApiError> {
    let token = body.token.expose();
    if token.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    tokens::consume_address_token(&app.db, purpose, &hash_token(token)).await
}

/// The account's address now (before a change replaces it).
async fn current_email(app: &App, user: Uuid) -> Result<Email, ApiError> {
    let client = app.db.get().await?;
    let stored = users::own_profile(&client, user)
        .await?
        .map(|profile| profile.email)
        .ok_or(ApiError::NotFound("user"))?;
    Email::parse(&stored)
        .map_err(|_| ApiError::Internal("a stored email address does not parse".into()))
}
