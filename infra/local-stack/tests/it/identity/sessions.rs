//! Device sessions, token checks, rate limits, login backoff and two-factor authentication.

use banter_core::auth::tokens::{Caller, TokenKeys};
use banter_core::auth::totp;
use banter_core::config::{Limit, Settings};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{relaxed_settings, spawn_app, spawn_app_with};

use super::{closed, code, enable_two_factor, erase_account, PASSWORD};

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

    // Logging out every other device at once: this one stays, the others go, the other
    // account's are untouched.
    let tablet = app.login(&laptop).await;
    let desktop = app.login(&laptop).await;
    let mut tablet_ws = app.ws(&tablet.access).await;
    let (status, body) = app
        .delete("/api/auth/sessions", &laptop.access, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["revoked"].as_array().unwrap().len(), 2);
    assert!(closed(&mut tablet_ws).await);
    for gone in [&tablet, &desktop] {
        assert_eq!(
            app.get("/api/auth/sessions", Some(&gone.access)).await.0,
            401
        );
    }
    let (status, body) = app.get("/api/auth/sessions", Some(&laptop.access)).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["current"], true);
    assert_eq!(
        app.get("/api/auth/sessions", Some(&mallory.access)).await.0,
        200
    );
    app.stop().await;
}

/// Past the account's limit of device sessions a login signs out the one used least recently
/// (refreshed or made): its WebSocket closes, its tokens stop working, and the account's
/// activity says why.
#[tokio::test]
async fn a_login_past_the_session_limit_signs_out_the_device_used_least_recently() {
    let app = spawn_app_with(|c| c.settings.max_sessions_per_user = 2).await;
    let laptop = app.register("dev").await;
    let phone = app.login(&laptop).await;
    let refresh = |token: &str| {
        let body = json!({ "refreshToken": token });
        async { app.post("/api/auth/refresh", None, body).await }
    };
    // The laptop is used again (a refresh): the phone is now the one used least recently.
    let (status, body) = refresh(&laptop.refresh).await;
    assert_eq!(status, 200, "{body}");
    let laptop_access = body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut phone_ws = app.ws(&phone.access).await;

    let tablet = app.login(&laptop).await;
    assert!(closed(&mut phone_ws).await, "the phone's WebSocket closes");
    let (status, _) = refresh(&phone.refresh).await;
    assert_eq!(status, 401, "the phone is signed out");
    for (device, access) in [("laptop", &laptop_access), ("tablet", &tablet.access)] {
        let (status, body) = app.get("/api/auth/sessions", Some(access)).await;
        assert_eq!(status, 200, "{device}: {body}");
        assert_eq!(body["data"].as_array().unwrap().len(), 2, "{body}");
    }
    let (_, body) = app
        .get("/api/auth/activity?limit=100", Some(&tablet.access))
        .await;
    let signed_out: Vec<&Value> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "signed_out_for_new_device")
        .collect();
    assert_eq!(signed_out.len(), 1, "{body}");
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
    // Windows are fixed (aligned to the epoch): a day-long one makes it unlikely that the test
    // straddles two of them (a 15-minute one failed at 18:15:00 on a CI run).
    settings.rate_limits.auth = Limit::new(3, 86_400);
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
    assert!((1..=86_400).contains(&secs));

    // Each credential route has its own bucket, and logging in only counts failures: the
    // registrations above do not block the next person behind this address.
    let (status, _) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "r0@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "login does not share register's bucket");
    for _ in 0..3 {
        let (status, _) = app
            .post(
                "/api/auth/forgot-password",
                None,
                json!({ "email": "r1@example.com" }),
            )
            .await;
        assert_eq!(status, 200, "forgot-password has its own bucket");
    }
    let (status, _) = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": "r1@example.com" }),
        )
        .await;
    assert_eq!(status, 429);
    app.stop().await;
}

#[tokio::test]
async fn messages_are_rate_limited_per_user() {
    let mut settings = relaxed_settings();
    settings.rate_limits.messages = Limit::new(2, 86_400);
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
    app.verify_email(&user).await;
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
    let mut devices = app.ws(&user.access).await;
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
    let told = devices.next_event("user:profile:updated").await;
    assert_eq!(
        told["data"]["twoFactorEnabled"], true,
        "the user's devices are told"
    );

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
    // The password was right (the answer without a code said as much): the code is named.
    assert_eq!(
        body["error"]["message"],
        "invalid two-factor code (a recovery code works once)"
    );
    let (status, _) = login(json!({ "totpCode": totp::code_at(&raw, now()) })).await;
    assert_eq!(status, 200);
    let (status, _) = login(json!({ "recoveryCode": recovery[0] })).await;
    assert_eq!(status, 200);
    let (status, _) = login(json!({ "recoveryCode": recovery[0] })).await;
    assert_eq!(status, 401, "a recovery code works once");
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_session_stops_working_on_rest_and_over_the_websocket_at_once() {
    let app = spawn_app().await;
    let bob = app.register("bob").await;

    // Logout.
    let alice = app.register("alice").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (status, _) = app
        .post("/api/auth/logout", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = app.get("/api/users/profile", Some(&alice.access)).await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("INVALID_TOKEN")),
        "logged out"
    );
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "after-logout", "content": "hi" }),
        )
        .await;
    assert_eq!(status, 401, "nor can it send");

    // A session revoked from another device.
    let laptop = app.login(&alice).await;
    let phone = app.login(&alice).await;
    let sessions = app.get("/api/auth/sessions", Some(&laptop.access)).await.1;
    let phone_session = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get("/api/users/profile", Some(&phone.access)).await.0,
        200
    );
    app.delete(
        &format!("/api/auth/sessions/{phone_session}"),
        &laptop.access,
        json!({}),
    )
    .await;
    assert_eq!(
        app.get("/api/users/profile", Some(&phone.access)).await.0,
        401
    );
    assert_eq!(
        app.get("/api/users/profile", Some(&laptop.access)).await.0,
        200
    );

    // A spent refresh token presented again: the session is revoked and its sockets close.
    let tablet = app.login(&alice).await;
    let mut tablet_ws = app.ws(&tablet.access).await;
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": tablet.refresh }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": tablet.refresh }),
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        closed(&mut tablet_ws).await,
        "the reused token's session is closed"
    );
    assert_eq!(
        app.get("/api/users/profile", Some(&tablet.access)).await.0,
        401
    );

    // An erased account.
    erase_account(&app, &laptop).await;
    let (status, _) = app
        .post(
            "/api/chats",
            Some(&laptop.access),
            json!({ "type": "group", "name": "ghost", "participantIds": [] }),
        )
        .await;
    assert_eq!(status, 401, "a deleted account cannot create groups");
    app.stop().await;
}

#[tokio::test]
async fn second_factor_guesses_count_towards_backoff_and_a_code_works_once() {
    let mut settings = relaxed_settings();
    settings.rate_limits.account_failures = 3;
    let app = spawn_app_with(|c| c.settings = settings).await;
    let user = app.register("tfa").await;
    let raw = enable_two_factor(&app, &user).await;
    let login = |code: String| {
        app.post(
            "/api/auth/login",
            None,
            json!({ "email": user.email, "password": PASSWORD, "totpCode": code }),
        )
    };
    let code_now = || totp::code_at(&raw, chrono::Utc::now().timestamp());

    // A code works once: the same code again is a replay.
    let spent = code_now();
    assert_eq!(login(spent.clone()).await.0, 200);
    let (status, body) = login(spent).await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("INVALID_CREDENTIALS")),
        "replayed"
    );

    // Wrong codes after the right password count like wrong passwords.
    let wrong = |right: &str| {
        if right == "123456" {
            "654321"
        } else {
            "123456"
        }
        .to_owned()
    };
    for _ in 0..2 {
        let (status, _) = login(wrong(&code_now())).await;
        assert_eq!(status, 401);
    }
    let (status, body) = login(code_now()).await;
    assert_eq!(
        (status, code(&body)),
        (429, Some("RATE_LIMIT_EXCEEDED")),
        "three failures (the replay among them) and the account backs off"
    );
    app.stop().await;
}

#[tokio::test]
async fn two_factor_routes_are_credential_routes() {
    let mut settings = relaxed_settings();
    settings.rate_limits.auth = Limit::new(3, 86_400);
    let app = spawn_app_with(|c| c.settings = settings).await;
    let user = app.register("tfa").await;
    let neighbour = app.register("nat").await;
    for _ in 0..3 {
        let (status, _) = app
            .post(
                "/api/auth/2fa/disable",
                Some(&user.access),
                json!({ "password": "wrong password", "code": "123456" }),
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, body) = app
        .post(
            "/api/auth/2fa/disable",
            Some(&user.access),
            json!({ "password": "wrong password", "code": "123456" }),
        )
        .await;
    assert_eq!((status, code(&body)), (429, Some("RATE_LIMIT_EXCEEDED")));
    // Per user: someone else behind the same address is not blocked.
    let (status, _) = app
        .post(
            "/api/auth/2fa/disable",
            Some(&neighbour.access),
            json!({ "password": "wrong password", "code": "123456" }),
        )
        .await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn sensitive_changes_need_the_password_unless_the_login_is_recent() {
    let mut settings = relaxed_settings();
    settings.step_up_window = std::time::Duration::ZERO;
    let app = spawn_app_with(|c| c.settings = settings).await;
    let user = app.register("thief_target").await;
    let (_, setup) = app
        .post("/api/auth/2fa/setup", Some(&user.access), json!({}))
        .await;
    let raw = totp::base32_decode(setup["data"]["secret"].as_str().unwrap()).unwrap();
    let totp_now = || totp::code_at(&raw, chrono::Utc::now().timestamp());

    // A token alone, long after its login: refused.
    let (status, body) = app
        .post(
            "/api/auth/2fa/enable",
            Some(&user.access),
            json!({ "code": totp_now() }),
        )
        .await;
    assert_eq!((status, code(&body)), (403, Some("PERMISSION_DENIED")));
    let (status, body) = app
        .post(
            "/api/auth/2fa/enable",
            Some(&user.access),
            json!({ "code": totp_now(), "password": "not the password" }),
        )
        .await;
    assert_eq!((status, code(&body)), (401, Some("INVALID_CREDENTIALS")));
    // The password, but the email is not verified: refused too.
    let (status, body) = app
        .post(
            "/api/auth/2fa/enable",
            Some(&user.access),
            json!({ "code": totp_now(), "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    app.verify_email(&user).await;
    let (status, body) = app
        .post(
            "/api/auth/2fa/enable",
            Some(&user.access),
            json!({ "code": totp_now(), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let phone = json!({ "phone": "+14155550177" });
    let (status, _) = app
        .post("/api/auth/phone/start", Some(&user.access), phone.clone())
        .await;
    assert_eq!(status, 403, "a phone change needs the password too");
    let (status, _) = app
        .post(
            "/api/auth/phone/start",
            Some(&user.access),
            json!({ "phone": "+14155550177", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_refresh_retried_at_once_is_not_theft() {
    let mut settings = relaxed_settings();
    settings.refresh_retry_grace = std::time::Duration::from_secs(30);
    let app = spawn_app_with(|c| c.settings = settings).await;
    let user = app.register("retry").await;
    let refresh =
        |token: String| app.post("/api/auth/refresh", None, json!({ "refreshToken": token }));
    let (status, lost) = refresh(user.refresh.clone()).await;
    assert_eq!(status, 200, "the answer the client never saw");
    let (status, retried) = refresh(user.refresh.clone()).await;
    assert_eq!(status, 200, "the retry gets a new pair: {retried}");
    let fresh = retried["data"]["tokens"]["accessToken"].as_str().unwrap();
    assert_eq!(
        app.get("/api/users/profile", Some(fresh)).await.0,
        200,
        "not revoked"
    );
    let next = retried["data"]["tokens"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        refresh(next).await.0,
        200,
        "the retried pair goes on working"
    );
    let lost_refresh = lost["data"]["tokens"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(lost_refresh, user.refresh);
    app.stop().await;
}

#[tokio::test]
async fn old_failures_decay_instead_of_adding_up_to_a_lockout() {
    let app = spawn_app().await;
    let user = app.register("typo").await;
    let key = format!("account:{}", user.email.to_lowercase());
    // Ten failures, the last two hours ago: long past any backoff.
    app.app()
        .db
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO login_failures (key, failures, last_failure) VALUES ($1, 10, now() - interval '2 hours')",
            &[&key],
        )
        .await
        .unwrap();
    let login = |password: &'static str| {
        app.post(
            "/api/auth/login",
            None,
            json!({ "email": user.email, "password": password }),
        )
    };
    assert_eq!(login("one more typo").await.0, 401);
    assert_eq!(
        login(PASSWORD).await.0,
        200,
        "a typo today does not stack on last week's and lock the owner out"
    );
    app.stop().await;
}

/// A login as an unknown device from `ip`, straight through the service (the local stack sees
/// every test client as 127.0.0.1); with a device token when given.
async fn login_from(
    app: &crate::support::TestApp,
    email: &str,
    password: &str,
    ip: &str,
    device_token: Option<&str>,
) -> Result<banter_core::api::models::LoginResult, banter_core::ApiError> {
    let body: banter_core::api::requests::LoginRequest = serde_json::from_value(
        json!({ "email": email, "password": password, "deviceToken": device_token }),
    )
    .unwrap();
    let device = banter_core::services::accounts::DeviceInfo {
        user_agent: None,
        ip_address: Some(ip.to_owned()),
    };
    banter_core::services::accounts::login(app.app(), body, &device).await
}

#[tokio::test]
async fn failures_from_many_addresses_cannot_keep_the_owner_out() {
    let app = spawn_app().await;
    let (status, registered) = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "owner@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201);
    let device_token = registered["data"]["deviceToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // Someone who knows the address fails from ten addresses, a try from each.
    for i in 0..10 {
        let result = login_from(
            &app,
            "owner@example.com",
            "guess",
            &format!("198.51.100.{i}"),
            None,
        )
        .await;
        assert!(
            matches!(result, Err(banter_core::ApiError::InvalidCredentials)),
            "{i}"
        );
    }
    // A new device now waits (the account-wide count is past its threshold)...
    let result = login_from(&app, "owner@example.com", PASSWORD, "203.0.113.9", None).await;
    assert!(
        matches!(result, Err(banter_core::ApiError::RateLimited { .. })),
        "{:?}",
        result.err()
    );
    // ...a made-up device token changes nothing...
    let result = login_from(
        &app,
        "owner@example.com",
        PASSWORD,
        "203.0.113.9",
        Some("made-up"),
    )
    .await;
    assert!(matches!(
        result,
        Err(banter_core::ApiError::RateLimited { .. })
    ));
    // ...but the owner's own device logs in at once.
    let session = login_from(
        &app,
        "owner@example.com",
        PASSWORD,
        "203.0.113.9",
        Some(&device_token),
    )
    .await
    .expect("a known device is exempt from the account-wide backoff");
    assert_eq!(session.device_token, device_token);
    // A new device that logs in gets its own token, for its next login.
    let other = app.register("bystander").await;
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": other.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["data"]["deviceToken"]
        .as_str()
        .is_some_and(|t| t.len() >= 40));
    app.stop().await;
}

#[tokio::test]
async fn one_source_backs_off_alone() {
    let app = spawn_app().await;
    let user = app.register("shared").await;
    for _ in 0..5 {
        let result = login_from(&app, &user.email, "typo typo", "198.51.100.7", None).await;
        assert!(matches!(
            result,
            Err(banter_core::ApiError::InvalidCredentials)
        ));
    }
    let result = login_from(&app, &user.email, PASSWORD, "198.51.100.7", None).await;
    assert!(
        matches!(result, Err(banter_core::ApiError::RateLimited { .. })),
        "five failures from one address: that address waits"
    );
    login_from(&app, &user.email, PASSWORD, "203.0.113.20", None)
        .await
        .expect("another address is not locked by them");
    app.stop().await;
}

#[tokio::test]
async fn two_factor_reset_by_email_waits_and_a_code_cancels_it() {
    let mut settings = relaxed_settings();
    settings.two_factor_reset_wait = std::time::Duration::from_secs(2);
    let app = spawn_app_with(|c| c.settings = settings).await;
    let user = app.register("lost").await;
    let raw = enable_two_factor(&app, &user).await;
    let login = |body: Value| app.post("/api/auth/login", None, body);
    let password_only = json!({ "email": user.email, "password": PASSWORD });

    let request_reset = || app.post("/api/auth/2fa/reset", None, json!({ "email": user.email }));
    assert_eq!(request_reset().await.0, 200);
    let (status, scheduled) = app
        .post(
            "/api/auth/2fa/reset/confirm",
            None,
            json!({ "token": app.emailed_token(&user.email) }),
        )
        .await;
    assert_eq!(status, 200, "{scheduled}");
    assert!(scheduled["data"]["resetAfter"].is_string());
    assert_eq!(
        app.last_sent_to(&user.email).unwrap().subject.as_deref(),
        Some("Two-factor authentication will be turned off"),
        "the owner is told, and can cancel"
    );
    let (status, body) = login(password_only.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("UNAUTHORIZED")),
        "not before the wait"
    );

    // The owner logs in with a code in the meantime: the reset is cancelled.
    let code_now = totp::code_at(&raw, chrono::Utc::now().timestamp());
    let (status, _) =
        login(json!({ "email": user.email, "password": PASSWORD, "totpCode": code_now })).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let (status, body) = login(password_only.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("UNAUTHORIZED")),
        "cancelled"
    );

    // Asked again and waited out: the password alone logs in, once, and 2FA is off.
    assert_eq!(request_reset().await.0, 200);
    let (status, _) = app
        .post(
            "/api/auth/2fa/reset/confirm",
            None,
            json!({ "token": app.emailed_token(&user.email) }),
        )
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let mut devices = app.ws(&user.access).await;
    let (status, body) = login(password_only.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["twoFactorEnabled"], false, "{body}");
    let told = devices.next_event("user:profile:updated").await;
    assert_eq!(
        told["data"]["twoFactorEnabled"], false,
        "the devices are told"
    );
    let subjects: Vec<_> = app
        .stack
        .shared
        .outbox
        .items()
        .into_iter()
        .filter(|i| i.to == user.email)
        .filter_map(|i| i.subject)
        .collect();
    assert_eq!(
        subjects[subjects.len() - 2..],
        [
            "Two-factor authentication is off",
            "New login to your Banter account"
        ],
        "the owner is told that 2FA is off, and of the login from a new device"
    );
    // A reset link for an account without 2FA is never sent (same answer, no mail).
    let before = app.last_sent_to(&user.email).unwrap().subject;
    assert_eq!(request_reset().await.0, 200);
    assert_eq!(app.last_sent_to(&user.email).unwrap().subject, before);
    app.stop().await;
}
