//! API Gateway WebSocket emulation: the `$connect` authorizer (401 at the handshake), `$connect`
//! and `$disconnect` events, route selection on `$request.body.action`, route responses sent
//! back to the client, and API Gateway's limits (128 KB messages, 10 minutes idle, 2 hours per
//! connection). A client that does not read its frames is closed (1008) once its bounded send
//! buffer is full, so it holds neither tasks nor memory.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use banter_core::api::ws::ReplyFrame;
use banter_core::ApiError;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, Notify};

use crate::connections::Outbound;
use crate::rest::header_maps;
use crate::stack::Shared;

/// API Gateway's WebSocket limits, shortened in tests.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    /// Largest message handed to a route (bigger ones get `error:general`).
    pub max_message: usize,
    /// Largest message read at all; a bigger one closes the connection (1009).
    pub hard_max_message: usize,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    /// Frames a connection may send per second, valid or not, before any is dispatched...
    pub frames_per_second: f64,
    /// ...with this many at once; past it a frame is answered `RATE_LIMIT_EXCEEDED` undispatched.
    pub frame_burst: f64,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            max_message: banter_core::api::limits::MAX_FRAME_BYTES,
            hard_max_message: banter_core::api::limits::HARD_MAX_FRAME_BYTES,
            idle_timeout: Duration::from_secs(10 * 60),
            max_lifetime: Duration::from_secs(2 * 3600),
            frames_per_second: 50.0,
            frame_burst: 100.0,
        }
    }
}

/// A token bucket: `burst` frames at once, refilled at `rate` per second.
struct FrameBudget {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: tokio::time::Instant,
}

impl FrameBudget {
    fn new(limits: &WsLimits) -> Self {
        Self {
            tokens: limits.frame_burst,
            rate: limits.frames_per_second,
            burst: limits.frame_burst,
            at: tokio::time::Instant::now(),
        }
    }

    /// Spend one frame's token, if there is one.
    fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The answer to a frame past the connection's budget, to the `requestId` it carries (read
/// without dispatching anything).
fn over_budget(text: Option<&str>) -> String {
    let request_id = text
        .filter(|t| t.len() <= banter_core::api::limits::MAX_FRAME_BYTES)
        .and_then(|t| match banter_core::api::ws::ClientFrame::parse(t) {
            Ok(frame) => frame.request_id,
            // (Readable enough to answer: a lone surrogate, say.)
            Err(unreadable) => unreadable.request_id,
        });
    let limited = ApiError::RateLimited {
        retry_after_secs: 1,
    };
    ReplyFrame::error(request_id.as_deref(), &limited).to_text()
}

/// What identifies one connection in the events it produces.
#[derive(Clone)]
struct Connection {
    id: String,
    connected_at: i64,
    source_ip: String,
    user_agent: String,
    /// `requestContext.authorizer`: the principal and the authorizer's context.
    authorizer: Value,
}

fn new_connection_id() -> String {
    // API Gateway's ids look like `L0SM9cOFvHcCIhw=`: 15 characters and a pad.
    use base64::Engine;
    let raw = uuid::Uuid::new_v4();
    format!(
        "{}=",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw.as_bytes()[..11])
    )
}

fn request_context(
    shared: &Shared,
    conn: &Connection,
    route_key: &str,
    event_type: &str,
) -> Map<String, Value> {
    let now = chrono::Utc::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut ctx = Map::new();
    ctx.insert("routeKey".into(), json!(route_key));
    ctx.insert("eventType".into(), json!(event_type));
    ctx.insert("messageDirection".into(), json!("IN"));
    ctx.insert("extendedRequestId".into(), json!(request_id));
    ctx.insert("requestId".into(), json!(request_id));
    ctx.insert(
        "requestTime".into(),
        json!(now.format("%d/%b/%Y:%H:%M:%S %z").to_string()),
    );
    ctx.insert("requestTimeEpoch".into(), json!(now.timestamp_millis()));
    ctx.insert("stage".into(), json!(shared.stage));
    ctx.insert("domainName".into(), json!(shared.domain));
    ctx.insert("apiId".into(), json!("local"));
    ctx.insert("connectionId".into(), json!(conn.id));
    ctx.insert("connectedAt".into(), json!(conn.connected_at));
    ctx.insert(
        "identity".into(),
        json!({ "sourceIp": conn.source_ip, "userAgent": conn.user_agent }),
    );
    if !conn.authorizer.is_null() {
        ctx.insert("authorizer".into(), conn.authorizer.clone());
    }
    if event_type == "MESSAGE" {
        ctx.insert(
            "messageId".into(),
            json!(uuid::Uuid::new_v4().simple().to_string()),
        );
    }
    ctx
}

/// `GET /ws?token=...`: authorize, run `$connect`, then upgrade.
pub async fn upgrade(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let mut conn = Connection {
        id: new_connection_id(),
        connected_at: chrono::Utc::now().timestamp_millis(),
        source_ip: peer.ip().to_string(),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        authorizer: Value::Null,
    };
    let (headers, multi_headers) = header_maps(&headers);
    let (query, multi_query) = crate::rest::query_maps(query.as_deref());

    if let Some(authorizer) = &shared.template.ws_authorizer {
        let mut event = json!({
            "type": "REQUEST",
            "methodArn": format!("arn:aws:execute-api:local:000000000000:local/{}/$connect", shared.stage),
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "stageVariables": {},
        });
        event["requestContext"] =
            Value::Object(request_context(&shared, &conn, "$connect", "CONNECT"));
        match shared.invoke(authorizer, event).await {
            Ok(answer) => {
                let allowed = answer["policyDocument"]["Statement"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty() && s.iter().all(|st| st["Effect"] == "Allow"));
                if !allowed {
                    return (StatusCode::FORBIDDEN, "Forbidden").into_response();
                }
                let mut context = answer["context"].as_object().cloned().unwrap_or_default();
                context.insert("principalId".into(), answer["principalId"].clone());
                conn.authorizer = Value::Object(context);
            }
            Err(e) if e.contains("Unauthorized") => {
                return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response()
            }
            Err(e) => {
                tracing::error!(error = %e, "authorizer failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
                    .into_response();
            }
        }
    }

    // In the hub before `$connect` runs, so a push sent while it runs is queued, not lost.
    let (rx, overflow) = shared
        .hub
        .open(&conn.id, conn.source_ip.clone(), conn.user_agent.clone());
    if let Some(route) = shared.template.websocket.get("$connect") {
        let mut ctx = request_context(&shared, &conn, "$connect", "CONNECT");
        ctx.remove("messageId");
        let mut event = json!({
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "isBase64Encoded": false,
        });
        event["requestContext"] = Value::Object(ctx);
        let status = match shared.invoke(&route.function, event).await {
            Ok(answer) => answer["statusCode"].as_u64().unwrap_or(200) as u16,
            Err(e) => {
                tracing::error!(error = %e, "$connect failed");
                500
            }
        };
        if !(200..300).contains(&status) {
            shared.hub.close(&conn.id);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            return (status, status.canonical_reason().unwrap_or("Refused")).into_response();
        }
    }
    let limits = shared.limits;
    let failed = shared.clone();
    let failed_conn = conn.clone();
    // Each connection's read buffer is allocated at its first read and kept while it is idle:
    // 1 KiB holds a typical frame (a larger one is read in several), where 4 KiB made an idle
    // connection cost 21 KiB (`banter-bench`, 1,000 connections; 17.6 KiB now).
    ws.read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(limits.hard_max_message)
        .max_frame_size(limits.hard_max_message)
        .on_failed_upgrade(move |e| {
            tracing::info!(error = %e, "upgrade failed after $connect");
            tokio::spawn(
                async move { disconnect(&failed, &failed_conn, 1006, "upgrade failed").await },
            );
        })
        .on_upgrade(move |socket| run(shared, socket, conn, rx, overflow))
}

/// One connection's life: frames in, frames out, until either side closes or a limit is hit.
async fn run(
    shared: Shared,
    socket: WebSocket,
    conn: Connection,
    mut rx: mpsc::Receiver<Outbound>,
    overflow: Arc<Notify>,
) {
    shared.live_connections.fetch_add(1, Ordering::AcqRel);
    let (mut sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let result = match out {
                Outbound::Text(text) => sink.send(Message::Text(text.into())).await,
                Outbound::Binary(bytes) => sink.send(Message::Binary(bytes.into())).await,
                Outbound::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
            };
            if result.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let limits = shared.limits;
    let mut budget = FrameBudget::new(&limits);
    let deadline = tokio::time::Instant::now() + limits.max_lifetime;
    // A finished JoinHandle must not be polled again.
    let mut writer_done = false;
    let (code, reason): (u16, &'static str) = loop {
        let next = tokio::select! {
            next = tokio::time::timeout(limits.idle_timeout, stream.next()) => next,
            _ = tokio::time::sleep_until(deadline) => break (1001, "Going away: the connection reached its maximum duration"),
            _ = &mut writer => {
                writer_done = true;
                break (1000, "closed by the server");
            }
            _ = overflow.notified() => break (1008, "Policy violation: the client does not read its frames"),
        };
        match next {
            Err(_) => break (1001, "Going away: idle timeout"),
            Ok(None) => break (1006, "the client went away"),
            Ok(Some(Err(_))) => break (1009, "the client sent an oversized or invalid frame"),
            Ok(Some(Ok(Message::Close(frame)))) => {
                break (
                    frame.map(|f| f.code).unwrap_or(1005),
                    "the client closed the connection",
                );
            }
            Ok(Some(Ok(Message::Text(text)))) => {
                shared.hub.touch(&conn.id);
                if !budget.take() {
                    reply(&shared, &conn.id, over_budget(Some(text.as_str())));
                    continue;
                }
                on_message(&shared, &conn, text.as_str());
            }
            Ok(Some(Ok(Message::Binary(_)))) => {
                shared.hub.touch(&conn.id);
                if !budget.take() {
                    reply(&shared, &conn.id, over_budget(None));
                    continue;
                }
                let unsupported = ApiError::InvalidInput("binary frames are not supported".into());
                reply(
                    &shared,
                    &conn.id,
                    ReplyFrame::error(None, &unsupported).to_text(),
                );
            }
            Ok(Some(Ok(_))) => shared.hub.touch(&conn.id),
        }
    };
    if code == 1001 || code == 1008 {
        let _ = shared.hub.send(&conn.id, Outbound::Close(code, reason));
    }
    // Out of the hub, the sender is dropped: the writer drains what is queued and stops.
    shared.hub.close(&conn.id);
    if !writer_done
        && tokio::time::timeout(Duration::from_secs(2), &mut writer)
            .await
            .is_err()
    {
        // A client that does not read keeps the writer waiting on its socket.
        writer.abort();
    }
    disconnect(&shared, &conn, code, reason).await;
    shared.live_connections.fetch_sub(1, Ordering::AcqRel);
}

/// Route selection on `$request.body.action`: a custom route when the frame is a JSON object
/// whose `action` names one, `$default` otherwise.
fn select_route<'a>(
    shared: &'a Shared,
    text: &str,
) -> Option<(&'a str, &'a crate::template::WsRoute)> {
    #[derive(serde::Deserialize)]
    struct Action {
        action: Option<String>,
    }
    let action = serde_json::from_str::<Action>(text)
        .ok()
        .and_then(|a| a.action);
    let custom = action
        .filter(|a| !a.starts_with('$'))
        .and_then(|a| shared.template.websocket.get_key_value(a.as_str()));
    custom
        .or_else(|| shared.template.websocket.get_key_value("$default"))
        .map(|(k, v)| (k.as_str(), v))
}

/// Send a frame to the connection (a full buffer closes it; a closed one drops the frame).
fn reply(shared: &Shared, connection_id: &str, frame: String) {
    shared.aws_calls.websocket_out();
    if shared
        .hub
        .send(connection_id, Outbound::Text(frame))
        .is_err()
    {
        tracing::debug!("a frame for a closing connection was dropped");
    }
}

fn on_message(shared: &Shared, conn: &Connection, text: &str) {
    if text.len() > shared.limits.max_message {
        let too_large = ApiError::TooLarge("a message is at most 128 KB".into());
        reply(
            shared,
            &conn.id,
            ReplyFrame::error(None, &too_large).to_text(),
        );
        return;
    }
    let Some((route_key, route)) = select_route(shared, text) else {
        let no_route = ApiError::InvalidInput("no route for this frame".into());
        reply(
            shared,
            &conn.id,
            ReplyFrame::error(None, &no_route).to_text(),
        );
        return;
    };
    shared.aws_calls.websocket_in();
    let mut event = json!({ "body": text, "isBase64Encoded": false });
    // Moved in: `json!` would serialize the context into a copy of itself.
    event["requestContext"] = Value::Object(request_context(shared, conn, route_key, "MESSAGE"));
    let (shared, function, two_way, conn_id) = (
        shared.clone(),
        route.function.clone(),
        route.two_way,
        conn.id.clone(),
    );
    // API Gateway invokes the integration for each message independently.
    tokio::spawn(async move {
        match shared.invoke(&function, event).await {
            Ok(answer) => {
                if let (true, Some(body)) = (two_way, answer["body"].as_str()) {
                    reply(&shared, &conn_id, body.to_owned());
                }
            }
            Err(e) => {
                tracing::error!(%function, error = %e, "route integration failed");
                let frame = json!({ "message": "Internal server error", "connectionId": conn_id, "requestId": uuid::Uuid::new_v4() });
                reply(&shared, &conn_id, frame.to_string());
            }
        }
    });
}

async fn disconnect(shared: &Shared, conn: &Connection, code: u16, reason: &str) {
    let Some(route) = shared.template.websocket.get("$disconnect") else {
        return;
    };
    let mut ctx = request_context(shared, conn, "$disconnect", "DISCONNECT");
    ctx.remove("messageId");
    ctx.insert("disconnectStatusCode".into(), json!(code));
    ctx.insert("disconnectReason".into(), json!(reason));
    let mut event = json!({ "isBase64Encoded": false });
    event["requestContext"] = Value::Object(ctx);
    if let Err(e) = shared.invoke(&route.function, event).await {
        tracing::error!(error = %e, "$disconnect failed");
    }
}
