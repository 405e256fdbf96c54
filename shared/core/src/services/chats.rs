//! Creating and reading chats (PRD 1.4).

use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::tokens::Caller;
use crate::db::{chats, relationships, users};
use crate::domain::parse_id;
use crate::error::ApiError;
use crate::ports::DeliveryJob;
use crate::App;

use super::profiles;

use super::{optional_str, require_object, required_str};

/// `POST /api/chats` `{type, participantIds, name?, description?}`. A 1:1 chat with someone
/// you already have one with returns that chat (200 rather than 201).
pub async fn create(app: &App, caller: Caller, body: &Value) -> Result<(Value, bool), ApiError> {
    require_object(body)?;
    let kind = required_str(body, "type")?;
    let ids = match body.get("participantIds") {
        None | Some(Value::Null) => return Err(ApiError::MissingField("participantIds")),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::Validation(
                "`participantIds` must be an array of user ids".into(),
            ))
        }
    };
    if ids.len() > app.settings.max_group_members {
        return Err(ApiError::Validation(format!(
            "a chat holds at most {} members",
            app.settings.max_group_members
        )));
    }
    let mut others: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = parse_id(id.as_str().unwrap_or_default(), "participantIds[]")?;
        if id != caller.user_id && !others.contains(&id) {
            others.push(id);
        }
    }
    if !users::all_exist(&app.db, &others).await? {
        return Err(ApiError::NotFound("user"));
    }
    let (chat_id, created) = match kind {
        "individual" => {
            let [other] = others.as_slice() else {
                return Err(ApiError::Validation(
                    "an individual chat has exactly one other participant".into(),
                ));
            };
            if relationships::blocked_between(&app.db, caller.user_id, *other).await? {
                return Err(ApiError::PermissionDenied(
                    "you cannot start a chat with this user".into(),
                ));
            }
            chats::open_individual(&app.db, caller.user_id, *other).await?
        }
        "group" => {
            let name = required_str(body, "name")?.trim();
            if name.is_empty() || name.chars().count() > 100 {
                return Err(ApiError::Validation(
                    "`name` must be 1 to 100 characters".into(),
                ));
            }
            let description = optional_str(body, "description")?;
            if description.is_some_and(|d| d.chars().count() > 2048) {
                return Err(ApiError::Validation(
                    "`description` is at most 2048 characters".into(),
                ));
            }
            if others.len() + 1 > app.settings.max_group_members {
                return Err(ApiError::Validation(format!(
                    "a group holds at most {} members",
                    app.settings.max_group_members
                )));
            }
            if !relationships::blockers_among(&app.db, caller.user_id, &others)
                .await?
                .is_empty()
            {
                return Err(ApiError::PermissionDenied(
                    "some of these users cannot be added to your groups".into(),
                ));
            }
            let mut members = others.clone();
            members.push(caller.user_id);
            (
                chats::create_group(&app.db, caller.user_id, name, description, &members).await?,
                true,
            )
        }
        _ => {
            return Err(ApiError::Validation(
                "`type` must be `individual` or `group`".into(),
            ))
        }
    };
    let chat = chats::details(&app.db, chat_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    // The event carries no presence or pictures: those depend on each recipient's standing.
    let event_chat = chat.clone();
    let chat = with_participant_views(app, caller, chat).await?;
    if created {
        let participants: Vec<Uuid> = others.iter().copied().chain([caller.user_id]).collect();
        let job = DeliveryJob {
            event: "chat:created".into(),
            data: json!({ "chat": event_chat, "participants": participants }),
            recipients: others,
            exclude_connection: None,
            receipt: None,
        };
        app.ports.queue.enqueue(&job).await?;
    }
    Ok((chat, created))
}

/// `GET /api/chats/{chatId}`.
pub async fn get(app: &App, caller: Caller, chat_id: &str) -> Result<Value, ApiError> {
    let chat_id = parse_id(chat_id, "chatId")?;
    let chat = chats::details(&app.db, chat_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    with_participant_views(app, caller, chat).await
}

/// Add each participant's picture and online state as the caller may see them
/// (`profiles::public_view`), their own as they are.
async fn with_participant_views(
    app: &App,
    caller: Caller,
    mut chat: Value,
) -> Result<Value, ApiError> {
    let ids: Vec<Uuid> = chat["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().and_then(|id| id.parse().ok()))
        .collect();
    let mut rows = users::public_profiles(&app.db, caller.user_id, &ids).await?;
    for row in rows.iter_mut().filter(|r| r.id == caller.user_id) {
        row.privacy = json!({});
    }
    for participant in chat["participants"].as_array_mut().into_iter().flatten() {
        let Some(row) = rows.iter().find(|r| participant["id"] == json!(r.id)) else {
            continue;
        };
        let view = profiles::public_view(row);
        participant["profilePictureUrl"] = view["profilePictureUrl"].clone();
        participant["isOnline"] = view["isOnline"].clone();
    }
    Ok(chat)
}

/// `GET /api/chats?limit&offset`. Returns the page and the total.
pub async fn list(
    app: &App,
    caller: Caller,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Value>, i64), ApiError> {
    chats::list(&app.db, caller.user_id, limit, offset).await
}
