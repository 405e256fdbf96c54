//! Identity (accounts, devices, verification, abuse protection, profiles, privacy, blocking,
//! data rights) through the running local stack, one module per area.

mod account_activity;
mod blocking;
mod chat_privacy;
mod credentials;
mod data_rights;
mod own_devices;
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

/// `user` erases their account with their password (`DELETE /api/users/me`), which succeeds.
async fn erase_account(app: &crate::support::TestApp, user: &crate::support::User) {
    let (status, body) = app
        .delete(
            "/api/users/me",
            &user.access,
            serde_json::json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The connection closes within 3 s (events pushed before the close are skipped: the relay may
/// still be delivering something committed just before).
pub(crate) async fn closed(ws: &mut crate::support::WsClient) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.next_message(left).await {
            Some(Message::Close(_)) | None => return true,
            Some(Message::Text(_)) if !left.is_zero() => continue,
            _ => return false,
        }
    }
}

/// Turn two-factor authentication on for `user` (verifying their address first if it is not);
/// the secret's bytes.
async fn enable_two_factor(app: &crate::support::TestApp, user: &crate::support::User) -> Vec<u8> {
    let (_, profile) = app.get("/api/users/profile", Some(&user.access)).await;
    if profile["data"]["isVerified"] != true {
        app.verify_email(user).await;
    }
    let (_, setup) = app
        .post(
            "/api/auth/2fa/setup",
            Some(&user.access),
            serde_json::json!({}),
        )
        .await;
    let raw =
        banter_core::auth::totp::base32_decode(setup["data"]["secret"].as_str().unwrap()).unwrap();
    let code = banter_core::auth::totp::code_at(&raw, chrono::Utc::now().timestamp());
    let (status, body) = app
        .post(
            "/api/auth/2fa/enable",
            Some(&user.access),
            serde_json::json!({ "code": code }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    raw
}
