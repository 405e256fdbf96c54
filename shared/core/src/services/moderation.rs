//! What Banter's moderators do, through `ModerationFunction` (invoked directly with AWS
//! credentials, never routed from the public API): read the latest abuse reports with the
//! messages kept with them, suspend an account (every device of it is logged out, and it
//! cannot log in) and reinstate it. The account's owner is told by email either way.

use uuid::Uuid;

use crate::api::models::{ReportForModerators, Suspension};
use crate::db::{reports, sessions, users};
use crate::error::ApiError;
use crate::App;

use super::accounts::end_sessions;
use super::two_factor::notify_owner;

/// Suspend `user` for `reason` (kept with the account; the owner is not shown it).
pub async fn suspend(app: &App, user: Uuid, reason: &str) -> Result<Suspension, ApiError> {
    let client = app.db.get().await?;
    let changed = users::set_suspension(&client, user, Some(reason))
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    drop(client);
    let revoked = sessions::revoke_all(&app.db, user, None, "suspended").await?;
    end_sessions(app, user, &revoked).await;
    if changed {
        tracing::info!(%user, "an account was suspended");
        notify_owner(
            app,
            user,
            "Your Banter account is suspended",
            "Your Banter account was suspended for breaking Banter's terms, and every device \
             was logged out. If you think this is a mistake, reply to this email.",
        )
        .await;
    }
    Ok(Suspension {
        user_id: user,
        suspended: true,
        changed,
        sessions_revoked: revoked.len() as i64,
    })
}

/// Lift `user`'s suspension: they can log in again.
pub async fn reinstate(app: &App, user: Uuid) -> Result<Suspension, ApiError> {
    let client = app.db.get().await?;
    let changed = users::set_suspension(&client, user, None)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    drop(client);
    if changed {
        tracing::info!(%user, "an account was reinstated");
        notify_owner(
            app,
            user,
            "Your Banter account is reinstated",
            "Your Banter account is no longer suspended: you can log in again.",
        )
        .await;
    }
    Ok(Suspension {
        user_id: user,
        suspended: false,
        changed,
        sessions_revoked: 0,
    })
}

/// The latest `limit` reports, about `reported` only if given, newest first.
pub async fn latest_reports(
    app: &App,
    reported: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReportForModerators>, ApiError> {
    reports::latest(&app.db.get().await?, reported, limit).await
}
