//! Profiles and privacy (PRD 1.3): the caller's own profile, other users' public profiles and
//! search, each shown through the target's privacy settings and blocks — the one place that
//! decides what of a user another user may see.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::auth::tokens::Caller;
use crate::db::users::{self, ProfileUpdate, PublicRow};
use crate::domain::{page_limit, parse_id, Username};
use crate::error::ApiError;
use crate::wire::rfc3339;
use crate::App;

use super::require_object;

/// Who may see a field: `everyone`, `contacts` (the target's contacts) or `nobody`.
pub const AUDIENCES: &[&str] = &["everyone", "contacts", "nobody"];
const PRIVACY_FIELDS: &[&str] = &["lastSeen", "profilePicture", "about"];
const NOTIFICATION_FIELDS: &[&str] = &["messages", "calls", "groups"];

fn may_see(row: &PublicRow, field: &str) -> bool {
    if row.standing.blocked_by_target {
        return false;
    }
    match row
        .privacy
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or("everyone")
    {
        "everyone" => true,
        "contacts" => row.standing.viewer_is_contact,
        _ => false,
    }
}

/// A user as another user sees them.
pub fn public_view(row: &PublicRow) -> Value {
    let picture = may_see(row, "profilePicture");
    let about = may_see(row, "about");
    let last_seen = may_see(row, "lastSeen");
    json!({
        "id": row.id,
        "username": row.username,
        "displayName": row.display_name,
        "profilePictureUrl": if picture { row.profile_picture_url.clone() } else { None },
        "profilePictureMediaId": if picture { row.profile_picture_media_id } else { None },
        "status": if about { row.status.clone() } else { None },
        "about": if about { row.about.clone() } else { None },
        "lastSeen": if last_seen { row.last_seen.map(rfc3339) } else { None },
        "isOnline": last_seen && row.is_online,
        "isBlocked": row.standing.viewer_blocked_target,
    })
}

/// `GET /api/users/profile`.
pub async fn own(app: &App, caller: Caller) -> Result<Value, ApiError> {
    users::own_profile(&app.db, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))
}

/// `GET /api/users/{userId}`.
pub async fn public(app: &App, caller: Caller, user_id: &str) -> Result<Value, ApiError> {
    let id = parse_id(user_id, "userId")?;
    if id == caller.user_id {
        return own(app, caller).await;
    }
    let row = users::public_profile(&app.db, caller.user_id, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(public_view(&row))
}

/// `GET /api/users/search?query=&limit=&offset=`.
pub async fn search(
    app: &App,
    caller: Caller,
    query: Option<&str>,
    limit: Option<&str>,
    offset: Option<&str>,
) -> Result<(Value, i64, i64, i64), ApiError> {
    let query = query.map(|q| q.trim().to_lowercase()).unwrap_or_default();
    if query.is_empty() || query.chars().count() > 50 {
        return Err(ApiError::Validation(
            "`query` must be 1 to 50 characters".into(),
        ));
    }
    let limit = page_limit(limit)?;
    let offset = match offset {
        None => 0,
        Some(o) => o
            .parse::<i64>()
            .ok()
            .filter(|o| (0..=10_000).contains(o))
            .ok_or_else(|| ApiError::Validation("offset must be 0 to 10000".into()))?,
    };
    let (rows, total) = users::search(&app.db, caller.user_id, &query, limit, offset).await?;
    Ok((
        json!({ "users": rows.iter().map(public_view).collect::<Vec<_>>(), "total": total }),
        total,
        limit,
        offset,
    ))
}

fn optional_text(
    body: &Value,
    field: &'static str,
    max_chars: usize,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() <= max_chars => {
            let t = s.trim();
            Ok(Some((!t.is_empty()).then(|| t.to_owned())))
        }
        Some(Value::String(_)) => Err(ApiError::Validation(format!(
            "`{field}` is at most {max_chars} characters"
        ))),
        Some(_) => Err(ApiError::Validation(format!(
            "`{field}` must be a string or null"
        ))),
    }
}

/// A partial settings object, checked key by key.
fn settings_patch(
    body: &Value,
    field: &'static str,
    check: impl Fn(&str, &Value) -> bool,
) -> Result<Value, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::Object(map)) => {
            let mut out = Map::new();
            for (k, v) in map {
                if !check(k, v) {
                    return Err(ApiError::Validation(format!(
                        "`{field}.{k}` is not a known setting or has a bad value"
                    )));
                }
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(out))
        }
        Some(_) => Err(ApiError::Validation(format!("`{field}` must be an object"))),
    }
}

/// `PUT /api/users/profile`: any of `username`, `displayName`, `status`, `about`,
/// `profilePictureMediaId` (an image you uploaded, or null), `privacySettings`,
/// `notificationSettings` (partial objects).
pub async fn update(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    require_object(body)?;
    const KNOWN: &[&str] = &[
        "username",
        "displayName",
        "status",
        "about",
        "profilePictureMediaId",
        "privacySettings",
        "notificationSettings",
    ];
    if let Some(unknown) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !KNOWN.contains(&k.as_str())))
    {
        return Err(ApiError::Validation(format!(
            "`{unknown}` cannot be changed here"
        )));
    }
    let username = match body.get("username") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Username::parse(s)?.as_str().to_owned()),
        Some(_) => return Err(ApiError::Validation("`username` must be a string".into())),
    };
    let picture = match body.get("profilePictureMediaId") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => {
            let id: Uuid = parse_id(s, "profilePictureMediaId")?;
            if !users::owns_image(&app.db, caller.user_id, id).await? {
                return Err(ApiError::NotFound("media"));
            }
            Some(Some(id))
        }
        Some(_) => {
            return Err(ApiError::Validation(
                "`profilePictureMediaId` must be a media id or null".into(),
            ))
        }
    };
    let update = ProfileUpdate {
        username,
        display_name: optional_text(body, "displayName", 100)?,
        status: optional_text(body, "status", 140)?,
        about: optional_text(body, "about", 500)?,
        picture,
        privacy: settings_patch(body, "privacySettings", |k, v| match k {
            "readReceipts" => v.is_boolean(),
            k if PRIVACY_FIELDS.contains(&k) => v.as_str().is_some_and(|a| AUDIENCES.contains(&a)),
            _ => false,
        })?,
        notifications: settings_patch(body, "notificationSettings", |k, v| {
            NOTIFICATION_FIELDS.contains(&k) && v.is_boolean()
        })?,
    };
    users::update_profile(&app.db, caller.user_id, &update).await?;
    own(app, caller).await
}
