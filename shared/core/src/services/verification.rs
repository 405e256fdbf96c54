//! Email verification, phone verification and password reset (PRD 1.1, API.md "Auth"). Links
//! and codes go out through the notifier port (SES / SNS on AWS, the outbox locally); only their
//! hashes are stored, and each is single-use and expiring.

use chrono::Utc;
use rand::Rng;
use uuid::Uuid;

use crate::api::models::{
    ActivityKind, Envelope, PasswordReset, PhoneCodeSent, PhoneVerified, Sent, Verified,
};
use crate::api::requests::{
    ForgotPasswordRequest, PhoneStartRequest, PhoneVerifyRequest, ResetPasswordRequest,
    VerifyEmailRequest,
};
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::db::account_activity::Origin;
use crate::db::tokens::{self, PhoneCheck};
use crate::db::users;
use crate::domain::Email;
use crate::error::ApiError;
use crate::App;

/// When a link or code sent now for `ttl` expires.
pub(super) fn expires_in(ttl: std::time::Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).expect("ttl in range")
}

/// Send a verification link to a new address.
pub async fn send_email_verification(
    app: &App,
    user_id: Uuid,
    email: &Email,
) -> Result<(), ApiError> {
    let (token, hash) = new_opaque_token();
    tokens::create_email_token(
        &app.db,
        user_id,
        tokens::VERIFY_EMAIL,
        &hash,
        expires_in(app.settings.email_token_ttl),
    )
    .await?;
    let link = format!("{}/verify-email?token={token}", app.settings.public_url);
    let body = format!(
        "Welcome to Banter. Confirm your email address: {link}\n\n\
         (Or POST /api/auth/verify-email with {{\"token\": \"{token}\"}}.) The link expires in 24 hours."
    );
    app.ports
        .notifier
        .send_email(email.as_str(), "Confirm your Banter email", &body)
        .await?;
    Ok(())
}

/// `POST /api/auth/verify-email {token}`.
#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth", request_body = VerifyEmailRequest,
    responses((status = 200, description = "The email is verified", body = Envelope<Verified>)))]
pub async fn verify_email(app: &App, body: VerifyEmailRequest) -> Result<Verified, ApiError> {
    let token = body.token.expose();
    if token.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    let user =
        tokens::consume_email_token(&app.db, tokens::VERIFY_EMAIL, &hash_token(token)).await?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    users::set_email_verified(&tx, user).await?;
    super::profiles::commit_own_profile_change(app, tx, user).await?;
    Ok(Verified { verified: true })
}

/// `POST /api/auth/forgot-password {email}`: always the same answer, so it tells nobody whether
/// an account exists; the account's owner gets a reset link.
#[utoipa::path(post, path = "/api/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest,
    responses((status = 200, description = "Always the same answer", body = Envelope<Sent>)))]
pub async fn forgot_password(app: &App, body: ForgotPasswordRequest) -> Result<Sent, ApiError> {
    // Only an existing account writes a token and sends mail; the answer waits for the same
    // floor either way, so its timing does not tell whether the account exists.
    let answer_at = tokio::time::Instant::now() + app.settings.forgot_password_floor;
    let email = body.email;
    if let Some(user) = users::id_by_email(&app.db, &email).await? {
        let (token, hash) = new_opaque_token();
        tokens::create_email_token(
            &app.db,
            user,
            tokens::RESET_PASSWORD,
            &hash,
            expires_in(app.settings.reset_token_ttl),
        )
        .await?;
        let link = format!("{}/reset-password?token={token}", app.settings.public_url);
        let text = format!(
            "Someone asked to reset your Banter password. If it was you: {link}\n\n\
             (Or POST /api/auth/reset-password with {{\"token\": \"{token}\", \"newPassword\": \"...\"}}.) \
             The link expires in one hour. If it was not you, ignore this email."
        );
        app.ports
            .notifier
            .send_email(email.as_str(), "Reset your Banter password", &text)
            .await?;
    }
    tokio::time::sleep_until(answer_at).await;
    Ok(Sent { sent: true })
}

/// `POST /api/auth/reset-password {token, newPassword}`: sets the password and revokes every
/// session (their WebSockets close).
#[utoipa::path(post, path = "/api/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 200, description = "The password is set; every session is revoked", body = Envelope<PasswordReset>)))]
pub async fn reset_password(
    app: &App,
    body: ResetPasswordRequest,
) -> Result<PasswordReset, ApiError> {
    let token = body.token.expose();
    let password = body.new_password;
    if token.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    let user =
        tokens::consume_email_token(&app.db, tokens::RESET_PASSWORD, &hash_token(token)).await?;
    let revoked =
        super::accounts::replace_password(app, user, &password, None, "password reset").await?;
    super::accounts::record_activity(app, user, ActivityKind::PasswordReset, Origin::Link).await?;
    super::two_factor::notify_owner(
        app,
        user,
        "Your Banter password was changed",
        "The password of your Banter account was reset with a link sent to this address, and \
         every device was logged out. If it was not you, reset it again now and check your \
         email account's security.",
    )
    .await;
    Ok(PasswordReset {
        reset: true,
        sessions_revoked: revoked.len() as i64,
    })
}

fn code_hash(user: Uuid, phone: &str, code: &str) -> Vec<u8> {
    hash_token(&format!("{user}:{phone}:{code}"))
}

/// `POST /api/auth/phone/start {phone}`: text a 6-digit code to the number.
#[utoipa::path(post, path = "/api/auth/phone/start", tag = "auth", security(("bearer" = [])),
    request_body = PhoneStartRequest,
    responses((status = 200, description = "A code is on its way", body = Envelope<PhoneCodeSent>)))]
pub async fn start_phone(
    app: &App,
    caller: Caller,
    body: PhoneStartRequest,
) -> Result<PhoneCodeSent, ApiError> {
    super::accounts::step_up(app, caller, body.password.as_ref()).await?;
    let phone = body.phone;
    if users::phone_taken(&app.db, caller.user_id, phone.as_str()).await? {
        return Err(ApiError::AlreadyExists(
            "this phone number is in use".into(),
        ));
    }
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
    let hash = code_hash(caller.user_id, phone.as_str(), &code);
    tokens::create_phone_code(
        &app.db,
        caller.user_id,
        phone.as_str(),
        &hash,
        expires_in(app.settings.phone_code_ttl),
    )
    .await?;
    app.ports
        .notifier
        .send_sms(
            phone.as_str(),
            &format!("Your Banter code is {code}. It expires in 10 minutes."),
        )
        .await?;
    Ok(PhoneCodeSent {
        sent: true,
        expires_in: app.settings.phone_code_ttl.as_secs() as i64,
    })
}

/// `POST /api/auth/phone/verify {phone, code}`.
#[utoipa::path(post, path = "/api/auth/phone/verify", tag = "auth", security(("bearer" = [])),
    request_body = PhoneVerifyRequest,
    responses((status = 200, description = "The number is verified", body = Envelope<PhoneVerified>)))]
pub async fn verify_phone(
    app: &App,
    caller: Caller,
    body: PhoneVerifyRequest,
) -> Result<PhoneVerified, ApiError> {
    super::accounts::step_up(app, caller, body.password.as_ref()).await?;
    let phone = body.phone;
    let code = body.code.as_str();
    let hash = code_hash(caller.user_id, phone.as_str(), code);
    match tokens::check_phone_code(
        &app.db,
        caller.user_id,
        phone.as_str(),
        &hash,
        app.settings.phone_code_attempts,
    )
    .await?
    {
        PhoneCheck::Verified => {
            let mut client = app.db.get().await?;
            let tx = client.transaction().await?;
            if !users::set_verified_phone(&tx, caller.user_id, phone.as_str()).await? {
                return Err(ApiError::AlreadyExists(
                    "this phone number is in use".into(),
                ));
            }
            super::profiles::commit_own_profile_change(app, tx, caller.user_id).await?;
            Ok(PhoneVerified {
                verified: true,
                phone: phone.as_str().to_owned(),
            })
        }
        PhoneCheck::Wrong => Err(ApiError::Validation("the code is wrong".into())),
        PhoneCheck::TooManyAttempts => Err(ApiError::PermissionDenied(
            "too many wrong codes; request a new one".into(),
        )),
        PhoneCheck::Expired => Err(ApiError::TokenExpired),
        PhoneCheck::NoCode => Err(ApiError::NotFound("verification code")),
    }
}
