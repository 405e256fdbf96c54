//! WebSocket messages: `$default` and every custom route (`message:send`, ...). Reads the
//! frame's envelope, parses its action (`ClientAction`, one payload type per action), dispatches,
//! and answers with exactly one `ack` or `error:general` frame per `requestId`. A malformed frame
//! or an unknown action is answered, never fatal.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use banter_core::api::models::Timestamp;
use banter_core::api::requests::AddParticipantRequest;
use banter_core::api::requests::{AddReactionRequest, DeleteMessageRequest, PollVoteRequest};
use banter_core::api::ws::{ActionResult, ClientAction, ClientFrame, Pong, ReplyFrame};
use banter_core::services::{
    accounts, calls, chats, invite_links, media, message_changes, messaging, participants, polls,
    presence, receipts, typing,
};
use banter_core::{ApiError, App};
use banter_lambda::websocket::{caller, connection_id, reply};
use banter_lambda::Error;
use serde_json::Value;
use tracing::Instrument;

use banter_core::api::limits::MAX_FRAME_BYTES;

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses {
    queue: true,
    // Typing indicators go straight to the members' connections.
    registry: true,
    push: true,
    // `media:upload:complete` checks that the bytes arrived.
    blobs: true,
    ..banter_lambda::Uses::NOTHING
};

pub async fn handle(
    app: App,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, Error> {
    let span = tracing::info_span!(
        "frame",
        connection = event
            .request_context
            .connection_id
            .as_deref()
            .unwrap_or("-"),
        message = event.request_context.message_id.as_deref().unwrap_or("-"),
    );
    let answer = dispatch(&app, &event).instrument(span).await;
    Ok(reply(answer.map(|f| f.to_text())))
}

async fn dispatch(app: &App, event: &ApiGatewayWebsocketProxyRequest) -> Option<ReplyFrame> {
    let body = event.body.as_deref().unwrap_or("");
    if body.len() > MAX_FRAME_BYTES {
        let too_large = ApiError::TooLarge("frames are at most 128 KB".into());
        return Some(ReplyFrame::error(None, &too_large));
    }
    let frame = match ClientFrame::parse(body) {
        Ok(frame) => frame,
        Err(unreadable) => {
            return Some(ReplyFrame::error(
                unreadable.request_id.as_deref(),
                &unreadable.error,
            ))
        }
    };
    let ClientFrame {
        action,
        request_id,
        data,
    } = frame;
    let request_id = request_id.as_deref();
    match run_action(app, event, &action, data).await {
        Ok(result) => request_id.map(|_| ReplyFrame::ack(request_id, result)),
        Err(e) => {
            let shown: String = action.chars().take(64).collect();
            e.log(&shown, request_id.unwrap_or("-"));
            Some(ReplyFrame::error(request_id, &e))
        }
    }
}

async fn run_action(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
    action: &str,
    data: Value,
) -> Result<ActionResult, ApiError> {
    let caller = caller(event)?;
    // Parsed before the session check, so a malformed or unknown action costs no query.
    let action = ClientAction::parse(action, data)?;
    let caller = accounts::ensure_live(app, caller).await?;
    match action {
        ClientAction::MessageSend(send) => {
            let origin = Some(connection_id(event)?);
            messaging::send(app, caller, send.chat_id, send.message, origin)
                .await
                .map(|m| ActionResult::Message(Box::new(m)))
        }
        ClientAction::ParticipantAdd(add) => {
            let request = AddParticipantRequest {
                user_id: add.user_id,
                role: add.role,
            };
            participants::add(app, caller, add.chat_id, request)
                .await
                .map(ActionResult::ParticipantAdded)
        }
        ClientAction::ParticipantRemove(remove) => {
            participants::remove(app, caller, remove.chat_id, remove.user_id)
                .await
                .map(ActionResult::ParticipantRemoved)
        }
        ClientAction::ChatLeave(leave) => {
            let user = caller.user_id;
            participants::remove(app, caller, leave.chat_id, user)
                .await
                .map(ActionResult::ParticipantRemoved)
        }
        ClientAction::ChatCreate(create) => chats::create(app, caller, create)
            .await
            .map(|opened| ActionResult::Chat(Box::new(opened.chat))),
        ClientAction::ChatUpdate(change) => {
            chats::update(app, caller, change.chat_id, change.update)
                .await
                .map(|chat| ActionResult::Chat(Box::new(chat)))
        }
        ClientAction::MessageRead(read) => {
            let origin = Some(connection_id(event)?);
            receipts::read(app, caller, read.chat_id, read.message_id, origin)
                .await
                .map(ActionResult::Read)
        }
        ClientAction::MessagePlayed(played) => {
            let origin = Some(connection_id(event)?);
            receipts::played(app, caller, played.chat_id, played.message_id, origin)
                .await
                .map(ActionResult::Played)
        }
        ClientAction::MessageReaction(reaction) => {
            let origin = Some(connection_id(event)?);
            let (chat, message) = (reaction.chat_id, reaction.message_id);
            if reaction.remove {
                message_changes::unreact(
                    app,
                    caller,
                    chat,
                    message,
                    reaction.emoji.as_str(),
                    origin,
                )
                .await
            } else {
                let body = AddReactionRequest {
                    emoji: reaction.emoji,
                };
                message_changes::react(app, caller, chat, message, body, origin).await
            }
            .map(ActionResult::Reaction)
        }
        ClientAction::PollVote(vote) => {
            let origin = Some(connection_id(event)?);
            let (chat, message) = (vote.chat_id, vote.message_id);
            let body = PollVoteRequest {
                options: vote.options,
            };
            polls::vote(app, caller, chat, message, body, origin)
                .await
                .map(|results| ActionResult::Poll(Box::new(results)))
        }
        ClientAction::MessageDelete(delete) => {
            let origin = Some(connection_id(event)?);
            let body = DeleteMessageRequest {
                delete_for_everyone: delete.for_everyone,
            };
            message_changes::delete(app, caller, delete.chat_id, delete.message_id, body, origin)
                .await
                .map(ActionResult::MessageRemoved)
        }
        ClientAction::Typing(typing) => {
            typing::relay(app, caller, typing.chat_id, true, typing.activity)
                .await
                .map(ActionResult::Typing)
        }
        ClientAction::StopTyping(typing) => {
            typing::relay(app, caller, typing.chat_id, false, typing.activity)
                .await
                .map(ActionResult::Typing)
        }
        ClientAction::UserTyping(typing) => typing::relay(
            app,
            caller,
            typing.chat_id,
            typing.is_typing.unwrap_or(true),
            typing.activity,
        )
        .await
        .map(ActionResult::Typing),
        ClientAction::UserOnline(_) | ClientAction::UserOffline(_) => {
            let active = matches!(action, ClientAction::UserOnline(_));
            presence::set_device_active(app, caller, connection_id(event)?, active)
                .await
                .map(ActionResult::Presence)
        }
        ClientAction::Ping(_) => Ok(ActionResult::Pong(Pong {
            server_time: Timestamp::now(),
        })),
        ClientAction::StatusUpdate(update) => presence::update_status(app, caller, update.status)
            .await
            .map(ActionResult::Status),
        ClientAction::ChatJoin(join) => invite_links::join(app, caller, &join.invite_code)
            .await
            .map(|followed| ActionResult::InviteFollowed(Box::new(followed))),
        ClientAction::MediaStatus(file) => media::status(app, caller, file.file_id)
            .await
            .map(ActionResult::Media),
        ClientAction::UploadStart(file) => media::own_status(app, caller, file.file_id)
            .await
            .map(ActionResult::Media),
        ClientAction::UploadProgress(progress) => media::own_status(app, caller, progress.file_id)
            .await
            .map(ActionResult::Media),
        ClientAction::UploadComplete(file) => {
            media::complete_upload_by_id(app, caller, file.file_id)
                .await
                .map(ActionResult::Media)
        }
        ClientAction::CallStart(start) => {
            let origin = Some(connection_id(event)?);
            calls::start(app, caller, start, origin)
                .await
                .map(ActionResult::Call)
        }
        ClientAction::CallAnswer(answer) => {
            let origin = Some(connection_id(event)?);
            calls::answer(app, caller, answer, origin)
                .await
                .map(ActionResult::Call)
        }
        ClientAction::CallCandidate(candidate) => {
            let origin = Some(connection_id(event)?);
            calls::candidate(app, caller, candidate, origin)
                .await
                .map(ActionResult::CandidateSent)
        }
        ClientAction::CallEnd(end) => {
            let origin = Some(connection_id(event)?);
            calls::end(app, caller, end.call_id, origin)
                .await
                .map(ActionResult::Call)
        }
    }
}
