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

/// Decode `%XX` escapes (URL paths, query strings, S3 event keys); malformed escapes are kept.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_decoding() {
        assert_eq!(
            super::percent_decode("uploads/a%20b%2Bc.jpg"),
            "uploads/a b+c.jpg"
        );
        assert_eq!(super::percent_decode("bad%zz%4"), "bad%zz%4");
    }
}
