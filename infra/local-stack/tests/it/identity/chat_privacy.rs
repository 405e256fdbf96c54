//! Chat details show participants through their privacy settings.

use serde_json::{json, Value};

use crate::support::{spawn_app, User, WsClient};

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
    assert_eq!(
        online_of(&as_bob, &alice),
        false,
        "hiding his own, Bob sees nobody's (as no user:online of hers reaches him)"
    );
    app.stop().await;
}

/// Presence is shared both ways, as WhatsApp's is: someone who shows their own last seen only to
/// their contacts sees no one else's, over REST or live, until that one is a contact.
#[tokio::test]
async fn who_shows_their_presence_to_contacts_only_sees_only_their_contacts() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.open_chat_written(&alice, &bob).await;
    set_profile(
        &app,
        &alice,
        json!({ "privacySettings": { "lastSeen": "contacts" } }),
    )
    .await;
    let mut alice_ws = app.ws(&alice.access).await.with_presence();
    let mut bob_ws = app.ws(&bob.access).await;
    let online = |viewer: &User, user: &User| {
        let (app, token, path) = (
            &app,
            viewer.access.clone(),
            format!("/api/users/{}", user.id),
        );
        async move { app.get(&path, Some(&token)).await.1["data"]["isOnline"].clone() }
    };
    // Bob shows everyone his presence, but Alice does not show him hers.
    assert_eq!(online(&alice, &bob).await, false);
    assert_eq!(online(&bob, &alice).await, false);
    away_and_back(&mut bob_ws).await;
    alice_ws
        .expect_nothing_about(&bob.id, std::time::Duration::from_millis(500))
        .await;

    // Bob is her contact now: both see each other.
    let (status, body) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["user"]["isOnline"], true,
        "its answer too: {body}"
    );
    assert_eq!(online(&alice, &bob).await, true);
    assert_eq!(online(&bob, &alice).await, true);
    away_and_back(&mut bob_ws).await;
    let told = alice_ws.next_event("user:offline").await;
    assert_eq!(told["data"]["userId"], bob.id.as_str(), "{told}");
    app.stop().await;
}

/// The device goes idle and is in use again: its user goes offline, then online.
async fn away_and_back(ws: &mut WsClient) {
    ws.act("user:offline", json!({})).await;
    ws.act("user:online", json!({})).await;
}

#[tokio::test]
async fn delivery_receipts_do_not_reveal_a_hidden_presence() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    set_profile(
        &app,
        &bob,
        json!({ "privacySettings": { "lastSeen": "nobody", "readReceipts": false } }),
    )
    .await;
    let with_bob = app.open_chat(&alice, &bob).await;
    let with_carol = app.open_chat(&alice, &carol).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let _bob_online = app.ws(&bob.access).await;
    let _carol_online = app.ws(&carol.access).await;
    let mut sent = Vec::new();
    for (chat, id) in [(&with_bob, "to-bob"), (&with_carol, "to-carol")] {
        let (status, body) = app
            .post(
                &format!("/api/chats/{chat}/messages"),
                Some(&alice.access),
                json!({ "clientMessageId": id, "content": "there?" }),
            )
            .await;
        assert_eq!(status, 201);
        sent.push(body["data"]["id"].as_str().unwrap().to_owned());
    }
    // Carol shows her presence: her tick arrives. Bob hides his: none about him does.
    let delivered = alice_ws.next_event("message:delivered").await;
    assert_eq!(
        delivered["data"]["deliveredTo"],
        json!([carol.id]),
        "{delivered}"
    );
    alice_ws
        .expect_silence(std::time::Duration::from_millis(400))
        .await;
    let status_in = |chat: String| {
        let app = &app;
        let token = alice.access.clone();
        async move {
            app.get(&format!("/api/chats/{chat}/messages"), Some(&token))
                .await
                .1["data"][0]["status"]
                .clone()
        }
    };
    assert_eq!(status_in(with_carol.clone()).await, "delivered");
    assert_eq!(
        status_in(with_bob.clone()).await,
        "sent",
        "the history does not show it either"
    );
    // Bob reads, sharing no read receipts: the delivery shows now, live as in the history,
    // and the read does not.
    let (status, _) = app
        .post(
            &format!("/api/chats/{with_bob}/messages/{}/read", sent[0]),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let delivered = alice_ws.next_event("message:delivered").await;
    assert_eq!(
        delivered["data"]["deliveredTo"],
        json!([bob.id]),
        "{delivered}"
    );
    assert_eq!(delivered["data"]["messageId"], sent[0].as_str());
    assert_eq!(status_in(with_bob.clone()).await, "delivered");
    alice_ws
        .expect_silence(std::time::Duration::from_millis(400))
        .await;
    app.stop().await;
}

/// Opening a 1:1 chat shows the other person nothing, as in WhatsApp: no `chat:created`, live
/// or in sync, no empty chat in their list and no typing in it, until its first message (which
/// brings them). The opener's own devices are told at once. (Nor the opener's presence:
/// `opening_a_chat_tells_its_presence_with_its_first_message`.)
#[tokio::test]
async fn opening_a_chat_shows_the_other_nothing_until_its_first_message() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let since = crate::sync::present(&app, &bob).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut alice_phone = app.ws(&app.login(&alice).await.access).await;
    let chat = app.open_chat(&alice, &bob).await;
    let told = alice_phone.next_event("chat:created").await;
    assert_eq!(told["data"]["chat"]["id"], chat.as_str(), "{told}");
    let typing = alice_phone
        .act("message:typing", json!({ "chatId": chat }))
        .await;
    assert_eq!(typing["event"], "ack", "{typing}");
    bob_ws
        .expect_silence(std::time::Duration::from_millis(400))
        .await;
    let listed = |user: &User| {
        let (app, user) = (&app, user.clone());
        async move {
            let (_, list) = app.get("/api/chats", Some(&user.access)).await;
            list["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(listed(&bob).await, 0);
    assert_eq!(listed(&alice).await, 1, "hers at once");
    let names = |events: Vec<Value>| -> Vec<String> {
        events
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect()
    };
    let (events, since) = crate::sync::sync_all(&app, &bob, &since).await;
    let told = names(events);
    assert!(!told.contains(&"chat:created".to_owned()), "{told:?}");
    // Bob opening the same chat himself shows it to him, on each of his devices.
    let bob_phone = app.login(&bob).await;
    let mut bob_phone_ws = app.ws(&bob_phone.access).await;
    assert_eq!(app.open_chat(&bob_phone, &alice).await, chat);
    let told = bob_phone_ws.next_event("chat:created").await;
    assert_eq!(told["data"]["chat"]["id"], chat.as_str(), "{told}");
    assert_eq!(listed(&bob).await, 1);
    bob_ws.next_event("chat:created").await;
    let (status, _) = app
        .delete(&format!("/api/chats/{chat}"), &bob.access, json!({}))
        .await;
    assert_eq!(status, 200, "deleted for himself: out of his list again");
    assert_eq!(listed(&bob).await, 0);
    bob_ws.next_event("chat:deleted").await;

    // Her first message brings it back: the chat, then the message, on his devices alone.
    let alice_since = crate::sync::present(&app, &alice).await;
    app.sent(&alice, &chat, "hi bob").await;
    let shown = bob_ws.next_json().await;
    assert_eq!(shown["event"], "chat:created", "{shown}");
    assert_eq!(shown["data"]["chat"]["id"], chat.as_str(), "{shown}");
    let got = bob_ws.next_json().await;
    assert_eq!(got["event"], "message:received", "{got}");
    assert_eq!(got["data"]["chatId"], chat.as_str());
    let (events, _) = crate::sync::sync_all(&app, &alice, &alice_since).await;
    assert!(
        !names(events).contains(&"chat:created".to_owned()),
        "she has it"
    );
    // (Past the typing throttle, typing again now reaches him.)
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    alice_phone
        .act("message:typing", json!({ "chatId": chat }))
        .await;
    bob_ws.next_event("message:typing").await;
    assert_eq!(listed(&bob).await, 1);
    let (events, _) = crate::sync::sync_all(&app, &bob, &since).await;
    let told = names(events);
    let from_the_first = told.iter().position(|e| e == "message:received");
    assert!(
        from_the_first.is_some_and(|at| told[at - 1] == "chat:created"),
        "{told:?}"
    );
    app.stop().await;
}

/// Someone who opens a 1:1 chat reaches the other person's presence list with the chat itself,
/// at its first message, not when they open it (V60): a `user:online` before it would tell them
/// that someone opened a chat with them. The opener is told the other's presence at once, as a
/// chat header shows it. Deleting the chat for oneself takes the other's presence with it, told
/// at once, and their next message brings it back.
#[tokio::test]
async fn opening_a_chat_tells_its_presence_with_its_first_message() {
    use crate::message_features::presence_told;
    use crate::sync::{present, sync_all};
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let _online = [app.ws(&alice.access).await, app.ws(&bob.access).await];
    let online = vec![("user:online".to_owned(), Value::Null)];
    let (alice_since, bob_since) = (present(&app, &alice).await, present(&app, &bob).await);
    let chat = app.open_chat(&alice, &bob).await;
    let (events, alice_since) = sync_all(&app, &alice, &alice_since).await;
    assert_eq!(presence_told(&events, &bob), online, "the opener, at once");
    let (events, bob_since) = sync_all(&app, &bob, &bob_since).await;
    assert_eq!(presence_told(&events, &alice), vec![], "{events:?}");

    // Her first message brings him the chat, then her presence; her second, nothing more.
    app.sent(&alice, &chat, "hi bob").await;
    app.sent(&alice, &chat, "are you there").await;
    let (events, bob_since) = sync_all(&app, &bob, &bob_since).await;
    let told: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .filter(|name| name.starts_with("message:received") || name.starts_with("user:o"))
        .collect();
    assert_eq!(
        told,
        ["message:received", "user:online", "message:received"],
        "{events:?}"
    );

    // Bob deletes the chat for himself: her presence leaves with it (his still reaches her).
    let (status, _) = app
        .delete(&format!("/api/chats/{chat}"), &bob.access, json!({}))
        .await;
    assert_eq!(status, 200);
    let (events, bob_since) = sync_all(&app, &bob, &bob_since).await;
    assert_eq!(
        presence_told(&events, &alice),
        vec![("user:offline".to_owned(), Value::Null)],
        "hidden: offline, no last seen"
    );
    let (events, _) = sync_all(&app, &alice, &alice_since).await;
    assert_eq!(presence_told(&events, &bob), vec![]);
    app.sent(&alice, &chat, "hello again").await;
    let (events, _) = sync_all(&app, &bob, &bob_since).await;
    assert_eq!(presence_told(&events, &alice), online);
    app.stop().await;
}

/// A line in a 1:1 chat nobody wrote in yet (a timer set there, a call) shows the chat to the
/// other person as a first message does: the chat first, then the line, then what changed.
/// Only once: later lines are lines.
#[tokio::test]
async fn a_line_that_shows_a_new_chat_brings_the_chat_first() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut bob_ws = app.ws(&bob.access).await;
    let chat = app.open_chat(&alice, &bob).await;
    let set_timer = |seconds: i64| {
        let (app, alice, chat) = (&app, &alice, &chat);
        async move {
            let body = json!({ "disappearingSeconds": seconds });
            let (status, body) = app
                .put(&format!("/api/chats/{chat}"), &alice.access, body)
                .await;
            assert_eq!(status, 200, "{body}");
        }
    };
    set_timer(86_400).await;
    let mut told = Vec::new();
    for _ in 0..3 {
        let frame = bob_ws.next_json().await;
        assert_eq!(
            frame["data"]["chatId"]
                .as_str()
                .or(frame["data"]["chat"]["id"].as_str()),
            Some(chat.as_str()),
            "{frame}"
        );
        told.push(frame["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(told, ["chat:created", "message:received", "chat:updated"]);
    set_timer(0).await;
    let frame = bob_ws.next_json().await;
    assert_eq!(frame["event"], "message:received", "{frame}");
    app.stop().await;
}

/// A line that shows a 1:1 chat to someone whose list did not show it (a timer set there, a
/// call they missed, however it ended) also brings them the other's presence, as a first
/// message does; a line in a chat they already see brings nothing more.
#[tokio::test]
async fn a_line_that_shows_a_chat_brings_its_presence() {
    use crate::message_features::presence_told;
    use crate::sync::{present, sync_all};
    use banter_core::api::extract::json_value;
    use banter_core::services::calls;
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let mut alice_ws = app.ws(&alice.access).await;
    let _online = [app.ws(&bob.access).await, app.ws(&carol.access).await];
    let online = vec![("user:online".to_owned(), Value::Null)];
    let (bob_since, carol_since) = (present(&app, &bob).await, present(&app, &carol).await);

    // A timer set in a chat Bob was only opened.
    let with_bob = app.open_chat(&alice, &bob).await;
    let (status, body) = app
        .put(
            &format!("/api/chats/{with_bob}"),
            &alice.access,
            json!({ "disappearingSeconds": 86_400 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (events, bob_since) = sync_all(&app, &bob, &bob_since).await;
    assert_eq!(presence_told(&events, &alice), online, "{events:?}");
    let (status, _) = app
        .put(
            &format!("/api/chats/{with_bob}"),
            &alice.access,
            json!({ "disappearingSeconds": 0 }),
        )
        .await;
    assert_eq!(status, 200);
    let (events, _) = sync_all(&app, &bob, &bob_since).await;
    assert_eq!(presence_told(&events, &alice), vec![], "told once");

    // A call Carol missed (Alice cancelled it) in a chat she was only opened.
    let with_carol = app.open_chat(&alice, &carol).await;
    let start = json!({ "chatId": with_carol, "kind": "audio", "sdp": "v=0\r\n" });
    let call = alice_ws.act("call:start", start).await;
    assert_eq!(call["event"], "ack", "{call}");
    let end = json!({ "callId": call["data"]["id"] });
    assert_eq!(alice_ws.act("call:end", end).await["event"], "ack");
    let (events, _) = sync_all(&app, &carol, &carol_since).await;
    assert_eq!(presence_told(&events, &alice), online, "{events:?}");

    // A call Dave never answered, ended by the scheduled run.
    let dave = app.register("dave").await;
    let _dave_ws = app.ws(&dave.access).await;
    let dave_since = present(&app, &dave).await;
    let with_dave = app.open_chat(&alice, &dave).await;
    let start = json!({ "chatId": with_dave, "kind": "audio", "sdp": "v=0\r\n" });
    assert_eq!(alice_ws.act("call:start", start).await["event"], "ack");
    let impatient = app.app_with(|s| s.call_ring_timeout = std::time::Duration::ZERO);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    banter_core::services::relay::scheduled(&impatient)
        .await
        .unwrap();
    let (events, _) = sync_all(&app, &dave, &dave_since).await;
    assert_eq!(presence_told(&events, &alice), online, "{events:?}");

    // Calls that rang out and are found so: by Erin answering one, by Alice calling Frank
    // again (the new call ends the old).
    for answering in [true, false] {
        let other = app.register(if answering { "erin" } else { "frank" }).await;
        let _other_ws = app.ws(&other.access).await;
        let since = present(&app, &other).await;
        let chat = app.open_chat(&alice, &other).await;
        let start = json!({ "chatId": chat, "kind": "audio", "sdp": "v=0\r\n" });
        let call = alice_ws.act("call:start", start.clone()).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if answering {
            let body =
                json_value(json!({ "callId": call["data"]["id"], "sdp": "v=0\r\n" })).unwrap();
            let caller = impatient.tokens.verify_access(&other.access).unwrap();
            let answered = calls::answer(&impatient, caller, body, None).await;
            assert!(answered.is_err(), "rung out");
        } else {
            let caller = impatient.tokens.verify_access(&alice.access).unwrap();
            calls::start(&impatient, caller, json_value(start).unwrap(), None)
                .await
                .unwrap();
        }
        let (events, _) = sync_all(&app, &other, &since).await;
        assert_eq!(presence_told(&events, &alice), online, "{events:?}");
    }
    app.stop().await;
}
