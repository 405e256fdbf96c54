//! Email verification, password reset and phone verification.

use serde_json::json;

use crate::support::spawn_app;

use super::{closed, code, PASSWORD};

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
    assert_eq!(
        app.last_sent_to(&user.email)
            .expect("a notice")
            .subject
            .as_deref(),
        Some("Your Banter password was changed"),
        "the owner is told"
    );
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
async fn an_unverified_phone_claim_never_blocks_the_numbers_owner() {
    let app = spawn_app().await;
    let phone = "+14155550142";
    // Mallory registers with Bob's number, which she cannot verify.
    let (status, mallory) = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "mallory@example.com", "password": PASSWORD, "phone": phone }),
        )
        .await;
    assert_eq!(status, 201, "{mallory}");
    let mallory_token = mallory["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = app.register("bob").await;
    let (status, body) = app
        .post(
            "/api/auth/phone/start",
            Some(&bob.access),
            json!({ "phone": phone }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let code: String = app
        .last_sent_to(phone)
        .unwrap()
        .body
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let (status, body) = app
        .post(
            "/api/auth/phone/verify",
            Some(&bob.access),
            json!({ "phone": phone, "code": code }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, profile) = app.get("/api/users/profile", Some(&mallory_token)).await;
    assert!(
        profile["data"]["phone"].is_null(),
        "the squatter's claim is gone"
    );
    // Registering with a verified number reveals nothing: it is just another unverified claim.
    let (status, _) = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "eve@example.com", "password": PASSWORD, "phone": phone }),
        )
        .await;
    assert_eq!(status, 201);
    app.stop().await;
}

#[tokio::test]
async fn forgot_password_takes_the_same_floor_whether_or_not_the_account_exists() {
    let mut settings = crate::support::relaxed_settings();
    settings.forgot_password_floor = std::time::Duration::from_millis(300);
    let app = crate::support::spawn_app_with(|c| c.settings = settings).await;
    let user = app.register("known").await;
    for email in [user.email.as_str(), "nobody-here@example.com"] {
        let started = std::time::Instant::now();
        let (status, body) = app
            .post("/api/auth/forgot-password", None, json!({ "email": email }))
            .await;
        assert_eq!((status, body["data"]["sent"].as_bool()), (200, Some(true)));
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(300),
            "{email} answered before the floor"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn housekeeping_forgets_spent_and_long_expired_links() {
    let app = spawn_app().await;
    let used = app.register("used").await;
    app.verify_email(&used).await;
    let long_expired = app.register("long").await;
    let long_expired_token = app.emailed_token(&long_expired.email);
    let just_expired = app.register("just").await;
    let just_expired_token = app.emailed_token(&just_expired.email);
    let live = app.register("live").await;
    let db = app.app().db.get().await.unwrap();
    for (user, days) in [(&long_expired, 8), (&just_expired, 1)] {
        let id: uuid::Uuid = user.id.parse().unwrap();
        db.execute(
            "UPDATE email_tokens SET expires_at = now() - make_interval(days => $2) WHERE user_id = $1",
            &[&id, &days],
        )
        .await
        .unwrap();
    }

    banter_core::services::relay::scheduled(app.app())
        .await
        .unwrap();
    let kept: Vec<String> = db
        .query(
            "SELECT u.email FROM email_tokens t JOIN users u ON u.id = t.user_id ORDER BY u.email",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("email"))
        .collect();
    let mut expected = vec![just_expired.email.clone(), live.email.clone()];
    expected.sort();
    assert_eq!(
        kept, expected,
        "the used link and the long-expired one are gone"
    );
    let verify = |token: &str| json!({ "token": token });
    let (status, body) = app
        .post("/api/auth/verify-email", None, verify(&just_expired_token))
        .await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("TOKEN_EXPIRED")),
        "a link expired within the week still says so"
    );
    let (status, body) = app
        .post("/api/auth/verify-email", None, verify(&long_expired_token))
        .await;
    assert_eq!((status, code(&body)), (401, Some("INVALID_TOKEN")));
    app.stop().await;
}
