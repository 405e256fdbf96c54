//! Single-use email tokens (verification, password reset, 2FA reset, email change), phone
//! verification codes and known-device tokens, stored as hashes.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::domain::Email;
use crate::error::ApiError;

use super::Db;

pub const VERIFY_EMAIL: &str = "verify_email";
pub const RESET_PASSWORD: &str = "reset_password";
pub const RESET_TWO_FACTOR: &str = "reset_2fa";
pub const CHANGE_EMAIL: &str = "change_email";
pub const UNDO_EMAIL_CHANGE: &str = "undo_email_change";

/// Devices remembered per account; older ones are forgotten (and back off like new ones).
const KNOWN_DEVICES_PER_USER: i64 = 20;

/// Remember a device that logged in to `user` by its token's hash.
pub async fn remember_device(db: &Db, user: Uuid, hash: &[u8]) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH added AS (INSERT INTO known_devices (token_hash, user_id) VALUES ($1, $2))
             DELETE FROM known_devices WHERE user_id = $2 AND token_hash IN (
                 SELECT token_hash FROM known_devices WHERE user_id = $2
                 ORDER BY last_used_at DESC OFFSET $3)",
        )
        .await?;
    client
        .execute(&stmt, &[&hash, &user, &(KNOWN_DEVICES_PER_USER - 1)])
        .await?;
    Ok(())
}

/// Did this device (its token's hash) log in to `user` before?
pub async fn is_known_device(db: &Db, user: Uuid, hash: &[u8]) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE known_devices SET last_used_at = now() WHERE token_hash = $1 AND user_id = $2",
        )
        .await?;
    Ok(client.execute(&stmt, &[&hash, &user]).await? == 1)
}

pub async fn create_email_token(
    db: &Db,
    user_id: Uuid,
    purpose: &str,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let client = db.get().await?;
    insert_email_token(&client, user_id, purpose, None, hash, expires_at).await
}

/// A token that sets `user_id`'s address to `address` once its link is used: [`CHANGE_EMAIL`]
/// (sent to the new address, it confirms a change) or [`UNDO_EMAIL_CHANGE`] (sent to the old
/// one after a change, it restores it).
pub async fn create_address_token(
    client: &impl GenericClient,
    user_id: Uuid,
    purpose: &str,
    address: &Email,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    insert_email_token(
        client,
        user_id,
        purpose,
        Some(address.as_str()),
        hash,
        expires_at,
    )
    .await
}

async fn insert_email_token(
    client: &impl GenericClient,
    user_id: Uuid,
    purpose: &str,
    new_email: Option<&str>,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, new_email, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    client
        .execute(&stmt, &[&hash, &user_id, &purpose, &new_email, &expires_at])
        .await?;
    Ok(())
}

/// Spend a token: its user if it was live, `TOKEN_EXPIRED` if it expired, `INVALID_TOKEN`
/// otherwise (unknown, used, or for another purpose). Spending one reset token spends the user's
/// other outstanding tokens of that purpose too.
pub async fn consume_email_token(db: &Db, purpose: &str, hash: &[u8]) -> Result<Uuid, ApiError> {
    spend_email_token(db, purpose, hash)
        .await
        .map(|(user, _)| user)
}

/// Spend an address token ([`create_address_token`]): its user and the address it sets (as
/// [`consume_email_token`]; the user's other tokens of that purpose are spent with it).
pub async fn consume_address_token(
    db: &Db,
    purpose: &str,
    hash: &[u8],
) -> Result<(Uuid, Email), ApiError> {
    let (user, new_email) = spend_email_token(db, purpose, hash).await?;
    let new_email = new_email
        .and_then(|email| Email::parse(&email).ok())
        .ok_or_else(|| ApiError::Internal("an email-change token holds no address".into()))?;
    Ok((user, new_email))
}

/// Spend the user's outstanding tokens of `purpose` (links sent before a change that makes them
/// stale, e.g. reset links sent to an address the account no longer has).
pub async fn spend_outstanding(
    client: &impl GenericClient,
    user_id: Uuid,
    purposes: &[&str],
) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE email_tokens SET used_at = now()
             WHERE user_id = $1 AND purpose = ANY($2) AND used_at IS NULL",
        )
        .await?;
    client.execute(&stmt, &[&user_id, &purposes]).await?;
    Ok(())
}

async fn spend_email_token(
    db: &Db,
    purpose: &str,
    hash: &[u8],
) -> Result<(Uuid, Option<String>), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH target AS (
                 SELECT user_id, new_email, expires_at > now() AS live FROM email_tokens
                 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL
             ), spent AS (
                 UPDATE email_tokens t SET used_at = now() FROM target
                 WHERE target.live AND t.user_id = target.user_id AND t.purpose = $2 AND t.used_at IS NULL
                 RETURNING t.user_id
             )
             SELECT (SELECT user_id FROM target) AS user_id, (SELECT live FROM target) AS live,
                    (SELECT new_email FROM target) AS new_email",
        )
        .await?;
    let row = client.query_one(&stmt, &[&hash, &purpose]).await?;
    match (
        row.get::<_, Option<Uuid>>("user_id"),
        row.get::<_, Option<bool>>("live"),
    ) {
        (Some(user), Some(true)) => Ok((user, row.get("new_email"))),
        (Some(_), _) => Err(ApiError::TokenExpired),
        _ => Err(ApiError::InvalidToken),
    }
}

/// Delete links and codes that were used, or expired more than a week ago (with them the
/// addresses and numbers they were sent to). Within that week an expired one still answers
/// `TOKEN_EXPIRED` rather than `INVALID_TOKEN`. Returns how many.
pub async fn forget_spent(client: &impl GenericClient) -> Result<u64, ApiError> {
    let row = client
        .query_one(
            "WITH links AS (
                 DELETE FROM email_tokens
                 WHERE used_at IS NOT NULL OR expires_at < now() - interval '7 days' RETURNING 1
             ), codes AS (
                 DELETE FROM phone_verifications
                 WHERE consumed_at IS NOT NULL OR expires_at < now() - interval '7 days' RETURNING 1
             )
             SELECT (SELECT count(*) FROM links) + (SELECT count(*) FROM codes) AS forgotten",
            &[],
        )
        .await?;
    Ok(row.get::<_, i64>("forgotten") as u64)
}

pub async fn create_phone_code(
    db: &Db,
    user_id: Uuid,
    phone: &str,
    code_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH superseded AS (UPDATE phone_verifications SET consumed_at = now()
                                 WHERE user_id = $2 AND consumed_at IS NULL)
             INSERT INTO phone_verifications (id, user_id, phone, code_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[&Uuid::now_v7(), &user_id, &phone, &code_hash, &expires_at],
        )
        .await?;
    Ok(())
}

pub enum PhoneCheck {
    Verified,
    Wrong,
    TooManyAttempts,
    Expired,
    NoCode,
}

/// Check a code against the user's outstanding code for `phone`, counting the attempt.
pub async fn check_phone_code(
    db: &Db,
    user_id: Uuid,
    phone: &str,
    code_hash: &[u8],
    max_attempts: i32,
) -> Result<PhoneCheck, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT id, code_hash, attempts, expires_at > now() AS live FROM phone_verifications
             WHERE user_id = $1 AND phone = $2 AND consumed_at IS NULL ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
            &[&user_id, &phone],
        )
        .await?;
    let Some(row) = row else {
        return Ok(PhoneCheck::NoCode);
    };
    let (id, stored, attempts, live): (Uuid, Vec<u8>, i32, bool) = (
        row.get("id"),
        row.get("code_hash"),
        row.get("attempts"),
        row.get("live"),
    );
    let outcome = if !live {
        PhoneCheck::Expired
    } else if attempts >= max_attempts {
        PhoneCheck::TooManyAttempts
    } else if crate::auth::tokens::constant_time_eq(&stored, code_hash) {
        tx.execute(
            "UPDATE phone_verifications SET consumed_at = now() WHERE id = $1",
            &[&id],
        )
        .await?;
        PhoneCheck::Verified
    } else {
        tx.execute(
            "UPDATE phone_verifications SET attempts = attempts + 1 WHERE id = $1",
            &[&id],
        )
        .await?;
        PhoneCheck::Wrong
    };
    tx.commit().await?;
    Ok(outcome)
}
