//! Email verification, phone verification and password reset (PRD 1.1, API.md "Auth"). Links
//! and codes go out through the notifier port (SES / SNS on AWS, the outbox locally); only their
//! hashes are stored, and each is single-use and expiring.

use chrono::Utc;
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::password::hash_password;
use crate::auth::tokens::{hash_token, new_opaque_token, Caller};
use crate::db::tokens::{self, PhoneCheck};
use crate::db::{sessions, users};
use crate::domain::{Email, Password, Phone};
use crate::error::ApiError;
use crate::App;

use super::{require_object, required_str};

fn expires_in(ttl: std::time::Duration) -> chrono::DateTime<Utc> {
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
pub async fn verify_email(app: &App, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let token = required_str(body, "token")?;
    if token.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    let user =
        tokens::consume_email_token(&app.db, tokens::VERIFY_EMAIL, &hash_token(token)).await?;
    users::set_email_verified(&app.db, user).await?;
    Ok(json!({ "verified": true }))
}

/// `POST /api/auth/forgot-password {email}`: always the same answer, so it tells nobody whether
/// an account exists; the account's owner gets a reset link.
pub async fn forgot_password(app: &App, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let email = Email::parse(required_str(body, "email")?)?;
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
    Ok(json!({ "sent": true }))
}

/// `POST /api/auth/reset-password {token, newPassword}`: sets the password and revokes every
/// session (their WebSockets close).
pub async fn reset_password(app: &App, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let token = required_str(body, "token")?;
    let password = Password::parse(required_str(body, "newPassword")?)?;
    if token.len() > 200 {
        return Err(ApiError::InvalidToken);
    }
    let user =
        tokens::consume_email_token(&app.db, tokens::RESET_PASSWORD, &hash_token(token)).await?;
    let hash = hash_password(password.expose().to_owned()).await?;
    users::set_password(&app.db, user, &hash).await?;
    let revoked = sessions::revoke_all(&app.db, user, "password reset").await?;
    super::connections::close_sessions(app, user, &revoked).await;
    Ok(json!({ "reset": true, "sessionsRevoked": revoked.len() }))
}

fn code_hash(user: Uuid, phone: &str, code: &str) -> Vec<u8> {
    hash_token(&format!("{user}:{phone}:{code}"))
}

/// `POST /api/auth/phone/start {phone}`: text a 6-digit code to the number.
pub async fn start_phone(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let phone = Phone::parse(required_str(body, "phone")?)?;
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
    Ok(json!({ "sent": true, "expiresIn": app.settings.phone_code_ttl.as_secs() }))
}

/// `POST /api/auth/phone/verify {phone, code}`.
pub async fn verify_phone(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    let phone = Phone::parse(required_str(body, "phone")?)?;
    let code = required_str(body, "code")?;
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::Validation("the code is 6 digits".into()));
    }
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
            if !users::set_verified_phone(&app.db, caller.user_id, phone.as_str()).await? {
                return Err(ApiError::AlreadyExists(
                    "this phone number is in use".into(),
                ));
            }
            Ok(json!({ "verified": true, "phone": phone.as_str() }))
        }
        PhoneCheck::Wrong => Err(ApiError::Validation("the code is wrong".into())),
        PhoneCheck::TooManyAttempts => Err(ApiError::PermissionDenied(
            "too many wrong codes; request a new one".into(),
        )),
        PhoneCheck::Expired => Err(ApiError::TokenExpired),
        PhoneCheck::NoCode => Err(ApiError::NotFound("verification code")),
    }
}
