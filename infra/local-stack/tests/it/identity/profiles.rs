//! Profiles: updates are validated, and others see them through privacy settings.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{spawn_app, wait_until, TestApp, User};

use super::code;

pub(super) async fn set_profile(app: &TestApp, user: &User, body: Value) -> (u16, Value) {
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
    assert_eq!(
        body["data"]["privacySettings"]["lastSeenAudience"],
        "contacts"
    );
    assert_eq!(
        body["data"]["privacySettings"]["profilePictureAudience"], "everyone",
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
        // A name is one line, read in its letters' direction: no forged lines, no
        // "alice\u{202E}gpj.exe" showing as "aliceexe.jpg".
        (
            json!({ "displayName": "bob\nalice removed you" }),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "displayName": "bob\u{202e}gpj.exe" }),
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
    let bob_id: Uuid = bob.id.parse().unwrap();
    wait_until(
        "bob is offline with a last seen",
        Duration::from_secs(5),
        || async {
            let db = app.app().db.get().await.unwrap();
            db.query_one(
            "SELECT NOT is_online AND last_seen IS NOT NULL AS offline FROM users WHERE id = $1",
            &[&bob_id],
        )
        .await
        .unwrap()
        .get("offline")
        },
    )
    .await;
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
    // Presence works both ways, as its events do: who hides their own last seen, or blocks
    // the user, sees none of theirs.
    let hides = |audience: &str| json!({ "privacySettings": { "lastSeen": audience } });
    let alice_sees_of_bob = || async {
        let view = app
            .get(&format!("/api/users/{}", bob.id), Some(&alice.access))
            .await
            .1["data"]
            .clone();
        (view["lastSeen"].is_string(), view["isOnline"].clone())
    };
    assert_eq!(set_profile(&app, &alice, hides("nobody")).await.0, 200);
    assert_eq!(
        alice_sees_of_bob().await,
        (false, json!(false)),
        "she hides hers"
    );
    assert_eq!(set_profile(&app, &alice, hides("everyone")).await.0, 200);
    app.block(&alice, &bob).await;
    assert_eq!(
        alice_sees_of_bob().await,
        (false, json!(false)),
        "she blocks him"
    );
    app.unblock(&alice, &bob).await;
    assert_eq!(alice_sees_of_bob().await, (true, json!(false)));

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

pub(super) async fn alice_username(app: &TestApp, alice: &User) -> String {
    app.get("/api/users/profile", Some(&alice.access)).await.1["data"]["username"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The PRD's `privacySettings` are booleans named `lastSeen`, `profilePicture` and `status`: a
/// client written against it sets them, they mean everyone (true) or nobody (false), and it reads
/// them back as booleans (shown to anyone at all), each audience beside its flag.
#[tokio::test]
async fn the_prds_privacy_flags_set_the_audiences_and_read_back_as_flags() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, body) = set_profile(
        &app,
        &bob,
        json!({ "status": "at work", "about": "I fix things",
        "privacySettings": { "lastSeen": true, "profilePicture": false, "status": false } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let settings = &body["data"]["privacySettings"];
    let flags_and_audiences = |settings: &Value| {
        [
            "lastSeen",
            "profilePicture",
            "status",
            "lastSeenAudience",
            "profilePictureAudience",
            "aboutAudience",
        ]
        .map(|key| settings[key].clone())
    };
    assert_eq!(
        flags_and_audiences(settings),
        [
            json!(true),
            json!(false),
            json!(false),
            json!("everyone"),
            json!("nobody"),
            json!("nobody")
        ],
        "{settings}"
    );
    let view = app
        .get(&format!("/api/users/{}", bob.id), Some(&alice.access))
        .await
        .1["data"]
        .clone();
    assert_eq!(
        (view["status"].is_null(), view["about"].is_null()),
        (true, true),
        "the status flag hides both texts: {view}"
    );

    for input in [
        json!({ "privacySettings": { "lastSeen": 1 } }),
        json!({ "privacySettings": { "status": true, "about": "nobody" } }),
    ] {
        let (status, body) = set_profile(&app, &bob, input.clone()).await;
        assert_eq!(
            (status, code(&body)),
            (400, Some("VALIDATION_ERROR")),
            "{input}"
        );
    }
    let (_, own) = app.get("/api/users/profile", Some(&bob.access)).await;
    assert_eq!(
        own["data"]["privacySettings"], *settings,
        "refused, unchanged"
    );
    // Contacts only is shown to someone: the flag is on. An audience set back under the name it
    // is answered by takes.
    let (status, body) = set_profile(
        &app,
        &bob,
        json!({ "privacySettings": { "lastSeen": "contacts", "aboutAudience": "everyone" } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        flags_and_audiences(&body["data"]["privacySettings"]),
        [
            json!(true),
            json!(false),
            json!(true),
            json!("contacts"),
            json!("nobody"),
            json!("everyone")
        ]
    );
    // A new account answers every setting, defaults filled in.
    let (_, fresh) = app.get("/api/users/profile", Some(&alice.access)).await;
    assert_eq!(
        fresh["data"]["privacySettings"],
        json!({ "lastSeen": true, "profilePicture": true, "status": true,
                "lastSeenAudience": "everyone", "profilePictureAudience": "everyone",
                "aboutAudience": "everyone", "readReceipts": true, "groups": "everyone",
                "discoverable": true, "defaultDisappearingSeconds": 0 })
    );
}

#[tokio::test]
async fn who_may_add_you_to_groups_is_your_choice_and_others_invite_you() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let group = || async {
        let (status, body) = app
            .post(
                "/api/chats",
                Some(&alice.access),
                json!({ "type": "group", "name": "g", "participantIds": [bob.id] }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let members: Vec<String> = body["data"]["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        // The creator is told who was invited rather than added.
        let invited = body["data"].get("invited").cloned().unwrap_or(json!([]));
        assert_eq!(
            invited,
            if members.contains(&bob.id) {
                json!([])
            } else {
                json!([bob.id])
            },
            "{body}"
        );
        (body["data"]["id"].as_str().unwrap().to_owned(), members)
    };
    let (_, members) = group().await;
    assert!(members.contains(&bob.id), "everyone, by default");
    set_profile(
        &app,
        &bob,
        json!({ "privacySettings": { "groups": "nobody" } }),
    )
    .await;
    let (since_status, since) = app.get("/api/sync", Some(&bob.access)).await;
    assert_eq!(since_status, 200);
    let since = since["data"]["nextCursor"].as_str().unwrap().to_owned();
    let (chat, members) = group().await;
    assert!(!members.contains(&bob.id), "not added: invited");
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "before", "content": "before bob" }),
        )
        .await;
    assert_eq!(status, 201);
    // The invitation reaches Bob through his event stream.
    let mut invitation = None;
    for _ in 0..100 {
        let (_, page) = app
            .get(&format!("/api/sync?since={since}"), Some(&bob.access))
            .await;
        invitation = page["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == "chat:invitation")
            .cloned();
        if invitation.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let invitation = invitation.expect("the invitation reaches bob through his event stream");
    assert_eq!(invitation["data"]["chatId"], chat.as_str());
    assert_eq!(invitation["data"]["invitedBy"], alice.id.as_str());
    // A device that missed the event (new, or its cursor expired) finds it listed; nobody
    // else's invitations are.
    let waiting = |user: &User| {
        let (app, user) = (&app, user.clone());
        async move {
            let (status, body) = app.get("/api/chats/invitations", Some(&user.access)).await;
            assert_eq!(status, 200, "{body}");
            body["data"].as_array().unwrap().clone()
        }
    };
    let listed = waiting(&bob).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            &listed[0]["chatId"],
            &listed[0]["name"],
            &listed[0]["invitedBy"]
        ),
        (&json!(chat), &json!("g"), &json!(alice.id))
    );
    assert!(listed[0]["invitedAt"].is_string());
    assert!(waiting(&alice).await.is_empty());
    // He cannot read it before accepting; after, he is a member from now on.
    let history = format!("/api/chats/{chat}/messages");
    assert_eq!(app.get(&history, Some(&bob.access)).await.0, 404);
    let invite_path = format!("/api/chats/{chat}/invitation");
    let (status, joined) = app.post(&invite_path, Some(&bob.access), json!({})).await;
    assert_eq!(status, 200, "{joined}");
    assert!(joined["data"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == bob.id.as_str()));
    assert_eq!(
        app.post(&invite_path, Some(&bob.access), json!({})).await.0,
        404,
        "once"
    );
    assert!(
        waiting(&bob).await.is_empty(),
        "answered: no longer waiting"
    );
    // Declining: the invitation is gone, nothing joined.
    set_profile(
        &app,
        &bob,
        json!({ "privacySettings": { "groups": "contacts" } }),
    )
    .await;
    let (other, members) = group().await;
    assert!(
        !members.contains(&bob.id),
        "alice is not among bob's contacts"
    );
    let other_invite = format!("/api/chats/{other}/invitation");
    let (status, _) = app.delete(&other_invite, &bob.access, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.post(&other_invite, Some(&bob.access), json!({}))
            .await
            .0,
        404
    );
    app.app()
        .db
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO user_relationships (user_id, related_user_id, relationship_type) VALUES ($1, $2, 'contact')",
            &[&bob.id.parse::<Uuid>().unwrap(), &alice.id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let (_, members) = group().await;
    assert!(members.contains(&bob.id), "now she is a contact: added");
    app.stop().await;
}

/// An invitation waits three days (WhatsApp's): then it is no longer listed, accepting it
/// answers 404, the scheduled run forgets it, and inviting again renews it.
#[tokio::test]
async fn an_unanswered_invitation_expires_after_three_days_and_inviting_again_renews_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let (status, body) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "privacySettings": { "groups": "nobody" } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let group = app.open_group(&alice, "club", &[&carol]).await;
    let invite = || async {
        let (status, body) = app
            .post(
                &format!("/api/chats/{group}/participants"),
                Some(&alice.access),
                json!({ "userId": bob.id }),
            )
            .await;
        assert_eq!(
            (status, &body["data"]["status"]),
            (200, &json!("invited")),
            "{body}"
        );
    };
    let listed = || async {
        let (status, body) = app.get("/api/chats/invitations", Some(&bob.access)).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    };
    invite().await;
    let waiting = listed().await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let sent: chrono::DateTime<chrono::Utc> =
        waiting[0]["invitedAt"].as_str().unwrap().parse().unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        waiting[0]["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires - sent, chrono::Duration::days(3));

    let owner = app.owner_db().await;
    let db = owner.get().await.unwrap();
    let age = |days: i32| {
        let db = &db;
        async move {
            db.execute(
                "UPDATE chat_invitations SET created_at = now() - make_interval(days => $1)",
                &[&days],
            )
            .await
            .unwrap();
        }
    };
    age(4).await;
    assert!(listed().await.is_empty(), "expired");
    let accept = format!("/api/chats/{group}/invitation");
    let (status, body) = app.post(&accept, Some(&bob.access), json!({})).await;
    assert_eq!(status, 404, "{body}");
    // Invited again, it waits anew.
    invite().await;
    assert_eq!(listed().await.len(), 1);
    age(4).await;
    banter_core::services::relay::scheduled(app.app())
        .await
        .unwrap();
    let left: i64 = db
        .query_one("SELECT count(*) AS n FROM chat_invitations", &[])
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0, "the scheduled run forgets it");
    invite().await;
    age(2).await;
    let (status, body) = app.post(&accept, Some(&bob.access), json!({})).await;
    assert_eq!(status, 200, "two days old, it still holds: {body}");
    app.stop().await;
}

#[tokio::test]
async fn short_searches_match_username_prefixes() {
    let app = spawn_app().await;
    let viewer = app.register("viewer").await;
    for name in ["qzalpha", "beta_qz", "qzbeta"] {
        let (status, _) = app
            .post(
                "/api/auth/register",
                None,
                serde_json::json!({ "email": format!("{name}@example.com"),
                                    "password": super::PASSWORD, "username": name }),
            )
            .await;
        assert_eq!(status, 201);
    }
    let names = |body: serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = body["data"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let (_, two) = app
        .get("/api/users/search?query=qz", Some(&viewer.access))
        .await;
    assert_eq!(
        names(two),
        ["qzalpha", "qzbeta"],
        "two characters: prefixes only"
    );
    let (_, three) = app
        .get("/api/users/search?query=_qz", Some(&viewer.access))
        .await;
    assert_eq!(names(three), ["beta_qz"], "three or more: anywhere");
    app.stop().await;
}

/// A new username replaces the old in the timeline's lines about its owner ("alice added
/// carol"), so whoever takes the old one next is not read as them.
#[tokio::test]
async fn a_new_username_replaces_the_old_in_the_timeline() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "club", &[&bob]).await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/participants"),
            Some(&alice.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let old = alice_username(&app, &alice).await;
    let new = format!("{old}_2");
    let (status, body) = set_profile(&app, &alice, json!({ "username": new })).await;
    assert_eq!(status, 200, "{body}");
    let (status, history) = app
        .get(&format!("/api/chats/{group}/messages"), Some(&bob.access))
        .await;
    assert_eq!(status, 200, "{history}");
    let lines: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "system")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    for line in &lines {
        assert!(line.starts_with(&new), "{line}");
        assert!(!line.contains(&format!("{old} ")), "{line}");
    }
    app.stop().await;
}
