//! Abuse reports (V43): who reported whom, in which chat, why, and the messages the reporter
//! could read then, kept for moderators for 90 days.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::api::models::{
    ChatType, ExportReport, Message, ReportForModerators, ReportOutcome, ReportQueue, ReportReason,
    ReportResolution, Timestamp,
};
use crate::error::ApiError;

/// A chat as its reporter reads it (a member, or a former member who kept it).
pub struct ReportedChat {
    pub kind: ChatType,
    /// In a 1:1 chat, the other member.
    pub peer: Option<Uuid>,
    /// The reporter is a member now (a former member cannot leave again).
    pub member: bool,
    /// The user the report names is or was a member of the chat (`true` if it names nobody).
    pub named_took_part: bool,
}

/// `chat_id` as `reporter` reads it, with whether `named` is or was in it; `None` if the
/// reporter does not read it.
pub async fn reported_chat(
    client: &impl GenericClient,
    chat_id: Uuid,
    reporter: Uuid,
    named: Option<Uuid>,
) -> Result<Option<ReportedChat>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT c.type, me.left_at IS NULL AS member,
                    (SELECT o.user_id FROM chat_participants o
                     WHERE o.chat_id = c.id AND o.user_id <> $2 AND c.type = 'individual') AS peer,
                    $3::uuid IS NULL OR EXISTS (SELECT 1 FROM chat_participants n
                                               WHERE n.chat_id = c.id AND n.user_id = $3)
                        AS named_took_part
             FROM chat_participants me JOIN chats c ON c.id = me.chat_id
             WHERE me.chat_id = $1 AND me.user_id = $2 AND {}",
            super::reads_the_chat("me")
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&chat_id, &reporter, &named])
        .await?
        .map(|r| ReportedChat {
            kind: ChatType::parse_stored(r.get("type")),
            peer: r.get("peer"),
            member: r.get("member"),
            named_took_part: r.get("named_took_part"),
        }))
}

/// A report to store.
pub struct NewReport<'a> {
    pub id: Uuid,
    pub reporter: Uuid,
    pub reported_user: Option<Uuid>,
    pub chat_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub reason: ReportReason,
    pub comment: Option<&'a str>,
    pub evidence: &'a [Message],
}

/// Store a report; when it was filed.
pub async fn insert(
    client: &impl GenericClient,
    report: NewReport<'_>,
) -> Result<Timestamp, ApiError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO abuse_reports
                 (id, reporter_id, reported_user_id, chat_id, message_id, reason, comment, evidence)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at",
        )
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &report.id,
                &report.reporter,
                &report.reported_user,
                &report.chat_id,
                &report.message_id,
                &report.reason.as_stored(),
                &report.comment,
                &Json(report.evidence),
            ],
        )
        .await?;
    Ok(Timestamp(row.get("created_at")))
}

/// The reports `reporter` filed, newest first.
pub async fn filed_by(
    client: &impl GenericClient,
    reporter: Uuid,
) -> Result<Vec<ExportReport>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT id, reason, reported_user_id, chat_id, message_id, comment, created_at
             FROM abuse_reports WHERE reporter_id = $1 ORDER BY created_at DESC",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&reporter])
        .await?
        .iter()
        .map(report_row)
        .collect())
}

/// A report as its row holds it (without the evidence and who filed it).
fn report_row(r: &Row) -> ExportReport {
    ExportReport {
        id: r.get("id"),
        reason: ReportReason::parse_stored(r.get("reason")),
        reported_user_id: r.get("reported_user_id"),
        chat_id: r.get("chat_id"),
        message_id: r.get("message_id"),
        comment: r.get("comment"),
        created_at: Timestamp(r.get("created_at")),
    }
}

/// What moderators read of the reports `r` of `source` (a table or a statement's rows): each
/// row and the reported account's standing (SQL).
fn for_moderators_from(source: &str) -> String {
    format!(
        "SELECT r.id, r.reason, r.reporter_id, r.reported_user_id, r.chat_id, r.message_id,
                r.comment, r.evidence, r.created_at, r.resolution, r.resolution_note,
                r.resolved_at, u.suspended_at IS NOT NULL AS suspended
         FROM {source} r LEFT JOIN users u ON u.id = r.reported_user_id"
    )
}

fn for_moderators(r: &Row) -> ReportForModerators {
    ReportForModerators {
        report: report_row(r),
        reporter_id: r.get("reporter_id"),
        evidence: r.get("evidence"),
        reported_user_suspended: r.get("suspended"),
        resolution: r
            .get::<_, Option<&str>>("resolution")
            .map(|outcome| ReportResolution {
                outcome: ReportOutcome::parse_stored(outcome),
                note: r.get("resolution_note"),
                resolved_at: Timestamp(r.get("resolved_at")),
            }),
    }
}

/// The latest reports in `queue` (about `reported` only, if given), newest first, for
/// moderators.
pub async fn latest(
    client: &impl GenericClient,
    queue: ReportQueue,
    reported: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReportForModerators>, ApiError> {
    let (open, resolved) = match queue {
        ReportQueue::Open => (true, false),
        ReportQueue::Resolved => (false, true),
        ReportQueue::All => (true, true),
    };
    let stmt = client
        .prepare_cached(&format!(
            "{}
             WHERE ($1::uuid IS NULL OR r.reported_user_id = $1)
               AND (($2 AND r.resolved_at IS NULL) OR ($3 AND r.resolved_at IS NOT NULL))
             ORDER BY r.created_at DESC, r.id DESC LIMIT $4",
            for_moderators_from("abuse_reports")
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&reported, &open, &resolved, &limit])
        .await?
        .iter()
        .map(for_moderators)
        .collect())
}

/// Resolve report `id` as `outcome` with `note` (a later decision replaces an earlier one):
/// the report as it is now, or `None` if there is no such report.
pub async fn resolve(
    client: &impl GenericClient,
    id: Uuid,
    outcome: ReportOutcome,
    note: Option<&str>,
) -> Result<Option<ReportForModerators>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "WITH resolved AS (
                 UPDATE abuse_reports SET resolution = $2, resolution_note = $3, resolved_at = now()
                 WHERE id = $1 RETURNING *)
             {}",
            for_moderators_from("resolved")
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id, &outcome.as_stored(), &note])
        .await?
        .map(|r| for_moderators(&r)))
}

/// Resolve the open reports about `user` as actioned, with `note` (a suspension's reason): how
/// many.
pub async fn action_open_about(
    client: &impl GenericClient,
    user: Uuid,
    note: &str,
) -> Result<u64, ApiError> {
    let stmt = client
        .prepare_cached(
            "UPDATE abuse_reports
             SET resolution = 'actioned', resolution_note = $2, resolved_at = now()
             WHERE reported_user_id = $1 AND resolved_at IS NULL",
        )
        .await?;
    Ok(client.execute(&stmt, &[&user, &note]).await?)
}

/// Delete reports older than 90 days (and the messages kept with them). Returns how many.
pub async fn forget_old(client: &impl GenericClient) -> Result<u64, ApiError> {
    Ok(client
        .execute(
            "DELETE FROM abuse_reports WHERE created_at < now() - interval '90 days'",
            &[],
        )
        .await?)
}
