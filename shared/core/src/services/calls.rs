//! Voice and video calls in 1:1 chats (WebRTC): the server carries the signalling over the
//! WebSocket and keeps the call history. `call:start` offers, `call:answer` answers,
//! `call:candidate` trickles ICE candidates and `call:end` hangs up, cancels or declines; each
//! is a `call:*` event through the event log, so a device that was away learns from
//! `/api/sync` how the call went. A call nobody answers in `call_ring_timeout` is missed (the
//! scheduled run ends it). Calls started and candidates passed on are rate-limited, so nobody
//! rings someone's phone all night or floods the log. The media never touch the server.

use uuid::Uuid;

use crate::api::models::{
    Call, Envelope, IceServer, IceServers, OffsetPagination, Page, PageEnvelope, Timestamp,
};
use crate::api::requests::OffsetPageQuery;
use crate::api::ws::{CallAnswerPayload, CallCandidatePayload, CallStartPayload, CandidateSent};
use crate::auth::tokens::Caller;
use crate::config::Limit;
use crate::db::calls::{self, Answered, Started};
use crate::error::ApiError;
use crate::App;

/// ICE candidates one side of a call may pass on (a call gathers a few dozen; this bounds what
/// one device can write to the event log through one call).
const CANDIDATES_PER_CALL: Limit = Limit::new(200, 24 * 3600);

/// An SDP starts with its version line.
fn session_description(sdp: &str) -> Result<&str, ApiError> {
    if !sdp.starts_with("v=0") {
        return Err(ApiError::Validation(
            "`data.sdp`: a WebRTC session description, starting `v=0`".into(),
        ));
    }
    Ok(sdp)
}

/// `call:start`: ring the other member of a 1:1 chat. A call to someone who blocks the caller
/// rings, as far as the caller can tell, and reaches none of their devices (WhatsApp's): a
/// refusal would tell the caller they are blocked.
pub async fn start(
    app: &App,
    caller: Caller,
    body: CallStartPayload,
    origin: Option<&str>,
) -> Result<Call, ApiError> {
    let sdp = session_description(&body.sdp.0)?;
    let bucket = format!("calls:{}", caller.user_id);
    super::rate_limit::hit(&app.db, &bucket, app.settings.rate_limits.calls).await?;
    let ring_for = app.settings.call_ring_timeout;
    let started = calls::start(
        &app.db,
        body.chat_id,
        &caller,
        body.kind,
        sdp,
        origin,
        ring_for,
    )
    .await?;
    match started {
        Started::Ringing { call, shown } => {
            super::relay::wake(app, "call:incoming").await;
            if let Some(shown) = shown {
                super::presence::chat_shown(app, shown.by, shown.to).await;
            }
            Ok(call)
        }
        Started::NotFound => Err(ApiError::NotFound("chat")),
        Started::Group => Err(ApiError::Validation(
            "calls are one-to-one: this chat is a group".into(),
        )),
        Started::ToSelf => Err(ApiError::Validation(
            "this is your chat with yourself: there is no one to call".into(),
        )),
        Started::Blocked => Err(ApiError::PermissionDenied(
            "you blocked this user: unblock them to call them".into(),
        )),
        Started::PartnerGone => Err(super::messaging::partner_gone()),
        Started::Busy => Err(ApiError::AlreadyExists(
            "a call is ringing in this chat already".into(),
        )),
    }
}

/// `call:answer`: take a call ringing for the caller.
pub async fn answer(
    app: &App,
    caller: Caller,
    body: CallAnswerPayload,
    origin: Option<&str>,
) -> Result<Call, ApiError> {
    let sdp = session_description(&body.sdp.0)?;
    let ring_for = app.settings.call_ring_timeout;
    match calls::answer(&app.db, body.call_id, &caller, sdp, origin, ring_for).await? {
        Answered::Answered(call) => {
            super::relay::wake(app, "call:answered").await;
            Ok(call)
        }
        Answered::NotFound => Err(ApiError::NotFound("call")),
        Answered::OwnCall => Err(ApiError::PermissionDenied(
            "you cannot answer your own call".into(),
        )),
        Answered::NotRinging { shown } => {
            super::relay::wake(app, "call:ended").await;
            if let Some(shown) = shown {
                super::presence::chat_shown(app, shown.by, shown.to).await;
            }
            Err(ApiError::AlreadyExists(
                "this call was answered or has ended".into(),
            ))
        }
    }
}

/// `call:candidate`: pass an ICE candidate to the other side of a live call (404 from a device
/// with no part in it: another of the caller's, or, once answered, one of the callee's that did
/// not answer).
pub async fn candidate(
    app: &App,
    caller: Caller,
    body: CallCandidatePayload,
    origin: Option<&str>,
) -> Result<CandidateSent, ApiError> {
    let bucket = format!("call-candidates:{}:{}", body.call_id, caller.user_id);
    super::rate_limit::hit(&app.db, &bucket, CANDIDATES_PER_CALL).await?;
    if !calls::candidate(&app.db, body.call_id, &caller, &body.candidate, origin).await? {
        return Err(ApiError::NotFound("call"));
    }
    super::relay::wake(app, "call:candidate").await;
    Ok(CandidateSent {
        call_id: body.call_id,
    })
}

/// `call:end`: hang up, cancel or decline.
pub async fn end(
    app: &App,
    caller: Caller,
    call_id: Uuid,
    origin: Option<&str>,
) -> Result<Call, ApiError> {
    let ended = calls::end(&app.db, call_id, caller.user_id, origin)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    super::relay::wake(app, "call:ended").await;
    if let Some(shown) = ended.shown {
        super::presence::chat_shown(app, shown.by, shown.to).await;
    }
    Ok(ended.call)
}

/// `GET /api/calls?limit&offset`: the caller's call history, newest first.
#[utoipa::path(get, path = "/api/calls", tag = "calls", security(("bearer" = [])),
    params(OffsetPageQuery),
    responses((status = 200, description = "The caller's calls, newest first (those of their 1:1 chats since they were in them)", body = PageEnvelope<Vec<Call>, OffsetPagination>)))]
pub async fn history(
    app: &App,
    caller: Caller,
    q: OffsetPageQuery,
) -> Result<Page<Vec<Call>, OffsetPagination>, ApiError> {
    let (limit, offset) = (q.limit.0, q.offset.0);
    let (items, total) = calls::history(&app.db, caller.user_id, limit, offset).await?;
    let pagination = OffsetPagination::new(limit, offset, items.len(), total);
    Ok(Page { items, pagination })
}

/// `GET /api/calls/ice-servers`: the STUN and TURN servers the caller's devices may use for a
/// call, TURN with credentials of the caller's own that expire (`auth::turn`).
#[utoipa::path(get, path = "/api/calls/ice-servers", tag = "calls", security(("bearer" = [])),
    responses((status = 200, description = "The servers to configure an `RTCPeerConnection` with", body = Envelope<IceServers>)))]
pub async fn ice_servers(app: &App, caller: Caller) -> Result<IceServers, ApiError> {
    let ice = &app.settings.ice;
    let mut servers = Vec::new();
    if !ice.stun_urls.is_empty() {
        servers.push(IceServer {
            urls: ice.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    let mut expires_at = None;
    if let (Some(key), false) = (&ice.turn_key, ice.turn_urls.is_empty()) {
        let expires = chrono::Utc::now() + ice.turn_credential_ttl;
        let (username, credential) = key.credential(caller.user_id, expires);
        servers.push(IceServer {
            urls: ice.turn_urls.clone(),
            username: Some(username),
            credential: Some(credential),
        });
        expires_at = Some(Timestamp(expires));
    }
    Ok(IceServers {
        ice_servers: servers,
        expires_at,
    })
}
