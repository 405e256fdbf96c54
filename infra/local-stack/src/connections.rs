//! The local stack's live WebSocket connections, the embedded [`ConnectionPush`] adapter over
//! them, and the `@connections/{id}` API (POST, GET, DELETE) in API Gateway's wire format, so
//! `aws-sdk-apigatewaymanagement` pointed at the local stack works unchanged.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use banter_core::ports::{ConnectionPush, PushError};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, Notify};

use crate::aws_calls::AwsCalls;

/// What the connection task is told to do.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
    Binary(Vec<u8>),
    /// Close the connection with this code and reason (a `DELETE @connections/{id}`, a
    /// limit reached, shutdown).
    Close(u16, &'static str),
}

/// Frames buffered per connection. A client that lets them fill up (it does not read) is
/// closed: its memory stays bounded, and the frames it missed are in its sync stream.
const OUTBOUND_BUFFER: usize = 256;

struct Live {
    tx: mpsc::Sender<Outbound>,
    /// Raised when the buffer overflows; the connection's task closes it.
    overflow: Arc<Notify>,
    connected_at: DateTime<Utc>,
    last_active: RwLock<DateTime<Utc>>,
    source_ip: String,
    user_agent: String,
}

#[derive(Clone, Default)]
pub struct Hub {
    live: Arc<RwLock<HashMap<String, Arc<Live>>>>,
}

impl Hub {
    /// Add a connection; returns the receiver its task drains and the signal that its buffer
    /// overflowed. Frames to it go through [`Hub::send`].
    pub fn open(
        &self,
        id: &str,
        source_ip: String,
        user_agent: String,
    ) -> (mpsc::Receiver<Outbound>, Arc<Notify>) {
        let (tx, rx) = mpsc::channel(OUTBOUND_BUFFER);
        let overflow = Arc::new(Notify::new());
        let now = Utc::now();
        let live = Arc::new(Live {
            tx,
            overflow: overflow.clone(),
            connected_at: now,
            last_active: RwLock::new(now),
            source_ip,
            user_agent,
        });
        self.live
            .write()
            .expect("hub lock")
            .insert(id.to_owned(), live);
        (rx, overflow)
    }

    pub fn close(&self, id: &str) {
        self.live.write().expect("hub lock").remove(id);
    }

    /// Ask every live connection to close (shutdown).
    pub fn close_all(&self) {
        for live in self.live.read().expect("hub lock").values() {
            let _ = live
                .tx
                .try_send(Outbound::Close(1001, "Going away: the server is stopping"));
        }
    }

    pub fn touch(&self, id: &str) {
        if let Some(live) = self.get(id) {
            *live.last_active.write().expect("activity lock") = Utc::now();
        }
    }

    fn get(&self, id: &str) -> Option<Arc<Live>> {
        self.live.read().expect("hub lock").get(id).cloned()
    }

    /// Queue a frame for the connection, never waiting: a full buffer closes the connection
    /// (a client that does not read) and the frame is refused.
    pub fn send(&self, id: &str, message: Outbound) -> Result<(), PushError> {
        let live = self.get(id).ok_or(PushError::Gone)?;
        live.tx.try_send(message).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                live.overflow.notify_one();
                PushError::Failed("the connection's send buffer is full; closing it".into())
            }
            mpsc::error::TrySendError::Closed(_) => PushError::Gone,
        })
    }
}

/// How long a push waits for room in a connection's buffer before the client counts as one
/// that does not read (and is closed).
const PUSH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

impl Hub {
    /// Queue a pushed frame, waiting a little for room (a replay pushes many at once to a client
    /// that reads them as fast as the socket allows); a client that still has not made room is
    /// closed.
    async fn push(&self, id: &str, message: Outbound) -> Result<(), PushError> {
        let live = self.get(id).ok_or(PushError::Gone)?;
        live.tx
            .send_timeout(message, PUSH_PATIENCE)
            .await
            .map_err(|e| match e {
                mpsc::error::SendTimeoutError::Timeout(_) => {
                    live.overflow.notify_one();
                    PushError::Failed("the connection does not read its frames; closing it".into())
                }
                mpsc::error::SendTimeoutError::Closed(_) => PushError::Gone,
            })
    }
}

/// The embedded connection push adapter (each post counted as the API Gateway message it is).
pub struct LocalPush {
    pub hub: Hub,
    pub calls: Arc<AwsCalls>,
}

#[async_trait]
impl ConnectionPush for LocalPush {
    async fn post(&self, connection_id: &str, frame: &[u8]) -> Result<(), PushError> {
        let message = match std::str::from_utf8(frame) {
            Ok(text) => Outbound::Text(text.to_owned()),
            Err(_) => Outbound::Binary(frame.to_vec()),
        };
        self.calls.websocket_out();
        self.hub.push(connection_id, message).await
    }

    async fn disconnect(&self, connection_id: &str) -> Result<(), PushError> {
        self.hub
            .send(connection_id, Outbound::Close(1000, "closed by the server"))
    }
}

fn gone() -> Response {
    (
        StatusCode::GONE,
        [
            ("x-amzn-errortype", "GoneException"),
            ("content-type", "application/json"),
        ],
        r#"{"message":"the connection is gone"}"#,
    )
        .into_response()
}

fn push_failed(e: PushError) -> Response {
    match e {
        PushError::Gone => gone(),
        PushError::Failed(message) => (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("x-amzn-errortype", "LimitExceededException"),
                ("content-type", "application/json"),
            ],
            serde_json::json!({ "message": message }).to_string(),
        )
            .into_response(),
    }
}

/// `POST /@connections/{id}`: send the body to the connection as one frame.
pub async fn post_to_connection(
    State(hub): State<Hub>,
    State(calls): State<Arc<AwsCalls>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match (LocalPush { hub, calls }).post(&id, &body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => push_failed(e),
    }
}

/// `GET /@connections/{id}`.
pub async fn get_connection(State(hub): State<Hub>, Path(id): Path<String>) -> Response {
    let Some(live) = hub.get(&id) else {
        return gone();
    };
    let last_active = *live.last_active.read().expect("activity lock");
    let body = serde_json::json!({
        "connectedAt": live.connected_at.to_rfc3339(),
        "lastActiveAt": last_active.to_rfc3339(),
        "identity": { "sourceIp": live.source_ip, "userAgent": live.user_agent },
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

/// `DELETE /@connections/{id}`: close the connection.
pub async fn delete_connection(
    State(hub): State<Hub>,
    State(calls): State<Arc<AwsCalls>>,
    Path(id): Path<String>,
) -> Response {
    match (LocalPush { hub, calls }).disconnect(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => push_failed(e),
    }
}
