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
    // (What Bob sends her in their 1:1 chat is stored and never reaches her:
    // `a_blocked_users_messages_are_stored_and_never_reach_the_blocker`.)
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
    // Her own edit's answer shows her message as she sees it: without his reaction.
    let alices = app.sent(&alice, &group, "alice's news").await;
    let (status, _) = app
        .post(
            &path(&alices, "/reactions"),
            Some(&bob.access),
            json!({ "emoji": "🙃" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = app
        .put(
            &path(&alices, ""),
            &alice.access,
            json!({ "content": "alice's news, edited" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["reactions"], json!([]), "{answer}");
    let own = alice_ws.next_event("message:edited").await;
    assert_eq!(own["data"]["message"]["id"], alices.as_str(), "{own}");
    assert_eq!(own["data"]["message"]["reactions"], json!([]), "{own}");
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
    // Bob cannot put Alice in a new group, nor add her to one: he is answered that she is
    // invited, as someone whose privacy leaves him out would be, and she is told nothing.
    let (status, body) = app
        .post(
            "/api/chats",
            Some(&bob.access),
            json!({ "type": "group", "name": "again", "participantIds": [alice.id, carol.id] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["invited"], json!([alice.id]), "{body}");
    let again = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        carol_ws.next_event("chat:created").await["data"]["chat"]["id"],
        again.as_str()
    );
    let (status, body) = app
        .post(
            &format!("/api/chats/{again}/participants"),
            Some(&bob.access),
            json!({ "userId": alice.id }),
        )
        .await;
    assert_eq!(
        (status, &body["data"]["status"]),
        (200, &json!("invited")),
        "{body}"
    );
    app.settle().await;
    // (A receipt of her own earlier messages may still come: it is not about this group.)
    alice_ws
        .expect_nothing_about(&again, Duration::from_millis(400))
        .await;
    let (_, invitations) = app.get("/api/chats/invitations", Some(&alice.access)).await;
    assert_eq!(invitations["data"], json!([]), "{invitations}");
    // Adding her to a group she is in answers as it would anyone's.
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/participants"),
            Some(&bob.access),
            json!({ "userId": alice.id }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
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

    app.unblock(&alice, &bob).await;
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

/// Someone blocked is not told so by a refusal (WhatsApp's single tick): what they send the
/// blocker in a 1:1 chat is stored and answered, reaches their own other devices, and never
/// reaches the blocker: not pushed, not notified, not in their history, list, unread count or
/// sync, and not after an unblock either. The blocker is refused, and told why.
#[tokio::test]
async fn a_blocked_users_messages_are_stored_and_never_reach_the_blocker() {
    use crate::notifications::{notified, register_phone_token};
    use crate::sync::{present, sync_all};
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&bob, &alice).await;
    app.sent(&bob, &chat, "hello before the block").await;
    let alice_phone = app.login(&alice).await;
    assert_eq!(register_phone_token(&app, &alice_phone).await, 200);
    app.block(&alice, &bob).await;
    let unread = app.chat_row(&alice, &chat).await["unreadCount"].clone();
    let since = present(&app, &alice).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut bob_tablet = app.ws(&app.login(&bob).await.access).await;

    // Over the WebSocket and REST alike, stored and answered as any message.
    let ack = bob_ws
        .act(
            "message:send",
            json!({ "chatId": chat, "clientMessageId": "b1", "content": "hello?" }),
        )
        .await;
    assert_eq!(ack["event"], "ack", "{ack}");
    let hidden = ack["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ack["data"]["status"], "sent");
    let own = bob_tablet.next_event("message:received").await;
    assert_eq!(
        (
            own["data"]["message"]["id"].as_str(),
            own["data"]["chatId"].as_str()
        ),
        (Some(hidden.as_str()), Some(chat.as_str())),
        "his other device has it: {own}"
    );
    let (status, body) = app.send_text(&bob, &chat, "anyone there").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        bob_tablet.next_event("message:received").await["data"]["message"]["content"],
        "anyone there"
    );
    // Alice is told nothing, and her answers leave both out.
    alice_ws.expect_silence(Duration::from_millis(400)).await;
    let texts = |messages: &serde_json::Value| -> Vec<String> {
        messages
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["content"].as_str())
            .map(str::to_owned)
            .collect()
    };
    let path = format!("/api/chats/{chat}/messages");
    let history_of = |user: String| {
        let (app, path) = (&app, &path);
        async move { texts(&app.get(path, Some(user.as_str())).await.1["data"]) }
    };
    let before = vec!["hello before the block".to_owned()];
    assert_eq!(history_of(alice.access.clone()).await, before);
    let row = app.chat_row(&alice, &chat).await;
    assert_eq!(
        (&row["lastMessage"]["content"], &row["unreadCount"]),
        (&json!(before[0]), &unread),
        "{row}"
    );
    let (events, _) = sync_all(&app, &alice, &since).await;
    assert!(
        !events.iter().any(|e| e["event"] == "message:received"),
        "{events:?}"
    );
    // He may edit it, as any message of his; the edit reaches her no more than it did.
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}/messages/{hidden}"),
            &bob.access,
            json!({ "content": "hello??" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        bob_tablet.next_event("message:edited").await["data"]["message"]["content"],
        "hello??"
    );
    alice_ws.expect_silence(Duration::from_millis(400)).await;
    // Nor is it delivered to her, so Bob's ticks stay single.
    let (_, info) = app
        .get(
            &format!("/api/chats/{chat}/messages/{hidden}/info"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(info["data"]["recipients"][0]["status"], "sent", "{info}");
    // Alice may not message Bob while she blocks him, and is told why.
    let (status, body) = app.send_text(&alice, &chat, "hi").await;
    crate::support::assert_told_to_unblock(status, &body);

    // Unblocked, she gets what he sends from then on, and never what he sent while blocked:
    // not in her history, her sync from before, nor as a notification.
    app.unblock(&alice, &bob).await;
    app.sent(&bob, &chat, "friends again").await;
    assert_eq!(
        alice_ws.next_event("message:received").await["data"]["message"]["content"],
        "friends again"
    );
    let notices = notified(&app, "friends again").await;
    assert!(
        !notices.iter().any(|n| n == "hello?" || n == "anyone there"),
        "{notices:?}"
    );
    assert_eq!(
        history_of(alice.access.clone()).await,
        ["hello before the block", "friends again"]
    );
    let (events, _) = sync_all(&app, &alice, &since).await;
    let synced: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "message:received")
        .map(|e| &e["data"]["message"]["content"])
        .collect();
    assert_eq!(synced, [&json!("friends again")], "{events:?}");
    assert_eq!(
        history_of(bob.access.clone()).await,
        [
            "hello before the block",
            "hello??",
            "anyone there",
            "friends again"
        ],
        "his own history keeps all he sent"
    );
    // She reads what she has: what she never got stays one tick for him (sent), in his
    // history and its info, though her receipts pass it.
    let latest = app.get(&path, Some(&alice.access)).await.1["data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app
        .post(
            &format!("{path}/{latest}/read"),
            Some(&alice.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, his) = app.get(&path, Some(&bob.access)).await;
    let ticks: Vec<(&str, &str)> = his["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["content"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ticks,
        [
            ("hello before the block", "read"),
            ("hello??", "sent"),
            ("anyone there", "sent"),
            ("friends again", "read")
        ]
    );
    let (_, info) = app
        .get(&format!("{path}/{hidden}/info"), Some(&bob.access))
        .await;
    let recipient = &info["data"]["recipients"][0];
    assert_eq!(
        (
            &recipient["status"],
            &recipient["deliveredAt"],
            &recipient["readAt"]
        ),
        (
            &json!("sent"),
            &serde_json::Value::Null,
            &serde_json::Value::Null
        ),
        "{info}"
    );
    app.stop().await;
}

/// A chat with someone who blocks you opens (a refusal would tell the block), and what you
/// send there never puts it in their list, even after they unblock you, until your next
/// message.
#[tokio::test]
async fn a_chat_opened_by_someone_blocked_stays_out_of_the_blockers_list() {
    let app = spawn_app().await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    app.block(&carol, &dave).await;
    let _carol_online = app.ws(&carol.access).await;
    let mut dave_ws = app.ws(&dave.access).await.with_presence();
    let chat = app.open_chat(&dave, &carol).await;
    app.sent(&dave, &chat, "hi carol").await;
    app.sent(&dave, &chat, "it's dave").await;
    // Nor does the chat show him her presence, as nothing of her profile is shown him (his
    // devices get only the chat and his messages).
    app.settle().await;
    let mut told = Vec::new();
    while let Some(frame) = dave_ws.next_message(Duration::from_millis(400)).await {
        let frame: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        told.push(frame["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        told,
        ["chat:created", "message:received", "message:received"],
        "{told:?}"
    );
    let listed = |user: String| {
        let app = &app;
        async move {
            let (_, list) = app.get("/api/chats", Some(user.as_str())).await;
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["id"].as_str().map(str::to_owned))
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(listed(dave.access.clone()).await, [chat.as_str()]);
    assert_eq!(listed(carol.access.clone()).await, Vec::<String>::new());
    // Carol may not open it while she blocks him.
    let (status, body) = app
        .post(
            "/api/chats",
            Some(&carol.access),
            json!({ "type": "individual", "participantIds": [dave.id] }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    app.unblock(&carol, &dave).await;
    assert_eq!(
        listed(carol.access.clone()).await,
        Vec::<String>::new(),
        "unblocking shows her nothing he sent while blocked"
    );
    app.sent(&dave, &chat, "still there?").await;
    assert_eq!(listed(carol.access.clone()).await, [chat.as_str()]);
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&carol.access))
        .await;
    let texts: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(texts, ["still there?"], "{history}");
    app.stop().await;
}

/// What is kept from a blocker (the messages and calls of someone they block) leaves their chat
/// list as it was: the chat keeps its place and its time, listed or opened, and moves up with
/// the next message they see. The sender's own list moves it up as any message does.
#[tokio::test]
async fn what_is_kept_from_a_blocker_leaves_their_chat_list_as_it_was() {
    let app =
        crate::support::spawn_app_with(|c| c.settings.call_ring_timeout = Duration::from_secs(1))
            .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let with_bob = app.open_chat_written(&bob, &alice).await;
    let with_carol = app.open_chat_written(&carol, &alice).await;
    app.block(&alice, &bob).await;
    let order = |user: &crate::support::User| {
        let (app, token) = (&app, user.access.clone());
        async move {
            let (status, list) = app.get("/api/chats", Some(&token)).await;
            assert_eq!(status, 200, "{list}");
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let opened = |user: &crate::support::User| {
        let (app, token, path) = (&app, user.access.clone(), format!("/api/chats/{with_bob}"));
        async move {
            let (status, chat) = app.get(&path, Some(&token)).await;
            assert_eq!(status, 200, "{chat}");
            chat["data"]["updatedAt"].clone()
        }
    };
    assert_eq!(
        order(&alice).await,
        [with_carol.as_str(), with_bob.as_str()]
    );
    let listed_at = app.chat_row(&alice, &with_bob).await["updatedAt"].clone();
    let opened_at = opened(&alice).await;

    // Two messages of Bob's and a call of his, rung out, all kept from her.
    app.sent(&bob, &with_bob, "hello?").await;
    app.sent(&bob, &with_bob, "anyone there").await;
    let mut bob_ws = app.ws(&bob.access).await;
    let start = json!({ "chatId": with_bob, "kind": "audio", "sdp": "v=0\r\n" });
    let call = bob_ws.act("call:start", start).await;
    assert_eq!(call["event"], "ack", "{call}");
    bob_ws.next_event("call:ended").await;
    assert_eq!(
        order(&alice).await,
        [with_carol.as_str(), with_bob.as_str()]
    );
    assert_eq!(
        app.chat_row(&alice, &with_bob).await["updatedAt"],
        listed_at
    );
    assert_eq!(opened(&alice).await, opened_at);
    assert_eq!(order(&bob).await[0], with_bob, "his own list moves it up");

    // Unblocked, his next message moves it up in hers.
    app.unblock(&alice, &bob).await;
    app.sent(&bob, &with_bob, "friends again").await;
    assert_eq!(
        order(&alice).await,
        [with_bob.as_str(), with_carol.as_str()]
    );
    app.stop().await;
}

/// A 1:1 chat's disappearing-messages timer is both members': across a block neither changes
/// it. The blocker is told to unblock first; someone blocked is refused (it would make the
/// blocker's messages disappear by a change they never saw).
#[tokio::test]
async fn a_timer_is_not_changed_across_a_block() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat_written(&alice, &bob).await;
    app.block(&alice, &bob).await;
    let path = format!("/api/chats/{chat}");
    let day = json!({ "disappearingSeconds": 86400 });
    let (status, body) = app.put(&path, &alice.access, day.clone()).await;
    crate::support::assert_told_to_unblock(status, &body);
    let (status, body) = app.put(&path, &bob.access, day.clone()).await;
    assert_eq!(status, 403, "{body}");
    for user in [&alice, &bob] {
        let (status, chat) = app.get(&path, Some(&user.access)).await;
        assert_eq!(status, 200, "{chat}");
        assert_eq!(chat["data"]["disappearingSeconds"], 0, "{chat}");
    }
    // Their own settings are theirs alone, and change across a block.
    let (status, body) = app
        .put(
            &path,
            &bob.access,
            json!({ "settings": { "archived": true } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.unblock(&alice, &bob).await;
    let (status, body) = app.put(&path, &bob.access, day).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["disappearingSeconds"], 86400);
    app.stop().await;
}
