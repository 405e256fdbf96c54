//! What Banter's moderators do, through `ModerationFunction` (invoked directly with AWS
//! credentials, never routed from the public API): work through the abuse reports (open ones
//! first, with the messages kept with them) and resolve each as dismissed or actioned, suspend
//! an account (every device of it is logged out, it cannot log in, and the open reports about
//! it are resolved as actioned) and reinstate it. The account's owner is told by email either
//! way.

use uuid::Uuid;

use crate::api::models::{ReportForModerators, ReportOutcome, ReportQueue, Suspension};
use crate::db::{reports, sessions, users};
use crate::error::ApiError;
use crate::App;

use super::accounts::end_sessions;
use super::two_factor::notify_owner;

/// Suspend `user` for `reason` (kept with the account; the owner is not shown it).
pub async fn suspend(app: &App, user: Uuid, reason: &str) -> Result<Suspension, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let changed = users::set_suspension(&tx, user, Some(reason))
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let reports_resolved = reports::action_open_about(&tx, user, reason).await? as i64;
    tx.commit().await?;
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
        reports_resolved,
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
        reports_resolved: 0,
    })
}

/// The latest `limit` reports in `queue`, about `reported` only if given, newest first.
pub async fn latest_reports(
    app: &App,
    queue: ReportQueue,
    reported: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReportForModerators>, ApiError> {
    reports::latest(&app.db.get().await?, queue, reported, limit).await
}

/// Resolve report `id` as `outcome`, with a `note` for the other moderators.
pub async fn resolve(
    app: &App,
    id: Uuid,
    outcome: ReportOutcome,
    note: Option<&str>,
) -> Result<ReportForModerators, ApiError> {
    let resolved = reports::resolve(&app.db.get().await?, id, outcome, note)
        .await?
        .ok_or(ApiError::NotFound("report"))?;
    tracing::info!(report = %id, ?outcome, "a report was resolved");
    Ok(resolved)
}
