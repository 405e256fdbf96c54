//! An account's security activity (`GET /api/auth/activity`) and the alert of a login from a
//! new device (`account:login`, and an email to a verified address).

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, User};

use super::{enable_two_factor, PASSWORD};

/// A login sent with this `User-Agent` (and a known-device token when given): the answer.
async fn login_as(
    app: &TestApp,
    email: &str,
    password: &str,
    agent: &str,
    device_token: Option<&str>,
) -> (u16, Value) {
    let res = app
        .http
        .post(format!("{}/api/auth/login", app.base))
        .header("user-agent", agent)
        .json(&json!({ "email": email, "password": password, "deviceToken": device_token }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The caller's activity, newest first: `(kind, entry)`.
async fn activity(app: &TestApp, user: &User) -> Vec<(String, Value)> {
    let (status, body) = app
        .get("/api/auth/activity?limit=100", Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e.clone()))
        .collect()
}

fn kinds(entries: &[(String, Value)]) -> Vec<&str> {
    entries.iter().map(|(k, _)| k.as_str()).collect()
}

/// The id of the device session `user`'s access token belongs to.
async fn session_of(app: &TestApp, user: &User) -> String {
    let (_, sessions) = app.get("/api/auth/sessions", Some(&user.access)).await;
    let current = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true);
    current.expect("the current session")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_owner_sees_logins_failures_and_changes_with_the_device_of_each() {
    let app = spawn_app().await;
    let email = "owner@example.com";
    let res = app
        .http
        .post(format!("{}/api/auth/register", app.base))
        .header("user-agent", "BanterWeb/1.0")
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    let owner = User {
        id: registered["data"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        email: email.to_owned(),
        access: String::new(),
        refresh: String::new(),
    };
    let laptop = owner.signed_in_with(&registered);
    let known_device = registered["data"]["deviceToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut laptop_ws = app.ws(&laptop.access).await;

    assert_eq!(
        login_as(&app, email, "guess", "Mallory/0.1", None).await.0,
        401
    );
    assert_eq!(
        login_as(&app, "nobody@example.com", "guess", "Mallory/0.1", None)
            .await
            .0,
        401
    );
    let (status, phone_login) = login_as(&app, email, PASSWORD, "BanterPhone/2.0", None).await;
    assert_eq!(status, 200, "{phone_login}");
    let phone = laptop.signed_in_with(&phone_login);
    // The other device is told of the new one...
    let alert = laptop_ws.next_event("account:login").await;
    assert_eq!(alert["data"]["userAgent"], "BanterPhone/2.0");
    assert_eq!(alert["data"]["ipAddress"], "127.0.0.1");
    let phone_session = alert["data"]["sessionId"].as_str().unwrap().to_owned();
    // ...and not of a login from a device the account was used on.
    let (status, _) = login_as(&app, email, PASSWORD, "BanterWeb/1.0", Some(&known_device)).await;
    assert_eq!(status, 200);
    app.relay_caught_up().await;
    laptop_ws.expect_silence(Duration::from_millis(300)).await;
    // The address is not verified: no email of the login.
    assert_eq!(
        app.last_sent_to(email).unwrap().subject,
        Some("Confirm your Banter email".into())
    );

    let entries = activity(&app, &phone).await;
    assert_eq!(
        kinds(&entries),
        ["login", "login", "login_failed", "registered"],
        "nothing of the unknown address's failure"
    );
    let (_, again) = &entries[0];
    assert_eq!(again["userAgent"], "BanterWeb/1.0");
    assert_eq!(again["currentSession"], false);
    let (_, on_phone) = &entries[1];
    assert_eq!(on_phone["sessionId"], phone_session.as_str());
    assert_eq!(on_phone["userAgent"], "BanterPhone/2.0");
    assert_eq!(on_phone["currentSession"], true, "{on_phone}");
    let (_, failed) = &entries[2];
    assert_eq!(failed["userAgent"], "Mallory/0.1");
    assert_eq!(failed["ipAddress"], "127.0.0.1");
    assert_eq!(failed["sessionId"], Value::Null);
    let (_, first) = &entries[3];
    assert_eq!(first["userAgent"], "BanterWeb/1.0");

    // Changes are recorded with the device that made them.
    let (status, body) = app
        .post(
            "/api/auth/change-password",
            Some(&laptop.access),
            json!({ "currentPassword": PASSWORD, "newPassword": "a new battery staple" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.get("/api/users/me/export", Some(&laptop.access)).await;
    assert_eq!(status, 200);
    let entries = activity(&app, &laptop).await;
    assert_eq!(&kinds(&entries)[..2], ["data_exported", "password_changed"]);
    for (kind, entry) in &entries[..2] {
        assert_eq!(entry["currentSession"], true, "{kind}");
        assert_eq!(entry["userAgent"], "BanterWeb/1.0", "{kind}");
    }
    // The export carries the activity (as it was when it was made).
    let (_, export) = app.get("/api/users/me/export", Some(&laptop.access)).await;
    let exported = export["data"]["accountActivity"].as_array().unwrap();
    assert_eq!(exported[0]["kind"], "data_exported");
    assert_eq!(exported.len(), entries.len());

    // A page at a time (the second export is first now); nobody else's.
    let (status, page) = app
        .get("/api/auth/activity?limit=2&offset=2", Some(&laptop.access))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"][0]["kind"], "password_changed");
    assert_eq!(page["meta"]["pagination"]["total"], entries.len() + 1);
    let stranger = app.register("stranger").await;
    assert_eq!(kinds(&activity(&app, &stranger).await), ["registered"]);
    let (status, _) = app.get("/api/auth/activity", None).await;
    assert_eq!(status, 401);
    let (status, body) = app
        .get("/api/auth/activity?limit=0", Some(&laptop.access))
        .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_verified_owner_is_emailed_of_a_new_device_and_sessions_ended_are_recorded() {
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    app.verify_email(&owner).await;
    let emails = || {
        app.stack
            .shared
            .outbox
            .items()
            .into_iter()
            .filter(|i| {
                i.to == owner.email
                    && i.subject.as_deref() == Some("New login to your Banter account")
            })
            .map(|i| i.body)
            .collect::<Vec<_>>()
    };
    let (status, body) = login_as(&app, &owner.email, PASSWORD, "BanterTablet/3.1", None).await;
    assert_eq!(status, 200);
    let tablet = owner.signed_in_with(&body);
    let tablet_token = body["data"]["deviceToken"].as_str().unwrap().to_owned();
    let tablet_session = session_of(&app, &tablet).await;
    let sent = emails();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("BanterTablet/3.1") && sent[0].contains(&tablet_session),
        "{}",
        sent[0]
    );
    // The tablet again, with the token it was given: a known device, no email.
    let (status, body) = login_as(
        &app,
        &owner.email,
        PASSWORD,
        "BanterTablet/3.1",
        Some(&tablet_token),
    )
    .await;
    assert_eq!(status, 200);
    let tablet_again = owner.signed_in_with(&body);
    assert_eq!(emails().len(), 1);

    // Sessions ended: logged out, revoked from another device, a refresh token used twice.
    let (status, _) = app
        .post("/api/auth/logout", Some(&tablet.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let again_session = session_of(&app, &tablet_again).await;
    let (status, _) = app
        .delete(
            &format!("/api/auth/sessions/{again_session}"),
            &owner.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let phone = app.login(&owner).await;
    let refresh = json!({ "refreshToken": phone.refresh });
    assert_eq!(
        app.post("/api/auth/refresh", None, refresh.clone()).await.0,
        200
    );
    assert_eq!(app.post("/api/auth/refresh", None, refresh).await.0, 401);

    enable_two_factor(&app, &owner).await;
    let wrong_code = json!({ "email": owner.email, "password": PASSWORD, "totpCode": "000000" });
    assert_eq!(app.post("/api/auth/login", None, wrong_code).await.0, 401);
    let entries = activity(&app, &owner).await;
    assert_eq!(
        kinds(&entries),
        [
            "login_failed",
            "two_factor_enabled",
            "refresh_token_reused",
            "login",
            "session_revoked",
            "logged_out",
            "login",
            "login",
            "registered"
        ]
    );
    assert_eq!(entries[4].1["sessionId"], again_session.as_str());
    assert_eq!(entries[5].1["sessionId"], tablet_session.as_str());
    assert_eq!(entries[5].1["userAgent"], "BanterTablet/3.1");
    assert_eq!(entries[1].1["currentSession"], true);
    app.stop().await;
}

#[tokio::test]
async fn housekeeping_forgets_activity_older_than_180_days() {
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    let _phone = app.login(&owner).await;
    let db = app.app().db.get().await.unwrap();
    db.execute(
        "UPDATE account_activity SET created_at = now() - interval '181 days' WHERE kind = 'registered'",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE account_activity SET created_at = now() - interval '179 days' WHERE kind = 'login'",
        &[],
    )
    .await
    .unwrap();
    banter_core::services::relay::scheduled(app.app())
        .await
        .unwrap();
    assert_eq!(kinds(&activity(&app, &owner).await), ["login"]);
    app.stop().await;
}
