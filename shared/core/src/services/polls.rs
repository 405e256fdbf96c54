//! Polls (a message of type `poll`): members vote, change their vote or take it back
//! (`PUT .../poll/vote`) and read who chose what (`GET .../poll`). A vote and its
//! `message:poll:voted` event commit together (the one publish path).

use uuid::Uuid;

use crate::api::models::{Envelope, PollResults};
use crate::api::requests::PollVoteRequest;
use crate::api::ws::{PollVoted, ServerEvent};
use crate::auth::tokens::Caller;
use crate::db::events;
use crate::db::message_changes::Target;
use crate::db::polls::{self, Poll};
use crate::error::ApiError;
use crate::App;

/// `PUT /api/chats/{chatId}/messages/{messageId}/poll/vote {options}`: the caller's answers
/// now (replacing any earlier vote; `[]` takes it back). Members only; one answer unless the
/// poll allows `multipleAnswers`.
#[utoipa::path(put, path = "/api/chats/{chatId}/messages/{messageId}/poll/vote", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    request_body = PollVoteRequest,
    responses((status = 200, description = "The poll with the caller's vote", body = Envelope<PollResults>)))]
pub async fn vote(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
    body: PollVoteRequest,
    origin_connection: Option<&str>,
) -> Result<PollResults, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = super::message_changes::changeable(&tx, &caller, chat_id, message_id).await?;
    super::message_changes::not_across_a_block(&target)?;
    let poll = poll_of(&tx, &target).await?;
    let options = answers(&poll, body.options.iter().map(|o| o.0 as u8).collect())?;
    let changed = polls::set_votes(&tx, target.id, caller.user_id, &options).await?;
    let results = results_for(&tx, caller, &target, &poll).await?;
    if changed {
        let event = ServerEvent::PollVoted(PollVoted {
            chat_id,
            message_id,
            user_id: caller.user_id,
            options,
            votes: results.options.iter().map(|o| o.votes).collect(),
            voters: results.voters,
        });
        let actor = Some(caller.user_id);
        events::append_event_about(&tx, chat_id, actor, origin_connection, message_id, &event)
            .await?;
    }
    tx.commit().await?;
    if changed {
        super::relay::wake(app, "message:poll:voted").await;
    }
    Ok(results)
}

/// `GET /api/chats/{chatId}/messages/{messageId}/poll`: the poll's answers, how many chose
/// each and who, and the caller's own answers.
#[utoipa::path(get, path = "/api/chats/{chatId}/messages/{messageId}/poll", tag = "messages", security(("bearer" = [])),
    params(("chatId" = Uuid, Path), ("messageId" = Uuid, Path)),
    responses((status = 200, description = "The poll and its votes", body = Envelope<PollResults>)))]
pub async fn results(
    app: &App,
    caller: Caller,
    chat_id: Uuid,
    message_id: Uuid,
) -> Result<PollResults, ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let target = super::message_changes::visible(&tx, &caller, chat_id, message_id).await?;
    let poll = poll_of(&tx, &target).await?;
    let results = results_for(&tx, caller, &target, &poll).await?;
    tx.commit().await?;
    Ok(results)
}

/// The poll `target` is: 404 for another type of message, 403 once deleted for everyone.
async fn poll_of(
    client: &impl deadpool_postgres::GenericClient,
    target: &Target,
) -> Result<Poll, ApiError> {
    if target.kind != "poll" {
        return Err(ApiError::NotFound("poll"));
    }
    if target.deleted {
        return Err(ApiError::PermissionDenied("this poll was deleted".into()));
    }
    polls::poll(client, target.id)
        .await?
        .ok_or(ApiError::NotFound("poll"))
}

/// A vote's answers, checked against the poll: each one of its answers, none twice, and only
/// one unless it allows several.
fn answers(poll: &Poll, mut options: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    let count = poll.options.len();
    if let Some(bad) = options.iter().find(|&&o| usize::from(o) >= count) {
        return Err(ApiError::Validation(format!(
            "`options`: {bad} is not an answer of this poll (0 to {})",
            count - 1
        )));
    }
    options.sort_unstable();
    if options.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(ApiError::Validation(
            "`options`: an answer is chosen once".into(),
        ));
    }
    if options.len() > 1 && !poll.multiple_answers {
        return Err(ApiError::Validation(
            "`options`: this poll takes one answer".into(),
        ));
    }
    Ok(options)
}

async fn results_for(
    client: &impl deadpool_postgres::GenericClient,
    caller: Caller,
    target: &Target,
    poll: &Poll,
) -> Result<PollResults, ApiError> {
    let (options, voters) = polls::results(client, target.id, poll, caller.user_id).await?;
    let my_options = options
        .iter()
        .filter(|o| o.voter_ids.contains(&caller.user_id))
        .map(|o| o.index)
        .collect();
    Ok(PollResults {
        chat_id: target.chat_id,
        message_id: target.id,
        question: poll.question.clone(),
        multiple_answers: poll.multiple_answers,
        options,
        voters,
        my_options,
    })
}
