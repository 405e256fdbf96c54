//! Blocking, enforced on every path.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::support::spawn_app;

use super::code;
use super::profiles::{alice_username, set_profile};

#[tokio::test]
async fn blocks_are_enforced_on_every_path() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (status, group) = app
        .post(
            "/api/chats",
            Some(&bob.access),
            json!({ "type": "group", "name": "trio", "participantIds": [alice.id, carol.id] }),
        )
        .await;
    assert_eq!(status, 201);
    let group = group["data"]["id"].as_str().unwrap().to_owned();
    app.sent(&bob, &group, "hello before the block").await;
    set_profile(&app, &alice, json!({ "about": "private person" })).await;

    let (status, body) = app
        .post(
            "/api/users/block",
            Some(&alice.access),
            json!({ "userId": alice.id }),
        )
        .await;
    assert_eq!((status, code(&body)), (400, Some("VALIDATION_ERROR")));
    let (status, _) = app
        .post(
            "/api/users/block",
            Some(&alice.access),
            json!({ "userId": Uuid::new_v4() }),
        )
        .await;
    assert_eq!(status, 404);
    app.block(&alice, &bob).await;
    assert_eq!(
        app.get("/api/users/blocked", Some(&alice.access)).await.1["data"][0]["id"],
        bob.id
    );

    let mut alice_ws = app.ws(&alice.access).await;
    let mut carol_ws = app.ws(&carol.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    // 1:1 over WebSocket and REST: refused.
    bob_ws.send_json(json!({ "action": "message:send", "requestId": "b1", "data": { "chatId": chat, "clientMessageId": "b1", "content": "hello?" } })).await;
    let frame = bob_ws.next_json().await;
    assert_eq!(
        (frame["event"].as_str(), frame["data"]["code"].as_str()),
        (Some("error:general"), Some("PERMISSION_DENIED"))
    );
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "b2", "content": "hello?" }),
        )
        .await;
    assert_eq!(status, 403);
    // Alice cannot message Bob either while she blocks him.
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "a1", "content": "hi" }),
        )
        .await;
    assert_eq!(status, 403);
    // In the group, Bob's message reaches Carol, not Alice.
    bob_ws.send_json(json!({ "action": "message:send", "requestId": "b3", "data": { "chatId": group, "clientMessageId": "b3", "content": "group hello" } })).await;
    let ack = bob_ws.next_json().await;
    assert_eq!(ack["event"], "ack");
    let hidden = ack["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        carol_ws.next_event("message:received").await["data"]["message"]["content"],
        "group hello"
    );
    alice_ws.expect_silence(Duration::from_millis(400)).await;
    // What she loads agrees with what she was pushed: her history, search, chat list and sync
    // leave out what Bob sent while she blocked him, and keep what he sent before.
    let texts = |messages: &serde_json::Value| -> Vec<String> {
        let mut texts: Vec<String> = messages
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["content"].as_str().or(m["message"]["content"].as_str()))
            .filter(|t| t.contains("hello"))
            .map(str::to_owned)
            .collect();
        texts.sort();
        texts
    };
    let before = vec!["hello before the block".to_owned()];
    let history = app
        .get(&format!("/api/chats/{group}/messages"), Some(&alice.access))
        .await
        .1;
    assert_eq!(texts(&history["data"]), before, "{history}");
    for (user, found) in [
        (&alice, before.clone()),
        (&carol, vec!["group hello".to_owned(), before[0].clone()]),
    ] {
        let search = app
            .get("/api/messages/search?q=hello", Some(&user.access))
            .await
            .1;
        assert_eq!(texts(&search["data"]), found, "{search}");
    }
    let list = app.get("/api/chats", Some(&alice.access)).await.1;
    let entry = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == group.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        entry["lastMessage"]["content"],
        before[0].as_str(),
        "{entry}"
    );
    let synced = app
        .get("/api/sync?since=0.0&limit=100", Some(&alice.access))
        .await
        .1;
    let received: Vec<serde_json::Value> = synced["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "message:received")
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(texts(&serde_json::Value::Array(received)), before);
    // Nor what he does to others' messages, nor his words quoted by someone else; his hidden
    // message is not there for her to act on.
    let carols = app.sent(&carol, &group, "carol's news").await;
    let path = |id: &str, what: &str| format!("/api/chats/{group}/messages/{id}{what}");
    let (status, _) = app
        .post(
            &path(&carols, "/reactions"),
            Some(&bob.access),
            json!({ "emoji": "😂" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&carol.access),
            json!({ "clientMessageId": "c1", "content": "so true", "replyToId": hidden }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post(
            &path(&hidden, "/reactions"),
            Some(&alice.access),
            json!({ "emoji": "👍" }),
        )
        .await;
    assert_eq!(status, 404, "a message she may not see");
    let seen = app
        .get(&format!("/api/chats/{group}/messages"), Some(&alice.access))
        .await
        .1["data"]
        .clone();
    let of = |text: &str| {
        seen.as_array()
            .unwrap()
            .iter()
            .find(|m| m["content"] == text)
            .unwrap()
            .clone()
    };
    assert_eq!(of("carol's news")["reactions"], json!([]), "{seen}");
    assert_eq!(of("so true")["replyTo"]["content"], serde_json::Value::Null);
    // Pushed, synced and replayed alike.
    let pushed = loop {
        let got = alice_ws.next_event("message:received").await;
        if got["data"]["message"]["content"] == "so true" {
            break got;
        }
    };
    assert_eq!(
        pushed["data"]["message"]["replyTo"]["content"],
        serde_json::Value::Null,
        "{pushed}"
    );
    let reply_in = |events: &[serde_json::Value]| {
        events
            .iter()
            .find(|e| {
                e["event"] == "message:received" && e["data"]["message"]["content"] == "so true"
            })
            .unwrap()["data"]["message"]["replyTo"]
            .clone()
    };
    let (synced, _) = crate::sync::sync_all(&app, &alice, "0.0").await;
    assert_eq!(reply_in(&synced)["content"], serde_json::Value::Null);
    assert_eq!(reply_in(&synced)["id"], hidden.as_str());
    let mut resumed = crate::support::WsClient::connect_since(&app, &alice.access, "0.0")
        .await
        .unwrap();
    let mut replayed = Vec::new();
    while !replayed
        .iter()
        .any(|e: &serde_json::Value| e["data"]["message"]["content"] == "so true")
    {
        replayed.push(resumed.next_event("message:received").await);
    }
    assert_eq!(reply_in(&replayed)["content"], serde_json::Value::Null);
    let (carols_view, _) = crate::sync::sync_all(&app, &carol, "0.0").await;
    assert_eq!(reply_in(&carols_view)["content"], "group hello");
    // An edit carries the message whole: without his reaction for her, with it for Carol.
    let (status, _) = app
        .put(
            &path(&carols, ""),
            &carol.access,
            json!({ "content": "carol's news, edited" }),
        )
        .await;
    assert_eq!(status, 200);
    let edited = alice_ws.next_event("message:edited").await;
    assert_eq!(
        edited["data"]["message"]["reactions"],
        json!([]),
        "{edited}"
    );
    let (for_carol, _) = crate::sync::sync_all(&app, &carol, "0.0").await;
    let edit = for_carol
        .iter()
        .find(|e| e["event"] == "message:edited")
        .unwrap();
    assert_eq!(
        edit["data"]["message"]["reactions"][0]["users"],
        json!([bob.id])
    );
    let for_carol = app
        .get(&format!("/api/chats/{group}/messages"), Some(&carol.access))
        .await
        .1["data"]
        .clone();
    let reply = for_carol
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["content"] == "so true")
        .unwrap()
        .clone();
    assert_eq!(reply["replyTo"]["content"], "group hello", "carol sees it");
    // Bob cannot put Alice in a new group, nor open a new 1:1 chat.
    let (status, _) = app
        .post(
            "/api/chats",
            Some(&bob.access),
            json!({ "type": "group", "name": "again", "participantIds": [alice.id] }),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            "/api/chats",
            Some(&bob.access),
            json!({ "type": "individual", "participantIds": [alice.id] }),
        )
        .await;
    assert_eq!(status, 403);
    // Bob sees none of Alice's presence, picture or about, and does not find her in search.
    let view = app
        .get(&format!("/api/users/{}", alice.id), Some(&bob.access))
        .await
        .1["data"]
        .clone();
    assert_eq!(
        (
            view["about"].is_null(),
            view["lastSeen"].is_null(),
            view["isOnline"].as_bool()
        ),
        (true, true, Some(false)),
        "{view}"
    );
    let name = alice_username(&app, &alice).await;
    let found = app
        .get(
            &format!("/api/users/search?query={name}"),
            Some(&bob.access),
        )
        .await
        .1;
    assert_eq!(found["data"]["total"], 0);

    let (status, _) = app
        .post(
            "/api/users/unblock",
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "b4", "content": "friends again" }),
        )
        .await;
    assert_eq!(status, 201);
    app.stop().await;
}

/// A file shown by a message the blocker does not see (a blocked member's, in a group) is not
/// theirs to open by its id either: 404, as the message is.
#[tokio::test]
async fn a_blocked_members_file_is_not_opened_by_the_blocker() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&carol, "club", &[&alice, &bob]).await;
    app.block(&alice, &bob).await;
    let file = crate::message_features::uploaded(&app, &bob, &group, "image").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "pic", "type": "image", "mediaId": file }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .get(&format!("/api/media/{file}"), Some(&carol.access))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .get(&format!("/api/media/{file}"), Some(&alice.access))
        .await;
    assert_eq!(status, 404, "{body}");
    app.stop().await;
}
