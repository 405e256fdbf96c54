//! Blocking (PRD 1.3). A block is one row; what it means is enforced where each path decides:
//! messaging refuses 1:1 sends and leaves blockers out of group deliveries, chat creation
//! refuses, and profile views hide presence, picture and about (`profiles::public_view`).

use serde_json::{json, Value};

use crate::auth::tokens::Caller;
use crate::db::{relationships, users};
use crate::domain::parse_id;
use crate::error::ApiError;
use crate::wire::rfc3339;
use crate::App;

use super::{require_object, required_str};

const BLOCKED: &str = "blocked";

async fn target(app: &App, caller: Caller, body: &Value) -> Result<uuid::Uuid, ApiError> {
    require_object(body)?;
    let id = parse_id(required_str(body, "userId")?, "userId")?;
    if id == caller.user_id {
        return Err(ApiError::Validation("you cannot block yourself".into()));
    }
    if !users::all_exist(&app.db, &[id]).await? {
        return Err(ApiError::NotFound("user"));
    }
    Ok(id)
}

/// `POST /api/users/block {userId}`.
pub async fn block(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    let id = target(app, caller, body).await?;
    relationships::add(&app.db, caller.user_id, id, BLOCKED).await?;
    Ok(json!({ "userId": id, "blocked": true }))
}

/// `POST /api/users/unblock {userId}`.
pub async fn unblock(app: &App, caller: Caller, body: &Value) -> Result<Value, ApiError> {
    let id = target(app, caller, body).await?;
    relationships::remove(&app.db, caller.user_id, id, BLOCKED).await?;
    Ok(json!({ "userId": id, "blocked": false }))
}

/// `GET /api/users/blocked`.
pub async fn list(app: &App, caller: Caller) -> Result<Value, ApiError> {
    let rows = relationships::list(&app.db, caller.user_id, BLOCKED).await?;
    Ok(json!(rows
        .into_iter()
        .map(
            |(id, username, at)| json!({ "id": id, "username": username, "blockedAt": rfc3339(at) })
        )
        .collect::<Vec<_>>()))
}
