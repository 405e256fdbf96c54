//! Reporting abuse (as WhatsApp's "Report"): a user reports another user, a chat or a message
//! to Banter's moderators, who get the report with the last messages the reporter could read
//! (at most five, around the reported message), since the messages themselves may later
//! disappear or be deleted. The reporter may block the user or leave the group at the same
//! time. Nothing tells the reported user.

use uuid::Uuid;

use crate::api::models::{ChatType, Envelope, Message, ReportFiled};
use crate::api::requests::{BlockRequest, ReportRequest};
use crate::auth::tokens::Caller;
use crate::db::messages::{self, Cursor, Only};
use crate::db::reports::{self, NewReport, ReportedChat};
use crate::db::{chats, users};
use crate::error::ApiError;
use crate::App;

/// Messages kept with a report at most.
const EVIDENCE: i64 = 5;

/// `POST /api/reports`.
#[utoipa::path(post, path = "/api/reports", tag = "users", security(("bearer" = [])),
    request_body = ReportRequest,
    responses((status = 201, description = "The report is filed (and the user blocked, or the group left, if asked)", body = Envelope<ReportFiled>)))]
pub async fn file(app: &App, caller: Caller, body: ReportRequest) -> Result<ReportFiled, ApiError> {
    let me = caller.user_id;
    if body.user_id.is_none() && body.chat_id.is_none() {
        return Err(ApiError::Validation(
            "name the `userId` or the `chatId` you report".into(),
        ));
    }
    if body.message_id.is_some() && body.chat_id.is_none() {
        return Err(ApiError::Validation(
            "a `messageId` is reported with its `chatId`".into(),
        ));
    }
    if body.user_id == Some(me) {
        return Err(ApiError::Validation("you cannot report yourself".into()));
    }
    if let Some(user) = body.user_id {
        if !users::all_exist(&app.db, &[user]).await? {
            return Err(ApiError::NotFound("user"));
        }
    }
    let client = app.db.get().await?;
    let chat = match body.chat_id {
        Some(id) => Some(
            reports::reported_chat(&client, id, me, body.user_id)
                .await?
                .ok_or(ApiError::NotFound("chat"))?,
        ),
        None => None,
    };
    // What the reporter saw: the reported chat, or their 1:1 chat with the reported user.
    let evidence_chat = match (body.chat_id, body.user_id) {
        (Some(chat), _) => Some(chat),
        (None, Some(user)) => chats::individual_between(&client, me, user).await?,
        (None, None) => None,
    };
    drop(client);
    let evidence = match evidence_chat {
        Some(chat) => evidence(app, me, chat, body.message_id).await?,
        None => Vec::new(),
    };
    let reported_user = reported_user(me, &body, chat.as_ref(), &evidence)?;
    if body.block && reported_user.is_none() {
        return Err(ApiError::Validation(
            "`block`: this report names nobody to block".into(),
        ));
    }
    let leaving = chat
        .as_ref()
        .is_some_and(|c| c.kind == ChatType::Group && c.member);
    if body.leave && !leaving {
        return Err(ApiError::Validation(
            "`leave`: you leave only a group you are a member of".into(),
        ));
    }

    let id = Uuid::now_v7();
    let client = app.db.get().await?;
    let created_at = reports::insert(
        &client,
        NewReport {
            id,
            reporter: me,
            reported_user,
            chat_id: body.chat_id,
            message_id: body.message_id,
            reason: body.reason,
            comment: body.comment.clone().and_then(|c| c.into_inner()).as_deref(),
            evidence: &evidence,
        },
    )
    .await?;
    drop(client);
    tracing::info!(report = %id, reason = body.reason.as_stored(), "abuse report filed");
    announce(app, id, &body, reported_user, evidence.len()).await;
    if let (true, Some(user_id)) = (body.block, reported_user) {
        super::blocking::block(app, caller, BlockRequest { user_id }).await?;
    }
    if let (true, Some(chat_id)) = (body.leave, body.chat_id) {
        super::chats::delete(app, caller, chat_id).await?;
    }
    Ok(ReportFiled {
        id,
        reason: body.reason,
        reported_user_id: reported_user,
        chat_id: body.chat_id,
        message_id: body.message_id,
        messages_included: evidence.len() as i64,
        blocked: body.block,
        left: body.leave,
        created_at,
    })
}

/// Tell the moderators of a new report, if the deployment names their address: what it is
/// about, by id; the messages kept with it stay in the database. Best effort: the report is
/// stored either way.
async fn announce(
    app: &App,
    id: Uuid,
    body: &ReportRequest,
    reported_user: Option<Uuid>,
    messages: usize,
) {
    let Some(to) = &app.settings.abuse_reports_email else {
        return;
    };
    let shown = |id: Option<Uuid>| id.map_or_else(|| "-".to_owned(), |id| id.to_string());
    let text = format!(
        "Abuse report {id}\nreason: {}\nreported user: {}\nchat: {}\nmessage: {}\n\
         messages kept with it: {messages}\n\nThe report, its comment and those messages are \
         in the abuse_reports table (kept 90 days).",
        body.reason.as_stored(),
        shown(reported_user),
        shown(body.chat_id),
        shown(body.message_id),
    );
    let subject = format!("Banter abuse report: {}", body.reason.as_stored());
    if let Err(e) = app.ports.notifier.send_email(to, &subject, &text).await {
        tracing::warn!(error = %e, report = %id, "the moderators were not told of a report");
    }
}

/// The last messages `me` reads in `chat` (around `message`, which must be one of them), at
/// most [`EVIDENCE`].
async fn evidence(
    app: &App,
    me: Uuid,
    chat: Uuid,
    message: Option<Uuid>,
) -> Result<Vec<Message>, ApiError> {
    let cursor = Cursor {
        before: None,
        after: None,
        around: message,
        kind: None,
        only: Only::Everything,
        file_name: None,
        words: None,
    };
    let page = match messages::history(&app.db, chat, me, cursor, EVIDENCE).await {
        Ok(page) => page.map(|page| page.messages).unwrap_or_default(),
        Err(ApiError::NotFound(_)) => return Err(ApiError::NotFound("message")),
        Err(e) => return Err(e),
    };
    if let Some(message) = message {
        if !page.iter().any(|m| m.id == message) {
            return Err(ApiError::NotFound("message"));
        }
    }
    Ok(page)
}

/// Who the report is about: the reported message's sender, or else the user named, or else
/// the other member of a reported 1:1 chat (a reported group names nobody). A user named with
/// a message must be its sender, and one named with a chat a member of it (now or before): the
/// moderators would otherwise hold one person to account for what another wrote.
fn reported_user(
    me: Uuid,
    body: &ReportRequest,
    chat: Option<&ReportedChat>,
    evidence: &[Message],
) -> Result<Option<Uuid>, ApiError> {
    if chat.is_some_and(|c| !c.named_took_part) {
        return Err(ApiError::Validation(
            "`userId` was never a member of the reported chat".into(),
        ));
    }
    if let Some(message) = body.message_id {
        let sender = evidence
            .iter()
            .find(|m| m.id == message)
            .and_then(|m| m.sender.as_ref())
            .map(|s| s.id);
        if sender == Some(me) {
            return Err(ApiError::Validation(
                "you cannot report your own message".into(),
            ));
        }
        if body.user_id.is_some_and(|named| Some(named) != sender) {
            return Err(ApiError::Validation(
                "`userId` did not send the reported message (leave it out: the message names \
                 its sender)"
                    .into(),
            ));
        }
        return Ok(sender);
    }
    Ok(body.user_id.or(chat.and_then(|c| c.peer)))
}
