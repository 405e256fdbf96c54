//! `PUT /api/chats/{chatId}`: a group's name and description, changed by its admins and told to
//! every member (with a system message); each member's own settings (mute, pin, archive, marked
//! unread), told only to their own devices and shaping only their own chat list.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, User};

async fn update(app: &TestApp, by: &User, chat: &str, body: Value) -> (u16, Value) {
    app.put(&format!("/api/chats/{chat}"), &by.access, body)
        .await
}

async fn list(app: &TestApp, user: &User, query: &str) -> Vec<String> {
    let (status, body) = app
        .get(&format!("/api/chats{query}"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn admins_rename_a_group_and_every_member_is_told() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let (status, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "crew", "description": "the first", "participantIds": [bob.id] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let chat = body["data"]["id"].as_str().unwrap().to_owned();
    let mut bob_ws = app.ws(&bob.access).await;

    assert_eq!(
        update(&app, &bob, &chat, json!({ "name": "mine" })).await.0,
        403
    );
    assert_eq!(
        update(&app, &carol, &chat, json!({ "name": "mine" }))
            .await
            .0,
        404
    );
    for (bad, why) in [
        (json!({ "name": "x".repeat(101) }), "too long"),
        (json!({ "name": "" }), "empty"),
        (json!({ "title": "crew" }), "an unknown field"),
        (json!({ "settings": { "pinChat": "yes" } }), "not a boolean"),
    ] {
        let (status, answer) = update(&app, &alice, &chat, bad).await;
        assert_eq!(status, 400, "{why}: {answer}");
    }
    let (status, body) = update(
        &app,
        &alice,
        &chat,
        json!({ "name": "renamed", "description": null }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "renamed");
    assert_eq!(body["data"]["description"], Value::Null);
    let updated = bob_ws.next_event("chat:updated").await;
    assert_eq!(updated["data"]["chatId"], chat);
    assert_eq!(updated["data"]["changed"], json!(["name", "description"]));
    assert_eq!(updated["data"]["name"], "renamed");
    assert_eq!(updated["data"]["updatedBy"], alice.id);
    let system = bob_ws.next_event("message:received").await;
    assert_eq!(system["data"]["message"]["type"], "system");
    assert_eq!(
        system["data"]["message"]["metadata"]["action"],
        "name_changed"
    );
    assert!(system["data"]["message"]["content"]
        .as_str()
        .unwrap()
        .ends_with("changed the group name to \"renamed\""));
    let system = bob_ws.next_event("message:received").await;
    assert_eq!(
        system["data"]["message"]["metadata"]["action"], "description_changed",
        "a line for each change"
    );
    assert!(
        system["data"]["message"]["content"]
            .as_str()
            .unwrap()
            .ends_with(" deleted the group description"),
        "it was cleared: {system}"
    );
    let (_, seen) = app
        .get(&format!("/api/chats/{chat}"), Some(&bob.access))
        .await;
    assert_eq!(seen["data"]["name"], "renamed");
    // The whole form sent again, one field changed: that field alone is told.
    let (status, _) = update(
        &app,
        &alice,
        &chat,
        json!({ "name": "renamed", "description": "the crew" }),
    )
    .await;
    assert_eq!(status, 200);
    let updated = bob_ws.next_event("chat:updated").await;
    assert_eq!(updated["data"]["changed"], json!(["description"]));
    let system = bob_ws.next_event("message:received").await;
    assert_eq!(
        system["data"]["message"]["metadata"]["action"],
        "description_changed"
    );
    let (status, _) = update(&app, &alice, &chat, json!({ "name": "renamed" })).await;
    assert_eq!(status, 200);
    bob_ws
        .expect_silence(std::time::Duration::from_millis(300))
        .await;

    // A 1:1 chat has no name to change.
    let direct = app.open_chat(&alice, &carol).await;
    let (status, body) = update(&app, &alice, &direct, json!({ "name": "us" })).await;
    assert_eq!(status, 403, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn pins_sent_at_once_still_pin_three_chats_at_most() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mut chats = Vec::new();
    for i in 0..8 {
        let other = app.register(&format!("friend{i}")).await;
        chats.push(app.open_chat(&alice, &other).await);
    }
    let answers = futures_util::future::join_all(chats.iter().map(|chat| {
        update(
            &app,
            &alice,
            chat,
            json!({ "settings": { "pinChat": true } }),
        )
    }))
    .await;
    let pinned_ok = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(pinned_ok, 3, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(status, _)| [200, 400].contains(status)),
        "{answers:?}"
    );
    let (_, rows) = app.get("/api/chats", Some(&alice.access)).await;
    let pinned = rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["settings"]["pinChat"] == true)
        .count();
    assert_eq!(pinned, 3, "{rows}");
    app.stop().await;
}

/// Archiving a chat unpins it (WhatsApp's rule): the pin it held is free for another chat, and
/// an archived chat is pinned only as it is unarchived.
#[tokio::test]
async fn archiving_a_pinned_chat_unpins_it_and_frees_its_pin() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mut chats = Vec::new();
    for i in 0..4 {
        let other = app.register(&format!("friend{i}")).await;
        chats.push(app.open_chat(&alice, &other).await);
    }
    let pin = json!({ "settings": { "pinChat": true } });
    for chat in &chats[..3] {
        let (status, body) = update(&app, &alice, chat, pin.clone()).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = update(
        &app,
        &alice,
        &chats[0],
        json!({ "settings": { "archived": true } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["settings"]["pinChat"], false, "{body}");
    let (status, body) = update(&app, &alice, &chats[3], pin.clone()).await;
    assert_eq!(status, 200, "the archived chat's pin is free: {body}");
    // Pinning an archived chat is refused, and changes nothing, unless it unarchives it too.
    let archive_and_pin = json!({ "settings": { "archived": true, "pinChat": true } });
    let (status, body) = update(&app, &alice, &chats[1], archive_and_pin).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{body}");
    let (status, body) = update(&app, &alice, &chats[0], pin).await;
    assert_eq!(status, 400, "{body}");
    let (_, rows) = app.get("/api/chats", Some(&alice.access)).await;
    let pinned: Vec<&str> = rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["settings"]["pinChat"] == true)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(pinned.len(), 3, "{rows}");
    assert!(pinned.contains(&chats[1].as_str()), "{rows}");
    let (status, body) = update(
        &app,
        &alice,
        &chats[1],
        json!({ "settings": { "pinChat": false } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = update(
        &app,
        &alice,
        &chats[0],
        json!({ "settings": { "archived": false, "pinChat": true } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["settings"]["pinChat"], true, "{body}");
    assert_eq!(body["data"]["settings"]["archived"], false, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn own_settings_pin_archive_and_mute_for_the_caller_alone() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mut others = Vec::new();
    let mut chats = Vec::new();
    for i in 0..5 {
        let other = app.register(&format!("friend{i}")).await;
        let chat = app.open_chat(&alice, &other).await;
        // (In the other's list from its first message on.)
        app.sent(&alice, &chat, &format!("hi {i}")).await;
        chats.push(chat);
        others.push(other);
    }
    // Her second device hears about her settings; the other member does not.
    let alice_phone = app.login(&alice).await;
    let mut phone_ws = app.ws(&alice_phone.access).await;
    let mut friend_ws = app.ws(&others[0].access).await;

    for chat in &chats[..3] {
        let (status, body) = update(
            &app,
            &alice,
            chat,
            json!({ "settings": { "pinChat": true } }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["settings"]["pinChat"], true);
    }
    let (status, body) = update(
        &app,
        &alice,
        &chats[3],
        json!({ "settings": { "pinChat": true } }),
    )
    .await;
    assert_eq!(status, 400, "a fourth pin: {body}");
    let listed = list(&app, &alice, "").await;
    assert_eq!(listed.len(), 5);
    assert_eq!(
        listed[..3],
        [chats[2].clone(), chats[1].clone(), chats[0].clone()],
        "pinned first, the latest pin on top"
    );
    let (_, rows) = app.get("/api/chats", Some(&alice.access)).await;
    let pins: Vec<bool> = rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["settings"]["pinChat"].as_bool().unwrap())
        .collect();
    assert_eq!(pins, [true, true, true, false, false], "each row says so");
    let updated = phone_ws.next_event("chat:updated").await;
    assert_eq!(updated["data"]["changed"], json!(["settings"]));
    assert_eq!(updated["data"]["settings"]["pinChat"], true);

    // Archived: out of the list, in the archived one.
    let (status, body) = update(
        &app,
        &alice,
        &chats[4],
        json!({ "settings": { "archived": true } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!list(&app, &alice, "").await.contains(&chats[4]));
    assert_eq!(
        list(&app, &alice, "?archived=true").await,
        [chats[4].clone()]
    );
    assert!(
        list(&app, &others[4], "").await.contains(&chats[4]),
        "only hers"
    );

    // Muted until a time, muted for good, unmuted.
    let until = (chrono::Utc::now() + chrono::Duration::hours(8)).to_rfc3339();
    let (_, body) = update(
        &app,
        &alice,
        &chats[0],
        json!({ "settings": { "muteNotifications": true, "muteUntil": until } }),
    )
    .await;
    assert_eq!(body["data"]["settings"]["muteNotifications"], true);
    assert!(body["data"]["settings"]["muteUntil"].is_string(), "{body}");
    let (status, body) = update(
        &app,
        &alice,
        &chats[0],
        json!({ "settings": { "muteNotifications": true, "muteUntil": "tomorrow" } }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{body}"
    );
    let (_, body) = update(
        &app,
        &alice,
        &chats[0],
        json!({ "settings": { "muteNotifications": true } }),
    )
    .await;
    assert_eq!(body["data"]["settings"]["muteNotifications"], true);
    assert!(
        body["data"]["settings"].get("muteUntil").is_none(),
        "{body}"
    );
    let (_, body) = update(
        &app,
        &alice,
        &chats[0],
        json!({ "settings": { "muteNotifications": false } }),
    )
    .await;
    assert_eq!(body["data"]["settings"]["muteNotifications"], false);
    // A mute's end alone mutes until then; one already past, or with an unmute, is refused
    // and changes nothing.
    let (_, body) = update(
        &app,
        &alice,
        &chats[1],
        json!({ "settings": { "muteUntil": until } }),
    )
    .await;
    assert_eq!(
        body["data"]["settings"]["muteNotifications"], true,
        "{body}"
    );
    assert!(body["data"]["settings"]["muteUntil"].is_string(), "{body}");
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    for (settings, says) in [
        (
            json!({ "muteNotifications": true, "muteUntil": past }),
            "in the future",
        ),
        (json!({ "muteUntil": past }), "in the future"),
        (
            json!({ "muteNotifications": false, "muteUntil": until }),
            "not with `false`",
        ),
    ] {
        let (status, body) = update(&app, &alice, &chats[0], json!({ "settings": settings })).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    let (_, mine) = app
        .get(&format!("/api/chats/{}", chats[0]), Some(&alice.access))
        .await;
    assert_eq!(
        mine["data"]["settings"]["muteNotifications"], false,
        "{mine}"
    );
    let (_, theirs) = app
        .get(&format!("/api/chats/{}", chats[0]), Some(&others[0].access))
        .await;
    assert_eq!(theirs["data"]["settings"]["pinChat"], false, "{theirs}");
    friend_ws.expect_silence(Duration::from_millis(300)).await;
    app.stop().await;
}

async fn contents(app: &TestApp, user: &User, chat: &str) -> Vec<String> {
    let (status, body) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut texts: Vec<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn deleting_a_chat_for_me_clears_it_until_its_next_message_and_leaving_a_group() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    for text in ["one", "two"] {
        assert_eq!(app.send_text(&bob, &chat, text).await.0, 201);
    }
    let alice_phone = app.login(&alice).await;
    let mut phone_ws = app.ws(&alice_phone.access).await;
    let (status, body) = app
        .delete(&format!("/api/chats/{chat}"), &alice.access, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "deleted");
    let deleted = phone_ws.next_event("chat:deleted").await;
    assert_eq!(deleted["data"]["chatId"], chat);
    assert!(!list(&app, &alice, "").await.contains(&chat));
    assert!(contents(&app, &alice, &chat).await.is_empty());
    assert_eq!(
        contents(&app, &bob, &chat).await,
        ["one", "two"],
        "only for her"
    );
    assert!(list(&app, &bob, "").await.contains(&chat));
    // The next message brings it back, without what came before.
    assert_eq!(app.send_text(&bob, &chat, "three").await.0, 201);
    assert!(list(&app, &alice, "").await.contains(&chat));
    assert_eq!(contents(&app, &alice, &chat).await, ["three"]);

    // In a group, DELETE leaves it.
    let (_, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "crew", "participantIds": [bob.id] }),
        )
        .await;
    let group = body["data"]["id"].as_str().unwrap().to_owned();
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, body) = app
        .delete(&format!("/api/chats/{group}"), &alice.access, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "left");
    let left = bob_ws.next_event("chat:participant:left").await;
    assert_eq!(left["data"]["userId"], alice.id);
    // She keeps it (read-only) until she deletes it for herself too.
    assert!(list(&app, &alice, "").await.contains(&group));
    let (status, body) = app
        .delete(&format!("/api/chats/{group}"), &alice.access, json!({}))
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("deleted"))
    );
    let deleted = phone_ws.next_event("chat:deleted").await;
    assert_eq!(deleted["data"]["chatId"], group);
    assert!(!list(&app, &alice, "").await.contains(&group));
    let (status, _) = app
        .delete(&format!("/api/chats/{group}"), &alice.access, json!({}))
        .await;
    assert_eq!(status, 404, "not hers any more");
    app.stop().await;
}

/// A group left stays in the list, read-only, until deleted: how it shows there is still the
/// former member's to change (WhatsApp archives and pins a group left), nothing else is.
#[tokio::test]
async fn a_group_left_is_archived_and_pinned_by_its_former_member_and_nothing_more() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let group = app.open_group(&alice, "crew", &[&bob]).await;
    let (status, _) = app
        .delete(&format!("/api/chats/{group}"), &bob.access, json!({}))
        .await;
    assert_eq!(status, 200);
    let mut bob_ws = app.ws(&bob.access).await;

    let (status, body) = update(
        &app,
        &bob,
        &group,
        json!({ "settings": { "pinChat": true } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["settings"]["pinChat"] == true, "{body}");
    let (status, body) = update(
        &app,
        &bob,
        &group,
        json!({ "settings": { "archived": true } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["settings"]["archived"], true, "{body}");
    let told = bob_ws.next_event("chat:updated").await;
    assert_eq!(told["data"]["chatId"], group, "his other devices: {told}");
    assert!(!list(&app, &bob, "").await.contains(&group));
    assert_eq!(list(&app, &bob, "?archived=true").await, [group.as_str()]);

    // The group itself is not his to change any more, not even with his settings.
    for body in [
        json!({ "name": "mine now" }),
        json!({ "disappearingSeconds": 86400 }),
        json!({ "name": "mine now", "settings": { "archived": false } }),
    ] {
        let (status, answer) = update(&app, &bob, &group, body).await;
        assert_eq!(status, 403, "{answer}");
    }
    let (_, details) = app
        .get(&format!("/api/chats/{group}"), Some(&alice.access))
        .await;
    assert_eq!(details["data"]["name"], "crew");
    assert_eq!(
        list(&app, &bob, "?archived=true").await,
        [group.as_str()],
        "still archived"
    );

    // Deleted for himself, it is not his at all.
    app.delete(&format!("/api/chats/{group}"), &bob.access, json!({}))
        .await;
    let (status, _) = update(
        &app,
        &bob,
        &group,
        json!({ "settings": { "archived": false } }),
    )
    .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_groups_picture_is_set_at_creation_changed_by_who_may_edit_and_cleared() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "crew", "participantIds": [bob.id],
                    "avatarUrl": "https://cdn.example.com/a.png" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["avatarUrl"], "https://cdn.example.com/a.png");
    let chat = body["data"]["id"].as_str().unwrap().to_owned();
    let mut bob_ws = app.ws(&bob.access).await;

    for bad in [
        "http://cdn.example.com/a.png",
        "https://",
        "https://a b",
        "javascript:alert(1)",
    ] {
        let (status, body) = update(&app, &alice, &chat, json!({ "avatarUrl": bad })).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    }
    let (status, _) = update(
        &app,
        &bob,
        &chat,
        json!({ "avatarUrl": "https://x.example/b.png" }),
    )
    .await;
    assert_eq!(
        status, 403,
        "members do not edit the info unless the group lets them"
    );
    let (status, body) = update(
        &app,
        &alice,
        &chat,
        json!({ "avatarUrl": "https://x.example/b.png" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["avatarUrl"], "https://x.example/b.png");
    let updated = bob_ws.next_event("chat:updated").await;
    assert_eq!(updated["data"]["changed"], json!(["avatarUrl"]));
    assert_eq!(updated["data"]["avatarUrl"], "https://x.example/b.png");
    let system = bob_ws.next_event("message:received").await;
    assert_eq!(
        system["data"]["message"]["metadata"]["action"],
        "avatar_changed"
    );
    let (status, body) = update(&app, &alice, &chat, json!({ "avatarUrl": null })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["avatarUrl"], Value::Null);
    let (_, listed) = app.get("/api/chats", Some(&bob.access)).await;
    assert_eq!(listed["data"][0]["avatarUrl"], Value::Null, "{listed}");
    app.stop().await;
}

#[tokio::test]
async fn clearing_a_chat_empties_it_for_me_alone_and_keeps_it_in_my_list() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_chat(&alice, &bob).await;
    for text in ["one", "two"] {
        assert_eq!(app.send_text(&bob, &chat, text).await.0, 201);
    }
    let alice_phone = app.login(&alice).await;
    let mut phone_ws = app.ws(&alice_phone.access).await;
    let clear = format!("/api/chats/{chat}/clear");
    assert_eq!(
        app.post(&clear, Some(&carol.access), json!({})).await.0,
        404
    );
    let (status, body) = app.post(&clear, Some(&alice.access), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["clearedSeq"], 2);
    let cleared = phone_ws.next_event("chat:cleared").await;
    assert_eq!(cleared["data"]["chatId"], chat);
    assert_eq!(cleared["data"]["clearedSeq"], 2);
    assert!(contents(&app, &alice, &chat).await.is_empty());
    assert_eq!(
        contents(&app, &bob, &chat).await,
        ["one", "two"],
        "only for her"
    );
    let row = app.chat_row(&alice, &chat).await;
    assert_eq!(
        row["lastMessage"],
        Value::Null,
        "no preview of what she cleared: {row}"
    );
    assert_eq!(row["unreadCount"], 0);
    assert_eq!(app.send_text(&bob, &chat, "three").await.0, 201);
    assert_eq!(contents(&app, &alice, &chat).await, ["three"]);
    app.stop().await;
}

/// Clearing keeps the messages you starred, in the history and the starred list (WhatsApp's
/// default), unless `keepStarred: false` asks to clear them too.
#[tokio::test]
async fn clearing_a_chat_keeps_what_i_starred_unless_i_say_otherwise() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three", "four", "five"] {
        ids.push(app.sent(&bob, &chat, text).await);
    }
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{}/read", ids[4]),
            Some(&alice.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for starred in [&ids[3], &ids[1]] {
        let (status, body) = app
            .post(
                &format!("/api/chats/{chat}/messages/{starred}/star"),
                Some(&alice.access),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let alice_phone = app.login(&alice).await;
    let mut phone_ws = app.ws(&alice_phone.access).await;
    let clear = format!("/api/chats/{chat}/clear");
    let (status, body) = app.post(&clear, Some(&alice.access), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["clearedSeq"], 5);
    assert_eq!(
        body["data"]["keptStarred"],
        json!([ids[1], ids[3]]),
        "{body}"
    );
    let cleared = phone_ws.next_event("chat:cleared").await;
    assert_eq!(
        cleared["data"]["keptStarred"],
        json!([ids[1], ids[3]]),
        "{cleared}"
    );
    assert_eq!(contents(&app, &alice, &chat).await, ["four", "two"]);
    assert_eq!(contents(&app, &bob, &chat).await.len(), 5, "only for her");
    let (_, starred) = app.get("/api/messages/starred", Some(&alice.access)).await;
    assert_eq!(starred["data"].as_array().unwrap().len(), 2, "{starred}");
    for (word, found) in [("three", 0), ("four", 1)] {
        let (_, hits) = app
            .get(
                &format!("/api/messages/search?q={word}"),
                Some(&alice.access),
            )
            .await;
        assert_eq!(
            hits["data"].as_array().unwrap().len(),
            found,
            "{word}: {hits}"
        );
    }
    let row = app.chat_row(&alice, &chat).await;
    assert_eq!(row["lastMessage"]["content"], "four", "{row}");
    // Who sent it, by id too: the client shows its own name for them.
    assert_eq!(row["lastMessage"]["senderId"], bob.id.as_str(), "{row}");
    assert_eq!(row["unreadCount"], 0, "{row}");
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{}/reactions", ids[2]),
            Some(&alice.access),
            json!({ "emoji": "👍" }),
        )
        .await;
    assert_eq!(status, 404, "a cleared message is gone for her: {body}");
    assert_eq!(app.send_text(&bob, &chat, "six").await.0, 201);
    assert_eq!(contents(&app, &alice, &chat).await, ["four", "six", "two"]);

    let (status, body) = app
        .post(&clear, Some(&alice.access), json!({ "keepStarred": false }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["keptStarred"], json!([]), "{body}");
    assert!(contents(&app, &alice, &chat).await.is_empty());
    let (_, starred) = app.get("/api/messages/starred", Some(&alice.access)).await;
    assert_eq!(starred["data"], json!([]), "{starred}");
    let (status, body) = app
        .post(&clear, Some(&alice.access), json!({ "keepStarred": "no" }))
        .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn group_permissions_decide_who_sends_edits_and_adds() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let (_, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "crew", "participantIds": [bob.id] }),
        )
        .await;
    let chat = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body["data"]["permissions"],
        json!({ "sendMessages": "all", "editInfo": "admins", "addMembers": "admins" }),
        "the defaults"
    );
    let send = |who: &User, id: &str| {
        let (app, token, chat, id) = (&app, who.access.clone(), chat.clone(), id.to_owned());
        async move {
            app.post(
                &format!("/api/chats/{chat}/messages"),
                Some(&token),
                json!({ "clientMessageId": id, "content": id }),
            )
            .await
            .0
        }
    };
    let perms = |p: Value| json!({ "permissions": p });
    assert_eq!(
        update(
            &app,
            &bob,
            &chat,
            perms(json!({ "sendMessages": "admins" }))
        )
        .await
        .0,
        403,
        "members do not change permissions"
    );
    let (_, earlier) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "b0", "content": "before the change" }),
        )
        .await;
    let earlier = earlier["data"]["id"].as_str().unwrap().to_owned();
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, body) = update(
        &app,
        &alice,
        &chat,
        perms(json!({ "sendMessages": "admins" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["permissions"]["sendMessages"], "admins");
    let told = bob_ws.next_event("chat:updated").await;
    assert_eq!(told["data"]["changed"], json!(["permissions"]));
    assert_eq!(told["data"]["permissions"]["sendMessages"], "admins");
    let line = bob_ws.next_event("message:received").await["data"]["message"].clone();
    assert_eq!(
        (&line["metadata"]["setting"], &line["metadata"]["allowed"]),
        (&json!("sendMessages"), &json!("admins"))
    );
    assert!(
        line["content"]
            .as_str()
            .unwrap()
            .ends_with(" changed the group settings: only admins can send messages"),
        "{line}"
    );
    assert_eq!(send(&bob, "b1").await, 403, "only admins send now");
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/messages/{earlier}"),
            &bob.access,
            json!({ "content": "rewritten after the change" }),
        )
        .await;
    assert_eq!(status, 403, "nor edit what he sent before");
    bob_ws
        .send_json(json!({ "action": "message:send", "requestId": "w1",
            "data": { "chatId": chat, "clientMessageId": "w1", "content": "hi" } }))
        .await;
    let refused = bob_ws.answer_to("w1").await;
    assert_eq!(refused["data"]["code"], "PERMISSION_DENIED", "{refused}");
    // Nor does he show the others that he is typing.
    let mut alice_ws = app.ws(&alice.access).await;
    bob_ws
        .send_json(
            json!({ "action": "message:typing", "requestId": "t1", "data": { "chatId": chat } }),
        )
        .await;
    let refused = bob_ws.answer_to("t1").await;
    assert_eq!(refused["data"]["code"], "PERMISSION_DENIED", "{refused}");
    alice_ws.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(send(&alice, "a1").await, 201);

    // Opened up: members edit the info and add.
    assert_eq!(
        update(&app, &bob, &chat, json!({ "name": "bobs" })).await.0,
        403
    );
    assert_eq!(
        app.post(
            &format!("/api/chats/{chat}/participants"),
            Some(&bob.access),
            json!({ "userId": carol.id })
        )
        .await
        .0,
        403
    );
    let (status, body) = update(
        &app,
        &alice,
        &chat,
        perms(json!({ "sendMessages": "all", "editInfo": "all", "addMembers": "all" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(send(&bob, "b2").await, 201);
    let permission_lines = || async {
        let (_, history) = app
            .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
            .await;
        history["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["metadata"]["action"] == "permissions_changed")
            .map(|m| m["metadata"]["setting"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        permission_lines().await,
        ["sendMessages", "sendMessages", "editInfo", "addMembers"],
        "a line for each setting that changed"
    );
    let same = perms(json!({ "sendMessages": "all", "editInfo": "all" }));
    assert_eq!(update(&app, &alice, &chat, same).await.0, 200);
    assert_eq!(
        permission_lines().await.len(),
        4,
        "nothing changed: no line"
    );
    let (status, body) = update(&app, &bob, &chat, json!({ "name": "bobs" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "bobs");
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/participants"),
            Some(&bob.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        update(&app, &bob, &chat, perms(json!({ "addMembers": "admins" })))
            .await
            .0,
        403,
        "still admins' to change"
    );
    let (status, _) = update(
        &app,
        &alice,
        &chat,
        perms(json!({ "sendMessages": "everyone" })),
    )
    .await;
    assert_eq!(status, 400, "no such setting");
    app.stop().await;
}

#[tokio::test]
async fn the_chat_list_searches_names_and_members_literally() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let (_, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "Project 100% X", "participantIds": [bob.id] }),
        )
        .await;
    let group = body["data"]["id"].as_str().unwrap().to_owned();
    let with_bob = app.open_chat(&alice, &bob).await;
    let with_carol = app.open_chat(&alice, &carol).await;
    let (status, _) = update(
        &app,
        &alice,
        &with_carol,
        json!({ "settings": { "archived": true } }),
    )
    .await;
    assert_eq!(status, 200);
    let mut found = list(&app, &alice, "?search=PROJ").await;
    assert_eq!(found, [group.as_str()], "by name, any case");
    found = list(&app, &alice, "?search=bob").await;
    found.sort();
    let mut expected = vec![group.clone(), with_bob.clone()];
    expected.sort();
    assert_eq!(found, expected, "by a member's username");
    assert_eq!(
        list(&app, &alice, "?search=carol").await,
        [with_carol.as_str()],
        "archived ones too"
    );
    // By the name she saved them under, as her chat list shows them.
    let (status, _) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": carol.id, "nickname": "Aunt Caz" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        list(&app, &alice, "?search=aunt").await,
        [with_carol.as_str()],
        "by her nickname for a member"
    );
    assert!(
        list(&app, &bob, "?search=aunt").await.is_empty(),
        "a nickname is hers alone"
    );
    assert_eq!(
        list(&app, &alice, "?search=100%25").await,
        [group.as_str()],
        "% is literal"
    );
    assert!(
        list(&app, &alice, "?search=1%25x").await.is_empty(),
        "as a wildcard, 1%x would match"
    );
    assert!(
        list(&app, &alice, "?search=_").await.is_empty(),
        "_ is literal"
    );
    let (status, _) = app.get("/api/chats?search=", Some(&alice.access)).await;
    assert_eq!(status, 400, "an empty search");
    let (status, _) = app
        .get(
            &format!("/api/chats?search={}", "x".repeat(51)),
            Some(&alice.access),
        )
        .await;
    assert_eq!(status, 400, "too long");
    app.stop().await;
}

/// The list's filters (WhatsApp's chips): unread, favorites, groups; newest first within each.
#[tokio::test]
async fn the_chat_list_filters_unread_favorites_and_groups() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let group = app.open_group(&alice, "team", &[&bob, &carol]).await;
    let with_bob = app.open_chat(&alice, &bob).await;
    let with_carol = app.open_chat(&alice, &carol).await;
    let with_dave = app.open_chat(&alice, &dave).await;
    // Unread: bob wrote to her, carol wrote in the group; she wrote to dave herself, and read
    // what carol sent her, then marked carol's chat unread again.
    app.sent(&alice, &with_dave, "hi dave").await;
    let read = app.sent(&carol, &with_carol, "read me").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{with_carol}/messages/{read}/read"),
            Some(&alice.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!list(&app, &alice, "?filter=unread")
        .await
        .contains(&with_carol));
    let (status, _) = update(
        &app,
        &alice,
        &with_carol,
        json!({ "settings": { "markedUnread": true } }),
    )
    .await;
    assert_eq!(status, 200);
    app.sent(&carol, &group, "in the group").await;
    app.sent(&bob, &with_bob, "for alice").await;
    assert_eq!(
        list(&app, &alice, "?filter=unread").await,
        [with_bob.as_str(), group.as_str(), with_carol.as_str()]
    );
    assert_eq!(list(&app, &alice, "?filter=groups").await, [group.as_str()]);
    // Favorites: her 1:1 chats with contacts she marked so (a contact alone is not one).
    for (user, favorite) in [(&dave, true), (&bob, false)] {
        let (status, body) = app
            .post(
                "/api/contacts",
                Some(&alice.access),
                json!({ "userId": user.id, "favorite": favorite }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        list(&app, &alice, "?filter=favorites").await,
        [with_dave.as_str()]
    );
    // Archived chats stay in the archive, the filter within it.
    let (status, _) = update(
        &app,
        &alice,
        &with_bob,
        json!({ "settings": { "archived": true } }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        list(&app, &alice, "?filter=unread").await,
        [group.as_str(), with_carol.as_str()]
    );
    assert_eq!(
        list(&app, &alice, "?filter=unread&archived=true").await,
        [with_bob.as_str()]
    );
    let (status, body) = app
        .get("/api/chats?filter=muted", Some(&alice.access))
        .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_new_message_moves_its_chat_to_the_top_of_the_list_with_its_time() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let with_bob = app.open_chat(&alice, &bob).await;
    let with_carol = app.open_chat(&alice, &carol).await;
    assert_eq!(
        list(&app, &alice, "").await,
        [with_carol.clone(), with_bob.clone()],
        "the newest chat first"
    );
    let (status, sent) = app.send_text(&bob, &with_bob, "still here").await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        list(&app, &alice, "").await,
        [with_bob.clone(), with_carol.clone()],
        "the chat with the newest message first"
    );
    let (_, rows) = app.get("/api/chats", Some(&alice.access)).await;
    let top = &rows["data"][0];
    assert_eq!(
        top["updatedAt"], sent["data"]["createdAt"],
        "the chat's time is its last message's: {top}"
    );
    let (_, details) = app
        .get(&format!("/api/chats/{with_bob}"), Some(&alice.access))
        .await;
    assert_eq!(details["data"]["updatedAt"], top["updatedAt"]);
    app.stop().await;
}

/// Whether `user`'s first chat in their list is marked unread.
async fn marked(app: &TestApp, user: &User) -> bool {
    let (_, body) = app.get("/api/chats", Some(&user.access)).await;
    body["data"][0]["settings"]["markedUnread"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn a_chat_marked_unread_shows_so_on_every_device_until_it_is_read() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let last = app.sent(&bob, &chat, "hello").await;
    let read = format!("/api/chats/{chat}/messages/{last}/read");
    assert_eq!(app.post(&read, Some(&alice.access), json!({})).await.0, 200);
    assert!(!marked(&app, &alice).await);

    let mut phone_ws = app.ws(&alice_phone.access).await;
    let (status, body) = update(
        &app,
        &alice,
        &chat,
        json!({ "settings": { "markedUnread": true } }),
    )
    .await;
    assert_eq!(
        (status, &body["data"]["settings"]["markedUnread"]),
        (200, &json!(true)),
        "{body}"
    );
    let told = phone_ws.next_event("chat:updated").await;
    assert_eq!(told["data"]["settings"]["markedUnread"], true);
    assert!(marked(&app, &alice).await);
    assert!(!marked(&app, &bob).await, "only for her");

    // Reading in it (even what was read already) takes the mark back.
    assert_eq!(
        app.post(&read, Some(&alice_phone.access), json!({}))
            .await
            .0,
        200
    );
    assert!(!marked(&app, &alice).await);
    // As does unmarking it.
    update(
        &app,
        &alice,
        &chat,
        json!({ "settings": { "markedUnread": true } }),
    )
    .await;
    update(
        &app,
        &alice,
        &chat,
        json!({ "settings": { "markedUnread": false } }),
    )
    .await;
    assert!(!marked(&app, &alice).await);
    app.stop().await;
}

#[tokio::test]
async fn what_a_member_did_themselves_is_not_unread_for_them() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "crew", &[&bob]).await;
    let hi = app.sent(&alice, &group, "hi").await;
    let read = format!("/api/chats/{group}/messages/{hi}/read");
    assert_eq!(app.post(&read, Some(&bob.access), json!({})).await.0, 200);
    let status_of_hi = || async {
        let path = format!("/api/chats/{group}/messages");
        let (_, page) = app.get(&path, Some(&alice.access)).await;
        let messages = page["data"].as_array().unwrap().clone();
        let hi = messages.iter().find(|m| m["content"] == "hi").unwrap();
        hi["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status_of_hi().await, "read");
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/participants"),
            Some(&alice.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        status_of_hi().await,
        "read",
        "read by everyone it was for: someone added later does not take that back"
    );
    let unread = |user: &User| {
        let (app, token) = (&app, user.access.clone());
        async move {
            let (_, body) = app.get("/api/chats", Some(&token)).await;
            body["data"][0]["unreadCount"].as_i64().unwrap()
        }
    };
    // "alice created the group", "alice added carol": hers, not news to her.
    assert_eq!(unread(&alice).await, 0);
    assert_eq!(
        unread(&bob).await,
        1,
        "he read up to \"hi\"; then carol was added"
    );
    assert_eq!(unread(&carol).await, 1, "from her addition on");
    app.stop().await;
}

/// A message the caller deleted for themselves leaves their chat list too: the preview shows
/// the one before it, and it counts neither as unread nor as an unread mention. Its sender's
/// list is as it was.
#[tokio::test]
async fn a_message_deleted_for_me_leaves_my_chat_list() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let group = app.open_group(&alice, "club", &[&bob]).await;
    app.sent(&alice, &group, "first").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "m", "content": "@bob second", "mentions": [bob.id] }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let second = body["data"]["id"].as_str().unwrap().to_owned();
    let before = app.chat_row(&bob, &group).await;
    assert_eq!(before["lastMessage"]["content"], "@bob second");
    assert_eq!(before["unreadMention"], true);

    let (status, body) = app
        .delete(
            &format!("/api/chats/{group}/messages/{second}"),
            &bob.access,
            json!({ "deleteForEveryone": false }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let after = app.chat_row(&bob, &group).await;
    assert_eq!(after["lastMessage"]["content"], "first", "{after}");
    assert_eq!(
        after["unreadCount"].as_i64().unwrap(),
        before["unreadCount"].as_i64().unwrap() - 1
    );
    assert_eq!(after["unreadMention"], false);
    let senders = app.chat_row(&alice, &group).await;
    assert_eq!(senders["lastMessage"]["content"], "@bob second");
    app.stop().await;
}

/// The actions whose body holds only options take a request with no body at all, as the
/// documents say (README's `curl -XPOST .../clear` has none): clearing keeps starred messages,
/// a link never expires and needs no approval, a pin lasts 7 days, a backup holds every chat.
#[tokio::test]
async fn actions_whose_body_holds_only_options_need_no_body() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let group = app.open_group(&alice, "club", &[&bob]).await;
    let message = app.sent(&alice, &group, "keep this").await;
    let no_body = |path: String| {
        let app = &app;
        let token = alice.access.clone();
        async move {
            app.request(reqwest::Method::POST, &path, Some(&token), None)
                .await
        }
    };

    let (status, body) = no_body(format!("/api/chats/{group}/messages/{message}/pin")).await;
    assert_eq!(status, 200, "{body}");
    let until =
        chrono::DateTime::parse_from_rfc3339(body["data"]["expiresAt"].as_str().unwrap()).unwrap();
    let days = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((6.9..=7.0).contains(&days), "{body}");

    let (status, body) = no_body(format!("/api/chats/{group}/invite-link")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["expiresAt"], Value::Null, "{body}");
    assert_eq!(body["data"]["requireApproval"], false, "{body}");

    let (status, body) = no_body(format!("/api/chats/{group}/clear")).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = no_body("/api/backups".into()).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["data"]["id"].is_string(), "{body}");
    app.stop().await;
}
