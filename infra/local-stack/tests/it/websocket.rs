//! The WebSocket API: handshake authorization, error frames, and one message on the real path.

use std::time::Duration;

use banter_core::auth::tokens::{Caller, TokenKeys};
use banter_core::config::Settings;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use uuid::Uuid;

use crate::support::{spawn_app, spawn_app_with, WsClient};

fn assert_refused_401(result: Result<WsClient, WsError>) {
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), 401),
        Err(e) => panic!("expected an HTTP 401 refusal, got {e}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_at_the_handshake_with_401() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let caller = Caller {
        user_id: alice.id.parse().unwrap(),
        session_id: Uuid::new_v4(),
    };

    let other_key =
        TokenKeys::from_pkcs8(&TokenKeys::generate_pkcs8(), &Settings::default()).unwrap();
    let forged = other_key.issue_access(caller, 600).unwrap();
    let expired = app.app().tokens.issue_access(caller, -120).unwrap();
    let b64 = |v: serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "sub": alice.id, "sid": Uuid::new_v4(), "iat": now, "exp": now + 600, "iss": "banter", "aud": "banter-clients" });
    let alg_none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "JWT" })),
        b64(claims)
    );

    for token in [
        "",
        "garbage",
        forged.as_str(),
        expired.as_str(),
        alg_none.as_str(),
    ] {
        assert_refused_401(WsClient::connect(&app, token).await);
    }
    let no_token = tokio_tungstenite::connect_async(app.ws_url()).await;
    match no_token {
        Err(WsError::Http(r)) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("expected 401 without a token, got {:?}", other.map(|_| ())),
    }
    // The real token works.
    app.ws(&alice.access).await;
    app.stop().await;
}

#[tokio::test]
async fn malformed_frames_and_unknown_actions_get_error_general_and_the_connection_stays_open() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ws = app.ws(&alice.access).await;

    ws.send_text("this is not json").await;
    let frame = ws.next_json().await;
    assert_eq!(frame["event"], "error:general");
    assert_eq!(frame["data"]["code"], "INVALID_INPUT");

    ws.send_json(json!({ "action": "no:such:action", "requestId": "r-1", "data": {} }))
        .await;
    let frame = ws.next_json().await;
    assert_eq!(
        (frame["event"].as_str(), frame["requestId"].as_str()),
        (Some("error:general"), Some("r-1"))
    );
    assert_eq!(frame["data"]["code"], "VALIDATION_ERROR");

    let oversized = json!({ "action": "message:send", "requestId": "r-2", "data": { "content": "x".repeat(130 * 1024) } });
    ws.send_json(oversized).await;
    let frame = ws.next_json().await;
    assert_eq!(
        (frame["event"].as_str(), frame["data"]["code"].as_str()),
        (Some("error:general"), Some("FILE_TOO_LARGE"))
    );

    ws.send_json(json!({ "action": "message:send", "requestId": "r-3", "data": { "chatId": chat, "clientMessageId": "m1" } })).await;
    let frame = ws.next_json().await;
    assert_eq!(
        (frame["event"].as_str(), frame["requestId"].as_str()),
        (Some("error:general"), Some("r-3")),
        "text without content"
    );

    // Text ending in half an emoji, as JavaScript's JSON.stringify writes it: no Rust string
    // holds it, yet the frame is answered to its id, and nothing is stored (m1 is free below).
    ws.send_text(&format!(
        r#"{{"action":"message:send","requestId":"r-lone","data":{{"chatId":"{chat}","clientMessageId":"m1","content":"hi \ud83d"}}}}"#
    ))
    .await;
    let frame = ws.next_json().await;
    assert_eq!(
        (
            frame["event"].as_str(),
            frame["requestId"].as_str(),
            frame["data"]["code"].as_str()
        ),
        (Some("error:general"), Some("r-lone"), Some("INVALID_INPUT")),
        "{frame}"
    );

    // Still open: a good frame is acknowledged.
    ws.send_json(json!({ "action": "message:send", "requestId": "r-4", "data": { "chatId": chat, "clientMessageId": "m1", "content": "still here" } })).await;
    let frame = ws.next_json().await;
    assert_eq!(
        (frame["event"].as_str(), frame["requestId"].as_str()),
        (Some("ack"), Some("r-4")),
        "{frame}"
    );
    assert_eq!(frame["data"]["content"], "still here");
    // A frame many times the server's read buffer (1 KiB) is read whole: the longest text.
    let longest: String = (0..banter_core::api::limits::MAX_MESSAGE_CHARS)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    ws.send_json(json!({ "action": "message:send", "requestId": "r-5", "data": { "chatId": chat, "clientMessageId": "m2", "content": longest } })).await;
    let frame = ws.answer_to("r-5").await;
    assert_eq!(frame["event"], "ack", "{frame}");
    assert!(
        frame["data"]["content"].as_str() == Some(longest.as_str()),
        "the stored text is the text sent"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_message_is_stored_acked_and_delivered_once_even_when_resent() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let alice_phone = app.login(&alice).await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut alice_other_device = app.ws(&alice_phone.access).await;
    let mut bob_ws = app.ws(&bob.access).await;

    let send = json!({ "action": "message:send", "requestId": "c-17",
        "data": { "chatId": chat, "clientMessageId": "cm-1", "type": "text", "content": "hi bob" } });
    alice_ws.send_json(send.clone()).await;
    let ack = alice_ws.next_json().await;
    assert_eq!(
        (ack["event"].as_str(), ack["requestId"].as_str()),
        (Some("ack"), Some("c-17")),
        "{ack}"
    );
    let message = &ack["data"];
    assert_eq!(message["seq"], 1);
    assert_eq!(message["clientMessageId"], "cm-1");
    assert_eq!(message["sender"]["id"], alice.id);
    assert_eq!(message["chatId"], chat);

    let received = bob_ws.next_event("message:received").await;
    assert_eq!(received["data"]["message"]["id"], message["id"]);
    assert_eq!(received["data"]["message"]["content"], "hi bob");
    let own = alice_other_device.next_event("message:received").await;
    assert_eq!(
        own["data"]["message"]["id"], message["id"],
        "the sender's other device gets it too"
    );

    for device in [&mut alice_ws, &mut alice_other_device] {
        let delivered = device.next_event("message:delivered").await;
        assert_eq!(delivered["data"]["messageId"], message["id"]);
        assert_eq!(delivered["data"]["deliveredTo"], json!([bob.id]));
    }

    // The same clientMessageId again: the same message back, delivered to nobody.
    alice_ws.send_json(send).await;
    let again = alice_ws.next_json().await;
    assert_eq!(again["event"], "ack");
    assert_eq!(again["data"]["id"], message["id"]);
    assert_eq!(again["data"]["seq"], 1);
    bob_ws.expect_silence(Duration::from_millis(500)).await;
    alice_other_device
        .expect_silence(Duration::from_millis(100))
        .await;

    // The next message gets the next seq, and history shows both in order, delivered.
    alice_ws
        .send_json(json!({ "action": "message:send", "requestId": "c-18",
        "data": { "chatId": chat, "clientMessageId": "cm-2", "content": "second" } }))
        .await;
    assert_eq!(alice_ws.next_json().await["data"]["seq"], 2);
    bob_ws.next_event("message:received").await;
    alice_ws.next_event("message:delivered").await;
    let (status, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
        .await;
    assert_eq!(status, 200);
    let seqs: Vec<i64> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2]);
    assert_eq!(history["data"][0]["status"], "delivered");
    app.stop().await;
}

#[tokio::test]
async fn sending_to_a_chat_you_are_not_in_is_not_found() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mallory = app.register("mallory").await;
    let mut bob_ws = app.ws(&bob.access).await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ws = app.ws(&mallory.access).await;
    ws.send_json(json!({ "action": "message:send", "requestId": "x", "data": { "chatId": chat, "clientMessageId": "m", "content": "let me in" } })).await;
    let frame = ws.next_json().await;
    assert_eq!(
        (frame["event"].as_str(), frame["data"]["code"].as_str()),
        (Some("error:general"), Some("RESOURCE_NOT_FOUND"))
    );
    bob_ws.expect_silence(Duration::from_millis(300)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_logged_out_session_cannot_open_a_websocket() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let (status, _) = app
        .post(
            "/api/auth/logout",
            Some(&alice.access),
            json!({ "refreshToken": alice.refresh }),
        )
        .await;
    assert_eq!(status, 200);
    assert_refused_401(WsClient::connect(&app, &alice.access).await);
    app.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_and_unregistered() {
    let app = spawn_app_with(|c| c.ws_limits.idle_timeout = Duration::from_millis(300)).await;
    let alice = app.register("alice").await;
    let mut ws = app.ws(&alice.access).await;
    let user: Uuid = alice.id.parse().unwrap();
    assert_eq!(
        app.app()
            .ports
            .connections
            .connections_of(user)
            .await
            .unwrap()
            .len(),
        1
    );
    match ws.next_message(Duration::from_secs(3)).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    app.wait_for_no_connections(user, "$disconnect ran").await;
    app.stop().await;
}

#[tokio::test]
async fn a_heartbeat_keeps_a_quiet_connection_open_and_tells_the_server_time() {
    let app = spawn_app_with(|c| c.ws_limits.idle_timeout = Duration::from_millis(400)).await;
    let alice = app.register("alice").await;
    let mut ws = app.ws(&alice.access).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let pong = ws.act("socket:ping", json!({})).await;
        assert_eq!(pong["event"], "ack", "{pong}");
        let server_time: chrono::DateTime<chrono::Utc> = pong["data"]["serverTime"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let off = (chrono::Utc::now() - server_time).num_milliseconds().abs();
        assert!(off < 5_000, "the server's time: {pong}");
    }
    // 800 ms in all, twice the idle timeout: the heartbeats kept it open.
    let stray = ws.act("socket:ping", json!({ "extra": 1 })).await;
    assert_eq!(stray["data"]["code"], "VALIDATION_ERROR", "{stray}");
    match ws.next_message(Duration::from_secs(3)).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("quiet again, it closes: {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn connections_end_at_their_maximum_lifetime_even_when_busy() {
    let app = spawn_app_with(|c| c.ws_limits.max_lifetime = Duration::from_millis(600)).await;
    let alice = app.register("alice").await;
    let mut ws = app.ws(&alice.access).await;
    // Activity does not extend the lifetime (only the idle timer).
    for i in 0..3 {
        ws.send_json(json!({ "action": "nothing", "requestId": format!("p{i}") }))
            .await;
        assert_eq!(ws.next_json().await["event"], "error:general");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    match ws.next_message(Duration::from_secs(3)).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn frames_past_the_connection_budget_are_answered_undispatched() {
    let app = spawn_app_with(|c| {
        c.ws_limits.frames_per_second = 0.001;
        c.ws_limits.frame_burst = 3.0;
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ws = app.ws(&alice.access).await;
    for i in 0..6 {
        ws.send_json(json!({ "action": "message:send", "requestId": format!("r-{i}"),
                             "data": { "chatId": chat, "clientMessageId": format!("m-{i}"), "content": "hi" } }))
            .await;
    }
    ws.send_text("junk counts too").await;
    // Half an emoji (as JSON.stringify writes it): refused by its budget, to its requestId.
    ws.send_text(
        r#"{"action": "user:status_update", "requestId": "r-cut", "data": {"status": "\ud83d"}}"#,
    )
    .await;
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..8 {
        let frame = ws.next_json().await;
        let key = frame["requestId"].as_str().unwrap_or("-").to_owned();
        codes.insert(
            key,
            frame["data"]["code"].as_str().unwrap_or("ack").to_owned(),
        );
    }
    let limited = codes
        .values()
        .filter(|c| *c == "RATE_LIMIT_EXCEEDED")
        .count();
    assert_eq!(
        limited, 5,
        "three in the burst, the rest refused: {codes:?}"
    );
    assert_eq!(codes["r-cut"], "RATE_LIMIT_EXCEEDED", "{codes:?}");
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
        .await;
    assert_eq!(
        history["data"].as_array().unwrap().len(),
        3,
        "refused frames were not dispatched"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_user_holds_at_most_the_configured_connections() {
    let app = spawn_app_with(|c| c.settings.max_connections_per_user = 2).await;
    let alice = app.register("alice").await;
    let _phone = app.ws(&alice.access).await;
    let _laptop = app.ws(&alice.access).await;
    assert!(
        WsClient::connect(&app, &alice.access).await.is_err(),
        "a third is refused at the handshake"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_closed_once_its_buffer_is_full() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    // Connected, then never read from again.
    let _silent = app.ws(&alice.access).await;
    let user: Uuid = alice.id.parse().unwrap();
    let connection = app
        .app()
        .ports
        .connections
        .connections_of(user)
        .await
        .unwrap()[0]
        .connection_id
        .clone();
    // 64 KB frames: the socket's kernel buffers fill, then the connection's own buffer.
    let frame = vec![b'x'; 64 * 1024];
    let mut refused = None;
    for sent in 0..4_000 {
        if let Err(e) = app.app().ports.push.post(&connection, &frame).await {
            refused = Some((sent, e));
            break;
        }
    }
    let (sent, error) = refused.expect("pushes to a client that never reads must be refused");
    assert!(sent < 4_000, "refused after {sent} frames: {error}");
    app.wait_for_no_connections(user, "the silent client was closed and unregistered")
        .await;
    assert!(
        matches!(
            app.app().ports.push.post(&connection, b"late").await,
            Err(banter_core::ports::PushError::Gone)
        ),
        "the connection is gone"
    );
    app.stop().await;
}

/// `GET /local/aws-calls` counts what a message would ask of AWS: its frame in, the function
/// invocations (the route's and the relay's), the queue's wake-up, the connection lookups and
/// the frames out (the sender's ack, the recipient's event, the sender's receipt).
#[tokio::test]
async fn the_stack_counts_the_aws_requests_a_message_makes() {
    use banter_local::aws_calls::AwsCallCounts;
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    app.relay_caught_up().await;
    let counts = || async {
        let (status, counts) = app.get("/local/aws-calls", None).await;
        assert_eq!(status, 200, "{counts}");
        serde_json::from_value::<AwsCallCounts>(counts).unwrap()
    };
    let before = counts().await;

    alice_ws
        .send_json(json!({ "action": "message:send", "requestId": "c-1",
            "data": { "chatId": chat, "clientMessageId": "cm-1", "content": "counted" } }))
        .await;
    assert_eq!(alice_ws.next_json().await["event"], "ack");
    bob_ws.next_event("message:received").await;
    alice_ws.next_event("message:delivered").await;
    let after = counts().await;

    assert_eq!(after.websocket_in - before.websocket_in, 1, "{after:?}");
    assert!(
        after.websocket_out - before.websocket_out >= 3,
        "ack, event, receipt: {before:?} -> {after:?}"
    );
    assert!(
        after.lambda_invocations - before.lambda_invocations >= 2,
        "the route's function and the relay: {before:?} -> {after:?}"
    );
    assert!(after.sqs_sends > before.sqs_sends, "{after:?}");
    assert!(after.sqs_receives > before.sqs_receives, "{after:?}");
    assert!(
        after.dynamodb_reads > before.dynamodb_reads,
        "the recipient's connections: {after:?}"
    );
    app.stop().await;
}
