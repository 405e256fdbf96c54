//! Push notifications: a device registers its token for its session, and a message reaches it
//! as a notification (in the local stack's outbox) only while that session is not connected,
//! as mute and notification settings allow.

use std::sync::Arc;
use std::time::{Duration, Instant};

use banter_core::api::extract::json_value;
use banter_core::ports::{
    Absent, MobilePush, MobilePushError, PortError, PushNotification, PushPlatform,
};
use banter_core::services::{messaging, notifications, relay};
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, wait_until, TestApp, User};

const PHONE: &str = "outbox:fcm:phone-token";

/// The notifications sent to `endpoint` so far: `(title, body)` with the payload's ids.
fn notifications(app: &TestApp, endpoint: &str) -> Vec<Value> {
    app.stack
        .shared
        .outbox
        .items()
        .into_iter()
        .filter(|i| i.channel == "push" && i.to == endpoint)
        .map(|i| serde_json::from_str(&i.body).expect("a notification is JSON"))
        .collect()
}

/// Wait for the notification of the message with `body`, and answer every body sent so far.
pub(crate) async fn notified(app: &TestApp, body: &str) -> Vec<String> {
    wait_until(
        &format!("a notification saying {body:?}"),
        Duration::from_secs(5),
        || async { notifications(app, PHONE).iter().any(|n| n["body"] == body) },
    )
    .await;
    notifications(app, PHONE)
        .iter()
        .map(|n| n["body"].as_str().unwrap().to_owned())
        .collect()
}

async fn register(app: &TestApp, user: &User, body: Value) -> (u16, Value) {
    app.post("/api/notifications/device", Some(&user.access), body)
        .await
}

/// Register the phone's token on `user`'s session: the status.
pub(crate) async fn register_phone_token(app: &TestApp, user: &User) -> u16 {
    let body = json!({ "platform": "fcm", "token": "phone-token" });
    register(app, user, body).await.0
}

async fn unregister(app: &TestApp, user: &User) -> (u16, Value) {
    app.request(
        reqwest::Method::DELETE,
        "/api/notifications/device",
        Some(&user.access),
        None,
    )
    .await
}

#[tokio::test]
async fn messages_reach_a_device_that_is_not_connected_as_push_notifications() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let bob = app.register("bob").await;
    let (status, _) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "displayName": "Bob B" }),
        )
        .await;
    assert_eq!(status, 200);

    for bad in [
        json!({ "platform": "windows", "token": "t" }),
        json!({ "platform": "fcm", "token": "has a space" }),
        json!({ "platform": "fcm", "token": "" }),
        json!({ "platform": "fcm", "token": "x".repeat(1025) }),
        json!({ "platform": "fcm" }),
    ] {
        let (status, body) = register(&app, &alice_phone, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = app
        .get("/api/notifications/device", Some(&alice_phone.access))
        .await;
    assert_eq!(status, 404, "nothing registered yet");
    // The longest token there may be is taken (its endpoint is longer still).
    let longest = json!({ "platform": "apns", "token": "f".repeat(1024) });
    assert_eq!(register(&app, &alice_phone, longest).await.0, 200);
    assert_eq!(register_phone_token(&app, &alice_phone).await, 200);
    let (status, body) = app
        .get("/api/notifications/device", Some(&alice_phone.access))
        .await;
    assert_eq!((status, &body["data"]["platform"]), (200, &json!("fcm")));
    let (status, _) = app
        .get("/api/notifications/device", Some(&alice.access))
        .await;
    assert_eq!(status, 404, "the registration is the phone session's only");
    let (_, export) = app.get("/api/users/me/export", Some(&alice.access)).await;
    assert_eq!(
        (
            &export["data"]["pushDevices"][0]["token"],
            export["data"]["pushDevices"].as_array().map(Vec::len)
        ),
        (&json!("phone-token"), Some(1)),
        "the data export lists it"
    );

    // Alice's laptop is connected, her phone is not: the phone is notified, by Bob's name.
    let chat = app.open_chat(&bob, &alice).await;
    let mut laptop = app.ws(&alice.access).await;
    let sent = app.sent(&bob, &chat, "are you there?").await;
    laptop.next_event("message:received").await;
    notified(&app, "are you there?").await;
    let first = &notifications(&app, PHONE)[0];
    assert_eq!(
        (&first["title"], &first["chatId"], &first["messageId"]),
        (&json!("Bob B"), &json!(chat), &json!(sent))
    );

    // While the phone is connected it gets the message itself, and no notification; Alice's
    // own messages never notify her.
    let mut phone = app.ws(&alice_phone.access).await;
    app.sent(&bob, &chat, "now connected").await;
    phone.next_event("message:received").await;
    drop(phone);
    drop(laptop);
    let alice_id = alice.id.parse().unwrap();
    app.wait_for_no_connections(alice_id, "alice's devices left")
        .await;
    app.sent(&alice, &chat, "from the laptop").await;

    // Muted: nothing; unmuted: notified again. Messages turned off in her settings: nothing.
    let settings = |muted: bool| json!({ "settings": { "muteNotifications": muted } });
    let chat_path = format!("/api/chats/{chat}");
    assert_eq!(
        app.put(&chat_path, &alice.access, settings(true)).await.0,
        200
    );
    app.sent(&bob, &chat, "while muted").await;
    // (The relay decides as it delivers: it must have, before the setting changes back.)
    app.relay_caught_up().await;
    assert_eq!(
        app.put(&chat_path, &alice.access, settings(false)).await.0,
        200
    );
    let messages = |on: bool| json!({ "notificationSettings": { "messages": on } });
    assert_eq!(
        app.put("/api/users/profile", &alice.access, messages(false))
            .await
            .0,
        200
    );
    app.sent(&bob, &chat, "messages off").await;
    app.relay_caught_up().await;
    assert_eq!(
        app.put("/api/users/profile", &alice.access, messages(true))
            .await
            .0,
        200
    );
    app.sent(&bob, &chat, "unmuted").await;
    assert_eq!(
        notified(&app, "unmuted").await,
        ["are you there?", "unmuted"],
        "nothing while connected, muted or turned off, nor for her own"
    );

    // With previews off, a notification says who wrote, not what.
    let previews = |on: bool| json!({ "notificationSettings": { "previews": on } });
    let (status, body) = app
        .put("/api/users/profile", &alice.access, previews(false))
        .await;
    assert_eq!(
        (status, &body["data"]["notificationSettings"]["previews"]),
        (200, &json!(false))
    );
    app.sent(&bob, &chat, "the secret plans").await;
    app.relay_caught_up().await;
    let bodies = notified(&app, "New message").await;
    assert!(!bodies.iter().any(|b| b.contains("secret")), "{bodies:?}");
    assert_eq!(
        app.put("/api/users/profile", &alice.access, previews(true))
            .await
            .0,
        200
    );

    // Bob's reaction to her message notifies her; his reaction to his own does not.
    let hers = app.sent(&alice, &chat, "lunch?").await;
    let his = app.sent(&bob, &chat, "sure").await;
    for (message, emoji) in [(&his, "🎉"), (&hers, "👍")] {
        let (status, _) = app
            .post(
                &format!("/api/chats/{chat}/messages/{message}/reactions"),
                Some(&bob.access),
                json!({ "emoji": emoji }),
            )
            .await;
        assert_eq!(status, 200);
    }
    let bodies = notified(&app, "Reacted 👍 to “lunch?”").await;
    assert!(!bodies.iter().any(|b| b.contains('🎉')), "{bodies:?}");
    assert_eq!(notifications(&app, PHONE).pop().unwrap()["title"], "Bob B");
    // A poll shows its question.
    let poll = json!({
        "clientMessageId": "poll-1",
        "type": "poll",
        "content": "Pizza or sushi tonight?",
        "metadata": { "options": ["Pizza", "Sushi"] },
    });
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            poll,
        )
        .await;
    assert_eq!(status, 201);
    notified(&app, "📊 Poll: Pizza or sushi tonight?").await;
    // A photo shows its caption, or that it is a photo.
    let picture = crate::media::png(8, 8, [200, 120, 30]);
    for (id, caption, body) in [
        (
            "photo-1",
            Some("Sunset at the lake"),
            "📷 Sunset at the lake",
        ),
        ("photo-2", None, "📷 Photo"),
    ] {
        let request = json!({ "fileType": "image", "fileName": "p.png",
                              "fileSize": picture.len(), "chatId": chat });
        let file = crate::media::upload(&app, &bob, request, &picture).await;
        let mut message = json!({ "clientMessageId": id, "type": "image", "mediaId": file });
        if let Some(caption) = caption {
            message["content"] = json!(caption);
        }
        let (status, _) = app
            .post(
                &format!("/api/chats/{chat}/messages"),
                Some(&bob.access),
                message,
            )
            .await;
        assert_eq!(status, 201);
        notified(&app, body).await;
    }

    // A muted group notifies only a mention of her; a group's title is its name.
    let group = app.open_group(&bob, "Climbers", &[&alice]).await;
    notified(&app, "Bob B added you").await;
    let added = notifications(&app, PHONE).pop().unwrap();
    assert_eq!(
        (&added["title"], &added["chatId"], &added["messageId"]),
        (&json!("Climbers"), &json!(group), &Value::Null)
    );
    // Added to a group that exists: told the same way.
    let carol = app.register("carol").await;
    let later = app.open_group(&bob, "Later", &[&carol]).await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{later}/participants"),
            Some(&bob.access),
            json!({ "userId": alice.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_until("told of the addition", Duration::from_secs(5), || async {
        notifications(&app, PHONE)
            .iter()
            .any(|n| n["title"] == "Later" && n["body"] == "Bob B added you")
    })
    .await;
    // Invited, where her privacy keeps others from adding her; asked to join her own group.
    let nobody = json!({ "privacySettings": { "groups": "nobody" } });
    assert_eq!(
        app.put("/api/users/profile", &alice.access, nobody).await.0,
        200
    );
    app.open_group(&bob, "Invited", &[&alice]).await;
    notified(&app, "Bob B invited you to join").await;
    let mine = app.open_group(&alice, "Mine", &[&bob]).await;
    let (status, link) = app
        .post(
            &format!("/api/chats/{mine}/invite-link"),
            Some(&alice.access),
            json!({ "requireApproval": true }),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let code = link["data"]["code"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/invites/{code}/join"),
            Some(&carol.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    wait_until("told of the request", Duration::from_secs(5), || async {
        notifications(&app, PHONE).iter().any(|n| {
            n["title"] == "Mine" && n["body"].as_str().unwrap().ends_with(" asked to join")
        })
    })
    .await;

    let group_path = format!("/api/chats/{group}");
    assert_eq!(
        app.put(&group_path, &alice.access, settings(true)).await.0,
        200
    );
    app.sent(&bob, &group, "anyone?").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "m", "content": "@alice you?", "mentions": [alice.id] }),
        )
        .await;
    assert_eq!(status, 201);
    let bodies = notified(&app, "Bob B: @alice you?").await;
    assert!(!bodies.iter().any(|b| b.contains("anyone?")), "{bodies:?}");
    let last = notifications(&app, PHONE).pop().unwrap();
    assert_eq!(last["title"], "Climbers");
    // So does a reply to her own message (as WhatsApp's muted groups do); not to someone else's.
    let hers = app.sent(&alice, &group, "who is in for Sunday?").await;
    let his = app.sent(&bob, &group, "the weather?").await;
    for (replying_to, text) in [(&his, "rain, I think"), (&hers, "count me in")] {
        let (status, body) = app
            .post(
                &format!("/api/chats/{group}/messages"),
                Some(&bob.access),
                json!({ "clientMessageId": text, "content": text, "replyToId": replying_to }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let bodies = notified(&app, "Bob B: count me in").await;
    assert!(!bodies.iter().any(|b| b.contains("rain")), "{bodies:?}");

    // The token registered on another session moves there; a logged-out session is not
    // notified; unregistering is idempotent.
    assert_eq!(register_phone_token(&app, &alice).await, 200);
    let (status, _) = app
        .get("/api/notifications/device", Some(&alice_phone.access))
        .await;
    assert_eq!(status, 404, "the token moved to the other session");
    let (status, body) = unregister(&app, &alice).await;
    assert_eq!((status, &body["data"]["removed"]), (200, &json!(true)));
    assert_eq!(unregister(&app, &alice).await.1["data"]["removed"], false);
    assert_eq!(register_phone_token(&app, &alice_phone).await, 200);
    let (status, _) = app
        .post("/api/auth/logout", Some(&alice_phone.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let before = notifications(&app, PHONE).len();
    app.sent(&bob, &chat, "after logout").await;
    app.relay_caught_up().await;
    // (A notification goes out right after the round that decided it commits.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(notifications(&app, PHONE).len(), before);
    let (_, export) = app.get("/api/users/me/export", Some(&alice.access)).await;
    assert_eq!(
        export["data"]["pushDevices"],
        json!([]),
        "the session took its device with it"
    );
    app.stop().await;
}

/// A push service that never answers.
struct Hanging;

#[async_trait::async_trait]
impl MobilePush for Hanging {
    async fn register(&self, _: PushPlatform, _: &str) -> Result<String, MobilePushError> {
        std::future::pending().await
    }
    async fn send(&self, _: &str, _: &PushNotification) -> Result<(), MobilePushError> {
        std::future::pending().await
    }
    async fn unregister(&self, _: &str) -> Result<(), PortError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_push_service_that_stops_answering_does_not_stop_delivery() {
    // The relay runs only when this test says (no schedule); wake-ups go nowhere.
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let bob = app.register("bob").await;
    assert_eq!(register_phone_token(&app, &alice_phone).await, 200);
    let chat = app.open_chat(&bob, &alice).await;
    let mut laptop = app.ws(&alice.access).await;
    // Whatever the stack's own relay was woken for (the connection's presence) is done before
    // the drains below, which must be the ones that deliver.
    app.relay_caught_up().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut hanging = app.app().clone();
    hanging.ports.mobile_push = Arc::new(Hanging);
    hanging.ports.queue = Arc::new(Absent("delivery queue"));
    for text in ["one", "two"] {
        let caller = app.app().tokens.verify_access(&bob.access).unwrap();
        let body = json_value(json!({ "clientMessageId": text, "content": text })).unwrap();
        messaging::send(&hanging, caller, chat.parse().unwrap(), body, None)
            .await
            .unwrap();
        app.settle().await;
        let started = Instant::now();
        let report = tokio::time::timeout(Duration::from_secs(10), relay::drain(&hanging))
            .await
            .expect("the relay ends its drain")
            .unwrap();
        assert!(report.notified >= 1, "{report:?}");
        assert!(started.elapsed() < notifications::SEND_WITHIN + Duration::from_secs(2));
        let got = laptop.next_event("message:received").await;
        assert_eq!(
            got["data"]["message"]["content"], text,
            "delivered in order"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn endpoints_no_device_uses_are_deleted_at_the_push_service() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let push = app.app().ports.mobile_push.clone();
    let probe = PushNotification {
        title: "probe".into(),
        body: "probe".into(),
        chat_id: uuid::Uuid::new_v4(),
        message_id: None,
    };
    assert_eq!(register_phone_token(&app, &alice_phone).await, 200);
    // The token moves to the other session: the same endpoint, still used, is kept.
    assert_eq!(register_phone_token(&app, &alice).await, 200);
    relay::scheduled(app.app()).await.unwrap();
    push.send(PHONE, &probe)
        .await
        .expect("the endpoint a device uses is kept");
    // The session ends: nothing uses it, and the housekeeping has the push service forget it.
    let (status, _) = app
        .post("/api/auth/logout", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200);
    relay::scheduled(app.app()).await.unwrap();
    assert!(matches!(
        push.send(PHONE, &probe).await,
        Err(MobilePushError::Gone)
    ));
    app.stop().await;
}

/// Call in `chat`, then hang up before anyone answers (once the relay delivered the ringing:
/// a call that ends before is never rung, below).
async fn ring_and_cancel(app: &TestApp, ws: &mut crate::support::WsClient, chat: &str, kind: &str) {
    let offer = json!({ "chatId": chat, "kind": kind, "sdp": "v=0\r\n" });
    let started = ws.act("call:start", offer).await;
    let id = started["data"]["id"].clone();
    assert!(id.is_string(), "{started}");
    app.relay_caught_up().await;
    let ended = ws.act("call:end", json!({ "callId": id })).await;
    assert_eq!(ended["data"]["endReason"], "missed");
}

#[tokio::test]
async fn a_call_rings_a_device_that_is_not_connected_even_in_a_muted_chat_unless_calls_are_off() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let bob = app.register("bob").await;
    assert_eq!(register_phone_token(&app, &alice_phone).await, 200);
    let chat = app.open_chat(&bob, &alice).await;
    let muted = json!({ "settings": { "muteNotifications": true } });
    let (status, _) = app
        .put(&format!("/api/chats/{chat}"), &alice.access, muted)
        .await;
    assert_eq!(status, 200);
    let mut bob_ws = app.ws(&bob.access).await;
    ring_and_cancel(&app, &mut bob_ws, &chat, "video").await;
    let bodies = notified(&app, "Missed video call").await;
    assert_eq!(
        bodies,
        ["📹 Incoming video call", "Missed video call"],
        "a muted chat still rings"
    );
    let last = notifications(&app, PHONE).pop().unwrap();
    assert!(last["title"].as_str().unwrap().starts_with("bob"), "{last}");

    let calls = |on: bool| json!({ "notificationSettings": { "calls": on } });
    let (status, _) = app
        .put("/api/users/profile", &alice.access, calls(false))
        .await;
    assert_eq!(status, 200);
    ring_and_cancel(&app, &mut bob_ws, &chat, "audio").await;
    app.relay_caught_up().await;
    let (status, _) = app
        .put("/api/users/profile", &alice.access, calls(true))
        .await;
    assert_eq!(status, 200);
    ring_and_cancel(&app, &mut bob_ws, &chat, "audio").await;
    assert_eq!(
        notified(&app, "Missed voice call").await,
        [
            "📹 Incoming video call",
            "Missed video call",
            "📞 Incoming voice call",
            "Missed voice call"
        ],
        "nothing while calls were off"
    );
    // A call answered and hung up is not missed.
    let mut alice_ws = app.ws(&alice.access).await;
    let offer = json!({ "chatId": chat, "kind": "audio", "sdp": "v=0\r\n" });
    let call = bob_ws.act("call:start", offer).await["data"]["id"].clone();
    // The phone rings before the answer (a call answered first is not rung, below).
    app.relay_caught_up().await;
    let answer = json!({ "callId": call, "sdp": "v=0\r\n" });
    assert_eq!(alice_ws.act("call:answer", answer).await["event"], "ack");
    let ended = alice_ws.act("call:end", json!({ "callId": call })).await;
    assert_eq!(ended["data"]["endReason"], "hung_up");
    app.relay_caught_up().await;
    assert_eq!(
        notifications(&app, PHONE).len(),
        5,
        "only its ringing, on the phone: nothing missed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_call_that_ended_before_the_relay_rang_it_only_tells_it_was_missed() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let bob = app.register("bob").await;
    assert_eq!(register_phone_token(&app, &alice_phone).await, 200);
    let chat = app.open_chat(&bob, &alice).await;
    let mut bob_ws = app.ws(&bob.access).await;
    app.relay_caught_up().await;
    // The relay is held (its lock taken here) while Bob calls and hangs up: it catches up on
    // both at once, as after an outage.
    let mut held = app.app().db.get().await.unwrap();
    let relay_lock = held.transaction().await.unwrap();
    relay_lock
        .execute("SELECT pg_advisory_xact_lock(7202)", &[])
        .await
        .unwrap();
    let offer = json!({ "chatId": chat, "kind": "audio", "sdp": "v=0\r\n" });
    let call = bob_ws.act("call:start", offer).await["data"]["id"].clone();
    let ended = bob_ws.act("call:end", json!({ "callId": call })).await;
    assert_eq!(ended["data"]["endReason"], "missed");
    relay_lock.rollback().await.unwrap();
    assert_eq!(
        notified(&app, "Missed voice call").await,
        ["Missed voice call"],
        "no ringing for a call that is over"
    );
    app.stop().await;
}
