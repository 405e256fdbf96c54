//! A signed-in account changing its password and its email address.

use serde_json::json;

use crate::support::{spawn_app, User};

use super::{closed, code, enable_two_factor, PASSWORD};

#[tokio::test]
async fn changing_the_password_keeps_this_device_and_logs_out_the_others() {
    let app = spawn_app().await;
    let phone = app.register("carl").await;
    let laptop = app.login(&phone).await;
    let mut phone_ws = app.ws(&phone.access).await;
    let mut laptop_ws = app.ws(&laptop.access).await;
    // A reset link requested before the change.
    let (status, _) = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": phone.email }),
        )
        .await;
    assert_eq!(status, 200);
    let reset_token = app.emailed_token(&phone.email);

    let change =
        |current: &str, new: &str| json!({ "currentPassword": current, "newPassword": new });
    for (body, expected, why) in [
        (
            change("not the password", "a brand new secret"),
            (401, Some("INVALID_CREDENTIALS")),
            "a wrong current password",
        ),
        (
            change(PASSWORD, "short"),
            (400, Some("VALIDATION_ERROR")),
            "a new password too short",
        ),
        (
            change(PASSWORD, PASSWORD),
            (400, Some("VALIDATION_ERROR")),
            "the same password",
        ),
        (
            json!({ "newPassword": "a brand new secret" }),
            (400, Some("MISSING_REQUIRED_FIELD")),
            "no current password",
        ),
    ] {
        let (status, body) = app
            .post("/api/auth/change-password", Some(&phone.access), body)
            .await;
        assert_eq!((status, code(&body)), expected, "{why}: {body}");
    }
    let (status, _) = app
        .post(
            "/api/auth/change-password",
            None,
            change(PASSWORD, "a brand new secret"),
        )
        .await;
    assert_eq!(status, 401, "only a signed-in device changes it");
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": phone.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "refused changes changed nothing: {body}");
    let third_device = body["data"]["tokens"]["refreshToken"].clone();

    let (status, body) = app
        .post(
            "/api/auth/change-password",
            Some(&phone.access),
            change(PASSWORD, "a brand new secret"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({ "changed": true, "sessionsRevoked": 2 }),
        "the laptop and the third login"
    );
    assert!(
        closed(&mut laptop_ws).await,
        "the other device's socket closes"
    );
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": laptop.refresh }),
        )
        .await;
    assert_eq!(status, 401, "the other device is logged out");
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": third_device }),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app.get("/api/users/profile", Some(&phone.access)).await;
    assert_eq!(status, 200, "this device stays signed in");
    let reply = phone_ws
        .act("user:status_update", json!({ "status": "still here" }))
        .await;
    assert_eq!(reply["event"], "ack", "and its socket stays open: {reply}");

    let login = |password: &str| json!({ "email": phone.email, "password": password });
    let (status, _) = app.post("/api/auth/login", None, login(PASSWORD)).await;
    assert_eq!(status, 401, "the old password no longer works");
    let (status, _) = app
        .post("/api/auth/login", None, login("a brand new secret"))
        .await;
    assert_eq!(status, 200, "the new one does");
    let (status, body) = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": reset_token, "newPassword": "the attacker's pick" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("INVALID_TOKEN")),
        "a reset link sent before the change no longer works"
    );
    assert_eq!(
        app.last_sent_to(&phone.email)
            .expect("a notice")
            .subject
            .as_deref(),
        Some("Your Banter password was changed"),
        "the owner is told"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_new_email_address_takes_effect_once_a_link_sent_there_is_used() {
    let app = spawn_app().await;
    let user = app.register("erin").await;
    let other = app.register("olga").await;
    let old_email = user.email.clone();
    let new_email = format!("new-{}", user.email);
    let ask = |email: &str, password: &str| json!({ "newEmail": email, "password": password });
    for (body, expected, why) in [
        (
            ask(&new_email, "not the password"),
            (401, Some("INVALID_CREDENTIALS")),
            "a wrong password",
        ),
        (
            ask(&other.email.to_uppercase(), PASSWORD),
            (409, Some("RESOURCE_ALREADY_EXISTS")),
            "another account's address",
        ),
        (
            ask(&old_email, PASSWORD),
            (400, Some("VALIDATION_ERROR")),
            "the account's own address",
        ),
        (
            ask("not an address", PASSWORD),
            (400, Some("VALIDATION_ERROR")),
            "no address",
        ),
    ] {
        let (status, body) = app
            .post("/api/auth/change-email", Some(&user.access), body)
            .await;
        assert_eq!((status, code(&body)), expected, "{why}: {body}");
    }
    assert!(
        app.last_sent_to(&new_email).is_none(),
        "refused requests send nothing"
    );
    // A reset link sent to the old address before the change.
    app.post(
        "/api/auth/forgot-password",
        None,
        json!({ "email": old_email }),
    )
    .await;
    let reset_token = app.emailed_token(&old_email);

    let (status, body) = app
        .post(
            "/api/auth/change-email",
            Some(&user.access),
            ask(&new_email, PASSWORD),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["pendingEmail"], new_email.as_str());
    assert_eq!(
        app.last_sent_to(&old_email)
            .expect("a notice")
            .subject
            .as_deref(),
        Some("A new email address for your Banter account"),
        "the old address is told"
    );
    let token = app.emailed_token(&new_email);
    let (_, profile) = app.get("/api/users/profile", Some(&user.access)).await;
    assert_eq!(
        profile["data"]["email"],
        old_email.as_str(),
        "nothing changes before the link is used"
    );

    let mut ws = app.ws(&user.access).await;
    let (status, body) = app
        .post(
            "/api/auth/change-email/confirm",
            None,
            json!({ "token": token }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({ "email": new_email, "verified": true })
    );
    let event = ws.next_event("user:profile:updated").await;
    assert_eq!(
        event["data"]["email"],
        new_email.as_str(),
        "the account's devices hear of it"
    );
    let (_, profile) = app.get("/api/users/profile", Some(&user.access)).await;
    assert_eq!(profile["data"]["email"], new_email.as_str());
    assert_eq!(profile["data"]["isVerified"], true);
    let (status, body) = app
        .post(
            "/api/auth/change-email/confirm",
            None,
            json!({ "token": token }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("INVALID_TOKEN")),
        "the link is single-use"
    );
    let login = |email: &str| json!({ "email": email, "password": PASSWORD });
    let (status, _) = app.post("/api/auth/login", None, login(&old_email)).await;
    assert_eq!(status, 401, "the old address no longer signs in");
    let (status, _) = app.post("/api/auth/login", None, login(&new_email)).await;
    assert_eq!(status, 200, "the new one does");
    let (status, _) = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": reset_token, "newPassword": "the attacker's pick" }),
        )
        .await;
    assert_eq!(status, 401, "a link sent to the old address is spent");
    assert_eq!(
        app.last_sent_to(&old_email)
            .expect("a notice")
            .subject
            .as_deref(),
        Some("Your Banter email was changed")
    );

    // The owner of the old address undoes it: whoever changed it is logged out everywhere.
    let undo = app.emailed_token(&old_email);
    let mut ws = app
        .ws(&app
            .login(&User {
                email: new_email.clone(),
                ..user.clone()
            })
            .await
            .access)
        .await;
    let (status, body) = app
        .post(
            "/api/auth/change-email/undo",
            None,
            json!({ "token": undo }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], old_email.as_str());
    assert!(
        body["data"]["sessionsRevoked"].as_i64().unwrap() >= 2,
        "{body}"
    );
    assert!(closed(&mut ws).await, "every device is logged out");
    let (status, _) = app.get("/api/users/profile", Some(&user.access)).await;
    assert_eq!(status, 401);
    let (status, _) = app.post("/api/auth/login", None, login(&old_email)).await;
    assert_eq!(status, 200, "the old address signs in again");
    let (status, _) = app.post("/api/auth/login", None, login(&new_email)).await;
    assert_eq!(status, 401);
    let (status, body) = app
        .post(
            "/api/auth/change-email/undo",
            None,
            json!({ "token": undo }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("INVALID_TOKEN")),
        "single use"
    );
    app.stop().await;
}

#[tokio::test]
async fn two_accounts_asking_for_one_address_cannot_both_have_it() {
    let app = spawn_app().await;
    let first = app.register("fay").await;
    let second = app.register("sam").await;
    let wanted = format!("shared-{}", first.email);
    let mut tokens = Vec::new();
    for user in [&first, &second] {
        let (status, body) = app
            .post(
                "/api/auth/change-email",
                Some(&user.access),
                json!({ "newEmail": wanted, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, 200, "free when asked for: {body}");
        tokens.push(app.emailed_token(&wanted));
    }
    let confirm = |token: &str| json!({ "token": token });
    let (status, _) = app
        .post("/api/auth/change-email/confirm", None, confirm(&tokens[0]))
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post("/api/auth/change-email/confirm", None, confirm(&tokens[1]))
        .await;
    assert_eq!(
        (status, code(&body)),
        (409, Some("RESOURCE_ALREADY_EXISTS")),
        "{body}"
    );
    let (_, profile) = app.get("/api/users/profile", Some(&second.access)).await;
    assert_eq!(
        profile["data"]["email"],
        second.email.as_str(),
        "the second account keeps its address"
    );
    app.stop().await;
}

#[tokio::test]
async fn with_two_factor_on_a_new_email_address_takes_a_code_too() {
    let app = spawn_app().await;
    let user = app.register("tina").await;
    let secret = enable_two_factor(&app, &user).await;
    let new_email = format!("new-{}", user.email);
    let ask = |code: Option<&str>| {
        let mut body = json!({ "newEmail": new_email, "password": PASSWORD });
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        body
    };
    let now = || banter_core::auth::totp::code_at(&secret, chrono::Utc::now().timestamp());
    let wrong = if now() == "123456" {
        "654321"
    } else {
        "123456"
    };
    for (body, expected) in [
        (ask(None), (403, Some("PERMISSION_DENIED"))),
        (ask(Some(wrong)), (401, Some("INVALID_CREDENTIALS"))),
    ] {
        let (status, body) = app
            .post("/api/auth/change-email", Some(&user.access), body)
            .await;
        assert_eq!((status, code(&body)), expected, "{body}");
    }
    assert!(app.last_sent_to(&new_email).is_none(), "nothing was sent");
    let (status, body) = app
        .post(
            "/api/auth/change-email",
            Some(&user.access),
            ask(Some(&now())),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(app.last_sent_to(&new_email).is_some());
    app.stop().await;
}
