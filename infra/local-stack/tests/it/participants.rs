//! Group membership: who may add, remove and change roles (the matrix in
//! `services::participants`), what each member is told through the event log, and that a removed
//! member keeps what they had and gets nothing new.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, User, WsClient};

async fn add(app: &TestApp, by: &User, chat: &str, user: &User) -> (u16, Value) {
    app.post(
        &format!("/api/chats/{chat}/participants"),
        Some(&by.access),
        json!({ "userId": user.id }),
    )
    .await
}

async fn remove(app: &TestApp, by: &User, chat: &str, user: &User) -> (u16, Value) {
    app.delete(
        &format!("/api/chats/{chat}/participants/{}", user.id),
        &by.access,
        json!({}),
    )
    .await
}

async fn set_role(app: &TestApp, by: &User, chat: &str, user: &User, role: &str) -> (u16, Value) {
    app.put(
        &format!("/api/chats/{chat}/participants/{}/role", user.id),
        &by.access,
        json!({ "role": role }),
    )
    .await
}

#[tokio::test]
async fn an_added_member_is_told_gets_what_follows_and_after_removal_nothing_new() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_group(&alice, "crew", &[&bob]).await;
    assert_eq!(app.send_text(&alice, &chat, "before").await.0, 201);
    let (status, start) = app.get("/api/sync", Some(&carol.access)).await;
    assert_eq!(status, 200);
    let carol_since = start["data"]["nextCursor"].as_str().unwrap().to_owned();
    let mut bob_ws = app.ws(&bob.access).await;
    let mut carol_ws = app.ws(&carol.access).await;

    // Only admins add; someone outside the group cannot tell it exists.
    assert_eq!(add(&app, &bob, &chat, &carol).await.0, 403);
    assert_eq!(add(&app, &carol, &chat, &carol).await.0, 404);
    let (status, body) = add(&app, &alice, &chat, &carol).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "added");
    assert_eq!(body["data"]["role"], "member");
    assert_eq!(
        add(&app, &alice, &chat, &carol).await.0,
        409,
        "already a member"
    );
    for (ws, joiner) in [(&mut bob_ws, false), (&mut carol_ws, true)] {
        let joined = ws.next_event("chat:participant:joined").await;
        assert_eq!(joined["data"]["chatId"], chat);
        assert_eq!(joined["data"]["participant"]["id"], carol.id);
        assert_eq!(joined["data"]["participant"]["role"], "member");
        assert_eq!(joined["data"]["addedBy"], alice.id);
        // Carol's devices are given the chat with it (they did not know it); Bob's are not.
        assert_eq!(
            joined["data"]["chat"]["id"].as_str(),
            joiner.then_some(chat.as_str()),
            "{joined}"
        );
    }
    let (synced, _) = crate::sync::sync_all(&app, &carol, &carol_since).await;
    let joined = synced
        .iter()
        .find(|e| e["event"] == "chat:participant:joined")
        .expect("in her sync too");
    assert_eq!(joined["data"]["chat"]["name"], "crew", "{joined}");
    // The timeline says so, the same on every device: a system message, no sender.
    for ws in [&mut bob_ws, &mut carol_ws] {
        let system = ws.next_event("message:received").await;
        let message = &system["data"]["message"];
        assert_eq!(message["type"], "system");
        assert_eq!(message["sender"], Value::Null);
        assert_eq!(message["metadata"]["action"], "added");
        assert_eq!(message["metadata"]["actorId"], alice.id);
        assert_eq!(message["metadata"]["userId"], carol.id);
        assert!(message["content"]
            .as_str()
            .unwrap()
            .contains(" added carol"));
    }
    assert_eq!(app.send_text(&alice, &chat, "welcome").await.0, 201);
    let received = carol_ws.next_event("message:received").await;
    assert_eq!(received["data"]["message"]["content"], "welcome");
    // Her history starts when she joined.
    let (status, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&carol.access))
        .await;
    assert_eq!(status, 200, "{history}");
    let seen: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        seen,
        ["system", "text"],
        "her addition and the welcome, not the group's earlier messages: {history}"
    );

    // Removed: told, then nothing new, and no longer able to write.
    let (status, body) = remove(&app, &alice, &chat, &carol).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "removed");
    for ws in [&mut bob_ws, &mut carol_ws] {
        let left = ws.next_event("chat:participant:left").await;
        assert_eq!(left["data"]["userId"], carol.id);
        assert_eq!(left["data"]["removedBy"], alice.id);
    }
    for ws in [&mut bob_ws, &mut carol_ws] {
        let removal = ws.next_event("message:received").await;
        assert_eq!(removal["data"]["message"]["metadata"]["action"], "removed");
    }
    assert_eq!(app.send_text(&alice, &chat, "after").await.0, 201);
    let received = bob_ws.next_event("message:received").await;
    assert_eq!(received["data"]["message"]["content"], "after");
    carol_ws.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(
        app.send_text(&carol, &chat, "from outside").await.0,
        403,
        "she keeps the group read-only"
    );
    assert_eq!(
        remove(&app, &alice, &chat, &carol).await.0,
        404,
        "already gone"
    );

    // Her sync holds exactly her membership: joined, the message, removed.
    app.settle().await;
    let (status, body) = app
        .get(
            &format!("/api/sync?since={carol_since}"),
            Some(&carol.access),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<String> = body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match e["event"].as_str().unwrap() {
            "message:received" if e["data"]["message"]["type"] == "system" => {
                format!("system {}", e["data"]["message"]["metadata"]["action"])
            }
            "message:received" => format!("message {}", e["data"]["message"]["content"]),
            other => other.to_owned(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "chat:participant:joined",
            "system \"added\"",
            "message \"welcome\"",
            "chat:participant:left",
            "system \"removed\""
        ]
    );
    app.stop().await;
}

/// Contents of a page of messages, in order (system lines by their action).
fn contents(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m["type"].as_str() {
            Some("system") => format!("system {}", m["metadata"]["action"].as_str().unwrap()),
            _ => m["content"].as_str().unwrap_or("(no text)").to_owned(),
        })
        .collect()
}

/// What `user` is told up to the message `marker`, sent last: the frames `ws` gets before it,
/// and their events in sync since `since` (which hold it).
async fn told_until(
    app: &TestApp,
    ws: &mut WsClient,
    user: &User,
    since: &str,
    marker: &str,
) -> (Vec<Value>, Vec<Value>) {
    let mut live = Vec::new();
    loop {
        let frame = ws.next_json().await;
        if frame["data"]["message"]["content"] == marker {
            break;
        }
        live.push(frame);
    }
    let (synced, _) = crate::sync::sync_all(app, user, since).await;
    assert!(
        synced
            .iter()
            .any(|e| e["data"]["message"]["content"] == marker),
        "{synced:?}"
    );
    (live, synced)
}

/// A member added later never saw what came before: an edit of it (its new text), a reaction
/// to it or a pin of it reaches neither their devices nor their sync; those who were members
/// then get them as before, unless they deleted the message for themselves.
#[tokio::test]
async fn a_later_member_is_told_nothing_about_messages_from_before_they_joined() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_group(&alice, "crew", &[&bob]).await;
    let before = app.sent(&alice, &chat, "before carol").await;
    assert_eq!(add(&app, &alice, &chat, &carol).await.0, 200);
    let carol_since = crate::sync::present(&app, &carol).await;
    let mut carol_ws = app.ws(&carol.access).await;
    let mut bob_ws = app.ws(&bob.access).await;

    let message = format!("/api/chats/{chat}/messages/{before}");
    let (status, _) = app
        .put(
            &message,
            &alice.access,
            json!({ "content": "edited secret" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &format!("{message}/reactions"),
            Some(&bob.access),
            json!({ "emoji": "👍" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &format!("{message}/pin"),
            Some(&alice.access),
            json!({ "durationSeconds": 86400 }),
        )
        .await;
    assert_eq!(status, 200);
    let edited = bob_ws.next_event("message:edited").await;
    assert_eq!(edited["data"]["message"]["content"], "edited secret");
    app.sent(&alice, &chat, "after carol").await;

    let about_it = |frame: &Value| {
        frame["data"]["messageId"] == before.as_str()
            || frame["data"]["message"]["id"] == before.as_str()
    };
    let (live, synced) = told_until(&app, &mut carol_ws, &carol, &carol_since, "after carol").await;
    assert!(!live.iter().any(about_it), "{live:?}");
    assert!(!synced.iter().any(about_it), "{synced:?}");

    // Nor is a member told of edits of a message they deleted for themselves.
    let bob_since = crate::sync::present(&app, &bob).await;
    let hidden = app.sent(&alice, &chat, "bob deletes this").await;
    let message = format!("/api/chats/{chat}/messages/{hidden}");
    let (status, _) = app
        .delete(&message, &bob.access, json!({ "deleteForEveryone": false }))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .put(
            &message,
            &alice.access,
            json!({ "content": "what bob deleted, edited" }),
        )
        .await;
    assert_eq!(status, 200);
    app.sent(&alice, &chat, "marker").await;
    let edit_of_hidden = |frame: &Value| {
        frame["event"] == "message:edited" && frame["data"]["message"]["id"] == hidden.as_str()
    };
    let (live, synced) = told_until(&app, &mut bob_ws, &bob, &bob_since, "marker").await;
    assert!(!live.iter().any(edit_of_hidden), "{live:?}");
    assert!(!synced.iter().any(edit_of_hidden), "{synced:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_removed_member_keeps_the_group_read_only_as_it_was_until_they_delete_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "crew", &[&bob, &carol]).await;
    let picture = crate::media::png(8, 8, [200, 30, 30]);
    let upload = |name: &'static str| {
        let (app, alice, chat, picture) = (&app, &alice, &chat, &picture);
        async move {
            let request = json!({ "fileType": "image", "fileName": name,
                                  "fileSize": picture.len(), "chatId": chat });
            crate::media::upload(app, alice, request, picture).await
        }
    };
    let send_picture = |file: String, id: &'static str| {
        let (app, alice, chat) = (&app, &alice, &chat);
        async move {
            let (status, body) = app
                .post(
                    &format!("/api/chats/{chat}/messages"),
                    Some(&alice.access),
                    json!({ "clientMessageId": id, "type": "image", "mediaId": file }),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
    };
    let before = upload("before.png").await;
    send_picture(before.clone(), "p1").await;
    app.sent(&alice, &chat, "kept by carol").await;
    let mut carol_phone = app.ws(&app.login(&carol).await.access).await;
    assert_eq!(remove(&app, &alice, &chat, &carol).await.0, 200);

    // What comes after she was removed is not hers: messages, a file, a new member, pins, a
    // new name.
    app.sent(&bob, &chat, "after carol").await;
    let renamed = json!({ "name": "renamed crew", "description": "since carol",
                          "permissions": { "sendMessages": "admins" }, "disappearingSeconds": 86400 });
    let (status, _) = app
        .put(&format!("/api/chats/{chat}"), &alice.access, renamed)
        .await;
    assert_eq!(status, 200);
    let after = upload("after.png").await;
    send_picture(after.clone(), "p2").await;
    assert_eq!(add(&app, &alice, &chat, &dave).await.0, 200);
    let pinned = app.sent(&alice, &chat, "pinned later").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{pinned}/pin"),
            Some(&alice.access),
            json!({ "durationSeconds": 86400 }),
        )
        .await;
    assert_eq!(status, 200);

    // Her list keeps the group, as it was when she left.
    let (_, list) = app.get("/api/chats", Some(&carol.access)).await;
    let row = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat.as_str())
        .unwrap_or_else(|| panic!("the group stays in her list: {list}"))
        .clone();
    assert!(row["leftAt"].is_string(), "{row}");
    assert_eq!(row["name"], "crew", "as she left it");
    // Her list's search goes by the group as she left it too.
    let found = |query: String| {
        let (app, carol, chat) = (&app, &carol, &chat);
        async move {
            let (_, list) = app
                .get(&format!("/api/chats?search={query}"), Some(&carol.access))
                .await;
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == chat.as_str())
        }
    };
    assert!(found("crew".into()).await);
    assert!(!found("renamed".into()).await);
    assert!(found("bob".into()).await);
    assert!(!found("dave".into()).await, "added after her");
    assert_eq!(row["participantCount"], 2, "alice and bob, then: {row}");
    assert_eq!(row["lastMessage"]["type"], "system", "her removal: {row}");
    assert_eq!(row["updatedAt"], row["leftAt"]);
    assert_eq!(
        row["unreadCount"], 4,
        "the creation, the picture, the text and her removal, nothing after: {row}"
    );
    let (_, list) = app.get("/api/chats", Some(&bob.access)).await;
    assert!(
        list["data"][0]["leftAt"].is_null(),
        "members have none: {list}"
    );

    let (status, details) = app
        .get(&format!("/api/chats/{chat}"), Some(&carol.access))
        .await;
    assert_eq!(status, 200, "{details}");
    let data = &details["data"];
    assert_eq!(data["leftAt"], row["leftAt"]);
    assert_eq!(
        (&data["name"], &data["description"]),
        (&json!("crew"), &Value::Null)
    );
    assert_eq!(
        (
            &data["permissions"]["sendMessages"],
            &data["disappearingSeconds"]
        ),
        (&json!("all"), &json!(0)),
        "its settings as they were too"
    );
    let members: Vec<&str> = data["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        members,
        [alice.id.as_str(), bob.id.as_str()],
        "not dave, not her"
    );
    assert_eq!(data["pinnedMessages"], json!([]));
    let (_, now) = app
        .get(&format!("/api/chats/{chat}"), Some(&bob.access))
        .await;
    assert_eq!(now["data"]["participants"].as_array().unwrap().len(), 3);
    assert_eq!(now["data"]["pinnedMessages"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &now["data"]["permissions"]["sendMessages"],
            &now["data"]["disappearingSeconds"]
        ),
        (&json!("admins"), &json!(86400))
    );
    assert!(now["data"].get("leftAt").is_none());

    let (status, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&carol.access))
        .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        contents(&history),
        [
            "system created",
            "(no text)",
            "kept by carol",
            "system removed"
        ]
    );
    let (_, gallery) = app
        .get(&format!("/api/chats/{chat}/media"), Some(&carol.access))
        .await;
    assert_eq!(gallery["data"].as_array().unwrap().len(), 1, "{gallery}");
    let file_status = |file: String| {
        let (app, carol) = (&app, &carol);
        async move {
            app.get(&format!("/api/media/{file}"), Some(&carol.access))
                .await
                .0
        }
    };
    assert_eq!(file_status(before).await, 200);
    assert_eq!(file_status(after).await, 404);

    // Read-only: she sees the group, so writing answers 403.
    let (status, body) = app.send_text(&carol, &chat, "still here?").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}"),
            &carol.access,
            json!({ "name": "mine" }),
        )
        .await;
    assert_eq!(status, 403);

    // Deleting it for herself: gone from her list and her other devices are told.
    let (status, body) = app
        .delete(&format!("/api/chats/{chat}"), &carol.access, json!({}))
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("deleted"))
    );
    let deleted = carol_phone.next_event("chat:deleted").await;
    assert_eq!(deleted["data"]["chatId"], chat);
    let (_, list) = app.get("/api/chats", Some(&carol.access)).await;
    assert!(!list.to_string().contains(&chat), "{list}");
    for path in [
        format!("/api/chats/{chat}"),
        format!("/api/chats/{chat}/messages"),
    ] {
        assert_eq!(app.get(&path, Some(&carol.access)).await.0, 404, "{path}");
    }

    // Added back: a member again, from now on.
    assert_eq!(add(&app, &alice, &chat, &carol).await.0, 200);
    let (_, list) = app.get("/api/chats", Some(&carol.access)).await;
    let row = &list["data"][0];
    assert_eq!(row["id"], chat.as_str());
    assert!(row.get("leftAt").is_none(), "{row}");
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&carol.access))
        .await;
    assert_eq!(contents(&history), ["system added"]);
    app.stop().await;
}

#[tokio::test]
async fn a_former_member_reads_stars_forwards_and_clears_what_she_kept_and_changes_nothing() {
    let app = spawn_app().await;
    let (alice, bob, carol, dave) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
        app.register("dave").await,
    );
    let chat = app.open_group(&alice, "crew", &[&bob, &carol]).await;
    let first = app.sent(&bob, &chat, "kept one").await;
    let second = app.sent(&bob, &chat, "kept two").await;
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/messages/{second}"),
            &bob.access,
            json!({ "content": "kept two, edited" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .delete(&format!("/api/chats/{chat}"), &carol.access, json!({}))
        .await;
    assert_eq!(status, 200, "carol leaves");
    let (_, synced) = app.get("/api/sync", Some(&bob.access)).await;
    let bob_since = synced["data"]["nextCursor"].as_str().unwrap().to_owned();
    let message = |id: &str, what: &str| format!("/api/chats/{chat}/messages/{id}/{what}");

    let (status, edits) = app
        .get(&message(&second, "edits"), Some(&carol.access))
        .await;
    assert_eq!(status, 200, "{edits}");
    assert_eq!(edits["data"][0]["previousContent"], "kept two");

    let unread = || async {
        app.chat_row(&carol, &chat).await["unreadCount"]
            .as_i64()
            .unwrap()
    };
    let before = unread().await;
    let (status, body) = app
        .post(&message(&second, "read"), Some(&carol.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        unread().await < before,
        "her unread count follows her reading"
    );
    app.settle().await;
    let (_, synced) = app
        .get(&format!("/api/sync?since={bob_since}"), Some(&bob.access))
        .await;
    assert!(
        !synced["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "message:read"),
        "the group's senders are not told what a former member read: {synced}"
    );

    let (status, body) = app
        .post(&message(&first, "star"), Some(&carol.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, starred) = app.get("/api/messages/starred", Some(&carol.access)).await;
    assert_eq!(starred["data"][0]["id"], first.as_str(), "{starred}");

    let with_dave = app.open_chat(&carol, &dave).await;
    let (status, body) = app
        .post(
            &message(&first, "forward"),
            Some(&carol.access),
            json!({ "chatIds": [with_dave] }),
        )
        .await;
    assert_eq!(status, 200, "forwarded out of the group she kept: {body}");
    assert_eq!(body["data"][0]["content"], "kept one");
    let (status, body) = app
        .post(
            &message(&first, "forward"),
            Some(&carol.access),
            json!({ "chatIds": [chat] }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "but not into it: {body}"
    );

    for (status_and_body, what) in [
        (
            app.post(
                &message(&first, "reactions"),
                Some(&carol.access),
                json!({ "emoji": "👍" }),
            )
            .await,
            "a reaction",
        ),
        (
            app.post(
                &message(&first, "pin"),
                Some(&carol.access),
                json!({ "durationSeconds": 86400 }),
            )
            .await,
            "a pin",
        ),
    ] {
        assert_eq!(status_and_body.0, 403, "{what}: {}", status_and_body.1);
    }
    let mut ws = app.ws(&carol.access).await;
    let typing = ws.act("message:typing", json!({ "chatId": chat })).await;
    assert_eq!(typing["data"]["code"], "PERMISSION_DENIED", "{typing}");

    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/messages/{first}"),
            &carol.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "deleted for her");
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&carol.access))
        .await;
    assert!(
        !contents(&history).contains(&"kept one".to_owned()),
        "{history}"
    );
    assert!(contents(&history).contains(&"kept two, edited".to_owned()));
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/clear"),
            Some(&carol.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&carol.access))
        .await;
    assert_eq!(contents(&history), Vec::<String>::new(), "cleared");
    let (_, bobs) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    assert!(
        contents(&bobs).contains(&"kept one".to_owned()),
        "the group keeps everything: {bobs}"
    );
    app.stop().await;
}

#[tokio::test]
async fn roles_follow_the_matrix_and_the_last_admin_leaving_hands_over() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    // Bob is the longest-standing member after Alice.
    let chat = app.open_group(&alice, "crew", &[&bob]).await;
    assert_eq!(add(&app, &alice, &chat, &carol).await.0, 200);
    assert_eq!(add(&app, &alice, &chat, &dave).await.0, 200);
    let mut bob_ws = app.ws(&bob.access).await;

    let (status, body) = set_role(&app, &alice, &chat, &carol, "moderator").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["role"], "moderator");
    let changed = bob_ws.next_event("chat:participant:role_changed").await;
    assert_eq!(changed["data"]["userId"], carol.id);
    assert_eq!(changed["data"]["role"], "moderator");
    assert_eq!(changed["data"]["changedBy"], alice.id);

    // Members change nothing but themselves; moderators remove members only.
    assert_eq!(set_role(&app, &bob, &chat, &dave, "admin").await.0, 403);
    assert_eq!(remove(&app, &bob, &chat, &dave).await.0, 403);
    assert_eq!(remove(&app, &carol, &chat, &alice).await.0, 403);
    assert_eq!(
        set_role(&app, &carol, &chat, &dave, "moderator").await.0,
        403
    );
    assert_eq!(add(&app, &carol, &chat, &alice).await.0, 403);
    assert_eq!(remove(&app, &carol, &chat, &dave).await.0, 200);
    let left = bob_ws.next_event("chat:participant:left").await;
    assert_eq!(left["data"]["userId"], dave.id);
    assert_eq!(left["data"]["removedBy"], carol.id);

    // The only admin cannot step down, but can leave: the longest-standing member takes over.
    let (status, body) = set_role(&app, &alice, &chat, &alice, "member").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "PERMISSION_DENIED");
    let (status, body) = remove(&app, &alice, &chat, &alice).await;
    assert_eq!(status, 200, "{body}");
    let left = bob_ws.next_event("chat:participant:left").await;
    assert_eq!(left["data"]["userId"], alice.id);
    assert!(left["data"].get("removedBy").is_none(), "she left: {left}");
    let promoted = bob_ws.next_event("chat:participant:role_changed").await;
    assert_eq!(promoted["data"]["userId"], bob.id);
    assert_eq!(promoted["data"]["role"], "admin");
    let (status, body) = app
        .get(&format!("/api/chats/{chat}"), Some(&bob.access))
        .await;
    assert_eq!(status, 200, "{body}");
    let roles: Vec<(String, String)> = body["data"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        roles.contains(&(bob.id.clone(), "admin".into())),
        "{roles:?}"
    );
    assert!(!roles.iter().any(|(id, _)| *id == alice.id), "{roles:?}");
    // The new admin adds; the one who left keeps the group read-only and adds nobody.
    assert_eq!(add(&app, &bob, &chat, &dave).await.0, 200);
    assert_eq!(add(&app, &alice, &chat, &dave).await.0, 403);
    app.stop().await;
}

/// Someone leaving is told to the group's admins alone, as WhatsApp does since 2022: the
/// admins (a successor too) and the one who left get the line, live, in sync and in their
/// history; the other members see the member list change and nothing in their timeline, their
/// list (last message, unread count) or their sync. An admin removing someone is told to all.
#[tokio::test]
async fn leaving_a_group_is_a_line_for_its_admins_alone() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "crew", &[&bob, &carol, &dave]).await;
    let bob_since = crate::sync::present(&app, &bob).await;
    let alice_since = crate::sync::present(&app, &alice).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, body) = remove(&app, &carol, &chat, &carol).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.send_text(&alice, &chat, "marker").await.0, 201);

    let lines = |frames: &[Value]| -> Vec<String> {
        frames
            .iter()
            .filter(|f| f["event"] == "message:received")
            .map(|f| contents(&json!({ "data": [f["data"]["message"]] }))[0].clone())
            .collect()
    };
    let (live, synced) = told_until(&app, &mut alice_ws, &alice, &alice_since, "marker").await;
    assert_eq!(lines(&live), ["system left"], "{live:?}");
    assert_eq!(lines(&synced), ["system left", "marker"], "{synced:?}");
    let (live, synced) = told_until(&app, &mut bob_ws, &bob, &bob_since, "marker").await;
    assert_eq!(lines(&live), Vec::<String>::new(), "{live:?}");
    assert_eq!(lines(&synced), ["marker"], "{synced:?}");
    assert!(
        live.iter().any(|f| f["event"] == "chat:participant:left"),
        "the member list changes for him: {live:?}"
    );
    assert!(timeline(&app, &alice, &chat)
        .await
        .contains(&"system left".to_owned()));
    assert!(timeline(&app, &carol, &chat)
        .await
        .contains(&"system left".to_owned()));
    assert!(!timeline(&app, &bob, &chat)
        .await
        .contains(&"system left".to_owned()));

    // Nor does his list show or count it, or move the group up: Alice's does show it.
    let (_, before) = app.get("/api/chats", Some(&bob.access)).await;
    let (status, body) = remove(&app, &dave, &chat, &dave).await;
    assert_eq!(status, 200, "{body}");
    let (status, after) = app.get("/api/chats", Some(&bob.access)).await;
    assert_eq!(status, 200, "{after}");
    for field in ["lastMessage", "unreadCount", "updatedAt"] {
        assert_eq!(
            after["data"][0][field], before["data"][0][field],
            "{field}: {after}"
        );
    }
    assert_eq!(
        after["data"][0]["lastMessage"]["content"], "marker",
        "{after}"
    );
    let (_, list) = app.get("/api/chats", Some(&alice.access)).await;
    let preview = list["data"][0]["lastMessage"]["content"].as_str().unwrap();
    assert!(preview.ends_with(" left"), "{list}");

    // Who left is where every member sees it: the past participants, the latest first.
    assert_eq!(
        past_participants(&app, &bob, &chat).await,
        [dave.id.as_str(), carol.id.as_str()]
    );
    assert_eq!(
        past_participants(&app, &alice, &chat).await,
        [dave.id.as_str(), carol.id.as_str()]
    );
    let (status, _) = app
        .get(
            &format!("/api/chats/{chat}/past-participants"),
            Some(&carol.access),
        )
        .await;
    assert_eq!(status, 403, "she left: no longer hers to look at");
    // For 60 days.
    app.owner_db()
        .await
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE chat_participants SET left_at = now() - interval '61 days'
             WHERE user_id = $1::text::uuid",
            &[&dave.id],
        )
        .await
        .unwrap();
    assert_eq!(
        past_participants(&app, &bob, &chat).await,
        [carol.id.as_str()]
    );

    // The last admin leaving: the member who takes over is told, and so is nobody else.
    let erin = app.register("erin").await;
    assert_eq!(add(&app, &alice, &chat, &erin).await.0, 200);
    let erin_since = crate::sync::present(&app, &erin).await;
    let (status, body) = remove(&app, &alice, &chat, &alice).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.send_text(&bob, &chat, "marker 2").await.0, 201);
    let (live, _) = told_until(&app, &mut bob_ws, &bob, &bob_since, "marker 2").await;
    assert_eq!(
        lines(&live),
        ["system added", "system left", "system role_changed"],
        "{live:?}"
    );
    let (synced, _) = crate::sync::sync_all(&app, &erin, &erin_since).await;
    assert_eq!(
        lines(&synced),
        ["system role_changed", "marker 2"],
        "{synced:?}"
    );

    // Removed by an admin: everyone's line. (Back in the group, she is no past participant.)
    assert_eq!(add(&app, &bob, &chat, &carol).await.0, 200);
    assert_eq!(
        past_participants(&app, &erin, &chat).await,
        [alice.id.as_str()]
    );
    assert_eq!(remove(&app, &bob, &chat, &carol).await.0, 200);
    let (synced, _) = crate::sync::sync_all(&app, &erin, &erin_since).await;
    assert_eq!(
        lines(&synced)[2..],
        ["system added", "system removed"],
        "{synced:?}"
    );
    app.stop().await;
}

/// `user`'s history of `chat`, as [`contents`] gives it.
async fn timeline(app: &TestApp, user: &User, chat: &str) -> Vec<String> {
    let (status, page) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{page}");
    contents(&page)
}

/// The ids of `chat`'s past participants as `user` reads them.
async fn past_participants(app: &TestApp, user: &User, chat: &str) -> Vec<String> {
    let (status, page) = app
        .get(
            &format!("/api/chats/{chat}/past-participants"),
            Some(&user.access),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Two admins removing each other at the same moment: one goes first, and the other, no
/// longer a member by then, removes nobody. Each removal checks the remover's role under the
/// group's lock, not before it.
#[tokio::test]
async fn two_admins_removing_each_other_at_once_remove_only_one() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    for round in 0..8 {
        let chat = app.open_group(&alice, "duel", &[&bob, &carol]).await;
        assert_eq!(set_role(&app, &alice, &chat, &bob, "admin").await.0, 200);
        let (by_alice, by_bob) = tokio::join!(
            remove(&app, &alice, &chat, &bob),
            remove(&app, &bob, &chat, &alice)
        );
        let mut statuses = [by_alice.0, by_bob.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 403],
            "round {round}: {by_alice:?} {by_bob:?}"
        );
        let (_, details) = app
            .get(&format!("/api/chats/{chat}"), Some(&carol.access))
            .await;
        assert_eq!(
            details["data"]["participants"].as_array().unwrap().len(),
            2,
            "round {round}: {details}"
        );
    }
    app.stop().await;
}

/// An admin renaming the group while another removes them: the name changes before the
/// removal or not at all, never by someone already removed.
#[tokio::test]
async fn an_admin_removed_while_renaming_the_group_renames_it_before_or_not_at_all() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    for round in 0..24 {
        let chat = app.open_group(&alice, "stage", &[&bob, &carol]).await;
        assert_eq!(set_role(&app, &alice, &chat, &bob, "admin").await.0, 200);
        let path = format!("/api/chats/{chat}");
        let ((renamed, body), (removed, _)) = tokio::join!(
            app.put(
                &path,
                &bob.access,
                json!({ "name": format!("bob's {round}") })
            ),
            remove(&app, &alice, &chat, &bob)
        );
        assert_eq!(removed, 200);
        let (_, history) = app
            .get(&format!("/api/chats/{chat}/messages"), Some(&carol.access))
            .await;
        let lines: Vec<String> = contents(&history)
            .into_iter()
            .filter(|line| line == "system name_changed" || line == "system removed")
            .collect();
        if renamed == 200 {
            assert_eq!(
                lines,
                ["system name_changed", "system removed"],
                "round {round}: renamed after the removal"
            );
        } else {
            assert_eq!(renamed, 403, "round {round}: {body}");
            assert_eq!(lines, ["system removed"], "round {round}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn participant_requests_are_checked_and_one_to_one_chats_have_none() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_group(&alice, "crew", &[&bob]).await;
    let path = format!("/api/chats/{chat}/participants");
    for (body, why) in [
        (
            json!({ "userId": carol.id, "role": "admin" }),
            "admins are made with the role route",
        ),
        (
            json!({ "userId": carol.id, "role": "owner" }),
            "no such role",
        ),
        (json!({ "userId": "not-a-uuid" }), "not an id"),
        (
            json!({ "userId": carol.id, "nickname": "c" }),
            "an unknown field",
        ),
        (json!({}), "no user"),
    ] {
        let (status, answer) = app.post(&path, Some(&alice.access), body).await;
        assert_eq!(status, 400, "{why}: {answer}");
        assert_eq!(answer["success"], false);
    }
    let nobody = uuid::Uuid::new_v4();
    let (status, _) = app
        .post(&path, Some(&alice.access), json!({ "userId": nobody }))
        .await;
    assert_eq!(status, 404, "no such user");
    assert_eq!(set_role(&app, &alice, &chat, &bob, "owner").await.0, 400);
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/participants/{nobody}/role"),
            &alice.access,
            json!({ "role": "moderator" }),
        )
        .await;
    assert_eq!(status, 404, "not a participant");
    // A 1:1 chat has no members to manage: its two are told so (it exists, they see it);
    // anyone else is told it does not exist.
    let direct = app.open_chat(&alice, &carol).await;
    for (status, answer) in [
        add(&app, &alice, &direct, &bob).await,
        remove(&app, &alice, &direct, &carol).await,
        remove(&app, &carol, &direct, &carol).await,
        set_role(&app, &alice, &direct, &carol, "admin").await,
    ] {
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1:1 chat, not a group"),
            "{answer}"
        );
    }
    assert_eq!(add(&app, &bob, &direct, &bob).await.0, 404);
    assert_eq!(remove(&app, &bob, &direct, &carol).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_websocket_actions_add_remove_and_leave_with_one_answer_each() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_group(&alice, "crew", &[&bob]).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;

    alice_ws
        .send_json(json!({ "action": "chat:participant:add", "requestId": "a1",
            "data": { "chatId": chat, "userId": carol.id, "role": "moderator" } }))
        .await;
    let ack = alice_ws.next_json().await;
    assert_eq!(ack["event"], "ack", "{ack}");
    assert_eq!(ack["requestId"], "a1");
    assert_eq!(ack["data"]["status"], "added");
    assert_eq!(ack["data"]["role"], "moderator");
    let joined = bob_ws.next_event("chat:participant:joined").await;
    assert_eq!(joined["data"]["participant"]["role"], "moderator");

    // Bob may not remove Carol (a moderator); the answer says why, on his connection only.
    bob_ws
        .send_json(
            json!({ "action": "chat:participant:remove", "requestId": "b1",
            "data": { "chatId": chat, "userId": carol.id } }),
        )
        .await;
    let refused = bob_ws.answer_to("b1").await;
    assert_eq!(refused["event"], "error:general");
    assert_eq!(refused["data"]["code"], "PERMISSION_DENIED");
    bob_ws
        .send_json(json!({ "action": "chat:leave", "requestId": "b2", "data": { "chatId": chat, "extra": 1 } }))
        .await;
    let refused = bob_ws.answer_to("b2").await;
    assert_eq!(
        refused["event"], "error:general",
        "unknown fields are refused"
    );
    bob_ws
        .send_json(json!({ "action": "chat:leave", "requestId": "b3", "data": { "chatId": chat } }))
        .await;
    let left = bob_ws.answer_to("b3").await;
    assert_eq!(left["event"], "ack", "{left}");
    assert_eq!(left["data"]["userId"], bob.id);
    assert_eq!(left["data"]["status"], "left");
    let told = alice_ws.next_event("chat:participant:left").await;
    assert_eq!(told["data"]["userId"], bob.id);
    assert!(told["data"].get("removedBy").is_none());
    app.stop().await;
}

#[tokio::test]
async fn chat_create_and_chat_update_over_the_websocket_answer_as_their_rest_twins() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;

    alice_ws
        .send_json(json!({ "action": "chat:create", "requestId": "c1",
            "data": { "type": "group", "name": "crew", "participantIds": [bob.id] } }))
        .await;
    let created = alice_ws.answer_to("c1").await;
    assert_eq!(created["event"], "ack", "{created}");
    assert_eq!(created["data"]["name"], "crew");
    assert_eq!(created["data"]["type"], "group");
    let chat = created["data"]["id"].as_str().unwrap().to_owned();
    let told = bob_ws.next_event("chat:created").await;
    assert_eq!(told["data"]["chat"]["id"], chat.as_str(), "{told}");

    alice_ws
        .send_json(json!({ "action": "chat:update", "requestId": "u1",
            "data": { "chatId": chat, "name": "crew 2", "settings": { "pinChat": true } } }))
        .await;
    let updated = alice_ws.answer_to("u1").await;
    assert_eq!(updated["event"], "ack", "{updated}");
    assert_eq!(updated["data"]["name"], "crew 2");
    assert_eq!(updated["data"]["settings"]["pinChat"], true, "{updated}");
    let renamed = bob_ws.next_event("chat:updated").await;
    assert_eq!(renamed["data"]["name"], "crew 2");

    // The body's own rules hold: unknown fields and a missing chatId are refused, and someone
    // outside the group cannot tell it exists.
    for (request, data, code) in [
        (
            "u2",
            json!({ "chatId": chat, "title": "x" }),
            "VALIDATION_ERROR",
        ),
        ("u3", json!({ "name": "x" }), "MISSING_REQUIRED_FIELD"),
        (
            "u4",
            json!({ "chatId": "not-an-id", "name": "x" }),
            "VALIDATION_ERROR",
        ),
    ] {
        alice_ws
            .send_json(json!({ "action": "chat:update", "requestId": request, "data": data }))
            .await;
        let refused = alice_ws.answer_to(request).await;
        assert_eq!(refused["event"], "error:general", "{refused}");
        assert_eq!(refused["data"]["code"], code, "{refused}");
    }
    let mut carol_ws = app.ws(&carol.access).await;
    carol_ws
        .send_json(json!({ "action": "chat:update", "requestId": "u5",
            "data": { "chatId": chat, "name": "mine" } }))
        .await;
    let refused = carol_ws.answer_to("u5").await;
    assert_eq!(refused["data"]["code"], "RESOURCE_NOT_FOUND", "{refused}");
    app.stop().await;
}

/// A client that retries a group's creation after a timeout names the same `clientChatId`: it
/// gets the group the first attempt made (200, answered as then), however the attempts
/// interleave, over REST or the WebSocket, and its members are told of one group, once.
#[tokio::test]
async fn a_group_created_again_with_its_client_id_is_the_one_group_told_once() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let dave = app.register("dave").await;
    app.block(&dave, &alice).await;
    let since = crate::sync::present(&app, &bob).await;
    let create = |client_chat_id: &str| {
        json!({ "type": "group", "name": "trip", "participantIds": [bob.id, dave.id],
                "clientChatId": client_chat_id })
    };
    let answers = futures_util::future::join_all(
        (0..4).map(|_| app.post("/api/chats", Some(&alice.access), create("trip-1"))),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 201], "{answers:?}");
    let group = answers[0].1["data"]["id"].as_str().unwrap().to_owned();
    for (_, body) in &answers {
        assert_eq!(body["data"]["id"], group.as_str(), "{body}");
        // Dave, who blocks Alice, is answered as invited every time: a retry tells no block.
        assert_eq!(body["data"]["invited"], json!([dave.id]), "{body}");
    }
    let mut alice_ws = app.ws(&alice.access).await;
    alice_ws
        .send_json(json!({ "action": "chat:create", "requestId": "again",
                           "data": create("trip-1") }))
        .await;
    let acked = alice_ws.answer_to("again").await;
    assert_eq!(acked["data"]["id"], group.as_str(), "{acked}");

    let (events, _) = crate::sync::sync_all(&app, &bob, &since).await;
    let told: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "chat:created")
        .collect();
    assert_eq!(told.len(), 1, "one group, told once: {events:?}");
    let (_, list) = app.get("/api/chats", Some(&alice.access)).await;
    let trips = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "trip")
        .count();
    assert_eq!(trips, 1, "{list}");

    // Another id makes another group; the same id is the caller's own (Bob's is his).
    let (status, other) = app
        .post("/api/chats", Some(&alice.access), create("trip-2"))
        .await;
    assert_eq!(status, 201);
    assert_ne!(other["data"]["id"], group.as_str());
    let bobs = json!({ "type": "group", "name": "trip", "participantIds": [alice.id],
                       "clientChatId": "trip-1" });
    let (status, his) = app.post("/api/chats", Some(&bob.access), bobs).await;
    assert_eq!(status, 201);
    assert_ne!(his["data"]["id"], group.as_str());
    let (status, body) = app
        .post("/api/chats", Some(&alice.access), create(""))
        .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}
