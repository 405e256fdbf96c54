//! The `@connections` API: the AWS SDK for API Gateway Management, and Banter's own
//! `ApiGatewayPush` adapter, against the local stack.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use banter_aws::ApiGatewayPush;
use banter_core::ports::{contract, ConnectionPush, ConnectionRecord};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::support::{spawn_app, TestApp, User};

async fn connection_of(app: &TestApp, user: &User) -> String {
    let records = app
        .app()
        .ports
        .connections
        .connections_of(user.id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    records[0].connection_id.clone()
}

#[tokio::test]
async fn the_aws_sdk_posts_to_gets_and_deletes_a_live_connection() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mut ws = app.ws(&alice.access).await.raw();
    let id = connection_of(&app, &alice).await;

    let config = banter_aws::emulator_config(&app.base).await;
    let sdk = aws_sdk_apigatewaymanagement::Client::new(&config);
    sdk.post_to_connection()
        .connection_id(&id)
        .data(Blob::new(r#"{"event":"hello"}"#))
        .send()
        .await
        .expect("post");
    assert_eq!(ws.next_json().await, json!({ "event": "hello" }));

    let info = sdk
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("get");
    assert_eq!(
        info.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );
    assert!(info.connected_at().is_some());

    sdk.delete_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("delete");
    match ws.next_message(Duration::from_secs(3)).await {
        Some(Message::Close(_)) | None => {}
        other => panic!("expected the connection to close, got {other:?}"),
    }
    let user = alice.id.parse().unwrap();
    app.wait_for_no_connections(user, "$disconnect ran for a server-side close")
        .await;
    let gone = sdk
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert!(gone.into_service_error().is_gone_exception());
    app.stop().await;
}

/// Runs the connection push contract on one adapter against a live connection of the stack.
async fn push_contract(app: &TestApp, push: &dyn ConnectionPush) {
    let alice = app.register("alice").await;
    let ws = std::sync::Arc::new(tokio::sync::Mutex::new(app.ws(&alice.access).await.raw()));
    let id = connection_of(app, &alice).await;
    contract::connection_push(push, &id, || {
        let ws = ws.clone();
        async move {
            match ws.lock().await.next_message(Duration::from_secs(3)).await {
                Some(Message::Text(t)) => Some(t.as_str().to_owned()),
                _ => None,
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_api_gateway_push_adapter_passes_the_contract_against_the_local_stack() {
    let app = spawn_app().await;
    let push = ApiGatewayPush::new(&banter_aws::emulator_config(&app.base).await, &app.base);
    push_contract(&app, &push).await;
    app.stop().await;
}

#[tokio::test]
async fn the_local_push_adapter_passes_the_contract() {
    let app = spawn_app().await;
    let push = app.app().ports.push.clone();
    push_contract(&app, push.as_ref()).await;
    app.stop().await;
}

#[tokio::test]
async fn delivery_drops_connections_that_are_gone() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let bob_id: Uuid = bob.id.parse().unwrap();
    // A connection the registry still lists but that no longer exists (missed $disconnect).
    let stale = ConnectionRecord {
        connection_id: "stale-connection=".into(),
        user_id: bob_id,
        session_id: Uuid::new_v4(),
        connected_at: 0,
    };
    app.app().ports.connections.register(&stale).await.unwrap();
    let mut bob_ws = app.ws(&bob.access).await;

    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "a", "content": "hello" }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        bob_ws.next_event("message:received").await["data"]["message"]["content"],
        "hello"
    );
    let mut remaining = Vec::new();
    for _ in 0..20 {
        remaining = app
            .app()
            .ports
            .connections
            .connections_of(bob_id)
            .await
            .unwrap();
        if remaining.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        remaining.len(),
        1,
        "the stale connection was dropped, the live one kept"
    );
    assert_ne!(remaining[0].connection_id, "stale-connection=");
    app.stop().await;
}
