//! Notices from the service's operators to every account, the PRD's system events: planned
//! maintenance (`system:maintenance`, with when it starts and ends) and anything else
//! (`system:notification`). Operators send them through the moderators' function (IAM decides
//! who may, `fn-moderation`); each is written to every account's own stream in one statement,
//! like any event, so every device gets it live or from `/api/sync`.

use chrono::{DateTime, Utc};

use crate::api::models::{Announced, SystemMaintenance, SystemNotification, Timestamp};
use crate::api::ws::ServerEvent;
use crate::db::events;
use crate::error::ApiError;
use crate::App;

/// Characters a notice's message holds at most.
pub const MAX_MESSAGE: usize = 1_000;
/// Characters a notice's title holds at most.
pub const MAX_TITLE: usize = 100;

/// Tell every account of maintenance: `message`, and when it starts and should end if known
/// (an end after the start, not past).
pub async fn maintenance(
    app: &App,
    message: &str,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
) -> Result<Announced, ApiError> {
    if let (Some(start), Some(end)) = (starts_at, ends_at) {
        if end <= start {
            return Err(ApiError::Validation(
                "`endsAt` must be after `startsAt`".into(),
            ));
        }
    }
    if ends_at.is_some_and(|end| end <= Utc::now()) {
        return Err(ApiError::Validation(
            "`endsAt` is past: nothing to announce".into(),
        ));
    }
    let event = ServerEvent::SystemMaintenance(SystemMaintenance {
        message: text(message, MAX_MESSAGE, "message")?,
        starts_at: starts_at.map(Timestamp),
        ends_at: ends_at.map(Timestamp),
        announced_at: Timestamp::now(),
    });
    to_every_account(app, event).await
}

/// Tell every account a notice: `message`, under `title` if given.
pub async fn notify(app: &App, title: Option<&str>, message: &str) -> Result<Announced, ApiError> {
    let title = title.map(|t| text(t, MAX_TITLE, "title")).transpose()?;
    let event = ServerEvent::SystemNotification(SystemNotification {
        title,
        message: text(message, MAX_MESSAGE, "message")?,
        announced_at: Timestamp::now(),
    });
    to_every_account(app, event).await
}

/// `value` trimmed: not empty, at most `max` characters.
fn text(value: &str, max: usize, field: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::Validation(format!(
            "`{field}` must be 1 to {max} characters"
        )));
    }
    Ok(value.to_owned())
}

async fn to_every_account(app: &App, event: ServerEvent) -> Result<Announced, ApiError> {
    let client = app.db.get().await?;
    let accounts = events::append_to_every_account(&client, &event).await?;
    drop(client);
    tracing::info!(event = event.name(), accounts, "announced to every account");
    super::relay::wake(app, event.name()).await;
    Ok(Announced {
        event: event.name(),
        accounts,
    })
}
