//! Every size limit on client input, in one place. The REST document states the per-field ones
//! (`maxLength`, `maxItems`, ranges) from the request types that use these; the README's table
//! lists them all.

/// A WebSocket message (API Gateway's limit): larger ones are answered `FILE_TOO_LARGE`.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;
/// A WebSocket message past this closes the connection (1009), as API Gateway's hard limit.
pub const HARD_MAX_FRAME_BYTES: usize = 1024 * 1024;
/// A REST body, refused with 413 before it is decoded (configurable: `max_body_bytes`).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// API Gateway's REST payload limit (the local stack refuses more before buffering it).
pub const MAX_GATEWAY_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;
/// JSON nesting: serde_json refuses deeper input (`INVALID_INPUT`), so parsing cannot exhaust
/// the stack.
pub const MAX_JSON_DEPTH: usize = 127;
/// A `requestId` echoed back in an answer.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// A text message's characters (configurable: `max_message_chars`).
pub const MAX_MESSAGE_CHARS: usize = 65_536;
/// A message's `metadata` object, serialized.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Members of a group, the creator included (configurable: `BANTER_MAX_GROUP_MEMBERS`).
pub const DEFAULT_MAX_GROUP_MEMBERS: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn json_nesting_stops_at_the_stated_depth() {
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_JSON_DEPTH)).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_JSON_DEPTH + 1)).is_err());
    }
}
