//! Data export and account erasure.

use serde_json::json;
use uuid::Uuid;

use crate::support::{spawn_app, spawn_app_with};

use super::{closed, code, erase_account, PASSWORD};

#[tokio::test]
async fn export_then_erase_an_account() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (_, sent) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "x", "content": "remember me, typo" }),
        )
        .await;
    let mine = sent["data"]["id"].as_str().unwrap().to_owned();
    let theirs = app.sent(&bob, &chat, "I will").await;
    // What she did besides writing: an edit, a reaction, a star, the chat muted and archived.
    let message = |id: &str, what: &str| format!("/api/chats/{chat}/messages/{id}{what}");
    for (status, _) in [
        app.put(
            &message(&mine, ""),
            &alice.access,
            json!({ "content": "remember me" }),
        )
        .await,
        app.post(
            &message(&theirs, "/reactions"),
            Some(&alice.access),
            json!({ "emoji": "🙏" }),
        )
        .await,
        app.post(&message(&theirs, "/star"), Some(&alice.access), json!({}))
            .await,
        app.put(
            &format!("/api/chats/{chat}"),
            &alice.access,
            json!({ "settings": { "muteNotifications": true, "archived": true } }),
        )
        .await,
    ] {
        assert_eq!(status, 200);
    }

    let (status, export) = app.get("/api/users/me/export", Some(&alice.access)).await;
    assert_eq!(status, 200);
    let data = &export["data"];
    assert_eq!(data["profile"]["email"], alice.email);
    assert_eq!(data["messagesSent"][0]["content"], "remember me");
    assert_eq!(
        data["messagesSent"][0]["edits"][0]["previousContent"],
        "remember me, typo"
    );
    assert_eq!(data["chats"][0]["chatId"], chat);
    let settings = &data["chats"][0]["settings"];
    assert_eq!(
        (&settings["muteNotifications"], &settings["archived"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(
        (
            &data["reactions"][0]["messageId"],
            &data["reactions"][0]["emoji"]
        ),
        (&json!(theirs), &json!("🙏"))
    );
    assert_eq!(data["starred"][0]["messageId"], theirs.as_str());
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
    // (No email was given: the answer does not speak of one.)
    assert_eq!(body["error"]["message"], "the password is wrong", "{body}");
    erase_account(&app, &alice).await;
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
    // Bob's chat still reads, the message with no sender: nothing links it to Alice.
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    let message = &history["data"][0];
    assert_eq!(message["content"], "remember me");
    assert!(message["sender"].is_null(), "{message}");
    let id = alice.id.parse::<Uuid>().unwrap();
    let db = app.app().db.get().await.unwrap();
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM users WHERE id = $1)
                  + (SELECT count(*) FROM messages WHERE sender_id = $1)
                  + (SELECT count(*) FROM device_sessions WHERE user_id = $1) AS n",
            &[&id],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0, "no row keeps the erased account's id");
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

/// An erased account leaves each of its groups as a member who leaves does: the members are
/// told (live and through sync), and a group whose only admin it was gets another.
#[tokio::test]
async fn an_erased_account_leaves_its_groups_and_hands_on_their_admin() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "club", &[&bob, &carol]).await;
    let name = super::profiles::alice_username(&app, &alice).await;
    let since = crate::sync::present(&app, &carol).await;
    let mut bob_ws = app.ws(&bob.access).await;
    erase_account(&app, &alice).await;

    let left = bob_ws.next_event("chat:participant:left").await;
    assert_eq!(left["data"]["userId"], alice.id.as_str());
    let promoted = bob_ws.next_event("chat:participant:role_changed").await;
    assert_eq!(promoted["data"]["role"], "admin");
    let (_, chat) = app
        .get(&format!("/api/chats/{group}"), Some(&carol.access))
        .await;
    let roles: Vec<(&str, &str)> = chat["data"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["username"].as_str().unwrap(), p["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles.len(), 2, "{roles:?}");
    assert_eq!(
        roles.iter().filter(|(_, role)| *role == "admin").count(),
        1,
        "the group keeps an admin: {roles:?}"
    );
    let (events, _) = crate::sync::sync_all(&app, &carol, &since).await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "chat:participant:left"
                && e["data"]["userId"] == alice.id.as_str()),
        "{events:?}"
    );
    // The timeline no longer names her: a newcomer taking her username is not taken for her.
    // (That she left is a line for the admin alone, whichever of the two took over.)
    let mut lines: Vec<(String, serde_json::Value)> = Vec::new();
    for member in [&bob, &carol] {
        let (_, history) = app
            .get(
                &format!("/api/chats/{group}/messages"),
                Some(&member.access),
            )
            .await;
        lines.extend(
            history["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["type"] == "system")
                .map(|m| {
                    (
                        m["content"].as_str().unwrap().to_owned(),
                        m["metadata"].clone(),
                    )
                }),
        );
    }
    assert_eq!(
        lines
            .iter()
            .filter(|(text, _)| text == "Deleted account left")
            .count(),
        1,
        "{lines:?}"
    );
    for (text, metadata) in &lines {
        assert!(!text.contains(&name), "{text}");
        assert!(!metadata.to_string().contains(&alice.id), "{metadata}");
    }
    app.stop().await;
}

/// A 1:1 chat with an erased account stays readable to the one left, but takes nothing more:
/// a message or a call there would reach nobody, ever.
#[tokio::test]
async fn a_chat_with_an_erased_account_takes_no_more_messages_or_calls() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let send = |id: &str| json!({ "clientMessageId": id, "content": "are you there?" });
    let messages = format!("/api/chats/{chat}/messages");
    let (status, _) = app.post(&messages, Some(&bob.access), send("before")).await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post(
            "/api/contacts",
            Some(&bob.access),
            json!({ "userId": alice.id, "nickname": "Ali" }),
        )
        .await;
    assert_eq!(status, 200);
    let since = crate::sync::present(&app, &bob).await;
    erase_account(&app, &alice).await;

    // Named as the timeline names her now, in the list and the details.
    assert_eq!(app.chat_row(&bob, &chat).await["name"], "Deleted account");
    let (_, details) = app
        .get(&format!("/api/chats/{chat}"), Some(&bob.access))
        .await;
    assert_eq!(details["data"]["name"], "Deleted account");
    // Her contact went with her: Bob's devices are told.
    let (events, _) = crate::sync::sync_all(&app, &bob, &since).await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "contact:removed" && e["data"]["userId"] == alice.id.as_str()),
        "{events:?}"
    );
    let (_, contacts) = app.get("/api/contacts", Some(&bob.access)).await;
    assert_eq!(contacts["data"], json!([]));

    let (status, body) = app.post(&messages, Some(&bob.access), send("after")).await;
    assert_eq!(
        (status, code(&body)),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    let mut ws = app.ws(&bob.access).await;
    let answer = ws
        .act(
            "message:send",
            json!({ "chatId": chat, "clientMessageId": "live", "content": "hello?" }),
        )
        .await;
    assert_eq!(answer["data"]["code"], "PERMISSION_DENIED", "{answer}");
    let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    let answer = ws
        .act(
            "call:start",
            json!({ "chatId": chat, "kind": "audio", "sdp": offer }),
        )
        .await;
    assert_eq!(answer["data"]["code"], "PERMISSION_DENIED", "{answer}");
    let (status, history) = app.get(&messages, Some(&bob.access)).await;
    assert_eq!(status, 200, "the chat still reads");
    let sent: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["clientMessageId"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["before"], "nothing more was stored");
    let (_, calls) = app.get("/api/calls", Some(&bob.access)).await;
    assert_eq!(calls["data"], json!([]), "and no call rang");
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
                    "metadata": { "latitude": 52.52, "longitude": 13.405 } }),
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
    erase_account(&app, &alice).await;

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

#[tokio::test]
async fn erasure_deletes_uploaded_media_and_their_blobs() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let id: Uuid = alice.id.parse().unwrap();
    let media = Uuid::new_v4();
    let (original, thumbnail) = (
        format!("uploads/{id}/{media}.png"),
        format!("media/{media}/thumbnail.webp"),
    );
    let blobs = &app.app().ports.blobs;
    for key in [&original, &thumbnail] {
        blobs
            .put(key, vec![1u8; 64].into(), "image/png")
            .await
            .unwrap();
    }
    app.app()
        .db
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO media_files (id, uploader_id, file_key, file_name, file_type, declared_mime, file_size, status, variants)
             VALUES ($1, $2, $3, 'me.png', 'image', 'image/png', 64, 'completed', jsonb_build_object('thumbnail', $4::text))",
            &[&media, &id, &original, &thumbnail],
        )
        .await
        .unwrap();
    erase_account(&app, &alice).await;
    for key in [&original, &thumbnail] {
        assert_eq!(blobs.get(key).await.unwrap(), None, "{key} is deleted");
    }
    let rows: i64 = app
        .app()
        .db
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) AS n FROM media_files WHERE id = $1",
            &[&media],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(rows, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_large_export_is_a_signed_expiring_download() {
    let app = spawn_app_with(|c| c.settings.export_inline_max_bytes = 2_000).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    for i in 0..20 {
        app.post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": format!("m{i}"), "content": "x".repeat(200) }),
        )
        .await;
    }
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects
        .get(format!("{}/api/users/me/export", app.base))
        .bearer_auth(&alice.access)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303);
    let url = answer.headers()["location"].to_str().unwrap().to_owned();
    // The download needs no token: the URL is the credential, and it expires.
    let download = reqwest::get(&url).await.unwrap();
    assert_eq!(download.status().as_u16(), 200);
    let document: serde_json::Value = download.json().await.unwrap();
    assert_eq!(document["success"], true);
    assert_eq!(document["data"]["profile"]["email"], alice.email);
    assert_eq!(
        document["data"]["messagesSent"].as_array().unwrap().len(),
        20
    );
    assert!(url.contains("expires") || url.contains("Expires"), "{url}");
    // A small export is still answered inline.
    let (status, inline) = app.get("/api/users/me/export", Some(&bob.access)).await;
    assert_eq!(
        (status, inline["data"]["profile"]["email"].as_str()),
        (200, Some(bob.email.as_str()))
    );
    app.stop().await;
}
