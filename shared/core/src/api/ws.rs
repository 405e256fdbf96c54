//! The WebSocket protocol's types: the client's actions (`{"action", "requestId", "data"}`, one
//! payload type per action), the server's answers to them (`ack`, `error:general`) and the
//! server's events (`{"event", "data"}`). Every frame the server sends is built from these; the
//! AsyncAPI document is generated from them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::extract;
use crate::api::models::{
    Call, CallKind, ChatDetails, ChatSettings, Deletion, GroupPermissions, InviteFollowed, Message,
    MessageRemoved, ParticipantAdded, ParticipantRemoved, ParticipantRole, ReactionSet, ReadUpTo,
    Timestamp, TypingSent,
};
use crate::api::requests::AddedRole;
use crate::api::requests::{CreateChatRequest, SendMessageRequest, ShortText, UpdateChatRequest};
use crate::domain::Emoji;
use crate::error::{ApiError, ErrorCode};

/// Longest `requestId` echoed back; longer ones are refused so a client cannot make the server
/// amplify its frames.
pub use crate::api::limits::MAX_REQUEST_ID_LEN;

/// The envelope of every client frame, read before its action: what to dispatch on and what to
/// answer to.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientFrame {
    pub action: String,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub data: Value,
}

/// A frame that could not be read: the error, and the `requestId` to answer it with if one
/// could be read.
#[derive(Debug)]
pub struct UnreadableFrame {
    pub request_id: Option<String>,
    pub error: ApiError,
}

impl ClientFrame {
    /// Read a frame's text: a JSON object (an array is not a frame, even one serde could read
    /// as the struct's fields in order) whose `requestId`, if any, is a string of at most 128
    /// bytes.
    ///
    /// A well-formed frame that cannot be read whole is still answered to its `requestId`:
    /// JavaScript's `JSON.stringify` writes a lone surrogate (half of an emoji cut in two) as
    /// `\ud83d`, which the JSON grammar allows but no Rust string can hold, and a client
    /// waiting for its answer would otherwise wait forever. (Likewise nesting deeper than
    /// serde_json's 128 levels, and numbers out of range.)
    pub fn parse(text: &str) -> Result<Self, UnreadableFrame> {
        let malformed = |request_id: Option<String>| UnreadableFrame {
            request_id,
            error: ApiError::InvalidInput(
                "a frame is a JSON object {\"action\", \"requestId\", \"data\"}".into(),
            ),
        };
        let value: Value = serde_json::from_str(text).map_err(|e| UnreadableFrame {
            request_id: RequestIdOnly::read(text),
            error: extract::unreadable_json("the frame", text.as_bytes(), &e),
        })?;
        if !value.is_object() {
            return Err(malformed(None));
        }
        let request_id = value["requestId"].as_str().map(str::to_owned);
        if request_id
            .as_ref()
            .is_some_and(|r| r.len() > MAX_REQUEST_ID_LEN)
        {
            return Err(UnreadableFrame {
                request_id: None,
                error: ApiError::Validation("requestId is at most 128 characters".into()),
            });
        }
        serde_json::from_value(value).map_err(|_| malformed(request_id))
    }
}

/// Just the `requestId` of a JSON object, every other member skipped unread: serde_json skips
/// a value without decoding its strings or numbers, at any depth, so what stopped the whole
/// frame elsewhere does not stop this.
#[derive(Deserialize)]
struct RequestIdOnly {
    #[serde(rename = "requestId")]
    request_id: Option<String>,
}

impl RequestIdOnly {
    fn read(text: &str) -> Option<String> {
        let only = serde_json::from_str::<Self>(text).ok()?;
        only.request_id.filter(|r| r.len() <= MAX_REQUEST_ID_LEN)
    }
}

/// A client frame, as the AsyncAPI document describes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientFrameDoc {
    /// Echoed in the one answer (`ack` or `error:general`) to this frame; at most 128 characters.
    #[schema(max_length = 128)]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub action: ClientAction,
}

/// What a client asks over the WebSocket: the `action` names it, `data` is its payload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "action", content = "data")]
pub enum ClientAction {
    /// Send a message (as `POST /api/chats/{chatId}/messages`); the ack carries the stored
    /// `Message`.
    #[serde(rename = "message:send")]
    MessageSend(MessageSendPayload),
    /// Create a chat (as `POST /api/chats`); the ack carries the chat.
    #[serde(rename = "chat:create")]
    ChatCreate(CreateChatRequest),
    /// Change a chat (as `PUT /api/chats/{chatId}`); the ack carries the chat.
    #[serde(rename = "chat:update")]
    ChatUpdate(ChatUpdatePayload),
    /// Add someone to a group (as `POST /api/chats/{chatId}/participants`).
    #[serde(rename = "chat:participant:add")]
    ParticipantAdd(ParticipantAddPayload),
    /// Remove someone from a group (as `DELETE /api/chats/{chatId}/participants/{userId}`).
    #[serde(rename = "chat:participant:remove")]
    ParticipantRemove(ParticipantRemovePayload),
    /// Leave a group.
    #[serde(rename = "chat:leave")]
    ChatLeave(ChatLeavePayload),
    /// Follow a group's invite link (as `POST /api/invites/{code}/join`).
    #[serde(rename = "chat:join")]
    ChatJoin(ChatJoinPayload),
    /// Mark a message and every earlier one of its chat read (as
    /// `POST /api/chats/{chatId}/messages/{messageId}/read`).
    #[serde(rename = "message:read")]
    MessageRead(MessageRefPayload),
    /// You played a voice note (as `POST /api/chats/{chatId}/messages/{messageId}/played`).
    #[serde(rename = "message:played")]
    MessagePlayed(MessageRefPayload),
    /// React to a message, or take the reaction back (as `POST`/`DELETE .../reactions`).
    #[serde(rename = "message:reaction")]
    MessageReaction(MessageReactionPayload),
    /// Vote in a poll, change the vote or take it back with `options: []` (as
    /// `PUT .../messages/{messageId}/poll/vote`); the ack carries the poll's results.
    #[serde(rename = "message:poll:vote")]
    PollVote(PollVotePayload),
    /// Delete a message for yourself or for everyone (as `DELETE .../messages/{messageId}`).
    #[serde(rename = "message:delete")]
    MessageDelete(MessageDeletePayload),
    /// You are typing in a chat (or, with `activity: "recording"`, recording a voice note): its
    /// other connected members are told (never stored). Send it again every few seconds while
    /// you are; it expires by itself. Refused (`PERMISSION_DENIED`) where you may not send: a
    /// group where only admins send.
    #[serde(rename = "message:typing")]
    Typing(TypingPayload),
    /// You stopped typing (or recording).
    #[serde(rename = "message:stop_typing")]
    StopTyping(TypingPayload),
    /// The PRD's other name for typing: `message:typing`, or with `isTyping: false`
    /// `message:stop_typing` (the others are told by those events).
    #[serde(rename = "user:typing")]
    UserTyping(UserTypingPayload),
    /// This device is in use: you are online (while any device is).
    #[serde(rename = "user:online")]
    UserOnline(NoPayload),
    /// This device is idle: you go offline once none is in use.
    #[serde(rename = "user:offline")]
    UserOffline(NoPayload),
    /// Change your status text (the people who may see your presence are told; the same text
    /// again tells nobody).
    #[serde(rename = "user:status_update")]
    StatusUpdate(StatusUpdatePayload),
    /// A heartbeat: API Gateway closes a WebSocket that carries nothing for 10 minutes, so a
    /// quiet client sends this every few minutes. It checks the device session and changes
    /// nothing; the ack carries the server's time.
    #[serde(rename = "socket:ping")]
    Ping(NoPayload),
    /// A file's processing status (as `GET /api/media/{fileId}/status`); the ack carries it.
    #[serde(rename = "media:processing:status")]
    MediaStatus(MediaRefPayload),
    /// This device started uploading a file; the ack carries the file's status.
    #[serde(rename = "media:upload:start")]
    UploadStart(MediaRefPayload),
    /// This device's upload progress; the ack carries the file's status.
    #[serde(rename = "media:upload:progress")]
    UploadProgress(UploadProgressPayload),
    /// This device finished its `PUT` (as `POST /api/upload/complete`); the ack carries the
    /// file's status.
    #[serde(rename = "media:upload:complete")]
    UploadComplete(MediaRefPayload),
    /// Call the other member of a 1:1 chat, with this device's WebRTC offer: their devices get
    /// `call:incoming`. The ack carries the call (ringing).
    #[serde(rename = "call:start")]
    CallStart(CallStartPayload),
    /// Answer a call ringing for you, with this device's WebRTC answer: the caller gets
    /// `call:answered`, your other devices stop ringing. The ack carries the call (ongoing).
    #[serde(rename = "call:answer")]
    CallAnswer(CallAnswerPayload),
    /// An ICE candidate of this device for a live call: the other side gets `call:candidate`.
    #[serde(rename = "call:candidate")]
    CallCandidate(CallCandidatePayload),
    /// Hang up, cancel, or decline a call: everyone's devices get `call:ended`. The ack
    /// carries the call (ended).
    #[serde(rename = "call:end")]
    CallEnd(CallRefPayload),
}

/// Longest session description (SDP) a call carries.
pub const MAX_SDP_CHARS: usize = 16_384;

/// `call:start`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallStartPayload {
    /// A 1:1 chat of yours.
    pub chat_id: Uuid,
    pub kind: CallKind,
    /// This device's WebRTC offer (an SDP, starting `v=0`).
    #[schema(value_type = String, max_length = 16384)]
    pub sdp: ShortText<MAX_SDP_CHARS>,
}

/// `call:answer`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallAnswerPayload {
    pub call_id: Uuid,
    /// This device's WebRTC answer (an SDP, starting `v=0`).
    #[schema(value_type = String, max_length = 16384)]
    pub sdp: ShortText<MAX_SDP_CHARS>,
}

/// `call:candidate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallCandidatePayload {
    pub call_id: Uuid,
    pub candidate: IceCandidate,
}

/// An ICE candidate, as WebRTC's `RTCIceCandidateInit` gives it (`candidate.toJSON()`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IceCandidate {
    #[schema(value_type = String, max_length = 1024)]
    pub candidate: ShortText<1024>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub sdp_mid: Option<ShortText<64>>,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 256)]
    pub username_fragment: Option<ShortText<256>>,
}

/// `call:answer`'s and `call:end`'s call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallRefPayload {
    pub call_id: Uuid,
}

/// `media:processing:status`, `media:upload:start` and `media:upload:complete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaRefPayload {
    pub file_id: Uuid,
}

/// `media:upload:progress`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadProgressPayload {
    pub file_id: Uuid,
    /// Percent sent, 0-100.
    #[schema(value_type = i64, minimum = 0, maximum = 100)]
    pub progress: crate::api::requests::Bounded<0, 100>,
}

/// The actions a client may send.
pub const ACTIONS: [&str; 27] = [
    "message:send",
    "message:read",
    "message:played",
    "message:reaction",
    "message:poll:vote",
    "message:delete",
    "message:typing",
    "message:stop_typing",
    "user:typing",
    "user:online",
    "user:offline",
    "user:status_update",
    "socket:ping",
    "chat:create",
    "chat:update",
    "chat:participant:add",
    "chat:participant:remove",
    "chat:leave",
    "chat:join",
    "media:processing:status",
    "media:upload:start",
    "media:upload:progress",
    "media:upload:complete",
    "call:start",
    "call:answer",
    "call:candidate",
    "call:end",
];

impl ClientAction {
    /// A frame's action with its payload (taken, not copied), checked as a request body is.
    pub fn parse(action: &str, data: Value) -> Result<Self, ApiError> {
        if !ACTIONS.contains(&action) {
            let shown: String = action.chars().take(64).collect();
            return Err(ApiError::Validation(format!("unknown action `{shown}`")));
        }
        let data = match data {
            // Left out (or null): an action without a payload needs none.
            Value::Null => Value::Object(serde_json::Map::new()),
            Value::Object(_) => data,
            _ => {
                return Err(ApiError::InvalidInput(
                    "`data` must be a JSON object".into(),
                ))
            }
        };
        let mut tagged = serde_json::Map::new();
        tagged.insert("action".into(), Value::String(action.to_owned()));
        tagged.insert("data".into(), data);
        crate::api::extract::json_value(Value::Object(tagged))
    }
}

/// `message:send`: a message for the chat `chatId`.
///
/// Each frame is handled on its own, as API Gateway invokes a function for each: messages sent
/// one after another without waiting for the previous one's `ack` are stored (and numbered by
/// `seq`) in the order they reach the store, which is not always the order sent. A client that
/// sends a queue at once (coming back online) and must keep its order sends each message of a
/// chat after the previous one's `ack`; its other chats may go meanwhile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageSendPayload {
    pub chat_id: Uuid,
    #[serde(flatten)]
    pub message: SendMessageRequest,
}

/// `chat:update`: `PUT /api/chats/{chatId}`'s body, plus `chatId`. The body refuses unknown
/// fields, so `chatId` is taken out before it is read (a flattened struct cannot do that).
#[derive(Debug)]
pub struct ChatUpdatePayload {
    pub chat_id: Uuid,
    pub update: UpdateChatRequest,
}

impl<'de> Deserialize<'de> for ChatUpdatePayload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut fields = serde_json::Map::<String, Value>::deserialize(d)?;
        let chat_id = fields
            .remove("chatId")
            .ok_or_else(|| D::Error::missing_field("chatId"))?;
        let chat_id =
            Uuid::deserialize(chat_id).map_err(|_| D::Error::custom("`chatId`: not a valid id"))?;
        let update =
            UpdateChatRequest::deserialize(Value::Object(fields)).map_err(D::Error::custom)?;
        Ok(Self { chat_id, update })
    }
}

impl utoipa::PartialSchema for ChatUpdatePayload {
    /// `UpdateChatRequest`'s object with `chatId` added to its properties.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
        use utoipa::openapi::RefOr;
        let mut schema = <UpdateChatRequest as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.properties.insert(
                "chatId".into(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into(),
            );
            object.required.insert(0, "chatId".into());
            object.description = Some("`PUT /api/chats/{chatId}`'s body, plus `chatId`.".into());
        }
        schema
    }
}

impl ToSchema for ChatUpdatePayload {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <UpdateChatRequest as ToSchema>::schemas(schemas);
    }
}

/// `chat:participant:add`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParticipantAddPayload {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    #[serde(default)]
    pub role: Option<AddedRole>,
}

/// `chat:participant:remove`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParticipantRemovePayload {
    pub chat_id: Uuid,
    pub user_id: Uuid,
}

/// `chat:leave`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatLeavePayload {
    pub chat_id: Uuid,
}

/// `chat:join`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatJoinPayload {
    #[schema(max_length = 64)]
    pub invite_code: String,
}

/// `message:read` and `message:played`: a message of a chat.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageRefPayload {
    pub chat_id: Uuid,
    pub message_id: Uuid,
}

/// `message:reaction`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageReactionPayload {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub emoji: Emoji,
    /// Take this reaction back instead.
    #[serde(default)]
    pub remove: bool,
}

/// `message:poll:vote`: `PUT .../poll/vote`'s body, plus the message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollVotePayload {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    /// The answers, by index (none takes the vote back).
    #[schema(value_type = Vec<i64>, max_items = 12)]
    pub options: Vec<crate::api::requests::PollAnswer>,
}

/// `message:delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageDeletePayload {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    /// Erase it for everyone (otherwise only for you).
    #[serde(default)]
    pub for_everyone: bool,
}

/// `message:typing` and `message:stop_typing`: a chat, and what you are doing there.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TypingPayload {
    pub chat_id: Uuid,
    #[serde(default)]
    pub activity: TypingActivity,
}

/// `user:typing` (the PRD's `TypingPayload`, less what the server adds): a chat, whether you
/// are typing (absent: you are), and what you are doing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserTypingPayload {
    pub chat_id: Uuid,
    #[serde(default)]
    pub is_typing: Option<bool>,
    #[serde(default)]
    pub activity: TypingActivity,
}

/// What a member who is "typing" is doing: writing (the default), or recording a voice note
/// (WhatsApp's "recording audio...").
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum TypingActivity {
    #[default]
    Typing,
    Recording,
}

impl TypingActivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Typing => "typing",
            Self::Recording => "recording",
        }
    }
}

/// An action without a payload: `data` is `{}` (or absent).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoPayload {}

/// `user:status_update`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusUpdatePayload {
    /// At most 140 characters; only spaces clears it.
    #[schema(value_type = String, max_length = 140)]
    pub status: crate::domain::DisplayText<140>,
}

/// The one answer to a client frame that carried a `requestId` (errors are answered even
/// without one).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "event")]
pub enum ReplyFrame {
    /// The action succeeded.
    #[serde(rename = "ack")]
    Ack {
        #[serde(rename = "requestId")]
        request_id: Option<String>,
        data: ActionResult,
    },
    /// The action failed, or the frame could not be read.
    #[serde(rename = "error:general")]
    Error {
        #[serde(rename = "requestId")]
        request_id: Option<String>,
        data: FrameError,
    },
}

/// What an action answers in its ack.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ActionResult {
    /// `message:send`: the stored message.
    Message(Box<Message>),
    /// `chat:participant:add`: added or invited.
    ParticipantAdded(ParticipantAdded),
    /// `chat:participant:remove` and `chat:leave`: no longer a member.
    ParticipantRemoved(ParticipantRemoved),
    /// `chat:join`: joined, or waiting for approval.
    InviteFollowed(Box<InviteFollowed>),
    /// `chat:create` and `chat:update`: the chat.
    Chat(Box<ChatDetails>),
    /// `message:delete`.
    MessageRemoved(MessageRemoved),
    /// `message:reaction`: the caller's reaction now.
    Reaction(ReactionSet),
    /// `message:poll:vote`: the poll with the caller's vote.
    Poll(Box<crate::api::models::PollResults>),
    /// `message:read`: read up to where.
    Read(ReadUpTo),
    /// `message:played`: when the voice note was first played.
    Played(crate::api::models::VoiceNotePlayed),
    /// `message:typing` and `message:stop_typing`.
    Typing(TypingSent),
    /// `user:online` and `user:offline`: this device's state.
    Presence(crate::api::models::DeviceActivity),
    /// `user:status_update`: the status now.
    Status(crate::api::models::StatusSet),
    /// `media:*`: the file's processing status.
    Media(crate::api::models::MediaProcessingStatus),
    /// `call:start`, `call:answer` and `call:end`: the call now.
    Call(Call),
    /// `call:candidate`: passed on.
    CandidateSent(CandidateSent),
    /// `socket:ping`: the server's time (for a client to see how far its clock is off).
    Pong(Pong),
}

/// `socket:ping`'s ack.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pong {
    pub server_time: Timestamp,
}

/// `call:candidate`'s ack.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CandidateSent {
    pub call_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    /// As the REST envelope's `details` (absent when there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ReplyFrame {
    pub fn ack(request_id: Option<&str>, data: ActionResult) -> Self {
        Self::Ack {
            request_id: request_id.map(str::to_owned),
            data,
        }
    }

    pub fn error(request_id: Option<&str>, error: &ApiError) -> Self {
        Self::Error {
            request_id: request_id.map(str::to_owned),
            data: FrameError {
                code: error.error_code(),
                message: error.public_message(),
                details: error.details(),
            },
        }
    }

    /// The frame's text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("reply frames serialize")
    }
}

/// A server event as pushed and as `/api/sync` lists it: `{"event", "cursor", "data"}`. The
/// cursor is the event's position in the user's stream: a client dedupes on it and resumes
/// after the last one it has (`/api/sync?since=`, `/ws?since=`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventFrame {
    /// Opaque; later events have greater cursors.
    pub cursor: String,
    #[serde(flatten)]
    pub event: ServerEvent,
}

impl EventFrame {
    /// The frame's text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}

/// An event the server pushes: `{"event": "<name>", "data": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "event", content = "data")]
pub enum ServerEvent {
    /// A message in one of the user's chats (their own, too, on their other devices).
    #[serde(rename = "message:received")]
    MessageReceived(Box<MessageReceived>),
    /// A message the user sent reached a device of these recipients.
    #[serde(rename = "message:delivered")]
    MessageDelivered(MessageDelivered),
    /// A chat is in the user's list now: a group they were made a member of, a 1:1 chat they
    /// opened (on each of their devices), or a 1:1 chat someone else opened, with the first
    /// message or line written in it (just before it; until then it shows them nothing), or
    /// one they deleted for themselves, written in again.
    #[serde(rename = "chat:created")]
    ChatCreated(ChatCreated),
    /// The user was invited to a group (their privacy did not let the adder add them):
    /// `POST /api/chats/{chatId}/invitation` joins it, `DELETE` declines.
    #[serde(rename = "chat:invitation")]
    ChatInvitation(ChatInvitation),
    /// Someone joined a group the user is in (or the user was added: then it is their first
    /// event of the group; `GET /api/chats/{chatId}` has the rest).
    #[serde(rename = "chat:participant:joined")]
    ParticipantJoined(ParticipantJoined),
    /// Someone left a group or was removed (the user, too: then it is their last event of it).
    #[serde(rename = "chat:participant:left")]
    ParticipantLeft(ParticipantLeft),
    /// A member's role changed (by an admin, or because the last admin left).
    #[serde(rename = "chat:participant:role_changed")]
    ParticipantRoleChanged(ParticipantRoleChanged),
    /// A group's name or description changed (to every member), or the user's own settings of
    /// a chat (to their devices).
    #[serde(rename = "chat:updated")]
    ChatUpdated(ChatUpdated),
    /// The user cleared a chat's history for themselves (on another device): messages up to
    /// `clearedSeq` are gone from their view; the chat stays in their list.
    #[serde(rename = "chat:cleared")]
    ChatCleared(ChatCleared),
    /// Someone asked to join a group through its invite link (to the group's admins:
    /// `POST /api/chats/{chatId}/join-requests/{userId}/approve` or `/reject`).
    #[serde(rename = "chat:join_request")]
    JoinRequested(JoinRequested),
    /// An admin answered the user's request to join (approved: they are a member now).
    #[serde(rename = "chat:join_request:answered")]
    JoinRequestAnswered(JoinRequestAnswered),
    /// A request to join waits no more: an admin approved or rejected it, or its requester
    /// withdrew it (to the group's admins, whose lists of waiting requests drop it; and a
    /// withdrawal to the requester's devices).
    #[serde(rename = "chat:join_request:closed")]
    JoinRequestClosed(JoinRequestClosed),
    /// The user deleted a 1:1 chat for themselves (on another device): it leaves the list
    /// until its next message, its history so far cleared.
    #[serde(rename = "chat:deleted")]
    ChatDeleted(ChatDeleted),
    /// A message was edited: the message as it is now (its earlier versions:
    /// `GET .../messages/{messageId}/edits`).
    #[serde(rename = "message:edited")]
    MessageEdited(Box<MessageEdited>),
    /// A message was deleted: for everyone (to the chat's members), or for the user only (to
    /// their other devices).
    #[serde(rename = "message:deleted")]
    MessageDeleted(MessageDeleted),
    /// Someone reacted to a message. One reaction per member: an earlier one it replaces is
    /// taken back first, by a `message:reaction:removed` just before.
    #[serde(rename = "message:reaction:added")]
    ReactionAdded(ReactionChanged),
    /// Someone took their reaction back (or replaced it: a `message:reaction:added` follows).
    #[serde(rename = "message:reaction:removed")]
    ReactionRemoved(ReactionChanged),
    /// `readBy` has read the chat up to `seq` (to the senders of what they read, as their
    /// privacy allows, and to the reader's other devices).
    #[serde(rename = "message:read")]
    MessageRead(MessageRead),
    /// A recipient opened a view-once picture or video (to its sender, as read-receipt privacy
    /// allows, and to the recipient's other devices, where it can no longer be opened).
    #[serde(rename = "message:opened")]
    MessageOpened(MessageOpened),
    /// A recipient played a voice note (to its sender, whatever read-receipt privacy says, as
    /// WhatsApp's blue microphone; and to the recipient's other devices).
    #[serde(rename = "message:played")]
    MessagePlayed(MessagePlayed),
    /// A member voted in a poll, changed their vote or took it back (`options` empty): their
    /// answers now, and the poll's counts after it (`GET .../messages/{messageId}/poll` has
    /// who chose what).
    #[serde(rename = "message:poll:voted")]
    PollVoted(PollVoted),
    /// A member kept a disappearing message in the chat (it stays), or it was unkept (it
    /// disappears at `expiresAt`).
    #[serde(rename = "message:kept")]
    MessageKept(crate::api::models::KeptState),
    /// A message was pinned in the chat (until `expiresAt`; a chat holds at most 3 pins).
    #[serde(rename = "message:pinned")]
    MessagePinned(MessagePinned),
    /// A message was unpinned.
    #[serde(rename = "message:unpinned")]
    MessageUnpinned(MessageUnpinned),
    /// The user starred or unstarred a message (on another device).
    #[serde(rename = "message:starred")]
    MessageStarred(crate::api::models::StarState),
    /// A live location moved, or its sender stopped sharing it (`live: false`).
    #[serde(rename = "message:location:updated")]
    LocationUpdated(crate::api::models::LiveLocation),
    /// Someone the user may see came online (a 1:1 chat or a contact in common, as their
    /// privacy allows).
    #[serde(rename = "user:online")]
    UserOnline(UserPresence),
    /// Someone went offline (`lastSeen`), or their presence is now hidden from the user (no
    /// `lastSeen`: a last-seen setting changed, theirs or the user's own).
    #[serde(rename = "user:offline")]
    UserOffline(UserPresence),
    /// Someone changed their status text (told to their 1:1 chat partners and contacts whom
    /// their `about` setting shows it to).
    #[serde(rename = "user:status_updated")]
    UserStatusUpdated(UserStatusUpdated),
    /// Someone changed or removed their profile picture (told to their 1:1 chat partners and
    /// contacts whom their `profilePicture` setting shows it to), or changed that setting so
    /// that the user now sees their picture (or no longer: null).
    #[serde(rename = "user:profile_picture_updated")]
    UserPictureUpdated(UserPictureUpdated),
    /// The user's own profile changed (an edit on one of their devices, a verified email or
    /// phone number, two-factor authentication turned on or off): the profile as
    /// `GET /api/users/profile` answers it now.
    #[serde(rename = "user:profile:updated")]
    ProfileUpdated(Box<crate::api::models::OwnProfile>),
    /// The user's account was logged in to on a device it had not been used on before (the
    /// new session is revoked with `DELETE /api/auth/sessions/{sessionId}` if it was not them).
    /// The new device itself may get it too, naming its own session: it ignores it.
    #[serde(rename = "account:login")]
    NewLogin(NewLogin),
    /// A device of a member of the chat (or of the user's own) published a new identity key
    /// (a new device, or one that was set up again): sessions with it start over, with a bundle
    /// from `GET /api/users/{userId}/keys`, and the chat shows that the security code changed.
    /// With `removed`, the device is gone (its session ended): seal nothing more for it.
    #[serde(rename = "keys:changed")]
    KeysChanged(KeysChanged),
    /// One of the user's devices is running out of one-time pre-keys (told once per shortage):
    /// that device adds more with `POST /api/keys/one-time`.
    #[serde(rename = "keys:low")]
    KeysLow(KeysLow),
    /// The user blocked someone (on one of their devices): an entry of `GET /api/users/blocked`.
    #[serde(rename = "user:blocked")]
    UserBlocked(crate::api::models::BlockedUser),
    /// The user unblocked someone (on one of their devices).
    #[serde(rename = "user:unblocked")]
    UserUnblocked(crate::api::models::BlockState),
    /// The user added a contact or changed one (on another device; also after a phone sync or
    /// vCard import).
    #[serde(rename = "contact:updated")]
    ContactUpdated(Box<crate::api::models::Contact>),
    /// The user removed a contact (on another device).
    #[serde(rename = "contact:removed")]
    ContactRemoved(crate::api::models::ContactRemoved),
    /// The user made or changed a contact group (label), or its members.
    #[serde(rename = "contact:group:updated")]
    ContactGroupUpdated(crate::api::models::ContactGroup),
    /// The user deleted a contact group.
    #[serde(rename = "contact:group:deleted")]
    ContactGroupDeleted(crate::api::models::ContactGroupDeleted),
    /// The user reset their contact link (on another device): the old one, and its QR code,
    /// resolve to nobody now.
    #[serde(rename = "contact:link:reset")]
    ContactLinkReset(crate::api::models::ContactLink),
    /// A backup the user asked for is ready: `GET /api/backups/{id}` has its download link.
    #[serde(rename = "backup:ready")]
    BackupReady(crate::api::models::Backup),
    /// A backup the user asked for could not be made (`error` says why).
    #[serde(rename = "backup:failed")]
    BackupFailed(crate::api::models::Backup),
    /// Processing of a file the user uploaded began (the bytes arrived).
    #[serde(rename = "media:processing:started")]
    MediaProcessingStarted(crate::api::models::MediaProcessingStatus),
    /// Processing moved on a step (`progress`, `step`).
    #[serde(rename = "media:processing:progress")]
    MediaProcessingProgress(crate::api::models::MediaProcessingStatus),
    /// The file is processed: `GET /api/media/{fileId}` has its variants. Told to its uploader,
    /// and to the members of the chat where a message shows the file (sent before the file was
    /// ready: its recipients fetch the file now); not for a view-once file.
    #[serde(rename = "media:processing:completed")]
    MediaProcessingCompleted(Box<crate::api::models::MediaFile>),
    /// The file could not be processed (`error` says why: `INVALID_FILE_TYPE`, `INFECTED`,
    /// `CANCELLED`, `PROCESSING_FAILED`). Told as `media:processing:completed` is.
    #[serde(rename = "media:processing:failed")]
    MediaProcessingFailed(crate::api::models::MediaProcessingStatus),
    /// A member is typing (ephemeral: pushed to connected members only, never in sync, no
    /// cursor). Show it for `expiresInSeconds` unless it is repeated.
    #[serde(rename = "message:typing")]
    Typing(TypingNotice),
    /// A member stopped typing (ephemeral).
    #[serde(rename = "message:stop_typing")]
    StopTyping(TypingNotice),
    /// Someone calls in a 1:1 chat of the user's, with their WebRTC offer (the caller's other
    /// devices get it too, to show the call). Ring until `call:answered` or `call:ended`; a
    /// device catching up through sync ignores a call that has ended since.
    #[serde(rename = "call:incoming")]
    CallIncoming(CallOffered),
    /// The callee answered on one of their devices, with its WebRTC answer (for the caller's
    /// device that offered); their other devices stop ringing.
    #[serde(rename = "call:answered")]
    CallAnswered(CallAnswered),
    /// An ICE candidate from one side of a live call, for the other.
    #[serde(rename = "call:candidate")]
    CallCandidate(CallCandidate),
    /// The call ended (`endReason` says how): stop ringing, hang up.
    #[serde(rename = "call:ended")]
    CallEnded(Call),
    /// The operators announce maintenance, with when it starts and ends if they said: told to
    /// every account (a device catching up through sync may find it over).
    #[serde(rename = "system:maintenance")]
    SystemMaintenance(crate::api::models::SystemMaintenance),
    /// A notice from the operators, told to every account.
    #[serde(rename = "system:notification")]
    SystemNotification(crate::api::models::SystemNotification),
}

impl ServerEvent {
    /// The event's name, as it appears on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageReceived(_) => "message:received",
            Self::MessageDelivered(_) => "message:delivered",
            Self::ChatCreated(_) => "chat:created",
            Self::ChatInvitation(_) => "chat:invitation",
            Self::ParticipantJoined(_) => "chat:participant:joined",
            Self::ParticipantLeft(_) => "chat:participant:left",
            Self::ParticipantRoleChanged(_) => "chat:participant:role_changed",
            Self::ChatUpdated(_) => "chat:updated",
            Self::ChatDeleted(_) => "chat:deleted",
            Self::ChatCleared(_) => "chat:cleared",
            Self::JoinRequested(_) => "chat:join_request",
            Self::JoinRequestAnswered(_) => "chat:join_request:answered",
            Self::JoinRequestClosed(_) => "chat:join_request:closed",
            Self::MessageEdited(_) => "message:edited",
            Self::MessageDeleted(_) => "message:deleted",
            Self::ReactionAdded(_) => "message:reaction:added",
            Self::ReactionRemoved(_) => "message:reaction:removed",
            Self::MessageRead(_) => "message:read",
            Self::MessageOpened(_) => "message:opened",
            Self::MessagePlayed(_) => "message:played",
            Self::PollVoted(_) => "message:poll:voted",
            Self::MessageKept(_) => "message:kept",
            Self::MessagePinned(_) => "message:pinned",
            Self::MessageUnpinned(_) => "message:unpinned",
            Self::MessageStarred(_) => "message:starred",
            Self::LocationUpdated(_) => "message:location:updated",
            Self::UserOnline(_) => "user:online",
            Self::UserOffline(_) => "user:offline",
            Self::UserStatusUpdated(_) => "user:status_updated",
            Self::UserPictureUpdated(_) => "user:profile_picture_updated",
            Self::ProfileUpdated(_) => "user:profile:updated",
            Self::NewLogin(_) => "account:login",
            Self::KeysChanged(_) => "keys:changed",
            Self::KeysLow(_) => "keys:low",
            Self::UserBlocked(_) => "user:blocked",
            Self::UserUnblocked(_) => "user:unblocked",
            Self::ContactUpdated(_) => "contact:updated",
            Self::ContactRemoved(_) => "contact:removed",
            Self::ContactGroupUpdated(_) => "contact:group:updated",
            Self::ContactGroupDeleted(_) => "contact:group:deleted",
            Self::ContactLinkReset(_) => "contact:link:reset",
            Self::SystemMaintenance(_) => "system:maintenance",
            Self::SystemNotification(_) => "system:notification",
            Self::BackupReady(_) => "backup:ready",
            Self::BackupFailed(_) => "backup:failed",
            Self::MediaProcessingStarted(_) => "media:processing:started",
            Self::MediaProcessingProgress(_) => "media:processing:progress",
            Self::MediaProcessingCompleted(_) => "media:processing:completed",
            Self::MediaProcessingFailed(_) => "media:processing:failed",
            Self::Typing(_) => "message:typing",
            Self::StopTyping(_) => "message:stop_typing",
            Self::CallIncoming(_) => "call:incoming",
            Self::CallAnswered(_) => "call:answered",
            Self::CallCandidate(_) => "call:candidate",
            Self::CallEnded(_) => "call:ended",
        }
    }

    /// The event's `data`, as the event log stores it.
    pub fn data(&self) -> Value {
        let mut whole = serde_json::to_value(self).expect("events serialize");
        whole["data"].take()
    }

    /// An event back from its name and stored `data`.
    pub fn from_parts(name: &str, data: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "event": name, "data": data }))
    }
}

/// `message:poll:voted`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollVoted {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub user_id: Uuid,
    /// The voter's answers now, by index (empty: they took their vote back).
    pub options: Vec<u8>,
    /// Votes per answer, in the poll's order, after this one.
    pub votes: Vec<i64>,
    /// Members who voted, after this one.
    pub voters: i64,
}

/// `keys:changed`: whose device has a new identity key. `chatId` is the chat it is told in
/// (none in the user's own stream).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeysChanged {
    pub chat_id: Option<Uuid>,
    pub user_id: Uuid,
    pub device_id: Uuid,
    /// The device's new identity key (none once it is removed).
    pub identity_key: Option<String>,
    /// The device is gone (written by `V54`'s trigger when its session ends).
    #[serde(default)]
    pub removed: bool,
}

/// `keys:low`: the device whose one-time pre-keys run low, and how many it has left.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeysLow {
    pub device_id: Uuid,
    pub remaining: i64,
}

/// `account:login`: the new device session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewLogin {
    pub session_id: Uuid,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageReceived {
    pub message: Message,
    pub chat_id: Uuid,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageDelivered {
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub seq: i64,
    /// The recipients reached by this delivery.
    pub delivered_to: Vec<Uuid>,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    pub message: Message,
    pub chat_id: Uuid,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub deletion: Deletion,
    /// Who deleted it (the sender, or a group admin).
    pub deleted_by: Uuid,
}

/// `message:reaction:added` / `message:reaction:removed`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionChanged {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub user_id: Uuid,
    pub emoji: String,
}

/// `message:read` (PRD `MessageReadPayload`, plus `seq`): everything of the chat up to `seq`
/// is read by `readBy`; `messageId` is the latest of them the recipient sent (or, to the
/// reader's own devices, the message marked).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRead {
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub seq: i64,
    pub read_by: Uuid,
    pub timestamp: Timestamp,
}

/// `message:opened`: `openedBy` opened the view-once message `messageId`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOpened {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub opened_by: Uuid,
    pub opened_at: Timestamp,
}

/// `message:played`: `playedBy` played the voice note `messageId`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePlayed {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub played_by: Uuid,
    pub played_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePinned {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub pinned_by: Uuid,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageUnpinned {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub unpinned_by: Uuid,
}

/// `user:online` / `user:offline` (PRD `UserStatusPayload`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPresence {
    pub user_id: Uuid,
    pub username: String,
    pub status: crate::api::models::OnlineStatus,
    /// When they went offline (absent while online, or when it is hidden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserStatusUpdated {
    pub user_id: Uuid,
    pub username: String,
    /// The new status text (null: cleared).
    #[schema(required = true)]
    pub status: Option<String>,
}

/// `user:profile_picture_updated`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPictureUpdated {
    pub user_id: Uuid,
    pub username: String,
    /// The new picture's file (null: removed); its URL comes with the user's profile
    /// (`GET /api/users/{userId}`), or from `GET /api/media/{fileId}`.
    #[schema(required = true)]
    pub profile_picture_media_id: Option<Uuid>,
}

/// `call:incoming`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallOffered {
    pub call: Call,
    /// The caller's WebRTC offer (empty once the call has ended: the log keeps no network
    /// addresses past a call).
    pub sdp: String,
}

/// `call:answered`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallAnswered {
    pub call: Call,
    /// Who answered.
    pub answered_by: Uuid,
    /// Their WebRTC answer (empty once the call has ended).
    pub sdp: String,
}

/// `call:candidate`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallCandidate {
    pub call_id: Uuid,
    /// Whose candidate it is (a device ignores its own user's).
    pub from: Uuid,
    /// (Emptied to `{"candidate": ""}` once the call has ended.)
    pub candidate: IceCandidate,
}

/// `message:typing` / `message:stop_typing` (PRD `TypingPayload`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypingNotice {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub is_typing: bool,
    /// What they are doing (a stop ends whichever shows).
    pub activity: TypingActivity,
    /// Stop showing it after this long unless it comes again.
    pub expires_in_seconds: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequested {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequestAnswered {
    pub chat_id: Uuid,
    pub approved: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequestClosed {
    pub chat_id: Uuid,
    /// Who had asked to join.
    pub user_id: Uuid,
    pub outcome: JoinRequestOutcome,
}

/// How a request to join ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JoinRequestOutcome {
    Approved,
    Rejected,
    /// Its requester took it back.
    Withdrawn,
    /// Its requester became a member another way (an admin added them, or they followed a
    /// link that needs no approval).
    Joined,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatInvitation {
    pub chat_id: Uuid,
    /// The group's name.
    pub name: String,
    pub invited_by: Uuid,
}

/// `chat:participant:joined` (PRD `ParticipantJoinedPayload`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantJoined {
    pub chat_id: Uuid,
    pub participant: JoinedParticipant,
    /// The admin who added them (absent when they joined by themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<Uuid>,
    /// Only to the devices of the member who joined: the chat as they now see it (as
    /// `chat:created` gives a new chat), so that each of their devices shows it at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<Box<ChatDetails>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JoinedParticipant {
    pub id: Uuid,
    pub username: String,
    pub role: ParticipantRole,
}

/// `chat:updated`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatUpdated {
    pub chat_id: Uuid,
    /// What changed: `name`, `description`, `avatarUrl`, `permissions`,
    /// `disappearingSeconds` (for everyone), `settings` (the user's own).
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new description (absent when it was cleared or did not change: see `changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The new picture, an outside address (absent when it was cleared or did not change: see
    /// `changed`, which says `avatarUrl` for either kind of picture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// The new picture's file, when it was uploaded to Banter (its signed URL comes with
    /// `GET /api/chats/{chatId}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_media_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ChatSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<GroupPermissions>,
    /// The new disappearing-messages timer (when `changed` has `disappearingSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disappearing_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<Uuid>,
}

/// `chat:cleared`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatCleared {
    pub chat_id: Uuid,
    /// The last `seq` cleared: history continues after it, but for `keptStarred`.
    pub cleared_seq: i64,
    /// The caller's starred messages up to `clearedSeq`, which stay in the history (clearing
    /// keeps them unless asked not to).
    #[serde(default)]
    pub kept_starred: Vec<Uuid>,
}

/// `chat:deleted`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatDeleted {
    pub chat_id: Uuid,
}

/// `chat:participant:left`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantLeft {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    /// Who removed them (absent when they left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<Uuid>,
}

/// `chat:participant:role_changed`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantRoleChanged {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub role: ParticipantRole,
    /// The admin who changed it (absent when the last admin left and the longest-standing
    /// member took over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChatCreated {
    /// The chat, without presence or pictures (those depend on each member's standing).
    pub chat: ChatDetails,
    /// Every member's id.
    pub participants: Vec<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(text: &str) -> Result<ClientAction, ApiError> {
        let frame = ClientFrame::parse(text).unwrap();
        ClientAction::parse(&frame.action, frame.data)
    }

    #[test]
    fn only_json_objects_are_frames() {
        let e = ClientFrame::parse(r#"["message:send", "r-1"]"#).unwrap_err();
        assert_eq!((e.request_id, e.error.code()), (None, "INVALID_INPUT"));
        let e = ClientFrame::parse(r#"{"action": 7, "requestId": "r-2"}"#).unwrap_err();
        assert_eq!(
            e.request_id.as_deref(),
            Some("r-2"),
            "answered to the id it carries"
        );
        let e = ClientFrame::parse(&format!(
            r#"{{"action": "a", "requestId": "{}"}}"#,
            "x".repeat(129)
        ))
        .unwrap_err();
        assert_eq!((e.request_id, e.error.code()), (None, "VALIDATION_ERROR"));
    }

    #[test]
    fn a_frame_that_is_not_valid_json_text_is_answered_to_its_request_id_if_readable() {
        // What JavaScript's JSON.stringify writes for text ending in half an emoji.
        let lone = r#"{"action":"message:send","requestId":"r-1","data":{"content":"hi \ud83d"}}"#;
        let e = ClientFrame::parse(lone).unwrap_err();
        assert_eq!(
            (e.request_id.as_deref(), e.error.code()),
            (Some("r-1"), "INVALID_INPUT")
        );
        assert!(e.error.to_string().contains("surrogate"), "{}", e.error);
        // Its requestId comes last, after the bad escape: still read.
        let e =
            ClientFrame::parse(r#"{"data":{"content":"\udc00"},"requestId":"r-2"}"#).unwrap_err();
        assert_eq!(e.request_id.as_deref(), Some("r-2"));
        // Deeper than serde_json builds values: still answered.
        let deep = format!(
            r#"{{"action":"a","requestId":"r-4","data":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let e = ClientFrame::parse(&deep).unwrap_err();
        assert_eq!(
            (e.request_id.as_deref(), e.error.code()),
            (Some("r-4"), "INVALID_INPUT")
        );
        // Not JSON at all, a requestId that is itself the bad text, or one too long: no id.
        for text in [
            r#"{"action":"message:send","requestId":"r-3""#,
            r#"{"action":"a","requestId":"\ud800"}"#,
            &format!(r#"{{"requestId":"{}","data":"\ud800"}}"#, "x".repeat(129)),
        ] {
            let e = ClientFrame::parse(text).unwrap_err();
            assert_eq!(
                (e.request_id, e.error.code()),
                (None, "INVALID_INPUT"),
                "{text}"
            );
        }
    }

    #[test]
    fn actions_parse_with_their_payload_checked() {
        let chat = Uuid::new_v4();
        let ok = action(&format!(
            r#"{{"action":"message:send","data":{{"chatId":"{chat}","clientMessageId":"m","content":"hi"}}}}"#
        ))
        .unwrap();
        let ClientAction::MessageSend(p) = ok else {
            panic!("not a send: {ok:?}");
        };
        assert_eq!(p.chat_id, chat);
        assert_eq!(p.message.content.as_deref(), Some("hi"));
        let user = Uuid::new_v4();
        let leave = action(&format!(
            r#"{{"action":"chat:participant:remove","data":{{"chatId":"{chat}","userId":"{user}"}}}}"#
        ))
        .unwrap();
        assert!(
            matches!(leave, ClientAction::ParticipantRemove(ref p) if p.chat_id == chat && p.user_id == user),
            "{leave:?}"
        );

        let e = action(r#"{"action":"message:send","data":{"content":"hi"}}"#).unwrap_err();
        assert_eq!(e.code(), "MISSING_REQUIRED_FIELD");
        let e = action(r#"{"action":"nope","data":{}}"#).unwrap_err();
        assert_eq!(e.code(), "VALIDATION_ERROR");
        let e = action(r#"{"action":"message:send","data":[]}"#).unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT");
        // An action without a payload may leave `data` out; one with a payload is told what
        // it lacks.
        for text in [
            r#"{"action":"user:online","requestId":"r-1"}"#,
            r#"{"action":"socket:ping","data":null}"#,
        ] {
            assert!(action(text).is_ok(), "{text}");
        }
        let e = action(r#"{"action":"message:typing","requestId":"r-2"}"#).unwrap_err();
        assert_eq!(e.code(), "MISSING_REQUIRED_FIELD", "{e}");
    }

    #[test]
    fn frames_have_the_wire_shape() {
        let reply = ReplyFrame::error(Some("r-1"), &ApiError::NotFound("chat"));
        let v: Value = serde_json::from_str(&reply.to_text()).unwrap();
        assert_eq!(v["event"], "error:general");
        assert_eq!(v["requestId"], "r-1");
        assert_eq!(v["data"]["code"], "RESOURCE_NOT_FOUND");

        let event = ServerEvent::MessageDelivered(MessageDelivered {
            message_id: Uuid::nil(),
            chat_id: Uuid::nil(),
            seq: 3,
            delivered_to: vec![],
            timestamp: Timestamp::now(),
        });
        let frame = EventFrame {
            cursor: "7.3".into(),
            event: event.clone(),
        };
        let v: Value = serde_json::from_str(&frame.to_text()).unwrap();
        assert_eq!(
            (
                v["event"].as_str(),
                v["cursor"].as_str(),
                v["data"]["seq"].as_i64()
            ),
            (Some(event.name()), Some("7.3"), Some(3))
        );
        let back: EventFrame = serde_json::from_value(v).unwrap();
        assert_eq!(back.event.name(), "message:delivered");
        // The log stores `data` alone; the event reads back from it and its name.
        let stored = ServerEvent::from_parts(event.name(), event.data()).unwrap();
        assert_eq!(stored.data(), event.data());
    }
}
