//! Data export and account erasure.

use serde_json::json;
use uuid::Uuid;

use crate::support::spawn_app;

use super::{closed, code, PASSWORD};

#[tokio::test]
async fn export_then_erase_an_account() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    app.post(
        &format!("/api/chats/{chat}/messages"),
        Some(&alice.access),
        json!({ "clientMessageId": "x", "content": "remember me" }),
    )
    .await;

    let (status, export) = app.get("/api/users/me/export", Some(&alice.access)).await;
    assert_eq!(status, 200);
    let data = &export["data"];
    assert_eq!(data["profile"]["email"], alice.email);
    assert_eq!(data["messagesSent"][0]["content"], "remember me");
    assert_eq!(data["chats"][0]["chatId"], chat);
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);

    let mut ws = app.ws(&alice.access).await;
    let (status, body) = app
        .delete(
            "/api/users/me",
            &alice.access,
            json!({ "password": "not my password" }),
        )
        .await;
    assert_eq!((status, code(&body)), (401, Some("INVALID_CREDENTIALS")));
    let (status, _) = app
        .delete(
            "/api/users/me",
            &alice.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(closed(&mut ws).await);
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": alice.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        app.get("/api/users/profile", Some(&alice.access)).await.0,
        401,
        "the erased account's sessions are revoked, so its token is refused"
    );
    // Bob's chat still reads, with the message attributed to a deleted account.
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    let message = &history["data"][0];
    assert_eq!(message["content"], "remember me");
    assert!(message["sender"]["username"]
        .as_str()
        .unwrap()
        .starts_with("deleted_"));
    let row = app
        .app()
        .db
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT email, phone, about, password_hash FROM users WHERE id = $1",
            &[&alice.id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert!(row.get::<_, String>("email").ends_with("@deleted.invalid"));
    assert!(row.get::<_, Option<String>>("phone").is_none());
    // The email can be used for a new account.
    let (status, _) = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": alice.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201);
    app.stop().await;
}

#[tokio::test]
async fn erasure_removes_login_traces_and_message_details() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "loc", "type": "location",
                    "metadata": { "lat": 52.52, "lng": 13.405 } }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": alice.email, "password": "wrong one!" }),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .delete(
            "/api/users/me",
            &alice.access,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200);

    let id: Uuid = alice.id.parse().unwrap();
    let db = app.app().db.get().await.unwrap();
    let traces: i64 = db
        .query_one(
            "SELECT count(*) AS n FROM device_sessions
             WHERE user_id = $1 AND (ip_address IS NOT NULL OR user_agent IS NOT NULL)",
            &[&id],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(traces, 0, "no address or user agent is kept");
    let failures: i64 = db
        .query_one(
            "SELECT count(*) AS n FROM login_failures WHERE key = $1",
            &[&format!("account:{}", alice.email.to_lowercase())],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(failures, 0, "no login-failure key names the old email");
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    assert_eq!(
        history["data"][0]["metadata"],
        json!({}),
        "the location is gone"
    );
    app.stop().await;
}
