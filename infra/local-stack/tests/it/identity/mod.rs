//! Identity (accounts, devices, verification, abuse protection, profiles, privacy, blocking,
//! data rights) through the running local stack, one module per area.

mod blocking;
mod chat_privacy;
mod data_rights;
mod profiles;
mod sessions;
mod verification;

use std::time::Duration;

use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "correct horse battery";

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

async fn closed(ws: &mut crate::support::WsClient) -> bool {
    matches!(
        ws.next_message(Duration::from_secs(3)).await,
        Some(Message::Close(_)) | None
    )
}
