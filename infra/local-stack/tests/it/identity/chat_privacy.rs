//! Chat details show participants through their privacy settings.

use serde_json::{json, Value};

use crate::support::{spawn_app, User};

use super::profiles::set_profile;

#[tokio::test]
async fn chat_details_show_participants_through_their_privacy() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    set_profile(
        &app,
        &bob,
        json!({ "privacySettings": { "lastSeen": "nobody" } }),
    )
    .await;
    let _bob_online = app.ws(&bob.access).await;
    let _alice_online = app.ws(&alice.access).await;
    let online_of = |chat: &Value, user: &User| {
        chat["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == user.id.as_str())
            .unwrap()["isOnline"]
            .clone()
    };
    let as_alice = app
        .get(&format!("/api/chats/{chat}"), Some(&alice.access))
        .await
        .1["data"]
        .clone();
    assert_eq!(
        online_of(&as_alice, &bob),
        false,
        "Bob shows nobody his presence"
    );
    assert_eq!(online_of(&as_alice, &alice), true);
    let as_bob = app
        .get(&format!("/api/chats/{chat}"), Some(&bob.access))
        .await
        .1["data"]
        .clone();
    assert_eq!(online_of(&as_bob, &bob), true, "Bob sees himself");
    assert_eq!(online_of(&as_bob, &alice), true);
    app.stop().await;
}
