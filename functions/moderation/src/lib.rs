//! The moderators' function, invoked directly (`sam remote invoke ModerationFunction`, or the
//! AWS console), never routed from the public API: IAM decides who may call it. It reads the
//! abuse reports (the open ones unless `status` says `resolved` or `all`) and resolves them,
//! suspends an account (resolving the open reports about it) and reinstates it, and tells every
//! account of maintenance or a notice (`services::announcements`).
//!
//! ```json
//! {"action": "reports", "limit": 20, "reportedUserId": "...", "status": "open"}
//! {"action": "resolve", "reportId": "...", "outcome": "dismissed", "note": "a joke between friends"}
//! {"action": "suspend", "userId": "...", "reason": "spam (reports 0192..., 0193...)"}
//! {"action": "reinstate", "userId": "..."}
//! {"action": "maintenance", "message": "Down for an upgrade", "startsAt": "2027-01-10T02:00:00Z", "endsAt": "2027-01-10T02:30:00Z"}
//! {"action": "notify", "title": "New", "message": "Polls are here"}
//! ```

use banter_core::api::models::{ReportOutcome, ReportQueue};
use banter_core::api::requests::{PageLimit, ShortText};
use banter_core::services::{announcements, moderation};
use banter_core::App;
use banter_lambda::Error;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// What this function uses: the only settings it asks for at start. A suspension closes the
/// account's WebSocket connections (registry, push) and tells its owner (notify); an
/// announcement wakes the relay (queue).
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    registry: true,
    queue: true,
    push: true,
    notify: true,
    ..banter_lambda::Uses::NOTHING
};

/// One moderation request.
#[derive(Debug, Deserialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ModerationRequest {
    /// The latest reports (50 unless `limit` says otherwise), about one user if named, open
    /// ones unless `status` says otherwise.
    Reports {
        #[serde(default)]
        limit: Option<PageLimit>,
        #[serde(default)]
        reported_user_id: Option<Uuid>,
        #[serde(default)]
        status: ReportQueue,
    },
    /// Resolve a report (`dismissed` or `actioned`), with a note of at most 500 characters; a
    /// later decision replaces an earlier one.
    Resolve {
        report_id: Uuid,
        outcome: ReportOutcome,
        #[serde(default)]
        note: Option<ShortText<500>>,
    },
    /// Suspend an account, saying why (kept with the account, at most 500 characters).
    Suspend {
        user_id: Uuid,
        reason: ShortText<500>,
    },
    /// Lift an account's suspension.
    Reinstate { user_id: Uuid },
    /// Tell every account of maintenance (`system:maintenance`): what, and when it starts and
    /// should end if known.
    Maintenance {
        message: String,
        #[serde(default)]
        starts_at: Option<DateTime<Utc>>,
        #[serde(default)]
        ends_at: Option<DateTime<Utc>>,
    },
    /// Tell every account a notice (`system:notification`), with a title if given.
    Notify {
        message: String,
        #[serde(default)]
        title: Option<String>,
    },
}

pub async fn handle(app: App, request: ModerationRequest) -> Result<Value, Error> {
    tracing::info!(?request, "moderation request");
    let answer = match request {
        ModerationRequest::Reports {
            limit,
            reported_user_id,
            status,
        } => {
            let limit = limit.map_or(50, |l| l.0);
            let reports = moderation::latest_reports(&app, status, reported_user_id, limit).await?;
            serde_json::to_value(reports)?
        }
        ModerationRequest::Resolve {
            report_id,
            outcome,
            note,
        } => {
            let note = note.as_ref().map(|n| n.0.trim()).filter(|n| !n.is_empty());
            serde_json::to_value(moderation::resolve(&app, report_id, outcome, note).await?)?
        }
        ModerationRequest::Suspend { user_id, reason } => {
            let reason = reason.0.trim();
            if reason.is_empty() {
                return Err("a suspension needs a reason".into());
            }
            serde_json::to_value(moderation::suspend(&app, user_id, reason).await?)?
        }
        ModerationRequest::Reinstate { user_id } => {
            serde_json::to_value(moderation::reinstate(&app, user_id).await?)?
        }
        ModerationRequest::Maintenance {
            message,
            starts_at,
            ends_at,
        } => serde_json::to_value(
            announcements::maintenance(&app, &message, starts_at, ends_at).await?,
        )?,
        ModerationRequest::Notify { message, title } => {
            serde_json::to_value(announcements::notify(&app, title.as_deref(), &message).await?)?
        }
    };
    Ok(answer)
}
