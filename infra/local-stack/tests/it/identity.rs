//! Identity (accounts, devices, verification, abuse protection, profiles, privacy, blocking,
//! data rights) through the running local stack.

use std::time::Duration;

use banter_core::auth::tokens::{Caller, TokenKeys};
use banter_core::auth::totp;
use banter_core::config::{Limit, Settings};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::support::{relaxed_settings, spawn_app, spawn_app_with, TestApp, User};

const PASSWORD: &str = "correct horse battery";

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

async fn closed(ws: &mut crate::support::WsClient) -> bool {
    matches!(
        ws.next_message(Duration::from_secs(3)).await,
        Some(Message::Close(_)) | None
    )
}

#[tokio::test]
async fn email_verification_links_are_single_use() {
    let app = spawn_app().await;
    let user = app.register("vera").await;
    let token = app.emailed_token(&user.email);
    let (status, body) = app
        .post(
            "/api/auth/verify-email",
            None,
            json!({ "token": "not-a-real-token" }),
        )
        .await;
    assert_eq!((status, code(&body)), (401, Some("INVALID_TOKEN")));
    let (status, _) = app
        .post("/api/auth/verify-email", None, json!({ "token": token }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get("/api/users/profile", Some(&user.access)).await.1["data"]["isVerified"],
        true
    );
    let (status, body) = app
        .post("/api/auth/verify-email", None, json!({ "token": token }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("INVALID_TOKEN")),
        "a used link"
    );

    // An expired link.
    let other = app.register("late").await;
    let late = app.emailed_token(&other.email);
    app.app()
        .db
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE email_tokens SET expires_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    let (status, body) = app
        .post("/api/auth/verify-email", None, json!({ "token": late }))
        .await;
    assert_eq!((status, code(&body)), (401, Some("TOKEN_EXPIRED")));
    app.stop().await;
}

#[tokio::test]
async fn password_reset_revokes_every_session() {
    let app = spawn_app().await;
    let user = app.register("rita").await;
    let mut ws = app.ws(&user.access).await;
    let outbox_before = app.stack.shared.outbox.items().len();
    let (status, body) = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": "nobody@example.com" }),
        )
        .await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({ "sent": true })),
        "the same answer for unknown emails"
    );
    assert_eq!(
        app.stack.shared.outbox.items().len(),
        outbox_before,
        "and nothing is sent"
    );

    let (status, _) = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": user.email }),
        )
        .await;
    assert_eq!(status, 200);
    let token = app.emailed_token(&user.email);
    let (status, body) = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "newPassword": "short" }),
        )
        .await;
    assert_eq!((status, code(&body)), (400, Some("VALIDATION_ERROR")));
    let (status, body) = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "newPassword": "a brand new secret" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        closed(&mut ws).await,
        "the open WebSocket of the old session closes"
    );
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": user.refresh }),
        )
        .await;
    assert_eq!(status, 401, "old sessions are revoked");
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": user.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 401, "the old password no longer works");
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": user.email, "password": "a brand new secret" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "newPassword": "another secret!" }),
        )
        .await;
    assert_eq!(status, 401, "a reset link works once");
    app.stop().await;
}

#[tokio::test]
async fn phone_verification_codes_expire_and_limit_attempts() {
    let app = spawn_app().await;
    let user = app.register("phil").await;
    let other = app.register("olga").await;
    let phone = "+14155550123";
    let (status, body) = app
        .post(
            "/api/auth/phone/start",
            Some(&user.access),
            json!({ "phone": "12345" }),
        )
        .await;
    assert_eq!((status, code(&body)), (400, Some("VALIDATION_ERROR")));
    let (status, _) = app
        .post("/api/auth/phone/start", None, json!({ "phone": phone }))
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post(
            "/api/auth/phone/start",
            Some(&user.access),
            json!({ "phone": phone }),
        )
        .await;
    assert_eq!(status, 200);
    let sms = app.last_sent_to(phone).expect("an SMS").body;
    let sent_code: String = sms.chars().filter(char::is_ascii_digit).take(6).collect();
    let wrong = if sent_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, body) = app
        .post(
            "/api/auth/phone/verify",
            Some(&user.access),
            json!({ "phone": phone, "code": wrong }),
        )
        .await;
    assert_eq!((status, code(&body)), (400, Some("VALIDATION_ERROR")));
    let (status, body) = app
        .post(
            "/api/auth/phone/verify",
            Some(&user.access),
            json!({ "phone": phone, "code": sent_code }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let profile = app.get("/api/users/profile", Some(&user.access)).await.1;
    assert_eq!(
        (
            profile["data"]["phone"].as_str(),
            profile["data"]["phoneVerified"].as_bool()
        ),
        (Some(phone), Some(true))
    );

    // Someone else cannot claim the number.
    let (status, body) = app
        .post(
            "/api/auth/phone/start",
            Some(&other.access),
            json!({ "phone": phone }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (409, Some("RESOURCE_ALREADY_EXISTS"))
    );
    // Five wrong codes and the code is dead, even the right one.
    let second = "+14155550199";
    app.post(
        "/api/auth/phone/start",
        Some(&other.access),
        json!({ "phone": second }),
    )
    .await;
    let right: String = app
        .last_sent_to(second)
        .unwrap()
        .body
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        app.post(
            "/api/auth/phone/verify",
            Some(&other.access),
            json!({ "phone": second, "code": wrong }),
        )
        .await;
    }
    let (status, body) = app
        .post(
            "/api/auth/phone/verify",
            Some(&other.access),
            json!({ "phone": second, "code": right }),
        )
        .await;
    assert_eq!((status, code(&body)), (403, Some("PERMISSION_DENIED")));
    // An expired code.
    app.post(
        "/api/auth/phone/start",
        Some(&other.access),
        json!({ "phone": second }),
    )
    .await;
    let right: String = app
        .last_sent_to(second)
        .unwrap()
        .body
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    app.app()
        .db
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE phone_verifications SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let (status, body) = app
        .post(
            "/api/auth/phone/verify",
            Some(&other.access),
            json!({ "phone": second, "code": right }),
        )
        .await;
    assert_eq!((status, code(&body)), (401, Some("TOKEN_EXPIRED")));
    app.stop().await;
}

#[tokio::test]
async fn device_sessions_are_listed_and_revocable() {
    let app = spawn_app().await;
    let laptop = app.register("dev").await;
    let phone = app.login(&laptop).await;
    let mallory = app.register("mal").await;
    let mut phone_ws = app.ws(&phone.access).await;
    let (status, body) = app.get("/api/auth/sessions", Some(&laptop.access)).await;
    assert_eq!(status, 200);
    let sessions = body["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_session = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _) = app
        .delete(
            &format!("/api/auth/sessions/{phone_session}"),
            &mallory.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "not someone else's session");
    let (status, _) = app
        .delete(
            &format!("/api/auth/sessions/{phone_session}"),
            &laptop.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        closed(&mut phone_ws).await,
        "the revoked device's WebSocket closes"
    );
    assert!(
        crate::support::WsClient::connect(&app, &phone.access)
            .await
            .is_err(),
        "and cannot reconnect"
    );
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": phone.refresh }),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        app.get("/api/auth/sessions", Some(&laptop.access)).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn tokens_signed_elsewhere_unsigned_or_expired_are_refused_by_rest() {
    let app = spawn_app().await;
    let user = app.register("tess").await;
    let caller = Caller {
        user_id: user.id.parse().unwrap(),
        session_id: Uuid::new_v4(),
    };
    let other = TokenKeys::from_pkcs8(&TokenKeys::generate_pkcs8(), &Settings::default()).unwrap();
    let expired = app.app().tokens.issue_access(caller, -60).unwrap();
    let b64 = |v: Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let alg_none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none" })),
        b64(
            json!({ "sub": user.id, "exp": 4102444800u64, "iss": "banter", "aud": "banter-clients" })
        )
    );
    let cases = [
        (other.issue_access(caller, 600).unwrap(), "INVALID_TOKEN"),
        (expired, "TOKEN_EXPIRED"),
        (alg_none, "INVALID_TOKEN"),
    ];
    for (token, want) in cases {
        for path in ["/api/users/profile", "/api/chats", "/api/auth/sessions"] {
            let (status, body) = app.get(path, Some(&token)).await;
            assert_eq!((status, code(&body)), (401, Some(want)), "{path}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let mut settings = relaxed_settings();
    settings.rate_limits.auth = Limit::new(3, 900);
    let app = spawn_app_with(|c| c.settings = settings).await;
    let mut last = None;
    for i in 0..4 {
        let res = app
            .http
            .post(format!("{}/api/auth/register", app.base))
            .json(&json!({ "email": format!("r{i}@example.com"), "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        last = Some((
            res.status().as_u16(),
            res.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ));
    }
    let (status, retry_after) = last.unwrap();
    assert_eq!(status, 429);
    let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=900).contains(&secs));

    let (_, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "r0@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        code(&body),
        Some("RATE_LIMIT_EXCEEDED"),
        "login counts against the same auth limit"
    );
    app.stop().await;
}

#[tokio::test]
async fn messages_are_rate_limited_per_user() {
    let mut settings = relaxed_settings();
    settings.rate_limits.messages = Limit::new(2, 60);
    let app = spawn_app_with(|c| c.settings = settings).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ws = app.ws(&alice.access).await;
    for i in 0..3 {
        ws.send_json(json!({ "action": "message:send", "requestId": format!("q{i}"), "data": { "chatId": chat, "clientMessageId": format!("q{i}"), "content": "hi" } })).await;
    }
    let mut events = Vec::new();
    for _ in 0..3 {
        let f = ws.next_json().await;
        events.push((
            f["requestId"].as_str().unwrap().to_owned(),
            f["event"].as_str().unwrap().to_owned(),
            f["data"]["code"].as_str().map(str::to_owned),
        ));
    }
    events.sort();
    assert_eq!(events.iter().filter(|e| e.1 == "ack").count(), 2);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.2.as_deref() == Some("RATE_LIMIT_EXCEEDED"))
            .count(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_with_backoff() {
    let app = spawn_app().await;
    let user = app.register("bruno").await;
    let bystander = app.register("bystander").await;
    for _ in 0..5 {
        let (status, _) = app
            .post(
                "/api/auth/login",
                None,
                json!({ "email": user.email, "password": "wrong guess!" }),
            )
            .await;
        assert_eq!(status, 401);
    }
    let res = app
        .http
        .post(format!("{}/api/auth/login", app.base))
        .json(&json!({ "email": user.email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        429,
        "even the right password waits out the backoff"
    );
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&wait),
        "first backoff is a minute, got {wait}"
    );
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": bystander.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        status, 200,
        "other accounts from the same IP are not locked yet"
    );
    app.stop().await;
}

#[tokio::test]
async fn two_factor_authentication_is_required_once_enabled() {
    let app = spawn_app().await;
    let user = app.register("tfa").await;
    let (status, setup) = app
        .post("/api/auth/2fa/setup", Some(&user.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let secret = setup["data"]["secret"].as_str().unwrap().to_owned();
    assert!(setup["data"]["otpauthUrl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Banter:"));
    let raw = totp::base32_decode(&secret).unwrap();
    let now = || chrono::Utc::now().timestamp();
    let (status, _) = app
        .post(
            "/api/auth/2fa/enable",
            Some(&user.access),
            json!({ "code": "000000" }),
        )
        .await;
    assert!(status == 400 || totp::code_at(&raw, now()) == "000000");
    let (status, enabled) = app
        .post(
            "/api/auth/2fa/enable",
            Some(&user.access),
            json!({ "code": totp::code_at(&raw, now()) }),
        )
        .await;
    assert_eq!(status, 200, "{enabled}");
    let recovery: Vec<String> =
        serde_json::from_value(enabled["data"]["recoveryCodes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);

    let login = |extra: Value| {
        let mut body = json!({ "email": user.email, "password": PASSWORD });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.post("/api/auth/login", None, body)
    };
    let (status, body) = login(json!({})).await;
    assert_eq!((status, code(&body)), (401, Some("UNAUTHORIZED")));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("two-factor"));
    let wrong = if totp::code_at(&raw, now()) == "123456" {
        "654321"
    } else {
        "123456"
    };
    let (status, body) = login(json!({ "totpCode": wrong })).await;
    assert_eq!((status, code(&body)), (401, Some("INVALID_CREDENTIALS")));
    let (status, _) = login(json!({ "totpCode": totp::code_at(&raw, now()) })).await;
    assert_eq!(status, 200);
    let (status, _) = login(json!({ "recoveryCode": recovery[0] })).await;
    assert_eq!(status, 200);
    let (status, _) = login(json!({ "recoveryCode": recovery[0] })).await;
    assert_eq!(status, 401, "a recovery code works once");
    app.stop().await;
}

async fn set_profile(app: &TestApp, user: &User, body: Value) -> (u16, Value) {
    app.put("/api/users/profile", &user.access, body).await
}

#[tokio::test]
async fn profiles_validate_updates_and_apply_privacy_to_others() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, body) = set_profile(
        &app,
        &bob,
        json!({ "username": "bob_the_builder", "status": "building", "about": "I fix things",
        "privacySettings": { "lastSeen": "contacts", "about": "nobody" } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["username"], "bob_the_builder");
    assert_eq!(body["data"]["privacySettings"]["lastSeen"], "contacts");
    assert_eq!(
        body["data"]["privacySettings"]["profilePicture"], "everyone",
        "untouched keys keep their values"
    );

    for (input, want_status, want_code) in [
        (
            json!({ "username": alice_username(&app, &alice).await }),
            409,
            "RESOURCE_ALREADY_EXISTS",
        ),
        (
            json!({ "status": "x".repeat(141) }),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "privacySettings": { "lastSeen": "friends" } }),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "privacySettings": { "shoeSize": "everyone" } }),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "email": "new@example.com" }),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "profilePictureMediaId": Uuid::new_v4() }),
            404,
            "RESOURCE_NOT_FOUND",
        ),
    ] {
        let (status, body) = set_profile(&app, &bob, input.clone()).await;
        assert_eq!(
            (status, code(&body)),
            (want_status, Some(want_code)),
            "{input}"
        );
    }

    // Bob goes online then offline, so he has a last seen.
    drop(app.ws(&bob.access).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let view = app
        .get(&format!("/api/users/{}", bob.id), Some(&alice.access))
        .await
        .1["data"]
        .clone();
    assert_eq!(view["username"], "bob_the_builder");
    assert_eq!(
        (
            view["lastSeen"].is_null(),
            view["about"].is_null(),
            view["status"].is_null()
        ),
        (true, true, true),
        "{view}"
    );
    assert!(view.get("email").is_none(), "never another user's email");

    app.app().db.get().await.unwrap()
        .execute("INSERT INTO user_relationships (user_id, related_user_id, relationship_type) VALUES ($1, $2, 'contact')",
                 &[&bob.id.parse::<Uuid>().unwrap(), &alice.id.parse::<Uuid>().unwrap()]).await.unwrap();
    let view = app
        .get(&format!("/api/users/{}", bob.id), Some(&alice.access))
        .await
        .1["data"]
        .clone();
    assert!(
        view["lastSeen"].is_string(),
        "a contact sees last seen: {view}"
    );
    assert!(view["about"].is_null(), "about is for nobody");

    let (status, found) = app
        .get("/api/users/search?query=builder", Some(&alice.access))
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["data"]["users"][0]["id"], bob.id);
    assert!(
        found["data"]["users"][0]["about"].is_null(),
        "search applies privacy too"
    );
    let (status, _) = app
        .get("/api/users/search?query=", Some(&alice.access))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .get(
            &format!("/api/users/{}", Uuid::new_v4()),
            Some(&alice.access),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn alice_username(app: &TestApp, alice: &User) -> String {
    app.get("/api/users/profile", Some(&alice.access)).await.1["data"]["username"]
        .as_str()
        .unwrap()
        .to_owned()
}

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
    let (status, _) = app
        .post(
            "/api/users/block",
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get("/api/users/blocked", Some(&alice.access)).await.1["data"][0]["id"],
        bob.id
    );

    let mut alice_ws = app.ws(&alice.access).await;
    let mut carol_ws = app.ws(&carol.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    // 1:1 over WebSocket and REST: refused.
    bob_ws.send_json(json!({ "action": "message:send", "requestId": "b1", "data": { "chatId": chat, "clientMessageId": "b1", "content": "hello?" } })).await;
    let frame = bob_ws.next_json().await;
    assert_eq!(
        (frame["event"].as_str(), frame["data"]["code"].as_str()),
        (Some("error:general"), Some("PERMISSION_DENIED"))
    );
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "b2", "content": "hello?" }),
        )
        .await;
    assert_eq!(status, 403);
    // Alice cannot message Bob either while she blocks him.
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "a1", "content": "hi" }),
        )
        .await;
    assert_eq!(status, 403);
    // In the group, Bob's message reaches Carol, not Alice.
    bob_ws.send_json(json!({ "action": "message:send", "requestId": "b3", "data": { "chatId": group, "clientMessageId": "b3", "content": "group hello" } })).await;
    assert_eq!(bob_ws.next_json().await["event"], "ack");
    assert_eq!(
        carol_ws.next_event("message:received").await["data"]["message"]["content"],
        "group hello"
    );
    alice_ws.expect_silence(Duration::from_millis(400)).await;
    // Bob cannot put Alice in a new group, nor open a new 1:1 chat.
    let (status, _) = app
        .post(
            "/api/chats",
            Some(&bob.access),
            json!({ "type": "group", "name": "again", "participantIds": [alice.id] }),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            "/api/chats",
            Some(&bob.access),
            json!({ "type": "individual", "participantIds": [alice.id] }),
        )
        .await;
    assert_eq!(status, 403);
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

    let (status, _) = app
        .post(
            "/api/users/unblock",
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(status, 200);
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
        404
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
    assert!(row.get::<_, String>(0).ends_with("@deleted.invalid"));
    assert!(row.get::<_, Option<String>>(1).is_none());
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
    assert_eq!(online_of(&as_bob, &alice), true);
    app.stop().await;
}
