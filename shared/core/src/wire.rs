//! Shapes that cross the wire outside the REST envelope: WebSocket frames (client actions, acks,
//! `error:general`, server events) and the timestamp format.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// RFC 3339 UTC with millisecond precision, as every timestamp in the API.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

/// A client-to-server WebSocket frame: `{"action", "requestId", "data"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientFrame {
    pub action: String,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub data: Value,
}

/// Longest `requestId` echoed back; longer ones are refused so a client cannot make the server
/// amplify its frames.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// `{"event": "ack", "requestId", "data"}`.
pub fn ack_frame(request_id: Option<&str>, data: Value) -> String {
    json!({ "event": "ack", "requestId": request_id, "data": data }).to_string()
}

/// `{"event": "error:general", "requestId", "data": {"code", "message"}}`.
pub fn error_frame(request_id: Option<&str>, code: &str, message: &str) -> String {
    json!({
        "event": "error:general",
        "requestId": request_id,
        "data": { "code": code, "message": message },
    })
    .to_string()
}

/// A server-to-client event `{"event", "data"}`.
pub fn event_frame(event: &str, data: &Value) -> String {
    json!({ "event": event, "data": data }).to_string()
}
