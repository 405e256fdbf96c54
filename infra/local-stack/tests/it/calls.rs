//! Calls: the signalling of 1:1 voice and video calls over the WebSocket (offer, answer, ICE
//! candidates, hanging up) through the event log, how calls end, and the call history.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp, User, WsClient};

const OFFER: &str =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
const ANSWER: &str =
    "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

/// The acknowledged result of an action (panics on an error).
async fn acked(ws: &mut WsClient, action: &str, data: Value) -> Value {
    let answer = ws.act(action, data).await;
    assert_eq!(answer["event"], "ack", "{action}: {answer}");
    answer["data"].clone()
}

/// The error code an action is refused with.
async fn refused(ws: &mut WsClient, action: &str, data: Value) -> String {
    let answer = ws.act(action, data).await;
    assert_eq!(answer["event"], "error:general", "{action}: {answer}");
    answer["data"]["code"].as_str().unwrap().to_owned()
}

async fn calls_of(app: &TestApp, user: &User) -> Vec<Value> {
    let (status, body) = app.get("/api/calls", Some(&user.access)).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// The names of the `call:*` events of a sync page, in order.
fn call_events(page: &Value) -> Vec<&str> {
    page["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .filter(|name| name.starts_with("call:"))
        .collect()
}

#[tokio::test]
async fn a_call_rings_every_device_is_answered_on_one_and_hung_up() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (_, now) = app.get("/api/sync", Some(&bob.access)).await;
    let since = now["data"]["nextCursor"].as_str().unwrap().to_owned();
    let mut alice_ws = app.ws(&alice.access).await;
    let laptop = app.login(&alice).await;
    let mut alice_laptop = app.ws(&laptop.access).await;
    let mut bob_phone = app.ws(&bob.access).await;
    let tablet = app.login(&bob).await;
    let mut bob_tablet = app.ws(&tablet.access).await;
    let mut carol_ws = app.ws(&carol.access).await;

    let call = acked(
        &mut alice_ws,
        "call:start",
        json!({ "chatId": chat, "kind": "video", "sdp": OFFER }),
    )
    .await;
    assert_eq!(
        (&call["status"], &call["kind"], &call["callerId"]),
        (&json!("ringing"), &json!("video"), &json!(alice.id))
    );
    let call_id = call["id"].as_str().unwrap().to_owned();
    for ws in [&mut bob_phone, &mut bob_tablet] {
        let incoming = ws.next_event("call:incoming").await;
        assert_eq!(incoming["data"]["call"]["id"], call_id.as_str());
        assert_eq!(incoming["data"]["sdp"], OFFER);
        assert!(incoming["cursor"].is_string(), "through the event log");
    }

    // Candidates go to the other side, as given.
    // As a browser's `RTCIceCandidate.toJSON()` gives it.
    let candidate = json!({ "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
                            "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "f3Kx" });
    acked(
        &mut alice_ws,
        "call:candidate",
        json!({ "callId": call_id, "candidate": candidate }),
    )
    .await;
    // While it rings, to every device of Bob's.
    for ws in [&mut bob_phone, &mut bob_tablet] {
        let passed = ws.next_event("call:candidate").await;
        assert_eq!(passed["data"]["candidate"], candidate);
        assert_eq!(passed["data"]["from"], alice.id);
    }
    // To none of Alice's other devices: her laptop is told of the call, and given nothing else.
    assert_eq!(alice_laptop.next_json().await["event"], "call:incoming");
    // A candidate of Bob's while it rings goes to Alice's device that called alone.
    let ringing = json!({ "candidate": "candidate:3 1 udp 2122260223 192.0.2.3 54323 typ host" });
    let from_tablet = json!({ "callId": call_id, "candidate": ringing });
    acked(&mut bob_tablet, "call:candidate", from_tablet).await;
    let passed = alice_ws.next_event("call:candidate").await;
    assert_eq!(
        passed["data"]["candidate"]["candidate"],
        ringing["candidate"]
    );

    // Someone outside the chat can do nothing with the call; the caller cannot answer it.
    for action in ["call:answer", "call:end", "call:candidate"] {
        let data = json!({ "callId": call_id, "sdp": ANSWER, "candidate": candidate });
        let data = match action {
            "call:answer" => json!({ "callId": call_id, "sdp": ANSWER }),
            "call:end" => json!({ "callId": call_id }),
            _ => json!({ "callId": call_id, "candidate": data["candidate"] }),
        };
        assert_eq!(
            refused(&mut carol_ws, action, data).await,
            "RESOURCE_NOT_FOUND"
        );
    }
    let own = json!({ "callId": call_id, "sdp": ANSWER });
    assert_eq!(
        refused(&mut alice_ws, "call:answer", own).await,
        "PERMISSION_DENIED"
    );

    // Bob answers on his phone: Alice gets his answer, his tablet stops ringing.
    let answer = json!({ "callId": call_id, "sdp": ANSWER });
    let ongoing = acked(&mut bob_phone, "call:answer", answer.clone()).await;
    assert_eq!(ongoing["status"], "ongoing");
    assert!(ongoing["answeredAt"].is_string());
    assert_eq!(alice_laptop.next_json().await["event"], "call:answered");
    for ws in [&mut alice_ws, &mut bob_tablet] {
        let answered = ws.next_event("call:answered").await;
        assert_eq!(answered["data"]["sdp"], ANSWER);
        assert_eq!(answered["data"]["answeredBy"], bob.id);
    }
    assert_eq!(
        refused(&mut bob_tablet, "call:answer", answer).await,
        "RESOURCE_ALREADY_EXISTS",
        "answered already"
    );
    // Answered, each side's candidates go to the other side's device in the call alone (the
    // tablet's, given while it rang, reached neither of Bob's other devices): not
    // to Bob's tablet, nor to Alice's laptop (which did not call).
    let after = json!({ "candidate": "candidate:2 1 udp 2122260223 192.0.2.2 54322 typ host" });
    let pass = json!({ "callId": call_id, "candidate": after });
    acked(&mut alice_ws, "call:candidate", pass.clone()).await;
    let passed = bob_phone.next_event("call:candidate").await;
    assert_eq!(passed["data"]["candidate"]["candidate"], after["candidate"]);
    acked(&mut bob_phone, "call:candidate", pass.clone()).await;
    let passed = alice_ws.next_event("call:candidate").await;
    assert_eq!(passed["data"]["from"], bob.id);
    // A device with no part in the call has no candidates to pass on.
    for ws in [&mut bob_tablet, &mut alice_laptop] {
        assert_eq!(
            refused(ws, "call:candidate", pass.clone()).await,
            "RESOURCE_NOT_FOUND"
        );
    }

    // Bob hangs up.
    let ended = acked(&mut bob_phone, "call:end", json!({ "callId": call_id })).await;
    assert_eq!(
        (&ended["status"], &ended["endReason"]),
        (&json!("ended"), &json!("hung_up"))
    );
    for ws in [&mut alice_ws, &mut alice_laptop, &mut bob_tablet] {
        // (The next call event each gets: none of the candidates went to the laptop or tablet.)
        let told = ws.next_json().await;
        assert_eq!(told["event"], "call:ended", "{told}");
        assert_eq!(told["data"]["endReason"], "hung_up");
    }
    let late = json!({ "callId": call_id, "candidate": candidate });
    assert_eq!(
        refused(&mut alice_ws, "call:candidate", late).await,
        "RESOURCE_NOT_FOUND"
    );
    let again = acked(&mut alice_ws, "call:end", json!({ "callId": call_id })).await;
    assert_eq!(
        again["endReason"], "hung_up",
        "ending it again changes nothing"
    );

    // Both have it in their history; Carol has nothing.
    for user in [&alice, &bob] {
        let calls = calls_of(&app, user).await;
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["id"], call_id.as_str());
        assert_eq!(calls[0]["endReason"], "hung_up");
        assert!(calls[0]["endedAt"].is_string());
    }
    assert!(calls_of(&app, &carol).await.is_empty());
    let (_, export) = app.get("/api/users/me/export", Some(&alice.access)).await;
    assert_eq!(
        export["data"]["calls"][0]["id"],
        call_id.as_str(),
        "the data export lists it"
    );

    // A device that was away reads how it went from sync.
    app.settle().await;
    let (_, synced) = app
        .get(&format!("/api/sync?since={since}"), Some(&bob.access))
        .await;
    assert_eq!(
        call_events(&synced),
        [
            "call:incoming",
            "call:candidate",
            "call:answered",
            "call:candidate",
            "call:ended"
        ]
    );
    // The tablet's sync has the candidate of the ringing call, not the one for the phone.
    let (_, on_tablet) = app
        .get(&format!("/api/sync?since={since}"), Some(&tablet.access))
        .await;
    assert_eq!(
        call_events(&on_tablet),
        [
            "call:incoming",
            "call:candidate",
            "call:answered",
            "call:ended"
        ]
    );
    // Alice's laptop's has none: neither hers nor Bob's.
    let (_, on_laptop) = app
        .get(&format!("/api/sync?since={since}"), Some(&laptop.access))
        .await;
    assert_eq!(
        call_events(&on_laptop),
        ["call:incoming", "call:answered", "call:ended"]
    );
    // ...without the ended call's network addresses: the log keeps no SDP or candidate.
    let text = synced.to_string();
    assert!(
        !text.contains(ANSWER) && !text.contains("typ host"),
        "{text}"
    );
    for event in synced["data"]["events"].as_array().unwrap() {
        match event["event"].as_str().unwrap() {
            "call:incoming" | "call:answered" => assert_eq!(event["data"]["sdp"], ""),
            "call:candidate" => assert_eq!(event["data"]["candidate"]["candidate"], ""),
            _ => {}
        }
    }

    // The longest offer there may be goes through whole (one more character is refused, below).
    let longest = format!("v=0{}", "a".repeat(16_381));
    let start = json!({ "chatId": chat, "kind": "audio", "sdp": longest });
    acked(&mut alice_ws, "call:start", start).await;
    let incoming = bob_phone.next_event("call:incoming").await;
    assert_eq!(incoming["data"]["sdp"].as_str().unwrap().len(), 16_384);
    app.stop().await;
}

#[tokio::test]
async fn calls_are_declined_cancelled_rung_out_replaced_and_refused_where_they_cannot_be() {
    let app = spawn_app_with(|c| c.settings.call_ring_timeout = Duration::from_secs(1)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let dave = app.register("dave").await;
    let chat = app.open_chat(&alice, &bob).await;
    let with_dave = app.open_chat(&alice, &dave).await;
    let group = app.open_group(&alice, "crew", &[&bob]).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let start = |chat: &str| json!({ "chatId": chat, "kind": "audio", "sdp": OFFER });
    let call_id = |call: &Value| call["id"].as_str().unwrap().to_owned();

    // Where a call cannot be: a group, a chat with someone the caller blocks, a bad offer.
    assert_eq!(
        refused(&mut alice_ws, "call:start", start(&group)).await,
        "VALIDATION_ERROR"
    );
    app.block(&alice, &dave).await;
    assert_eq!(
        refused(&mut alice_ws, "call:start", start(&with_dave)).await,
        "PERMISSION_DENIED"
    );
    for sdp in [
        json!("hello"),
        json!("v=0".to_owned() + &"a".repeat(16_382)),
        json!(5),
    ] {
        let bad = json!({ "chatId": chat, "kind": "audio", "sdp": sdp });
        assert_eq!(
            refused(&mut alice_ws, "call:start", bad).await,
            "VALIDATION_ERROR"
        );
    }
    let stray = json!({ "chatId": chat, "kind": "audio", "sdp": OFFER, "extra": 1 });
    assert_eq!(
        refused(&mut alice_ws, "call:start", stray).await,
        "VALIDATION_ERROR"
    );

    // Declined by the callee.
    let call = acked(&mut alice_ws, "call:start", start(&chat)).await;
    bob_ws.next_event("call:incoming").await;
    let declined = acked(&mut bob_ws, "call:end", json!({ "callId": call_id(&call) })).await;
    assert_eq!(declined["endReason"], "declined");
    assert_eq!(
        alice_ws.next_event("call:ended").await["data"]["endReason"],
        "declined"
    );

    // Cancelled by the caller: missed, for the callee.
    let call = acked(&mut alice_ws, "call:start", start(&chat)).await;
    bob_ws.next_event("call:incoming").await;
    acked(
        &mut alice_ws,
        "call:end",
        json!({ "callId": call_id(&call) }),
    )
    .await;
    assert_eq!(
        bob_ws.next_event("call:ended").await["data"]["endReason"],
        "missed"
    );

    // While one rings, the chat is busy; unanswered, it rings out by itself.
    let call = acked(&mut alice_ws, "call:start", start(&chat)).await;
    bob_ws.next_event("call:incoming").await;
    assert_eq!(
        refused(&mut bob_ws, "call:start", start(&chat)).await,
        "RESOURCE_ALREADY_EXISTS"
    );
    let rang_out = bob_ws.next_event("call:ended").await;
    assert_eq!(rang_out["data"]["id"], call_id(&call).as_str());
    assert_eq!(rang_out["data"]["endReason"], "missed");
    let late = json!({ "callId": call_id(&call), "sdp": ANSWER });
    assert_eq!(
        refused(&mut bob_ws, "call:answer", late).await,
        "RESOURCE_ALREADY_EXISTS"
    );

    // An answered call whose devices lost it is replaced by the next call in the chat.
    let call = acked(&mut alice_ws, "call:start", start(&chat)).await;
    bob_ws.next_event("call:incoming").await;
    acked(
        &mut bob_ws,
        "call:answer",
        json!({ "callId": call_id(&call), "sdp": ANSWER }),
    )
    .await;
    let next = acked(&mut bob_ws, "call:start", start(&chat)).await;
    let replaced = alice_ws.next_event("call:ended").await;
    assert_eq!(replaced["data"]["id"], call_id(&call).as_str());
    assert_eq!(replaced["data"]["endReason"], "replaced");
    let incoming = alice_ws.next_event("call:incoming").await;
    assert_eq!(incoming["data"]["call"]["id"], call_id(&next).as_str());

    let reasons: Vec<Value> = calls_of(&app, &alice)
        .await
        .iter()
        .map(|c| c["endReason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [
            Value::Null,
            json!("replaced"),
            json!("missed"),
            json!("missed"),
            json!("declined")
        ],
        "newest first; the last still rings"
    );

    // Each ended call has its line in the chat, as WhatsApp shows it; only a missed call is
    // unread, and only for the one it missed.
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    let lines: Vec<(String, Value, Value)> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metadata"]["action"] == "call")
        .map(|m| {
            (
                m["content"].as_str().unwrap().to_owned(),
                m["metadata"]["endReason"].clone(),
                m["metadata"]["durationSeconds"].clone(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 4, "{history}");
    assert_eq!(
        lines[..3],
        [
            (
                "Declined voice call".to_owned(),
                json!("declined"),
                Value::Null
            ),
            ("Missed voice call".to_owned(), json!("missed"), Value::Null),
            ("Missed voice call".to_owned(), json!("missed"), Value::Null),
        ]
    );
    assert!(lines[3].0.starts_with("Voice call, 0:0"), "{:?}", lines[3]);
    assert_eq!(lines[3].1, "replaced");
    assert!(lines[3].2.is_i64(), "answered: it lasted");
    assert_eq!(
        app.chat_row(&bob, &chat).await["unreadCount"],
        2,
        "the two calls he missed"
    );
    assert_eq!(
        app.chat_row(&alice, &chat).await["unreadCount"],
        0,
        "she made them"
    );
    app.stop().await;
}

#[tokio::test]
async fn devices_get_stun_and_turn_servers_with_credentials_of_their_own_that_expire() {
    use banter_core::auth::turn::TurnKey;
    let app = spawn_app_with(|c| {
        c.settings.ice.stun_urls = vec!["stun:stun.example.com:3478".into()];
        c.settings.ice.turn_urls = vec![
            "turn:turn.example.com:3478?transport=udp".into(),
            "turns:turn.example.com:5349".into(),
        ];
        c.settings.ice.turn_key = Some(TurnKey::new("north"));
        c.settings.ice.turn_credential_ttl = Duration::from_secs(3600);
    })
    .await;
    let alice = app.register("alice").await;
    let (status, body) = app.get("/api/calls/ice-servers", Some(&alice.access)).await;
    assert_eq!(status, 200, "{body}");
    let servers = body["data"]["iceServers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{body}");
    assert_eq!(servers[0]["urls"], json!(["stun:stun.example.com:3478"]));
    assert!(servers[0].get("credential").is_none());
    let turn = &servers[1];
    assert_eq!(turn["urls"].as_array().unwrap().len(), 2);
    let username = turn["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, alice.id, "the credential names its user");
    let expiry: i64 = expiry.parse().unwrap();
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;
    assert!((in_an_hour - 5..=in_an_hour).contains(&expiry), "{expiry}");
    let expires = chrono::DateTime::from_timestamp(expiry, 0).unwrap();
    let user = alice.id.parse().unwrap();
    assert_eq!(
        turn["credential"].as_str().unwrap(),
        TurnKey::new("north").credential(user, expires).1
    );
    let expires_at: chrono::DateTime<chrono::Utc> =
        body["data"]["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_at.timestamp(), expiry);
    assert!(!body.to_string().contains("north"), "the key never leaves");
    assert_eq!(app.get("/api/calls/ice-servers", None).await.0, 401);
    app.stop().await;

    // Nothing configured: no servers (devices on one network still reach each other).
    let app = spawn_app().await;
    let bob = app.register("bob").await;
    let (status, body) = app.get("/api/calls/ice-servers", Some(&bob.access)).await;
    assert_eq!((status, &body["data"]), (200, &json!({ "iceServers": [] })));
    app.stop().await;
}

#[tokio::test]
async fn calls_and_their_candidates_are_rate_limited() {
    let app = spawn_app_with(|c| {
        c.settings.rate_limits.calls = banter_core::config::Limit::new(2, 3600);
        // (Not the connection's own frame rate limit: this counts what a call takes.)
        c.ws_limits.frames_per_second = 100_000.0;
        c.ws_limits.frame_burst = 100_000.0;
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let start = json!({ "chatId": chat, "kind": "audio", "sdp": OFFER });
    for _ in 0..2 {
        let call = acked(&mut alice_ws, "call:start", start.clone()).await;
        acked(&mut alice_ws, "call:end", json!({ "callId": call["id"] })).await;
    }
    let answer = alice_ws.act("call:start", start.clone()).await;
    assert_eq!(answer["data"]["code"], "RATE_LIMIT_EXCEEDED", "{answer}");
    assert_eq!(
        calls_of(&app, &bob).await.len(),
        2,
        "the refused call rang nobody"
    );

    // A call's candidates from one side: a few dozen is usual, 200 the most.
    let mut bob_ws = app.ws(&bob.access).await;
    let call = acked(&mut bob_ws, "call:start", start).await;
    let candidate = json!({ "callId": call["id"], "candidate": { "candidate": "candidate:1" } });
    for _ in 0..200 {
        acked(&mut bob_ws, "call:candidate", candidate.clone()).await;
    }
    assert_eq!(
        refused(&mut bob_ws, "call:candidate", candidate).await,
        "RATE_LIMIT_EXCEEDED"
    );
    app.stop().await;
}

/// A block ends a call between the two, ringing or answered, whoever blocks: the other's
/// devices stop ringing (or talking), and the call is answered, or signalled, no more.
#[tokio::test]
async fn a_block_ends_a_call_between_the_two_whether_ringing_or_answered() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let start = json!({ "chatId": chat, "kind": "audio", "sdp": OFFER });
    let candidate = json!({ "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
                            "sdpMid": "0", "sdpMLineIndex": 0 });

    // The caller blocks while it rings: the callee's phone stops, and cannot answer.
    let ringing = acked(&mut alice_ws, "call:start", start.clone()).await;
    let call_id = ringing["id"].as_str().unwrap().to_owned();
    bob_ws.next_event("call:incoming").await;
    app.block(&alice, &bob).await;
    let ended = bob_ws.next_event("call:ended").await;
    assert_eq!(ended["data"]["id"], call_id.as_str(), "{ended}");
    assert_eq!(ended["data"]["endReason"], "missed", "{ended}");
    let answer = json!({ "callId": call_id, "sdp": ANSWER });
    assert_eq!(
        refused(&mut bob_ws, "call:answer", answer).await,
        "RESOURCE_ALREADY_EXISTS",
        "it has ended"
    );
    let (status, body) = app
        .post(
            "/api/users/unblock",
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The callee blocks once answered: the call is over for both.
    let ongoing = acked(&mut alice_ws, "call:start", start).await;
    let call_id = ongoing["id"].as_str().unwrap().to_owned();
    bob_ws.next_event("call:incoming").await;
    acked(
        &mut bob_ws,
        "call:answer",
        json!({ "callId": call_id, "sdp": ANSWER }),
    )
    .await;
    app.block(&bob, &alice).await;
    let ended = alice_ws.next_event("call:ended").await;
    assert_eq!(ended["data"]["id"], call_id.as_str(), "{ended}");
    assert_eq!(ended["data"]["endReason"], "hung_up", "{ended}");
    assert_eq!(
        refused(
            &mut alice_ws,
            "call:candidate",
            json!({ "callId": call_id, "candidate": candidate })
        )
        .await,
        "RESOURCE_NOT_FOUND"
    );
    let history = calls_of(&app, &bob).await;
    assert!(
        history.iter().all(|c| c["status"] == "ended"),
        "{history:?}"
    );
    app.stop().await;
}

/// A call to someone who blocks the caller rings, as far as the caller can tell, until it is
/// missed, and reaches none of the blocker's devices: not pushed, not notified, not answerable,
/// and not in their sync, call history or chat, after an unblock either (a refusal would tell
/// the caller of the block). The blocker is told to unblock before they call; unblocked, their
/// call is not "busy" for the kept call still ringing, which ends.
#[tokio::test]
async fn a_call_to_someone_who_blocks_the_caller_rings_for_the_caller_alone() {
    use crate::notifications::{notified, register_phone_token};
    use crate::sync::{present, sync_all};
    let app = spawn_app_with(|c| c.settings.call_ring_timeout = Duration::from_secs(1)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    // Bob opened the chat; nothing in it shows it in Alice's list.
    let chat = app.open_chat(&bob, &alice).await;
    assert_eq!(
        register_phone_token(&app, &app.login(&alice).await).await,
        200
    );
    app.block(&alice, &bob).await;
    let since = present(&app, &alice).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut bob_tablet = app.ws(&app.login(&bob).await.access).await;
    let start = json!({ "chatId": chat, "kind": "audio", "sdp": OFFER });
    let candidate = json!({ "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
                            "sdpMid": "0", "sdpMLineIndex": 0 });

    let call = acked(&mut bob_ws, "call:start", start.clone()).await;
    assert_eq!(call["status"], "ringing");
    let call_id = call["id"].as_str().unwrap().to_owned();
    let incoming = bob_tablet.next_event("call:incoming").await;
    assert_eq!(
        incoming["data"]["call"]["id"],
        call_id.as_str(),
        "{incoming}"
    );
    acked(
        &mut bob_ws,
        "call:candidate",
        json!({ "callId": call_id, "candidate": candidate }),
    )
    .await;
    let answer = json!({ "callId": call_id, "sdp": ANSWER });
    assert_eq!(
        refused(&mut alice_ws, "call:answer", answer).await,
        "RESOURCE_NOT_FOUND",
        "not a call of hers"
    );
    let rang_out = bob_ws.next_event("call:ended").await;
    assert_eq!(
        (&rang_out["data"]["id"], &rang_out["data"]["endReason"]),
        (&json!(call_id), &json!("missed")),
        "{rang_out}"
    );
    // His other device hears it end, and gets its line, as for any call of his.
    bob_tablet.next_event("call:ended").await;
    let line = bob_tablet.next_event("message:received").await;
    assert_eq!(
        line["data"]["message"]["metadata"]["callId"],
        call_id.as_str(),
        "{line}"
    );
    alice_ws.expect_silence(Duration::from_millis(400)).await;

    // His history and chat have it as any missed call; hers have nothing of it.
    assert_eq!(calls_of(&app, &bob).await.len(), 1);
    assert_eq!(calls_of(&app, &alice).await, Vec::<Value>::new());
    let lines_of = |user: &User| {
        let (app, path) = (&app, format!("/api/chats/{chat}/messages"));
        let token = user.access.clone();
        async move {
            let (status, body) = app.get(&path, Some(&token)).await;
            assert_eq!(status, 200, "{body}");
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["metadata"]["action"] == "call")
                .map(|m| m["content"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(lines_of(&bob).await, ["Missed voice call"]);
    assert_eq!(lines_of(&alice).await, Vec::<String>::new());
    let listed = app.get("/api/chats", Some(&alice.access)).await.1;
    assert!(
        !listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == chat.as_str()),
        "the chat stays out of her list: {listed}"
    );
    let (events, _) = sync_all(&app, &alice, &since).await;
    assert_eq!(events, Vec::<Value>::new(), "her sync");

    // A group is no place for a call, however many in it block him.
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let group = app.open_group(&bob, "trio", &[&carol, &dave]).await;
    app.block(&carol, &bob).await;
    app.block(&dave, &bob).await;
    assert_eq!(
        refused(
            &mut bob_ws,
            "call:start",
            json!({ "chatId": group, "kind": "audio", "sdp": OFFER })
        )
        .await,
        "VALIDATION_ERROR"
    );

    // She may not call him while she blocks him, and is told why.
    let refusal = alice_ws.act("call:start", start.clone()).await;
    assert_eq!(refusal["data"]["code"], "PERMISSION_DENIED", "{refusal}");
    assert!(
        refusal["data"]["message"]
            .as_str()
            .unwrap()
            .contains("unblock"),
        "{refusal}"
    );

    // He calls again; she unblocks while it rings and calls him: his kept call ends (missed)
    // and hers rings for him.
    let kept = acked(&mut bob_ws, "call:start", start.clone()).await;
    app.unblock(&alice, &bob).await;
    let hers = acked(&mut alice_ws, "call:start", start).await;
    let ended = bob_ws.next_event("call:ended").await;
    assert_eq!(
        (&ended["data"]["id"], &ended["data"]["endReason"]),
        (&kept["id"], &json!("missed")),
        "{ended}"
    );
    let incoming = bob_ws.next_event("call:incoming").await;
    assert_eq!(incoming["data"]["call"]["id"], hers["id"], "{incoming}");
    acked(&mut alice_ws, "call:end", json!({ "callId": hers["id"] })).await;

    // Unblocked, nothing of his kept calls comes to her: history, chat, sync, notifications.
    app.sent(&bob, &chat, "friends again").await;
    let notices = notified(&app, "friends again").await;
    assert!(!notices.iter().any(|n| n.contains("call")), "{notices:?}");
    let calls: Vec<Value> = calls_of(&app, &alice).await;
    assert_eq!(calls.len(), 1, "her own call: {calls:?}");
    assert_eq!(calls[0]["id"], hers["id"]);
    assert_eq!(lines_of(&alice).await, ["Missed voice call"], "hers");
    assert_eq!(
        lines_of(&bob).await,
        [
            "Missed voice call",
            "Missed voice call",
            "Missed voice call"
        ]
    );
    let (events, _) = sync_all(&app, &alice, &since).await;
    let about_calls: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["event"].as_str().unwrap().starts_with("call:")
                || e["data"]["message"]["metadata"]["action"] == "call"
        })
        .collect();
    assert!(
        about_calls.iter().all(|e| e["data"]["id"] == hers["id"]
            || e["data"]["call"]["id"] == hers["id"]
            || e["data"]["message"]["metadata"]["callId"] == hers["id"]),
        "{about_calls:?}"
    );
    assert_eq!(about_calls.len(), 3, "{about_calls:?}");
    app.stop().await;
}
