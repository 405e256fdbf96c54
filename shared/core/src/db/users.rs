//! Queries on `users`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::{Email, Phone, Username};
use crate::error::ApiError;
use crate::wire::rfc3339;

use super::{is_unique_violation, Db};

pub enum NewUserConflict {
    Email,
    Username,
    Phone,
}

/// Insert an account. A taken email, username or phone is reported as such.
pub async fn insert(
    db: &Db,
    id: Uuid,
    email: &Email,
    username: &Username,
    phone: Option<&Phone>,
    password_hash: &str,
) -> Result<Result<(), NewUserConflict>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("INSERT INTO users (id, email, username, phone, password_hash) VALUES ($1, $2, $3, $4, $5)")
        .await?;
    match client
        .execute(
            &stmt,
            &[
                &id,
                &email.as_str(),
                &username.as_str(),
                &phone.map(Phone::as_str),
                &password_hash,
            ],
        )
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(e) if is_unique_violation(&e, "users_email_key") => Ok(Err(NewUserConflict::Email)),
        Err(e) if is_unique_violation(&e, "users_username_key") => {
            Ok(Err(NewUserConflict::Username))
        }
        Err(e) if is_unique_violation(&e, "users_phone_key") => Ok(Err(NewUserConflict::Phone)),
        Err(e) => Err(e.into()),
    }
}

pub async fn username_taken(db: &Db, username: &Username) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
        .await?;
    Ok(client.query_one(&stmt, &[&username.as_str()]).await?.get(0))
}

/// The id and password hash of the live account with this email.
pub async fn login_credentials(db: &Db, email: &Email) -> Result<Option<(Uuid, String)>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, password_hash FROM users WHERE lower(email) = $1 AND deleted_at IS NULL",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&email.as_str()])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

const PROFILE_COLUMNS: &str = "id, email, email_verified, username, phone, display_name, profile_picture_url, \
     status, about, last_seen, is_online, privacy_settings, notification_settings, created_at, updated_at";

/// The caller's own profile (every field).
pub async fn own_profile(db: &Db, id: Uuid) -> Result<Option<Value>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {PROFILE_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| own_profile_json(&r)))
}

fn own_profile_json(r: &Row) -> Value {
    let ts = |i: &str| r.get::<_, Option<DateTime<Utc>>>(i).map(rfc3339);
    json!({
        "id": r.get::<_, Uuid>("id"),
        "email": r.get::<_, String>("email"),
        "isVerified": r.get::<_, bool>("email_verified"),
        "username": r.get::<_, String>("username"),
        "phone": r.get::<_, Option<String>>("phone"),
        "displayName": r.get::<_, Option<String>>("display_name"),
        "profilePictureUrl": r.get::<_, Option<String>>("profile_picture_url"),
        "status": r.get::<_, Option<String>>("status"),
        "about": r.get::<_, Option<String>>("about"),
        "lastSeen": ts("last_seen"),
        "isOnline": r.get::<_, bool>("is_online"),
        "privacySettings": r.get::<_, Value>("privacy_settings"),
        "notificationSettings": r.get::<_, Value>("notification_settings"),
        "createdAt": ts("created_at"),
        "updatedAt": ts("updated_at"),
    })
}

/// Do all these users exist (and are not erased)?
pub async fn all_exist(db: &Db, ids: &[Uuid]) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT count(*) FROM users WHERE id = ANY($1) AND deleted_at IS NULL")
        .await?;
    let n: i64 = client.query_one(&stmt, &[&ids]).await?.get(0);
    Ok(n as usize == ids.len())
}
