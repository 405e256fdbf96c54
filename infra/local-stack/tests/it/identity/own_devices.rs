//! A change to the user's own account (made on one device, or a verification) reaches their
//! devices (live and in sync), and nobody else.

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, User};
use crate::sync::present;

/// The names of the events in `user`'s sync after `since`, leaving out presence.
async fn own_stream(app: &TestApp, user: &User, since: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/sync?since={since}"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !matches!(e["event"].as_str(), Some("user:online" | "user:offline")))
        .cloned()
        .collect()
}

#[tokio::test]
async fn profile_edits_and_blocks_reach_the_users_other_devices() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let bob = app.register("bob").await;
    let (alice_start, bob_start) = (present(&app, &alice).await, present(&app, &bob).await);
    let mut laptop_ws = app.ws(&alice.access).await;
    let mut phone_ws = app.ws(&alice_phone.access).await;

    let (status, body) = app
        .put(
            "/api/users/profile",
            &alice.access,
            json!({ "displayName": "Alice A", "privacySettings": { "readReceipts": false } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let told = phone_ws.next_event("user:profile:updated").await;
    assert_eq!(told["data"]["displayName"], "Alice A");
    assert_eq!(told["data"]["privacySettings"]["readReceipts"], false);
    assert_eq!(told["data"]["id"], alice.id);

    laptop_ws
        .send_json(json!({ "action": "user:status_update", "requestId": "s", "data": { "status": "out" } }))
        .await;
    assert_eq!(laptop_ws.answer_to("s").await["event"], "ack");
    let told = phone_ws.next_event("user:profile:updated").await;
    assert_eq!(
        (&told["data"]["status"], &told["data"]["displayName"]),
        (&json!("out"), &json!("Alice A"))
    );

    // A block, told with the entry `GET /api/users/blocked` lists; repeating it tells nothing.
    for _ in 0..2 {
        app.block(&alice, &bob).await;
    }
    let told = phone_ws.next_event("user:blocked").await;
    let (_, blocked) = app.get("/api/users/blocked", Some(&alice.access)).await;
    assert_eq!(told["data"], blocked["data"][0]);
    assert_eq!(told["data"]["id"], bob.id);
    for _ in 0..2 {
        let (status, _) = app
            .post(
                "/api/users/unblock",
                Some(&alice_phone.access),
                json!({ "userId": bob.id }),
            )
            .await;
        assert_eq!(status, 200);
    }
    let told = laptop_ws.next_event("user:unblocked").await;
    assert_eq!(told["data"], json!({ "userId": bob.id, "blocked": false }));

    app.settle().await;
    let names: Vec<String> = own_stream(&app, &alice_phone, &alice_start)
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "user:profile:updated",
            "user:profile:updated",
            "user:blocked",
            "user:unblocked"
        ]
    );
    // Bob learns nothing of it: not the block, not Alice's settings.
    assert_eq!(
        own_stream(&app, &bob, &bob_start).await,
        Vec::<Value>::new()
    );

    // Verifying her email or phone number tells her other devices too.
    app.verify_email(&alice).await;
    let told = phone_ws.next_event("user:profile:updated").await;
    assert_eq!(told["data"]["isVerified"], true);
    app.verify_phone(&alice, "+14155550142").await;
    let told = phone_ws.next_event("user:profile:updated").await;
    assert_eq!(
        (&told["data"]["phone"], &told["data"]["phoneVerified"]),
        (&json!("+14155550142"), &json!(true))
    );
}

/// A chat with yourself (WhatsApp's "Message yourself"): opened by naming only yourself, named
/// "(You)", it takes messages, which reach your other devices; nobody is called in it, and it
/// goes with the account.
#[tokio::test]
async fn a_chat_with_yourself_reaches_your_devices_and_goes_with_the_account() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut phone = app.ws(&app.login(&alice).await.access).await;
    let open = json!({ "type": "individual", "participantIds": [alice.id] });
    let (status, body) = app
        .post("/api/chats", Some(&alice.access), open.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let chat = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body["data"]["participants"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    assert!(
        body["data"]["name"].as_str().unwrap().ends_with("(You)"),
        "{body}"
    );
    let (status, again) = app.post("/api/chats", Some(&alice.access), open).await;
    assert_eq!(
        (status, &again["data"]["id"]),
        (200, &json!(chat)),
        "{again}"
    );

    let note = app.sent(&alice, &chat, "buy milk").await;
    let pushed = phone.next_event("message:received").await;
    assert_eq!(pushed["data"]["message"]["id"], note.as_str(), "{pushed}");
    let row = app.chat_row(&alice, &chat).await;
    assert_eq!(row["lastMessage"]["content"], "buy milk", "{row}");
    assert_eq!(row["unreadCount"], 0, "{row}");
    let (_, me) = app.get("/api/users/profile", Some(&alice.access)).await;
    let username = me["data"]["username"].as_str().unwrap();
    let (_, found) = app
        .get(
            &format!("/api/chats?search={username}"),
            Some(&alice.access),
        )
        .await;
    assert_eq!(
        found["data"][0]["id"],
        chat.as_str(),
        "found by her name: {found}"
    );
    let (status, body) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    assert_eq!(status, 404, "nobody else's: {body}");
    let called = phone
        .act(
            "call:start",
            json!({ "chatId": chat, "kind": "audio", "sdp": "v=0\r\n" }),
        )
        .await;
    assert_eq!(called["data"]["code"], "VALIDATION_ERROR", "{called}");

    super::erase_account(&app, &alice).await;
    let id: uuid::Uuid = chat.parse().unwrap();
    let left: i64 = app
        .owner_db()
        .await
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) AS n FROM chats WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0, "the chat went with the account");
    app.stop().await;
}

/// A chat its creator opens on one device shows on their others at once (`chat:created`), as a
/// group does for its other members: not only once a message comes.
#[tokio::test]
async fn a_chat_opened_on_one_device_reaches_the_creators_others() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut phone = app.ws(&app.login(&alice).await.access).await;
    let chat = app.open_chat(&alice, &bob).await;
    let told = phone.next_event("chat:created").await;
    assert_eq!(told["data"]["chat"]["id"], chat.as_str(), "{told}");
    let group = app.open_group(&alice, "club", &[&bob]).await;
    let told = phone.next_event("chat:created").await;
    assert_eq!(told["data"]["chat"]["id"], group.as_str(), "{told}");
    app.stop().await;
}

/// Resetting the contact link on one device tells the others (`contact:link:reset`, live and in
/// sync), so none goes on showing a QR code that resolves to nobody.
#[tokio::test]
async fn a_contact_link_reset_on_one_device_reaches_the_others() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let since = present(&app, &alice).await;
    let mut phone = app.ws(&app.login(&alice).await.access).await;
    let (status, body) = app
        .post("/api/users/me/qr/reset", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let told = phone.next_event("contact:link:reset").await;
    assert_eq!(told["data"]["code"], body["data"]["code"], "{told}");
    assert_eq!(told["data"]["url"], body["data"]["url"], "{told}");
    let stream = own_stream(&app, &alice, &since).await;
    assert!(
        stream.iter().any(|e| e["event"] == "contact:link:reset"),
        "{stream:?}"
    );
    app.stop().await;
}
