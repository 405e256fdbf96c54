//! Queries on `users`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::api::models::{
    Audience, ContactRemoved, NotificationSettings, OwnProfile, PrivacySettings, Timestamp,
};
use crate::api::requests::{NotificationSettingsPatch, PrivacySettingsPatch};
use crate::api::ws::ServerEvent;
use crate::domain::{Email, Phone, Username};
use crate::error::ApiError;

use super::{is_unique_violation, Db};

/// The privacy settings as stored (`users.privacy_settings`, written from
/// [`PrivacySettingsPatch`]): a setting never changed may be absent.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPrivacy {
    pub last_seen: Option<Audience>,
    pub profile_picture: Option<Audience>,
    pub about: Option<Audience>,
    pub read_receipts: Option<bool>,
    pub groups: Option<Audience>,
    pub discoverable: Option<bool>,
    pub default_disappearing_seconds: Option<i32>,
}

impl From<StoredPrivacy> for PrivacySettings {
    /// As answered: each setting's value or its default, and the PRD's flags.
    fn from(stored: StoredPrivacy) -> Self {
        let default = PrivacySettings::default();
        let last_seen = stored.last_seen.unwrap_or(default.last_seen_audience);
        let profile_picture = stored
            .profile_picture
            .unwrap_or(default.profile_picture_audience);
        let about = stored.about.unwrap_or(default.about_audience);
        Self {
            last_seen: last_seen != Audience::Nobody,
            profile_picture: profile_picture != Audience::Nobody,
            status: about != Audience::Nobody,
            last_seen_audience: last_seen,
            profile_picture_audience: profile_picture,
            about_audience: about,
            read_receipts: stored.read_receipts.unwrap_or(default.read_receipts),
            groups: stored.groups.unwrap_or(default.groups),
            discoverable: stored.discoverable.unwrap_or(default.discoverable),
            default_disappearing_seconds: stored
                .default_disappearing_seconds
                .unwrap_or(default.default_disappearing_seconds),
        }
    }
}

/// Lock `user`'s row for the rest of the transaction, so that counting something of theirs
/// and adding one is one step (a limit on their contact groups, their pinned chats): a
/// concurrent request of theirs waits instead of counting the same.
pub async fn lock(client: &impl GenericClient, user: Uuid) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .await?;
    client.query_opt(&stmt, &[&user]).await?;
    Ok(())
}

pub enum NewUserConflict {
    Email,
    Username,
}

/// Insert an account. A taken email or username is reported as such; a phone given here is an
/// unverified claim, which never conflicts.
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
        .prepare_cached(
            "INSERT INTO users (id, email, username, username_skeleton, phone, password_hash)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    match client
        .execute(
            &stmt,
            &[
                &id,
                &email.as_str(),
                &username.as_str(),
                &username.skeleton(),
                &phone.map(Phone::as_str),
                &password_hash,
            ],
        )
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(e) if is_unique_violation(&e, "users_email_key") => Ok(Err(NewUserConflict::Email)),
        Err(e)
            if is_unique_violation(&e, "users_username_key")
                || is_unique_violation(&e, "users_username_skeleton_key") =>
        {
            Ok(Err(NewUserConflict::Username))
        }
        Err(e) => Err(e.into()),
    }
}

/// What a login checks of the account with an email.
pub struct LoginCredentials {
    pub id: Uuid,
    pub password_hash: String,
    /// Moderators suspended it: the right password still does not log in.
    pub suspended: bool,
}

/// The credentials of the live account with this email.
pub async fn login_credentials(
    db: &Db,
    email: &Email,
) -> Result<Option<LoginCredentials>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, password_hash, suspended_at IS NOT NULL AS suspended
             FROM users WHERE lower(email) = $1 AND deleted_at IS NULL",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&email.as_str()])
        .await?
        .map(|r| LoginCredentials {
            id: r.get("id"),
            password_hash: r.get("password_hash"),
            suspended: r.get("suspended"),
        }))
}

/// Suspend `user` (`Some(reason)`) or reinstate them (`None`). `None` if there is no such
/// account; otherwise whether it changed.
pub async fn set_suspension(
    client: &impl GenericClient,
    user: Uuid,
    reason: Option<&str>,
) -> Result<Option<bool>, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH target AS (SELECT id, suspended_at IS NOT NULL AS was FROM users WHERE id = $1 FOR UPDATE),
                  changed AS (
                      UPDATE users u SET suspended_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END,
                                         suspension_reason = $2
                      FROM target t WHERE u.id = t.id AND t.was <> ($2::text IS NOT NULL)
                      RETURNING u.id)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed FROM target",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&user, &reason])
        .await?
        .map(|r| r.get("changed")))
}

const PROFILE_COLUMNS: &str = "id, email, email_verified, username, phone, display_name, \
     status, about, last_seen, is_online, privacy_settings, notification_settings, created_at, updated_at, \
     profile_picture_media_id, phone_verified, totp_enabled";

/// The caller's own profile (every field).
pub async fn own_profile(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<OwnProfile>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {PROFILE_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| own_profile_row(&r)))
}

fn own_profile_row(r: &Row) -> OwnProfile {
    let Json(privacy_settings) = r.get::<_, Json<StoredPrivacy>>("privacy_settings");
    let Json(notification_settings) =
        r.get::<_, Json<NotificationSettings>>("notification_settings");
    OwnProfile {
        id: r.get("id"),
        email: r.get("email"),
        is_verified: r.get("email_verified"),
        username: r.get("username"),
        phone: r.get("phone"),
        display_name: r.get("display_name"),
        // Signed when answered (`services::profiles::own_view`).
        profile_picture_url: None,
        profile_picture_media_id: r.get("profile_picture_media_id"),
        phone_verified: r.get("phone_verified"),
        two_factor_enabled: r.get("totp_enabled"),
        status: r.get("status"),
        about: r.get("about"),
        last_seen: r
            .get::<_, Option<DateTime<Utc>>>("last_seen")
            .map(Timestamp),
        is_online: r.get("is_online"),
        privacy_settings: privacy_settings.into(),
        notification_settings,
        created_at: Timestamp(r.get("created_at")),
        updated_at: Timestamp(r.get("updated_at")),
    }
}

/// Do all these users exist (and are not erased)?
pub async fn all_exist(db: &Db, ids: &[Uuid]) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT count(*) AS n FROM users WHERE id = ANY($1) AND deleted_at IS NULL")
        .await?;
    let n: i64 = client.query_one(&stmt, &[&ids]).await?.get("n");
    Ok(n as usize == ids.len())
}

/// The live account with this email: id.
pub async fn id_by_email(db: &Db, email: &Email) -> Result<Option<Uuid>, ApiError> {
    Ok(login_credentials(db, email)
        .await?
        .map(|account| account.id))
}

pub async fn password_hash(db: &Db, id: Uuid) -> Result<Option<String>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| r.get("password_hash")))
}

pub async fn set_password(db: &Db, id: Uuid, hash: &str) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("UPDATE users SET password_hash = $2 WHERE id = $1")
        .await?;
    client.execute(&stmt, &[&id, &hash]).await?;
    Ok(())
}

pub async fn set_email_verified(client: &impl GenericClient, id: Uuid) -> Result<(), ApiError> {
    let stmt = client
        .prepare_cached("UPDATE users SET email_verified = true WHERE id = $1")
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Change the account's email address to one its owner just confirmed (so it is verified);
/// `false` if another account has it (checked by the unique index, so two accounts racing for
/// one address cannot both win).
pub async fn set_confirmed_email(
    client: &impl GenericClient,
    id: Uuid,
    email: &Email,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE users SET email = $2, email_verified = true WHERE id = $1 AND deleted_at IS NULL",
        )
        .await?;
    match client.execute(&stmt, &[&id, &email.as_str()]).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e, "users_email_key") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Record a verified phone number, dropping other accounts' unverified claims to it (in the
/// caller's transaction); `false` if another account has verified it (then the transaction
/// is spoiled: roll it back).
pub async fn set_verified_phone(
    tx: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    phone: &str,
) -> Result<bool, ApiError> {
    tx.execute(
        "UPDATE users SET phone = NULL WHERE phone = $2 AND id <> $1 AND NOT phone_verified",
        &[&id, &phone],
    )
    .await?;
    match tx
        .execute(
            "UPDATE users SET phone = $2, phone_verified = true WHERE id = $1",
            &[&id, &phone],
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e, "users_phone_key") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Is this phone number verified by another account? (Unverified claims do not count.)
pub async fn phone_taken(db: &Db, id: Uuid, phone: &str) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM users WHERE phone = $2 AND id <> $1 AND phone_verified) AS taken",
        )
        .await?;
    Ok(client.query_one(&stmt, &[&id, &phone]).await?.get("taken"))
}

/// Whether TOTP is on, and the secret (pending or active).
pub async fn totp_state(db: &Db, id: Uuid) -> Result<Option<(bool, Option<String>)>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT totp_enabled, totp_secret FROM users WHERE id = $1 AND deleted_at IS NULL",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| (r.get("totp_enabled"), r.get("totp_secret"))))
}

/// Store a pending secret (or, with `None`, turn TOTP off and drop its recovery codes). Returns
/// the username.
pub async fn set_totp_secret(
    client: &impl GenericClient,
    id: Uuid,
    secret: Option<&str>,
) -> Result<String, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH codes AS (DELETE FROM totp_recovery_codes WHERE user_id = $1 AND $2::text IS NULL)
             UPDATE users SET totp_secret = $2, totp_enabled = false, totp_reset_after = NULL
             WHERE id = $1 RETURNING username",
        )
        .await?;
    Ok(client
        .query_one(&stmt, &[&id, &secret])
        .await?
        .get("username"))
}

/// Turn TOTP on with these recovery codes (in the caller's transaction).
pub async fn enable_totp(
    tx: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    recovery_hashes: &[Vec<u8>],
) -> Result<(), ApiError> {
    tx.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", &[&id])
        .await?;
    tx.execute("INSERT INTO totp_recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) h", &[&id, &recovery_hashes])
        .await?;
    tx.execute("UPDATE users SET totp_enabled = true WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

/// Schedule a 2FA reset `wait_secs` from now (an earlier schedule stands); when it takes
/// effect, or `None` if 2FA is off.
pub async fn schedule_totp_reset(
    db: &Db,
    id: Uuid,
    wait_secs: f64,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE users SET totp_reset_after = coalesce(totp_reset_after, now() + make_interval(secs => $2))
             WHERE id = $1 AND totp_enabled RETURNING totp_reset_after",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &wait_secs])
        .await?
        .map(|r| r.get("totp_reset_after")))
}

/// Turn 2FA off if a scheduled reset is due; whether it was.
pub async fn apply_due_totp_reset(client: &impl GenericClient, id: Uuid) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "WITH off AS (
                 UPDATE users SET totp_secret = NULL, totp_enabled = false, totp_reset_after = NULL
                 WHERE id = $1 AND totp_enabled AND totp_reset_after <= now() RETURNING id
             ), codes AS (DELETE FROM totp_recovery_codes WHERE user_id IN (SELECT id FROM off))
             SELECT count(*) AS n FROM off",
        )
        .await?;
    Ok(client.query_one(&stmt, &[&id]).await?.get::<_, i64>("n") == 1)
}

/// A login with a code cancels a pending reset: the owner still has the authenticator.
pub async fn cancel_totp_reset(db: &Db, id: Uuid) -> Result<(), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE users SET totp_reset_after = NULL WHERE id = $1 AND totp_reset_after IS NOT NULL",
        )
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Record that a login spent TOTP step `step`; `false` if that step (or a later one) was
/// already spent, which makes the code a replay.
pub async fn spend_totp_step(db: &Db, id: Uuid, step: i64) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE users SET totp_last_step = $2
             WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .await?;
    Ok(client.execute(&stmt, &[&id, &step]).await? == 1)
}

/// Spend a recovery code; `false` if it is unknown or used.
pub async fn use_recovery_code(db: &Db, id: Uuid, hash: &[u8]) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("UPDATE totp_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
        .await?;
    Ok(client.execute(&stmt, &[&id, &hash]).await? == 1)
}

/// Another user's profile row as a viewer relates to it, before privacy is applied.
pub struct PublicRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    pub profile_picture_media_id: Option<Uuid>,
    pub status: Option<String>,
    pub about: Option<String>,
    pub last_seen: Option<Timestamp>,
    pub is_online: bool,
    pub privacy: StoredPrivacy,
    pub standing: super::relationships::Standing,
    /// The viewer (someone else) does not show this user their own last seen (shows it to
    /// nobody, or to contacts and this user is not one, or blocks them), and so sees none of
    /// theirs (V72, as `presence_audience`).
    pub viewer_hides_last_seen: bool,
}

/// The select list of a profile read (a statement's start: its `WHERE` follows), `$1` the viewer.
fn public_select() -> String {
    format!(
        "SELECT u.id, u.username, u.display_name, u.profile_picture_media_id,
        u.status, u.about, u.last_seen, u.is_online, u.privacy_settings,
        EXISTS (SELECT 1 FROM user_relationships r WHERE r.user_id = u.id AND r.related_user_id = $1 AND r.relationship_type = 'contact')
            AS viewer_is_contact,
        EXISTS (SELECT 1 FROM user_relationships r WHERE r.user_id = u.id AND r.related_user_id = $1 AND r.relationship_type = 'blocked')
            AS blocked_by_target,
        EXISTS (SELECT 1 FROM user_relationships r WHERE r.user_id = $1 AND r.related_user_id = u.id AND r.relationship_type = 'blocked')
            AS viewer_blocked_target,
        u.id <> $1 AND NOT {} AS viewer_hides_last_seen,
        count(*) OVER () AS total
     FROM users u",
        super::presence_shown("$1", "u.id")
    )
}

fn public_row(r: &Row) -> PublicRow {
    PublicRow {
        id: r.get("id"),
        username: r.get("username"),
        display_name: r.get("display_name"),
        profile_picture_media_id: r.get("profile_picture_media_id"),
        status: r.get("status"),
        about: r.get("about"),
        last_seen: r
            .get::<_, Option<DateTime<Utc>>>("last_seen")
            .map(Timestamp),
        is_online: r.get("is_online"),
        privacy: r.get::<_, Json<StoredPrivacy>>("privacy_settings").0,
        standing: super::relationships::Standing {
            viewer_is_contact: r.get("viewer_is_contact"),
            blocked_by_target: r.get("blocked_by_target"),
            viewer_blocked_target: r.get("viewer_blocked_target"),
        },
        viewer_hides_last_seen: r.get("viewer_hides_last_seen"),
    }
}

/// Several users' rows as `viewer` relates to them (on `client`: in a transaction, as it
/// leaves them, a contact it adds included).
pub async fn public_profiles(
    client: &impl GenericClient,
    viewer: Uuid,
    ids: &[Uuid],
) -> Result<Vec<PublicRow>, ApiError> {
    let stmt = client
        .prepare_cached(&format!("{} WHERE u.id = ANY($2)", public_select()))
        .await?;
    Ok(client
        .query(&stmt, &[&viewer, &ids])
        .await?
        .iter()
        .map(public_row)
        .collect())
}

/// [`public_profiles`] by id.
pub async fn public_profiles_by_id(
    db: &Db,
    viewer: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, PublicRow>, ApiError> {
    let rows = public_profiles(&db.get().await?, viewer, ids).await?;
    Ok(rows.into_iter().map(|p| (p.id, p)).collect())
}

pub async fn public_profile(
    db: &Db,
    viewer: Uuid,
    id: Uuid,
) -> Result<Option<PublicRow>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "{} WHERE u.id = $2 AND u.deleted_at IS NULL",
            public_select()
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&viewer, &id])
        .await?
        .map(|r| public_row(&r)))
}

/// Users whose username contains `query` (already lower-cased), or starts with it when it is
/// shorter than a trigram (each form has an index that serves it: `users_username_trgm`,
/// `users_username_prefix`), exact match first, leaving out the viewer and anyone who blocked
/// them. Returns the page and the total.
pub async fn search(
    db: &Db,
    viewer: Uuid,
    query: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PublicRow>, i64), ApiError> {
    let pattern = super::like_pattern(query, query.chars().count() < 3);
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "{} WHERE u.deleted_at IS NULL AND u.suspended_at IS NULL AND u.id <> $1
               AND u.username LIKE $2
               AND NOT EXISTS (SELECT 1 FROM user_relationships b
                               WHERE b.user_id = u.id AND b.related_user_id = $1 AND b.relationship_type = 'blocked')
             ORDER BY u.username = $3 DESC, similarity(u.username, $3) DESC, u.username LIMIT $4 OFFSET $5",
            public_select()
        ))
        .await?;
    let rows = client
        .query(&stmt, &[&viewer, &pattern, &query, &limit, &offset])
        .await?;
    let total = rows.first().map(|r| r.get::<_, i64>("total")).unwrap_or(0);
    Ok((rows.iter().map(public_row).collect(), total))
}

/// Fields of `PUT /api/users/profile`; `Some` means "set" (possibly to null).
#[derive(Default)]
pub struct ProfileUpdate {
    pub username: Option<Username>,
    pub display_name: Option<Option<String>>,
    pub status: Option<Option<String>>,
    pub about: Option<Option<String>>,
    pub picture: Option<Option<Uuid>>,
    pub privacy: PrivacySettingsPatch,
    pub notifications: NotificationSettingsPatch,
}

/// What an update of a profile changed that others are told of.
#[derive(Debug)]
pub struct ProfileUpdated {
    /// The username after it.
    pub username: String,
    /// The picture after it.
    pub picture: Option<Uuid>,
    /// It is another picture than before.
    pub picture_changed: bool,
    /// The status text now.
    pub status: Option<String>,
}

/// Apply an update. `Err(AlreadyExists)` when the new username is taken.
/// A new username replaces the old in the timeline's lines about them (`rename_in_timeline`).
pub async fn update_profile(
    client: &impl GenericClient,
    id: Uuid,
    u: &ProfileUpdate,
) -> Result<ProfileUpdated, ApiError> {
    let before: Option<String> = match u.username {
        Some(_) => client
            .query_opt(
                "SELECT username FROM users WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
            .map(|r| r.get("username")),
        None => None,
    };
    let stmt = client
        .prepare_cached(
            "UPDATE users u SET
                 username = COALESCE($2, u.username),
                 username_skeleton = COALESCE($13, u.username_skeleton),
                 display_name = CASE WHEN $3 THEN $4 ELSE u.display_name END,
                 status = CASE WHEN $5 THEN $6 ELSE u.status END,
                 about = CASE WHEN $7 THEN $8 ELSE u.about END,
                 profile_picture_media_id = CASE WHEN $9 THEN $10 ELSE u.profile_picture_media_id END,
                 privacy_settings = u.privacy_settings || $11,
                 notification_settings = u.notification_settings || $12
             FROM (SELECT profile_picture_media_id FROM users WHERE id = $1) before
             WHERE u.id = $1
             RETURNING u.username, u.status, u.profile_picture_media_id,
                       u.profile_picture_media_id IS DISTINCT FROM before.profile_picture_media_id
                           AS picture_changed",
        )
        .await?;
    let flag = |o: &Option<Option<String>>| (o.is_some(), o.clone().flatten());
    let (dn_set, dn) = flag(&u.display_name);
    let (st_set, st) = flag(&u.status);
    let (ab_set, ab) = flag(&u.about);
    let (pic_set, pic) = (u.picture.is_some(), u.picture.flatten());
    let result = client
        .query_opt(
            &stmt,
            &[
                &id,
                &u.username.as_ref().map(Username::as_str),
                &dn_set,
                &dn,
                &st_set,
                &st,
                &ab_set,
                &ab,
                &pic_set,
                &pic,
                &Json(&u.privacy),
                &Json(&u.notifications),
                &u.username.as_ref().map(Username::skeleton),
            ],
        )
        .await;
    match result {
        Ok(row) => {
            let row = row.ok_or(ApiError::NotFound("user"))?;
            let username: String = row.get("username");
            if let Some(old) = before.filter(|old| *old != username) {
                rename_in_timeline(client, id, &old, &username, false).await?;
            }
            Ok(ProfileUpdated {
                username,
                picture: row.get("profile_picture_media_id"),
                picture_changed: row.get("picture_changed"),
                status: row.get("status"),
            })
        }
        Err(e)
            if is_unique_violation(&e, "users_username_key")
                || is_unique_violation(&e, "users_username_skeleton_key") =>
        {
            Err(ApiError::AlreadyExists(
                "this username, or one that looks like it, is taken".into(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Is `media` an image uploaded by `user`?
pub async fn owns_image(db: &Db, user: Uuid, media: Uuid) -> Result<bool, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM media_files WHERE id = $1 AND uploader_id = $2 AND file_type = 'image') AS owns")
        .await?;
    Ok(client.query_one(&stmt, &[&media, &user]).await?.get("owns"))
}

/// What erasing an account leaves to do outside the database.
pub struct Erased {
    /// The device sessions that were live: their connections are to be closed.
    pub sessions: Vec<Uuid>,
    /// Blob keys of the media the user uploaded (originals and processed variants) and of
    /// their backups.
    pub blob_keys: Vec<String>,
}

/// Erase an account in one transaction: the user row goes, and with it (by foreign key) every
/// device session, token, code, relationship, membership, reaction and event of theirs; the
/// messages they sent stay in the other members' chats with `sender_id` NULL and no metadata,
/// linking back to nobody; their chat with themselves goes whole. Their media rows go too; the
/// caller deletes the blobs.
pub async fn erase(db: &Db, id: Uuid) -> Result<Erased, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    // They leave each of their groups as a member who leaves does (the event and system message,
    // an admin in their place if they were the last), before their rows go: members would
    // otherwise not be told, and a group could be left with no admin. Groups first, then the
    // user row, the order everything else locks them in.
    let groups: Vec<Uuid> = tx
        .query(
            "SELECT p.chat_id FROM chat_participants p JOIN chats c ON c.id = p.chat_id
             WHERE p.user_id = $1 AND p.left_at IS NULL AND c.type = 'group'
             ORDER BY p.chat_id",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.get("chat_id"))
        .collect();
    for chat in groups {
        super::chats::leave_group(&tx, chat, id, None).await?;
    }
    let Some(row) = tx
        .query_opt(
            "SELECT email, username FROM users WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
    else {
        return Err(ApiError::NotFound("user"));
    };
    let email: String = row.get("email");
    let username: String = row.get("username");
    // The timeline's lines about them ("alice left", "bob added alice") name them no more, nor
    // point to them: whoever takes the username next is not taken for them.
    rename_in_timeline(&tx, id, &username, super::ERASED_ACCOUNT, true).await?;
    tx.execute(
        "DELETE FROM login_failures WHERE key = $1",
        &[&format!("account:{}", email.to_lowercase())],
    )
    .await?;
    let sessions: Vec<Uuid> = tx
        .query(
            "SELECT id FROM device_sessions WHERE user_id = $1 AND revoked_at IS NULL",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    let blob_keys: Vec<String> = tx
        .query(
            "SELECT file_key AS key FROM media_files WHERE uploader_id = $1
             UNION ALL
             SELECT v.value AS key FROM media_files m, jsonb_each_text(m.variants) v WHERE m.uploader_id = $1
             UNION ALL
             SELECT blob_key AS key FROM backups WHERE user_id = $1 AND blob_key IS NOT NULL",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.get("key"))
        .collect();
    // Their chat with themselves is theirs alone: it goes, messages and all.
    tx.execute(
        &format!(
            "DELETE FROM chats c WHERE c.type = 'individual'
               AND c.id IN (SELECT chat_id FROM chat_participants WHERE user_id = $1)
               AND {}",
            super::note_to_self("c")
        ),
        &[&id],
    )
    .await?;
    // Whoever had them as a contact loses the contact with the row: their devices are told, as
    // when they remove one.
    let had_them: Vec<Uuid> = tx
        .query(
            "SELECT user_id FROM user_relationships
             WHERE related_user_id = $1 AND relationship_type = 'contact'",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.get("user_id"))
        .collect();
    let removed = ServerEvent::ContactRemoved(ContactRemoved { user_id: id });
    super::events::append_user_events(&tx, &had_them, None, removed.name(), &removed.data())
        .await?;
    for sql in [
        "DELETE FROM media_files WHERE uploader_id = $1",
        // What their messages carried (locations, contact cards); the text stays for the others.
        "UPDATE messages SET metadata = '{}' WHERE sender_id = $1",
        // Cascades to sessions, tokens, codes, relationships, memberships, reactions; sets
        // `sender_id` (and `created_by`) NULL; the log's trigger (V32) takes their events and
        // their name as actor.
        "DELETE FROM users WHERE id = $1",
    ] {
        tx.execute(sql, &[&id]).await?;
    }
    tx.commit().await?;
    Ok(Erased {
        sessions,
        blob_keys,
    })
}

/// Rewrite the timeline's lines about `user` (as the one acting or acted on: "alice added bob")
/// that name them `username`, naming them `replacement` instead; with `forget`, the lines no
/// longer point to them either. Whoever takes the old username next is not taken for them.
async fn rename_in_timeline(
    client: &impl GenericClient,
    user: Uuid,
    username: &str,
    replacement: &str,
    forget: bool,
) -> Result<u64, ApiError> {
    Ok(client
        .execute(
            "UPDATE messages SET content = regexp_replace(content, $2, $3, 'g'),
                                 metadata = CASE WHEN $4 THEN metadata - 'actorId' - 'userId'
                                                 ELSE metadata END
             WHERE chat_id IN (SELECT chat_id FROM chat_participants WHERE user_id = $1
                               UNION SELECT chat_id FROM earlier_memberships WHERE user_id = $1)
               AND type = 'system'
               AND (metadata ->> 'actorId' = $1::uuid::text OR metadata ->> 'userId' = $1::uuid::text)",
            &[&user, &username_as_word(username), &replacement, &forget],
        )
        .await?)
}

/// A PostgreSQL regular expression matching `username` as a whole word (a username is `a-z`,
/// `0-9`, `_` and `.`, so only the dot needs escaping).
fn username_as_word(username: &str) -> String {
    format!(r"\m{}\M", username.replace('.', r"\."))
}

/// Fill in the skeletons of accounts created before usernames had one (`V4`). A live account
/// whose skeleton another already holds keeps none: it was there first, so it is not refused
/// retroactively. Returns how many were filled.
pub async fn backfill_username_skeletons(client: &tokio_postgres::Client) -> Result<u64, ApiError> {
    let rows = client
        .query(
            "SELECT id, username FROM users WHERE username_skeleton IS NULL AND deleted_at IS NULL",
            &[],
        )
        .await?;
    let mut filled = 0;
    for row in rows {
        let Ok(username) = Username::parse(row.get("username")) else {
            continue;
        };
        let id: Uuid = row.get("id");
        match client
            .execute(
                "UPDATE users SET username_skeleton = $2 WHERE id = $1",
                &[&id, &username.skeleton()],
            )
            .await
        {
            Ok(n) => filled += n,
            Err(e) if is_unique_violation(&e, "users_username_skeleton_key") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}
