//! End-to-end encryption: devices publish their keys, others claim bundles (each one-time
//! pre-key once), a new identity key is told to the owner's chats, and an encrypted message is
//! refused unless it is sealed for exactly the chat's devices.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, User};
use crate::sync::present;

/// `n` bytes that differ each time, in base64 (key material the server only stores).
fn random_b64(n: usize) -> String {
    let bytes: Vec<u8> = (0..n.div_ceil(16))
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .take(n)
        .collect();
    STANDARD.encode(bytes)
}

fn pre_keys(ids: std::ops::Range<i64>) -> Vec<Value> {
    ids.map(|id| json!({ "keyId": id, "publicKey": random_b64(33) }))
        .collect()
}

/// Publish `who`'s device keys (a new identity key unless `identity` is given): the answer.
async fn publish(
    app: &TestApp,
    who: &User,
    identity: Option<&str>,
    one_time: Vec<Value>,
) -> (u16, Value) {
    let body = json!({
        "identityKey": identity.map_or_else(|| random_b64(33), str::to_owned),
        "signedPreKey": { "keyId": 1, "publicKey": random_b64(33), "signature": random_b64(64) },
        "oneTimePreKeys": one_time,
    });
    app.put("/api/keys", &who.access, body).await
}

/// `who`'s device id, once it published keys.
async fn device_of(app: &TestApp, who: &User, one_time: Vec<Value>) -> String {
    let (status, body) = publish(app, who, None, one_time).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["deviceId"].as_str().unwrap().to_owned()
}

async fn claim(app: &TestApp, who: &User, whose: &User) -> (u16, Value) {
    app.get(&format!("/api/users/{}/keys", whose.id), Some(&who.access))
        .await
}

/// The events named `name` in `who`'s stream since `cursor`.
async fn synced(app: &TestApp, who: &User, cursor: &str, name: &str) -> Vec<Value> {
    app.relay_caught_up().await;
    let path = format!("/api/sync?since={cursor}&limit=100");
    let (status, body) = app.get(&path, Some(&who.access)).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == name)
        .cloned()
        .collect()
}

#[tokio::test]
async fn each_one_time_pre_key_is_handed_out_once_and_a_shortage_is_told_once() {
    // Bob and Carol claim Alice's keys more often than anyone may in an hour.
    let app = crate::support::spawn_app_with(|c| {
        c.settings.rate_limits.key_claims_per_user = banter_core::config::Limit::new(100, 3600);
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let alice_from = present(&app, &alice).await;

    let (status, published) = publish(&app, &alice, None, pre_keys(0..16)).await;
    assert_eq!(status, 200, "{published}");
    let identity = published["data"]["identityKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(published["data"]["oneTimePreKeys"], 16);
    assert_eq!(published["data"]["currentDevice"], true);
    let device = published["data"]["deviceId"].as_str().unwrap().to_owned();

    let (status, first) = claim(&app, &bob, &alice).await;
    assert_eq!(status, 200, "{first}");
    let bundle = &first["data"]["devices"][0];
    assert_eq!(first["data"]["devices"].as_array().unwrap().len(), 1);
    assert_eq!(bundle["deviceId"], device.as_str());
    assert_eq!(bundle["identityKey"], identity.as_str());
    assert_eq!(bundle["signedPreKey"]["keyId"], 1);
    assert_eq!(bundle["oneTimePreKey"]["keyId"], 0, "the lowest first");

    // Claims at the same moment never share a key.
    let claims = futures_util::future::join_all(
        (0..5).map(|i| claim(&app, if i % 2 == 0 { &bob } else { &carol }, &alice)),
    )
    .await;
    let mut handed: Vec<i64> = claims
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["data"]["devices"][0]["oneTimePreKey"]["keyId"]
                .as_i64()
                .unwrap()
        })
        .collect();
    handed.sort_unstable();
    assert_eq!(handed, (1..6).collect::<Vec<_>>());
    let (_, own) = app.get("/api/keys", Some(&alice.access)).await;
    assert_eq!(own["data"]["devices"][0]["oneTimePreKeys"], 10);
    assert!(
        synced(&app, &alice, &alice_from, "keys:low")
            .await
            .is_empty(),
        "10 is enough"
    );

    // The claim that leaves fewer than 10 tells the owner, once however many follow.
    let mut alice_ws = app.ws(&alice.access).await;
    claim(&app, &bob, &alice).await;
    let low = alice_ws.next_event("keys:low").await;
    assert_eq!(low["data"]["deviceId"], device.as_str());
    assert_eq!(low["data"]["remaining"], 9);
    for _ in 0..9 {
        claim(&app, &carol, &alice).await;
    }
    let (_, empty) = claim(&app, &bob, &alice).await;
    assert_eq!(
        empty["data"]["devices"][0]["oneTimePreKey"],
        Value::Null,
        "none left: the signed pre-key alone"
    );
    assert_eq!(
        empty["data"]["devices"][0]["identityKey"],
        identity.as_str()
    );
    assert_eq!(synced(&app, &alice, &alice_from, "keys:low").await.len(), 1);

    // Adding keys ends the shortage; the next one is told again.
    let (status, added) = app
        .post(
            "/api/keys/one-time",
            Some(&alice.access),
            json!({ "oneTimePreKeys": pre_keys(100..111) }),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["data"]["oneTimePreKeys"], 11);
    claim(&app, &bob, &alice).await;
    claim(&app, &bob, &alice).await;
    assert_eq!(synced(&app, &alice, &alice_from, "keys:low").await.len(), 2);
}

#[tokio::test]
async fn keys_are_checked_bounded_and_go_with_their_session() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let signed = || json!({ "keyId": 1, "publicKey": random_b64(33), "signature": random_b64(64) });
    for (body, why) in [
        (
            json!({ "identityKey": random_b64(32), "signedPreKey": signed() }),
            "a 32-byte identity key",
        ),
        (
            json!({ "identityKey": "not base64!", "signedPreKey": signed() }),
            "not base64",
        ),
        (
            json!({ "identityKey": random_b64(33), "signedPreKey":
                { "keyId": 1, "publicKey": random_b64(33), "signature": random_b64(63) } }),
            "a short signature",
        ),
        (
            json!({ "identityKey": random_b64(33), "signedPreKey": [1, random_b64(33), random_b64(64)] }),
            "a list for an object",
        ),
        (
            json!({ "identityKey": random_b64(33), "signedPreKey":
                { "keyId": 16_777_216, "publicKey": random_b64(33), "signature": random_b64(64) } }),
            "a key id past 24 bits",
        ),
        (
            json!({ "identityKey": random_b64(33), "signedPreKey": signed(),
                    "oneTimePreKeys": pre_keys(0..101) }),
            "101 one-time pre-keys",
        ),
    ] {
        let (status, body) = app.put("/api/keys", &alice.access, body).await;
        assert_eq!(status, 400, "{why}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{why}");
    }
    let (_, own) = app.get("/api/keys", Some(&alice.access)).await;
    assert_eq!(own["data"]["devices"], json!([]), "nothing was stored");
    let (status, _) = claim(&app, &bob, &alice).await;
    assert_eq!(status, 404, "no keys yet");
    let (status, _) = app
        .post(
            "/api/keys/one-time",
            Some(&alice.access),
            json!({ "oneTimePreKeys": pre_keys(0..3) }),
        )
        .await;
    assert_eq!(status, 404, "one-time pre-keys need a published device");

    // At most 500 held: the request that would pass it changes nothing.
    device_of(&app, &alice, pre_keys(0..100)).await;
    for batch in 1..5 {
        let (status, body) = app
            .post(
                "/api/keys/one-time",
                Some(&alice.access),
                json!({ "oneTimePreKeys": pre_keys(batch * 100..batch * 100 + 100) }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = app
        .post(
            "/api/keys/one-time",
            Some(&alice.access),
            json!({ "oneTimePreKeys": pre_keys(500..501) }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, own) = app.get("/api/keys", Some(&alice.access)).await;
    assert_eq!(own["data"]["devices"][0]["oneTimePreKeys"], 500);
    let (status, export) = app.get("/api/users/me/export", Some(&alice.access)).await;
    assert_eq!(status, 200);
    assert_eq!(export["data"]["encryptionKeys"], own["data"]["devices"]);

    // The blocker may not claim the keys of whom they block; the one blocked is not told so
    // by a refusal (what they seal for the blocker is stored and never delivered).
    app.block(&alice, &bob).await;
    let (status, body) = claim(&app, &alice, &bob).await;
    crate::support::assert_told_to_unblock(status, &body);
    let (status, body) = claim(&app, &bob, &alice).await;
    assert_eq!(status, 200, "{body}");

    // A session that ends takes its keys.
    let (status, _) = app
        .post("/api/auth/logout", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let carol = app.register("carol").await;
    let (status, body) = claim(&app, &carol, &alice).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_new_identity_key_is_told_to_the_owners_chats_and_drops_its_old_pre_keys() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let stranger = app.register("stranger").await;
    let chat = app.open_chat_written(&alice, &bob).await;
    let group = app.open_group(&bob, "club", &[&alice]).await;
    let (alice_from, bob_from, stranger_from) = (
        present(&app, &alice).await,
        present(&app, &bob).await,
        present(&app, &stranger).await,
    );
    let mut bob_ws = app.ws(&bob.access).await;

    let (status, first) = publish(&app, &alice, None, pre_keys(0..20)).await;
    assert_eq!(status, 200, "{first}");
    let device = first["data"]["deviceId"].as_str().unwrap().to_owned();
    let identity = first["data"]["identityKey"].as_str().unwrap().to_owned();
    let mut told: Vec<String> = Vec::new();
    for _ in 0..2 {
        let event = bob_ws.next_event("keys:changed").await;
        assert_eq!(event["data"]["userId"], alice.id.as_str());
        assert_eq!(event["data"]["deviceId"], device.as_str());
        assert_eq!(event["data"]["identityKey"], identity.as_str());
        told.push(event["data"]["chatId"].as_str().unwrap().to_owned());
    }
    told.sort();
    let mut chats = vec![chat.clone(), group.clone()];
    chats.sort();
    assert_eq!(told, chats, "once in each chat they share");
    // Alice's linked devices show which identity key each published.
    let alice_laptop = app.login(&alice).await;
    let (_, sessions) = app
        .get("/api/auth/sessions", Some(&alice_laptop.access))
        .await;
    let keys: Vec<(bool, Value)> = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["current"] == true, s["identityKey"].clone()))
        .collect();
    assert_eq!(
        keys,
        [(true, Value::Null), (false, json!(identity))],
        "the laptop has none yet; the phone's is the one told"
    );

    // The same identity again (a new signed pre-key) tells nobody and keeps the pre-keys.
    let (status, again) = publish(&app, &alice, Some(&identity), pre_keys(20..25)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["oneTimePreKeys"], 25);
    assert_eq!(synced(&app, &bob, &bob_from, "keys:changed").await.len(), 2);
    assert!(synced(&app, &stranger, &stranger_from, "keys:changed")
        .await
        .is_empty());
    // Alice's own devices hear of it in her stream.
    assert_eq!(
        synced(&app, &alice, &alice_from, "keys:changed")
            .await
            .len(),
        3
    );

    // Set up again: a new identity, and the old one's pre-keys are gone.
    let (status, reset) = publish(&app, &alice, None, pre_keys(0..3)).await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["data"]["oneTimePreKeys"], 3);
    assert_eq!(synced(&app, &bob, &bob_from, "keys:changed").await.len(), 4);

    // Logging out removes the device, and the chats hear of it with the logout.
    let (status, _) = app
        .post("/api/auth/logout", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let told = synced(&app, &bob, &bob_from, "keys:changed").await;
    let removed: Vec<&Value> = told
        .iter()
        .filter(|e| e["data"]["removed"] == true)
        .collect();
    assert_eq!(removed.len(), 2, "once in each chat: {told:?}");
    for event in removed {
        assert_eq!(event["data"]["deviceId"], device.as_str());
        assert_eq!(event["data"]["userId"], alice.id.as_str());
        assert_eq!(event["data"]["identityKey"], Value::Null);
    }
    let (status, _) = claim(&app, &bob, &alice).await;
    assert_eq!(status, 404);
}

/// A 1:1 chat someone opened shows the other person nothing until its first message, so the
/// opener's device changes are not told to it before (a `keys:changed` would name a chat they
/// have never seen): neither a new identity key nor a device gone (V61). From its first message
/// they are.
#[tokio::test]
async fn device_changes_reach_a_new_chat_with_its_first_message() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let carol = app.register("carol").await;
    let chat = app.open_chat(&alice, &carol).await;
    let carol_from = present(&app, &carol).await;
    let (status, body) = publish(&app, &alice, None, pre_keys(0..2)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app
        .post("/api/auth/logout", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200, "her device goes, with its keys");
    assert_eq!(
        synced(&app, &carol, &carol_from, "keys:changed").await,
        vec![] as Vec<Value>
    );

    let alice = app.login(&alice).await;
    app.sent(&alice, &chat, "hi carol").await;
    let device = device_of(&app, &alice, pre_keys(0..2)).await;
    let told = synced(&app, &carol, &carol_from, "keys:changed").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["data"]["chatId"], chat.as_str());
    assert_eq!(told[0]["data"]["deviceId"], device.as_str());
    app.stop().await;
}

/// An encrypted message to `chat` from `from`, sealed for `devices`.
async fn send_sealed(app: &TestApp, from: &User, chat: &str, devices: &[&str]) -> (u16, Value) {
    let envelopes: Vec<Value> = devices
        .iter()
        .map(|d| json!({ "deviceId": d, "body": random_b64(80), "preKey": true }))
        .collect();
    app.post(
        &format!("/api/chats/{chat}/messages"),
        Some(&from.access),
        json!({
            "clientMessageId": uuid::Uuid::new_v4(),
            "type": "encrypted",
            "metadata": { "envelopes": envelopes },
        }),
    )
    .await
}

#[tokio::test]
async fn an_encrypted_message_is_sealed_for_exactly_the_chats_other_devices() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let outsider = app.register("outsider").await;
    let chat = app.open_chat(&alice, &bob).await;
    let alice_laptop = app.login(&alice).await;
    let bob_tablet = app.login(&bob).await;
    device_of(&app, &alice, pre_keys(0..5)).await;
    let laptop = device_of(&app, &alice_laptop, pre_keys(0..5)).await;
    let phone = device_of(&app, &bob, pre_keys(0..5)).await;
    // Bob's tablet has no keys: not a device to seal for.
    let bob_from = present(&app, &bob).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut tablet_ws = app.ws(&bob_tablet.access).await;
    let mut laptop_ws = app.ws(&alice_laptop.access).await;

    let (status, body) = send_sealed(&app, &alice, &chat, &[&phone]).await;
    assert_eq!(status, 400, "the laptop is missing: {body}");
    assert_eq!(body["error"]["details"]["missingDevices"], json!([laptop]));
    assert_eq!(body["error"]["details"]["extraDevices"], json!([]));
    let stale = uuid::Uuid::new_v4().to_string();
    let (status, body) = send_sealed(&app, &alice, &chat, &[&phone, &laptop, &stale]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"]["extraDevices"], json!([stale]));
    assert_eq!(body["error"]["details"]["missingDevices"], json!([]));
    let (status, body) = send_sealed(&app, &outsider, &chat, &[&phone]).await;
    assert_eq!(status, 404, "an outsider learns no devices: {body}");
    assert_eq!(body["error"]["details"], Value::Null);

    let (status, sent) = send_sealed(&app, &alice, &chat, &[&phone, &laptop]).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["data"]["type"], "encrypted");
    assert_eq!(sent["data"]["content"], Value::Null);
    assert_eq!(
        sent["data"]["metadata"]["envelopes"],
        json!([]),
        "the sending device has none of its own"
    );
    let id = sent["data"]["id"].as_str().unwrap();
    // Each device is sent its own envelope only, live, in sync, on a resumed connection and
    // in its history.
    let only_mine = |message: &Value, device: &str| {
        let envelopes = message["metadata"]["envelopes"].as_array().unwrap().clone();
        assert_eq!(envelopes.len(), 1, "{message}");
        assert_eq!(envelopes[0]["deviceId"], device);
        assert_eq!(envelopes[0]["preKey"], true);
    };
    only_mine(
        &bob_ws.next_event("message:received").await["data"]["message"],
        &phone,
    );
    only_mine(
        &laptop_ws.next_event("message:received").await["data"]["message"],
        &laptop,
    );
    let on_tablet = tablet_ws.next_event("message:received").await;
    assert_eq!(
        on_tablet["data"]["message"]["metadata"]["envelopes"],
        json!([])
    );
    app.relay_caught_up().await;
    let (_, synced) = app
        .get(
            &format!("/api/sync?since={bob_from}&limit=100"),
            Some(&bob.access),
        )
        .await;
    let from_sync = synced["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "message:received")
        .unwrap();
    only_mine(&from_sync["data"]["message"], &phone);
    let mut resumed = crate::support::WsClient::connect_since(&app, &bob.access, &bob_from)
        .await
        .unwrap();
    only_mine(
        &resumed.next_event("message:received").await["data"]["message"],
        &phone,
    );
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    let in_history = history["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(in_history["id"], id);
    only_mine(&in_history, &phone);
    // Over the WebSocket, from the laptop: sealed for the phone and Alice's other device.
    let alice_phone = {
        let (_, own) = app.get("/api/keys", Some(&alice.access)).await;
        own["data"]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["currentDevice"] == true)
            .unwrap()["deviceId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let envelopes: Vec<Value> = [&phone, &alice_phone]
        .iter()
        .map(|d| json!({ "deviceId": d, "body": random_b64(40), "preKey": true }))
        .collect();
    let frame = json!({ "chatId": chat, "clientMessageId": "ws-sealed", "type": "encrypted",
                        "metadata": { "envelopes": envelopes } });
    let ack = laptop_ws.act("message:send", frame.clone()).await;
    assert_eq!(ack["event"], "ack", "{ack}");
    only_mine(
        &bob_ws.next_event("message:received").await["data"]["message"],
        &phone,
    );
    let mut stale = frame;
    stale["clientMessageId"] = json!("ws-stale");
    stale["metadata"]["envelopes"] = json!([envelopes[0]]);
    let refused = laptop_ws.act("message:send", stale).await;
    assert_eq!(refused["data"]["code"], "VALIDATION_ERROR", "{refused}");
    assert_eq!(
        refused["data"]["details"]["missingDevices"],
        json!([alice_phone]),
        "{refused}"
    );

    // Only the envelopes; no readable text beside them.
    for (body, why) in [
        (
            json!({ "type": "encrypted", "content": "hi",
                 "metadata": { "envelopes": [{ "deviceId": phone, "body": random_b64(8) }] } }),
            "text beside the envelopes",
        ),
        (
            json!({ "type": "encrypted", "metadata": { "envelopes": [] } }),
            "no envelopes",
        ),
        (
            json!({ "type": "encrypted",
                 "metadata": { "envelopes": [{ "deviceId": phone, "body": "%%%" }] } }),
            "a body that is not base64",
        ),
        (
            json!({ "type": "encrypted",
                 "metadata": { "envelopes": [{ "deviceId": phone, "body": random_b64(8) },
                                             { "deviceId": phone, "body": random_b64(8) }] } }),
            "two envelopes for one device",
        ),
        (
            json!({ "type": "encrypted", "metadata": { "envelopes": [], "preview": "hi" } }),
            "a readable field",
        ),
    ] {
        let mut body = body;
        body["clientMessageId"] = json!(uuid::Uuid::new_v4());
        let (status, answer) = app
            .post(
                &format!("/api/chats/{chat}/messages"),
                Some(&alice.access),
                body,
            )
            .await;
        assert_eq!(status, 400, "{why}: {answer}");
    }
    // Sealed for these devices: neither edited nor forwarded.
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/messages/{id}"),
            &alice.access,
            json!({ "content": "changed" }),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{id}/forward"),
            Some(&alice.access),
            json!({ "chatIds": [chat] }),
        )
        .await;
    assert_eq!(status, 403);

    // Bob's tablet sets up keys: Alice's next message must be sealed for it too.
    let tablet = device_of(&app, &bob_tablet, pre_keys(0..5)).await;
    let (status, body) = send_sealed(&app, &alice, &chat, &[&phone, &laptop]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["missingDevices"], json!([tablet]));
    let (status, _) = send_sealed(&app, &alice, &chat, &[&phone, &laptop, &tablet]).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_group_message_under_a_sender_key_is_one_ciphertext_for_every_device() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "club", &[&bob, &carol]).await;
    for who in [&alice, &bob, &carol] {
        device_of(&app, who, pre_keys(0..3)).await;
    }
    let mut bob_ws = app.ws(&bob.access).await;
    let distribution = uuid::Uuid::new_v4();
    let body = random_b64(200);
    let sealed = |metadata: Value| json!({ "clientMessageId": uuid::Uuid::new_v4(), "type": "encrypted", "metadata": metadata });
    let path = format!("/api/chats/{group}/messages");
    let (status, sent) = app
        .post(
            &path,
            Some(&alice.access),
            sealed(json!({ "senderKey": { "distributionId": distribution, "body": body } })),
        )
        .await;
    assert_eq!(status, 201, "no device list to match: {sent}");
    let received = bob_ws.next_event("message:received").await;
    assert_eq!(
        received["data"]["message"]["metadata"]["senderKey"],
        json!({ "distributionId": distribution, "body": body }),
        "the same ciphertext for every device"
    );
    for (metadata, why) in [
        (
            json!({ "senderKey": { "distributionId": distribution } }),
            "no body",
        ),
        (
            json!({ "senderKey": { "distributionId": "x", "body": body } }),
            "not an id",
        ),
        (
            json!({ "senderKey": { "distributionId": distribution, "body": body, "to": "bob" } }),
            "a readable field",
        ),
        (
            json!({ "senderKey": { "distributionId": distribution, "body": body },
                    "envelopes": [] }),
            "both forms",
        ),
    ] {
        let (status, answer) = app.post(&path, Some(&alice.access), sealed(metadata)).await;
        assert_eq!(status, 400, "{why}: {answer}");
    }
    app.stop().await;
}

#[tokio::test]
async fn claims_and_publishes_are_rate_limited_per_user_and_a_refused_claim_takes_no_key() {
    use banter_core::config::Limit;
    let app = crate::support::spawn_app_with(|c| {
        c.settings.rate_limits.key_claims = Limit::new(4, 3600);
        c.settings.rate_limits.key_claims_per_user = Limit::new(2, 3600);
        c.settings.rate_limits.key_publishes = Limit::new(3, 3600);
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (carol, dave) = (app.register("carol").await, app.register("dave").await);
    device_of(&app, &alice, pre_keys(0..10)).await;
    device_of(&app, &carol, pre_keys(0..10)).await;
    device_of(&app, &dave, pre_keys(0..10)).await;
    for _ in 0..2 {
        assert_eq!(claim(&app, &bob, &alice).await.0, 200);
    }
    let (status, body) = claim(&app, &bob, &alice).await;
    assert_eq!(status, 429, "a third of Alice's: {body}");
    assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    let (_, own) = app.get("/api/keys", Some(&alice.access)).await;
    assert_eq!(
        own["data"]["devices"][0]["oneTimePreKeys"], 8,
        "two claimed, not three"
    );
    // Others' bundles, up to Bob's limit for everyone (the refused one counted).
    assert_eq!(claim(&app, &bob, &carol).await.0, 200);
    assert_eq!(claim(&app, &bob, &dave).await.0, 429, "five claims in all");
    assert_eq!(
        claim(&app, &carol, &alice).await.0,
        200,
        "Carol has her own"
    );

    // Alice published once; two more writes, then her identity cannot be churned further.
    assert_eq!(publish(&app, &alice, None, Vec::new()).await.0, 200);
    let (status, _) = app
        .post(
            "/api/keys/one-time",
            Some(&alice.access),
            json!({ "oneTimePreKeys": pre_keys(50..51) }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = publish(&app, &alice, None, Vec::new()).await;
    assert_eq!(status, 429, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn an_encrypted_attachment_is_stored_unprocessed_and_read_as_the_message_allows() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let outsider = app.register("outsider").await;
    let chat = app.open_chat(&alice, &bob).await;
    let phone = device_of(&app, &bob, pre_keys(0..3)).await;
    // Ciphertext: no type of its own, nothing a scanner or a decoder could read.
    let ciphertext: Vec<u8> = (0..40)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect();
    let request = |file_type: &str, mime: Option<&str>| {
        let mut r = json!({ "fileType": file_type, "fileName": "attachment",
                            "fileSize": ciphertext.len(), "chatId": chat });
        if let Some(mime) = mime {
            r["mimeType"] = json!(mime);
        }
        r
    };
    let (status, body) = app
        .post(
            "/api/upload/presigned-url",
            Some(&alice.access),
            request("encrypted", Some("image/png")),
        )
        .await;
    assert_eq!(status, 415, "ciphertext has one type: {body}");
    let file = crate::media::upload(&app, &alice, request("encrypted", None), &ciphertext).await;
    let stored = crate::media::processed(&app, &alice, &file).await;
    assert_eq!(stored["processingStatus"], "completed", "{stored}");
    assert_eq!(stored["mimeType"], "application/octet-stream");
    assert_eq!(
        stored["urls"]["thumbnail"],
        Value::Null,
        "nothing made of it"
    );

    // Attached to an encrypted message, never to another kind.
    let message = |kind: &str, metadata: Value| {
        json!({ "clientMessageId": uuid::Uuid::new_v4(), "type": kind, "mediaId": file,
                "metadata": metadata })
    };
    let sealed = json!({ "envelopes": [{ "deviceId": phone, "body": random_b64(60) }] });
    let path = format!("/api/chats/{chat}/messages");
    let (status, body) = app
        .post(&path, Some(&alice.access), message("document", json!({})))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, sent) = app
        .post(&path, Some(&alice.access), message("encrypted", sealed))
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["data"]["mediaId"], file.as_str());

    let (status, seen) = app
        .get(&format!("/api/media/{file}"), Some(&bob.access))
        .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(
        crate::media::download(&app, &seen["data"]["urls"]["original"]).await,
        ciphertext,
        "the bytes as uploaded"
    );
    let (status, _) = app
        .get(&format!("/api/media/{file}"), Some(&outsider.access))
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}
