//! Each input limit (`banter_core::api::limits`) at the limit and one past it.

use banter_core::api::limits::{MAX_BODY_BYTES, MAX_FRAME_BYTES, MAX_MESSAGE_CHARS};
use serde_json::json;

use crate::support::{spawn_app, spawn_app_with};

#[tokio::test]
async fn message_text_frames_and_bodies_at_and_past_their_limits() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let path = format!("/api/chats/{chat}/messages");

    let (status, body) = app
        .post(
            &path,
            Some(&alice.access),
            json!({ "clientMessageId": "at", "content": "é".repeat(MAX_MESSAGE_CHARS) }),
        )
        .await;
    assert_eq!(status, 201, "characters, not bytes: {}", body["error"]);
    let (status, body) = app
        .post(
            &path,
            Some(&alice.access),
            json!({ "clientMessageId": "past", "content": "é".repeat(MAX_MESSAGE_CHARS + 1) }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );

    // A frame of exactly the limit is read (and answered for what it says); one byte more is not.
    let frame = |size: usize| {
        let shell = json!({ "action": "message:send", "requestId": "big",
                            "data": { "chatId": chat, "clientMessageId": "big", "type": "location", "content": "" } })
            .to_string();
        let filler = "x".repeat(size - shell.len());
        shell.replace(r#""content":"""#, &format!(r#""content":"{filler}""#))
    };
    let mut ws = app.ws(&alice.access).await;
    let at = frame(MAX_FRAME_BYTES);
    assert_eq!(at.len(), MAX_FRAME_BYTES);
    ws.send_text(&at).await;
    let answer = ws.next_json().await;
    assert_eq!(answer["requestId"], "big", "read: {answer:.200}");
    assert_ne!(answer["data"]["code"], "FILE_TOO_LARGE");
    ws.send_text(&frame(MAX_FRAME_BYTES + 1)).await;
    let answer = ws.next_json().await;
    assert_eq!(answer["data"]["code"], "FILE_TOO_LARGE");

    // A REST body: at the limit it is read (and refused for what it says), past it 413.
    let body = |size: usize| {
        let shell = r#"{"email":"","password":"x"}"#;
        shell.replace(
            r#""email":"""#,
            &format!(r#""email":"{}""#, "a".repeat(size - shell.len())),
        )
    };
    let send = |text: String| {
        app.http
            .post(format!("{}/api/auth/register", app.base))
            .header("content-type", "application/json")
            .body(text)
            .send()
    };
    assert_eq!(body(MAX_BODY_BYTES).len(), MAX_BODY_BYTES);
    assert_eq!(
        send(body(MAX_BODY_BYTES)).await.unwrap().status().as_u16(),
        400
    );
    assert_eq!(
        send(body(MAX_BODY_BYTES + 1))
            .await
            .unwrap()
            .status()
            .as_u16(),
        413
    );
    app.stop().await;
}

#[tokio::test]
async fn a_group_holds_at_most_the_configured_members() {
    let app = spawn_app_with(|c| c.settings.max_group_members = 3).await;
    let alice = app.register("alice").await;
    let others = [
        app.register("b").await,
        app.register("c").await,
        app.register("d").await,
    ];
    let group = |ids: Vec<String>| json!({ "type": "group", "name": "g", "participantIds": ids });
    let ids: Vec<String> = others.iter().map(|u| u.id.clone()).collect();
    let (status, _) = app
        .post("/api/chats", Some(&alice.access), group(ids[..2].to_vec()))
        .await;
    assert_eq!(status, 201, "three with the creator");
    let (status, body) = app
        .post("/api/chats", Some(&alice.access), group(ids))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    app.stop().await;
}
