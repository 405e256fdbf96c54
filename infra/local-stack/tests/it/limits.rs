//! Each input limit (`banter_core::api::limits`) at the limit and one past it.

use banter_core::api::limits::{MAX_BODY_BYTES, MAX_FRAME_BYTES, MAX_MESSAGE_CHARS};
use std::time::Duration;

use serde_json::{json, Value};

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
    // A refusal because the group is full: the request conflicts with the group's state.
    let refused_full = |(status, body): (u16, Value)| {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("RESOURCE_ALREADY_EXISTS")),
            "{body}"
        );
    };
    let members = |chat: String| {
        let (app, alice) = (&app, &alice);
        async move {
            let (_, details) = app
                .get(&format!("/api/chats/{chat}"), Some(&alice.access))
                .await;
            details["data"]["participants"].as_array().unwrap().len()
        }
    };
    let ids: Vec<String> = others.iter().map(|u| u.id.clone()).collect();
    let (status, _) = app
        .post("/api/chats", Some(&alice.access), group(ids[..2].to_vec()))
        .await;
    assert_eq!(status, 201, "three with the creator");
    let (status, body) = app
        .post("/api/chats", Some(&alice.access), group(ids.clone()))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    // A full group refuses one more member as it refuses one more joining by link: the
    // request conflicts with the group's state.
    let (_, created) = app
        .post("/api/chats", Some(&alice.access), group(ids[..2].to_vec()))
        .await;
    let chat = created["data"]["id"].as_str().unwrap();
    refused_full(
        app.post(
            &format!("/api/chats/{chat}/participants"),
            Some(&alice.access),
            json!({ "userId": ids[2] }),
        )
        .await,
    );
    assert_eq!(members(chat.to_owned()).await, 3);

    // Nor does accepting an invitation take it past the limit: someone whose privacy let
    // alice only invite them, invited while there was room, answers once it is full.
    let (status, _) = app
        .put(
            "/api/users/profile",
            &others[2].access,
            json!({ "privacySettings": { "groups": "nobody" } }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, created) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            group(vec![ids[0].clone(), ids[2].clone()]),
        )
        .await;
    let chat = created["data"]["id"].as_str().unwrap();
    assert_eq!(created["data"]["invited"], json!([ids[2]]));
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/participants"),
            Some(&alice.access),
            json!({ "userId": ids[1] }),
        )
        .await;
    assert_eq!(status, 200, "the third member: full now");
    let invitation = format!("/api/chats/{chat}/invitation");
    refused_full(
        app.post(&invitation, Some(&others[2].access), json!({}))
            .await,
    );
    assert_eq!(members(chat.to_owned()).await, 3);
    // The invitation stays, to accept once there is room.
    let member = format!("/api/chats/{chat}/participants/{}", ids[1]);
    assert_eq!(app.delete(&member, &alice.access, json!({})).await.0, 200);
    let (status, body) = app
        .post(&invitation, Some(&others[2].access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

/// Read from a raw HTTP connection until the server closes it; when it did (`None`: still open
/// after `patience`).
async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    patience: Duration,
) -> Option<std::time::Instant> {
    use tokio::io::AsyncReadExt as _;
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(patience, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(std::time::Instant::now()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn idle_http_connections_are_closed_and_websockets_are_not() {
    use tokio::io::AsyncWriteExt as _;
    let idle = Duration::from_millis(600);
    let app = spawn_app_with(|c| c.http_idle_timeout = idle).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // A keep-alive connection that asks once, then sends nothing.
    let mut asked_once = tokio::net::TcpStream::connect(&addr).await.unwrap();
    asked_once
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    // (Its idle time runs from here, while the rest is set up.)
    let asked_at = std::time::Instant::now();
    // A connection that never sends a request.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ws = app.ws(&alice.access).await;

    let closed = closed_within(&mut asked_once, Duration::from_secs(5))
        .await
        .expect("the idle keep-alive connection is closed")
        - asked_at;
    assert!(closed >= idle / 2, "not before it was idle: {closed:?}");
    assert!(
        closed_within(&mut silent, Duration::from_secs(5))
            .await
            .is_some(),
        "a connection that never asks is closed"
    );
    // Upgraded, the WebSocket is not the HTTP server's: it answers after the HTTP idle time.
    tokio::time::sleep(idle * 2).await;
    ws.send_json(json!({ "action": "message:send", "requestId": "after-idle",
                         "data": { "chatId": chat, "clientMessageId": "m1", "content": "still here" } }))
        .await;
    let answer = ws.answer_to("after-idle").await;
    assert_eq!(answer["event"], "ack", "{answer}");
    app.stop().await;
}
