//! Changing sent messages and reading them: edits (window, history, sender only), deletion for
//! yourself and for everyone (window, group admins, tombstones), reactions (one per user,
//! replaced, removed, refused across a block), read receipts (one event per sender however many
//! messages, privacy both ways, groups keep them) and typing (ephemeral, throttled, never to a
//! blocked user), over REST and WebSocket, each change reaching the others live and in sync.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp, User, WsClient};
use crate::sync::{present, sync_all};

async fn history(app: &TestApp, user: &User, chat: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

#[tokio::test]
async fn the_sender_edits_text_within_the_window_and_the_history_is_kept() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let id = app.sent(&alice, &chat, "helo").await;
    let mut bob_ws = app.ws(&bob.access).await;
    let since = present(&app, &bob).await;
    let path = format!("/api/chats/{chat}/messages/{id}");

    let (status, body) = app
        .put(&path, &alice.access, json!({ "content": "hello" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["content"], "hello");
    assert_eq!(body["data"]["isEdited"], true);
    let live = bob_ws.next_event("message:edited").await;
    assert_eq!(live["data"]["message"]["content"], "hello");
    assert!(live["cursor"].is_string());
    let (_, body) = app
        .put(&path, &alice.access, json!({ "content": "hello!" }))
        .await;
    assert_eq!(body["data"]["content"], "hello!");

    let (status, edits) = app.get(&format!("{path}/edits"), Some(&bob.access)).await;
    assert_eq!(status, 200, "{edits}");
    let previous: Vec<&str> = edits["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["previousContent"].as_str().unwrap())
        .collect();
    assert_eq!(previous, ["helo", "hello"], "oldest first");
    let (events, _) = sync_all(&app, &bob, &since).await;
    assert_eq!(named(&events, "message:edited").len(), 2, "{events:?}");

    // Only the sender, only text (or a caption), only non-empty text.
    let (status, body) = app
        .put(&path, &bob.access, json!({ "content": "mine" }))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("PERMISSION_DENIED")),
        "{body}"
    );
    let (status, _) = app
        .put(&path, &alice.access, json!({ "content": "   " }))
        .await;
    assert_eq!(status, 400);
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "loc", "type": "location", "metadata": { "latitude": 1.0, "longitude": 2.0 } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let location = body["data"]["id"].as_str().unwrap();
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/messages/{location}"),
            &alice.access,
            json!({ "content": "moved" }),
        )
        .await;
    assert_eq!(status, 403, "a location is not edited");
    // Nor a forwarded copy: it shows someone else's words, and would still say so.
    let original = app.sent(&bob, &chat, "as bob wrote it").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{original}/forward"),
            Some(&alice.access),
            json!({ "chatIds": [chat] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let copy = body["data"][0]["id"].as_str().unwrap();
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}/messages/{copy}"),
            &alice.access,
            json!({ "content": "as alice would have it" }),
        )
        .await;
    assert_eq!(status, 403, "a forwarded copy is not edited: {body}");
    // A photo's caption is, and its file stays.
    let picture = crate::media::png(8, 8, [30, 200, 30]);
    let upload = |name: &'static str| {
        let request = json!({ "fileType": "image", "fileName": name,
                              "fileSize": picture.len(), "chatId": chat });
        crate::media::upload(&app, &alice, request, &picture)
    };
    let file = upload("p.png").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "pic", "type": "image", "mediaId": file, "content": "sunset" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let photo = format!(
        "/api/chats/{chat}/messages/{}",
        body["data"]["id"].as_str().unwrap()
    );
    let (status, body) = app
        .put(&photo, &alice.access, json!({ "content": "sunrise" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["data"]["content"],
            &body["data"]["mediaId"],
            &body["data"]["type"]
        ),
        (&json!("sunrise"), &json!(file), &json!("image"))
    );
    let earlier = bob_ws.next_event("message:edited").await;
    assert_eq!(earlier["data"]["message"]["content"], "hello!");
    let live = bob_ws.next_event("message:edited").await;
    assert_eq!(live["data"]["message"]["content"], "sunrise");
    let (_, edits) = app.get(&format!("{photo}/edits"), Some(&bob.access)).await;
    assert_eq!(edits["data"][0]["previousContent"], "sunset", "{edits}");
    // A view-once photo has no caption to edit.
    let once = upload("once.png").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "once", "type": "image", "mediaId": once, "viewOnce": true }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app
        .put(
            &format!(
                "/api/chats/{chat}/messages/{}",
                body["data"]["id"].as_str().unwrap()
            ),
            &alice.access,
            json!({ "content": "look" }),
        )
        .await;
    assert_eq!(status, 403, "a view-once photo is not captioned");
    // An outsider cannot tell the message exists.
    let eve = app.register("eve").await;
    let (status, _) = app.put(&path, &eve.access, json!({ "content": "x" })).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&format!("{path}/edits"), Some(&eve.access)).await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn edits_and_deletes_for_everyone_close_with_their_windows() {
    let app = spawn_app_with(|c| {
        c.settings.edit_window = Duration::from_secs(1);
        c.settings.delete_window = Duration::from_secs(1);
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let id = app.sent(&alice, &chat, "too late").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let path = format!("/api/chats/{chat}/messages/{id}");
    let (status, body) = app
        .put(&path, &alice.access, json!({ "content": "x" }))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app
        .delete(&path, &alice.access, json!({ "deleteForEveryone": true }))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(history(&app, &bob, &chat).await[0]["content"], "too late");
    // Deleting for yourself has no window.
    let (status, body) = app.delete(&path, &alice.access, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deletion"], "forMe");
    app.stop().await;
}

#[tokio::test]
async fn delete_for_me_hides_it_from_my_devices_only_and_for_everyone_leaves_a_tombstone() {
    let app = spawn_app().await;
    let admin = app.register("admin").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&admin, "friends", &[&bob, &carol]).await;
    let first = app.sent(&bob, &group, "first").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&carol.access),
            json!({ "clientMessageId": "reply", "content": "re: first", "replyToId": first }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let path = format!("/api/chats/{group}/messages/{first}");
    let (status, _) = app
        .post(
            &format!("{path}/reactions"),
            Some(&carol.access),
            json!({ "emoji": "👍" }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .put(&path, &bob.access, json!({ "content": "first!" }))
        .await;
    assert_eq!(status, 200);

    // For me: gone from carol's history, her other device told (not the one she deleted it
    // on, which has its answer); the others keep it.
    let mut carol_ws = app.ws(&carol.access).await;
    let mut carol_other = app.ws(&carol.access).await;
    carol_ws
        .send_json(json!({"action": "message:delete", "requestId": "hide",
            "data": {"chatId": group, "messageId": first, "forEveryone": false}}))
        .await;
    let told = carol_other.next_event("message:deleted").await;
    assert_eq!(told["data"]["deletion"], "forMe");
    let mut about_it = Vec::new();
    while let Some(frame) = carol_ws.next_message(Duration::from_millis(700)).await {
        let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        if frame.to_string().contains(first.as_str()) {
            about_it.push(frame);
        }
    }
    assert_eq!(about_it.len(), 1, "only its answer: {about_it:?}");
    assert_eq!(
        (&about_it[0]["requestId"], &about_it[0]["data"]["deletion"]),
        (&json!("hide"), &json!("forMe"))
    );
    assert!(history(&app, &carol, &group)
        .await
        .iter()
        .all(|m| m["id"] != first));
    assert!(history(&app, &bob, &group)
        .await
        .iter()
        .any(|m| m["id"] == first));
    let (status, _) = app
        .put(&path, &carol.access, json!({ "content": "x" }))
        .await;
    assert_eq!(status, 404, "hidden from her: as if absent");

    // For everyone: a member who is not its sender may not; the sender may.
    let since = present(&app, &admin).await;
    let mut admin_ws = app.ws(&admin.access).await;
    let everyone = json!({ "deleteForEveryone": true });
    let other = app.sent(&admin, &group, "admin's").await;
    let (status, body) = app
        .delete(
            &format!("/api/chats/{group}/messages/{other}"),
            &bob.access,
            everyone.clone(),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app.delete(&path, &bob.access, everyone.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deletion"], "forEveryone");
    let live = admin_ws.next_event("message:deleted").await;
    assert_eq!(live["data"]["messageId"], first.as_str());
    assert_eq!(live["data"]["deletedBy"], bob.id.as_str());
    let messages = history(&app, &admin, &group).await;
    let tombstone = messages.iter().find(|m| m["id"] == first).unwrap();
    assert_eq!(tombstone["isDeleted"], true);
    assert_eq!(tombstone["content"], Value::Null);
    assert_eq!(tombstone["reactions"], json!([]), "reactions go with it");
    assert_eq!(
        tombstone["deletedBy"],
        bob.id.as_str(),
        "its sender deleted it"
    );
    let reply = messages
        .iter()
        .find(|m| m["content"] == "re: first")
        .unwrap();
    assert_eq!(
        reply["replyTo"]["content"],
        Value::Null,
        "the quote shows it deleted"
    );
    let (_, edits) = app.get(&format!("{path}/edits"), Some(&admin.access)).await;
    assert_eq!(edits["data"], json!([]), "its edit history is erased");
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&carol.access),
            json!({ "clientMessageId": "reply-again", "content": "re", "replyToId": first }),
        )
        .await;
    assert_eq!(status, 400, "no reply to a deleted message: {body}");
    // Nothing of its text is left anywhere the admin can read, sync included.
    let (events, _) = sync_all(&app, &admin, &since).await;
    assert!(!json!(events).to_string().contains("first!"), "{events:?}");
    // Again: the same answer, no second event.
    let (status, _) = app.delete(&path, &bob.access, everyone.clone()).await;
    assert_eq!(status, 200);
    let (events, _) = sync_all(&app, &admin, &since).await;
    assert_eq!(named(&events, "message:deleted").len(), 1);
    // A group admin deletes anyone's message.
    let bobs = app.sent(&bob, &group, "rude").await;
    let (status, body) = app
        .delete(
            &format!("/api/chats/{group}/messages/{bobs}"),
            &admin.access,
            everyone,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Read later, the tombstone says an admin deleted it, not its sender.
    let messages = history(&app, &carol, &group).await;
    let tombstone = messages.iter().find(|m| m["id"] == bobs).unwrap();
    assert_eq!(
        (&tombstone["isDeleted"], &tombstone["deletedBy"]),
        (&json!(true), &json!(admin.id)),
        "{tombstone}"
    );
    let kept = messages.iter().find(|m| m["id"] == other).unwrap();
    assert_eq!(kept["deletedBy"], Value::Null, "not deleted: {kept}");
    // The chat list shows its last message deleted, not as an empty line.
    let row = app.chat_row(&carol, &group).await;
    assert_eq!(row["lastMessage"]["isDeleted"], true, "{row}");
    assert_eq!(row["lastMessage"]["content"], Value::Null, "{row}");
    assert_eq!(row["lastMessage"]["deletedBy"], admin.id.as_str(), "{row}");
    app.sent(&bob, &group, "sorry").await;
    let row = app.chat_row(&carol, &group).await;
    assert_eq!(row["lastMessage"]["isDeleted"], false, "{row}");
    app.stop().await;
}

#[tokio::test]
async fn reactions_are_one_per_user_replaced_removed_and_never_cross_a_block() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let id = app.sent(&alice, &chat, "news").await;
    let mut alice_ws = app.ws(&alice.access).await;
    let path = format!("/api/chats/{chat}/messages/{id}/reactions");

    let (status, body) = app
        .post(&path, Some(&bob.access), json!({ "emoji": "❤️" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let added = alice_ws.next_event("message:reaction:added").await;
    assert_eq!(added["data"]["emoji"], "❤️");
    assert_eq!(added["data"]["userId"], bob.id.as_str());
    // Replaced, not added: still one reaction of bob's. The events say so too: a client that
    // applies them holds what the history shows.
    let (status, _) = app
        .post(&path, Some(&bob.access), json!({ "emoji": "👍🏽" }))
        .await;
    assert_eq!(status, 200);
    let replaced = alice_ws.next_json().await;
    assert_eq!(replaced["event"], "message:reaction:removed", "{replaced}");
    assert_eq!(
        (&replaced["data"]["emoji"], &replaced["data"]["userId"]),
        (&json!("❤️"), &json!(bob.id))
    );
    let added = alice_ws.next_json().await;
    assert_eq!(added["event"], "message:reaction:added", "{added}");
    assert_eq!(
        (&added["data"]["emoji"], &added["data"]["userId"]),
        (&json!("👍🏽"), &json!(bob.id))
    );
    let (status, _) = app
        .post(&path, Some(&alice.access), json!({ "emoji": "👍🏽" }))
        .await;
    assert_eq!(status, 200);
    let message = &history(&app, &alice, &chat).await[0];
    assert_eq!(
        message["reactions"],
        json!([{ "emoji": "👍🏽", "count": 2, "users": [bob.id, alice.id] }])
    );
    for bad in ["", "a", "👍 👍", ":)", "👍👍"] {
        let (status, body) = app
            .post(&path, Some(&bob.access), json!({ "emoji": bad }))
            .await;
        assert_eq!(status, 400, "{bad:?}: {body}");
    }
    // Removed over the WebSocket, with the REST route's rules.
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws
        .send_json(json!({ "action": "message:reaction", "requestId": "r1",
            "data": { "chatId": chat, "messageId": id, "emoji": "👍🏽", "remove": true } }))
        .await;
    let ack = bob_ws.answer_to("r1").await;
    assert_eq!(ack["event"], "ack", "{ack}");
    assert_eq!(ack["data"]["emoji"], Value::Null);
    let removed = alice_ws.next_event("message:reaction:removed").await;
    assert_eq!(removed["data"]["userId"], bob.id.as_str());
    let (status, _) = app
        .delete(
            &format!("{path}/%F0%9F%91%8D%F0%9F%8F%BD"),
            &bob.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "nothing left to remove");
    let (status, body) = app
        .delete(
            &format!("{path}/%F0%9F%91%8D%F0%9F%8F%BD"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        history(&app, &alice, &chat).await[0]["reactions"],
        json!([])
    );

    // Across a block the blocker may not react, and is told why; the one blocked is not told
    // so by a refusal: their reaction is stored, reaches their own other devices, and never
    // the blocker, not after an unblock either.
    let own = app.sent(&bob, &chat, "before you blocked me").await;
    alice_ws.next_event("message:received").await;
    app.block(&alice, &bob).await;
    alice_ws.next_event("user:blocked").await;
    let since = present(&app, &alice).await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{own}/reactions"),
            Some(&alice.access),
            json!({ "emoji": "🙄" }),
        )
        .await;
    crate::support::assert_told_to_unblock(status, &body);
    let (status, body) = app
        .post(&path, Some(&bob.access), json!({ "emoji": "😡" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let mine = bob_ws.next_event("message:reaction:added").await;
    assert_eq!(mine["data"]["emoji"], "😡", "his other device: {mine}");
    alice_ws.expect_silence(Duration::from_millis(400)).await;
    let reactions_of = |user: &User| {
        let (app, chat, id, user) = (&app, &chat, &id, user.clone());
        async move {
            history(app, &user, chat)
                .await
                .iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap()["reactions"]
                .clone()
        }
    };
    assert_eq!(reactions_of(&alice).await, json!([]));
    assert_eq!(
        reactions_of(&bob).await[0]["emoji"],
        "😡",
        "his own history shows it"
    );
    app.unblock(&alice, &bob).await;
    assert_eq!(
        reactions_of(&alice).await,
        json!([]),
        "nor after an unblock"
    );
    // Nor when the message comes to her again whole (an edit).
    let edit = json!({ "content": "news!" });
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}/messages/{id}"),
            &alice.access,
            edit,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["reactions"], json!([]), "her answer: {body}");
    let edited = bob_ws.next_event("message:edited").await;
    assert_eq!(
        edited["data"]["message"]["reactions"][0]["emoji"], "😡",
        "his: {edited}"
    );
    let (events, _) = sync_all(&app, &alice, &since).await;
    assert!(
        !events
            .iter()
            .any(|e| e["event"] == "message:reaction:added"),
        "{events:?}"
    );
    let edited = events
        .iter()
        .find(|e| e["event"] == "message:edited")
        .unwrap();
    assert_eq!(
        edited["data"]["message"]["reactions"],
        json!([]),
        "{edited}"
    );
    app.stop().await;
}

#[tokio::test]
async fn reading_tells_each_sender_once_and_respects_read_receipt_privacy() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let alice_before = present(&app, &alice).await;
    let bob_before = present(&app, &bob).await;
    let mut ids = Vec::new();
    for n in 0..300 {
        ids.push(app.sent(&alice, &chat, &format!("m{n}")).await);
    }
    // Bob's device was offline: it syncs the 300 in pages of 100, each page a delivery batch,
    // and alice's stream keeps one delivered event (the newer supersedes the older).
    let (caught_up, _) = sync_all(&app, &bob, &bob_before).await;
    assert_eq!(named(&caught_up, "message:received").len(), 300);
    let (events, _) = sync_all(&app, &alice, &alice_before).await;
    let delivered = named(&events, "message:delivered");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["data"]["seq"], 300);
    let since = present(&app, &alice).await;
    let bob_since = present(&app, &bob).await;

    // Bob reads up to the 100th, then all 300: alice's stream keeps the last read event.
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{}/read", ids[99]),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{}/read", ids[299]),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["readSeq"], 300);
    let (events, since) = sync_all(&app, &alice, &since).await;
    let reads = named(&events, "message:read");
    assert_eq!(reads.len(), 1, "{events:?}");
    assert_eq!(reads[0]["data"]["seq"], 300);
    assert_eq!(reads[0]["data"]["readBy"], bob.id.as_str());
    assert_eq!(reads[0]["data"]["messageId"], ids[299].as_str());
    let (own, _) = sync_all(&app, &bob, &bob_since).await;
    assert_eq!(named(&own, "message:read").len(), 1, "bob's other devices");
    assert!(history(&app, &alice, &chat)
        .await
        .iter()
        .all(|m| m["status"] == "read"));
    // An earlier message read again: nothing moves, nobody is told.
    let (_, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{}/read", ids[3]),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["readSeq"], 300);
    let (events, since) = sync_all(&app, &alice, &since).await;
    assert!(named(&events, "message:read").is_empty(), "{events:?}");

    // Bob turns read receipts off: alice no longer learns he read, nor sees "read".
    set_privacy(&app, &bob, json!({ "readReceipts": false })).await;
    let newer = app.sent(&alice, &chat, "are you there?").await;
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws
        .send_json(json!({ "action": "message:read", "requestId": "read-1",
            "data": { "chatId": chat, "messageId": newer } }))
        .await;
    let ack = bob_ws.answer_to("read-1").await;
    assert_eq!(ack["data"]["readSeq"], 301, "{ack}");
    let (events, _) = sync_all(&app, &alice, &since).await;
    assert!(named(&events, "message:read").is_empty(), "{events:?}");
    let last = history(&app, &alice, &chat).await.pop().unwrap();
    assert_eq!(
        last["status"], "delivered",
        "read is hidden, delivered is not"
    );
    // ...and neither does bob see alice's (both ways).
    let bobs = app.sent(&bob, &chat, "yes").await;
    let (_, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{bobs}/read"),
            Some(&alice.access),
            json!({}),
        )
        .await;
    let mine = history(&app, &bob, &chat).await.pop().unwrap();
    assert_ne!(mine["status"], "read");

    // Groups keep read receipts whatever the setting.
    let group = app.open_group(&alice, "g", &[&bob]).await;
    let g = app.sent(&alice, &group, "group news").await;
    let since = present(&app, &alice).await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages/{g}/read"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (events, _) = sync_all(&app, &alice, &since).await;
    assert_eq!(named(&events, "message:read").len(), 1, "{events:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_typing_throttle_counts_from_the_last_relay_not_from_a_clock_edge() {
    use banter_core::services::rate_limit::throttle;
    let app = spawn_app().await;
    let db = &app.app().db;
    let every = Duration::from_secs(2);
    // Just before an even second of the clock, where a two-second fixed window ends: a repeat
    // 50 ms later lands in the next window, and a fixed-window count would let it through.
    let to_edge = 2_000 - (chrono::Utc::now().timestamp_millis() % 2_000);
    tokio::time::sleep(Duration::from_millis(
        ((to_edge + 2_000 - 30) % 2_000) as u64,
    ))
    .await;
    assert!(
        throttle(db, "typing:edge", every).await.unwrap(),
        "the first"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !throttle(db, "typing:edge", every).await.unwrap(),
        "a repeat 50 ms later, past the clock's edge, is dropped"
    );
    // Counted from the last relay: free again once `every` has passed since it.
    let short = Duration::from_secs(1);
    assert!(throttle(db, "typing:short", short).await.unwrap());
    assert!(!throttle(db, "typing:short", short).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(
        throttle(db, "typing:short", short).await.unwrap(),
        "free again"
    );
    app.stop().await;
}

#[tokio::test]
async fn typing_reaches_connected_members_only_briefly_and_never_across_a_block() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let eve = app.register("eve").await;
    let group = app.open_group(&alice, "g", &[&bob, &carol]).await;
    app.block(&carol, &alice).await;
    let bob_since = present(&app, &bob).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut carol_ws = app.ws(&carol.access).await;

    alice_ws
        .send_json(
            json!({ "action": "message:typing", "requestId": "t1", "data": { "chatId": group } }),
        )
        .await;
    assert_eq!(alice_ws.answer_to("t1").await["event"], "ack");
    let typing = bob_ws.next_event("message:typing").await;
    assert_eq!(typing["data"]["userId"], alice.id.as_str());
    assert_eq!(typing["data"]["isTyping"], true);
    assert_eq!(typing["data"]["activity"], "typing");
    assert!(typing["data"]["expiresInSeconds"].as_u64().unwrap() > 0);
    assert!(typing.get("cursor").is_none(), "ephemeral: {typing}");
    // Repeated at once: acknowledged, not relayed again (throttled).
    alice_ws
        .send_json(
            json!({ "action": "message:typing", "requestId": "t2", "data": { "chatId": group } }),
        )
        .await;
    assert_eq!(alice_ws.answer_to("t2").await["event"], "ack");
    bob_ws.expect_silence(Duration::from_millis(300)).await;
    // Recording a voice note is told apart, and the typing just before does not hold it back.
    let answer = alice_ws
        .act(
            "message:typing",
            json!({ "chatId": group, "activity": "recording" }),
        )
        .await;
    assert_eq!(answer["data"]["activity"], "recording", "{answer}");
    let recording = bob_ws.next_event("message:typing").await;
    assert_eq!(recording["data"]["activity"], "recording", "{recording}");
    let answer = alice_ws
        .act(
            "message:typing",
            json!({ "chatId": group, "activity": "singing" }),
        )
        .await;
    assert_eq!(answer["data"]["code"], "VALIDATION_ERROR", "{answer}");
    alice_ws
        .send_json(json!({ "action": "message:stop_typing", "requestId": "t3", "data": { "chatId": group } }))
        .await;
    assert_eq!(alice_ws.answer_to("t3").await["event"], "ack");
    let stopped = bob_ws.next_event("message:stop_typing").await;
    assert_eq!(stopped["data"]["isTyping"], false);
    // Carol blocked alice: she is told nothing.
    carol_ws.expect_silence(Duration::from_millis(300)).await;
    // The PRD's `user:typing` is the same, `isTyping` saying which.
    for (is_typing, told) in [
        (json!(null), "message:typing"),
        (json!(false), "message:stop_typing"),
    ] {
        let mut data = json!({ "chatId": group });
        if !is_typing.is_null() {
            data["isTyping"] = is_typing;
        }
        let answer = bob_ws.act("user:typing", data).await;
        assert_eq!(answer["event"], "ack", "{answer}");
        let notice = alice_ws.next_event(told).await;
        assert_eq!(notice["data"]["userId"], bob.id.as_str(), "{notice}");
    }
    // Never stored: sync has none of it.
    let (events, _) = sync_all(&app, &bob, &bob_since).await;
    assert!(named(&events, "message:typing").is_empty(), "{events:?}");
    // Not a member: as if the chat did not exist.
    let mut eve_ws = app.ws(&eve.access).await;
    eve_ws
        .send_json(
            json!({ "action": "message:typing", "requestId": "t4", "data": { "chatId": group } }),
        )
        .await;
    let refused = eve_ws.answer_to("t4").await;
    assert_eq!(refused["data"]["code"], "RESOURCE_NOT_FOUND", "{refused}");
    app.stop().await;
}

#[tokio::test]
async fn message_delete_over_the_websocket_is_the_rest_route() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let id = app.sent(&alice, &chat, "oops").await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    alice_ws
        .send_json(json!({ "action": "message:delete", "requestId": "d1",
            "data": { "chatId": chat, "messageId": id, "forEveryone": true } }))
        .await;
    let ack = alice_ws.answer_to("d1").await;
    assert_eq!(ack["data"]["deletion"], "forEveryone", "{ack}");
    let told = bob_ws.next_event("message:deleted").await;
    assert_eq!(told["data"]["messageId"], id.as_str());
    // The connection that asked has its answer and is not pushed the event.
    alice_ws.expect_silence(Duration::from_millis(500)).await;
    bob_ws
        .send_json(json!({ "action": "message:delete", "requestId": "d2",
            "data": { "chatId": chat, "messageId": id, "forEveryone": "yes" } }))
        .await;
    assert_eq!(bob_ws.answer_to("d2").await["event"], "error:general");
    app.stop().await;
}

/// The messages pinned in `chat` as `user` sees them, most recently pinned first.
async fn pinned_ids(app: &TestApp, chat: &str, user: &User) -> Vec<String> {
    let (_, details) = app
        .get(&format!("/api/chats/{chat}"), Some(&user.access))
        .await;
    details["data"]["pinnedMessages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["messageId"].as_str().unwrap().to_owned())
        .collect()
}

/// A fourth pin may replace the oldest (WhatsApp's "replace oldest pin?"): in one request, the
/// members told of the unpin before the pin.
#[tokio::test]
async fn a_fourth_pin_replaces_the_oldest_when_asked_to() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(app.sent(&alice, &chat, &format!("p{n}")).await);
    }
    let pin = |id: &str| format!("/api/chats/{chat}/messages/{id}/pin");
    for id in &ids[..3] {
        let (status, body) = app.post(&pin(id), Some(&bob.access), json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    // Renewing the oldest makes it the newest: the one pinned longest ago is now ids[1].
    let (status, _) = app
        .post(&pin(&ids[0]), Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let mut alice_ws = app.ws(&alice.access).await;
    let (status, body) = app
        .post(
            &pin(&ids[3]),
            Some(&bob.access),
            json!({ "replaceOldest": false }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = app
        .post(
            &pin(&ids[3]),
            Some(&bob.access),
            json!({ "replaceOldest": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["pinned"], true);
    let told = alice_ws.next_json().await;
    assert_eq!(
        (
            &told["event"],
            &told["data"]["messageId"],
            &told["data"]["unpinnedBy"]
        ),
        (&json!("message:unpinned"), &json!(ids[1]), &json!(bob.id)),
        "{told}"
    );
    let told = alice_ws.next_json().await;
    assert_eq!(
        (&told["event"], &told["data"]["messageId"]),
        (&json!("message:pinned"), &json!(ids[3])),
        "{told}"
    );
    assert_eq!(
        pinned_ids(&app, &chat, &alice).await,
        [ids[3].as_str(), ids[0].as_str(), ids[2].as_str()]
    );
    // With room left, nothing is replaced.
    let (status, _) = app.delete(&pin(&ids[2]), &alice.access, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &pin(&ids[1]),
            Some(&bob.access),
            json!({ "replaceOldest": true }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(pinned_ids(&app, &chat, &alice).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_chat_holds_three_pins_that_expire_and_only_permitted_members_pin_in_groups() {
    let app = spawn_app().await;
    let admin = app.register("admin").await;
    let bob = app.register("bob").await;
    let group = app.open_group(&admin, "pins", &[&bob]).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(app.sent(&bob, &group, &format!("p{n}")).await);
    }
    let pin = |id: &str| format!("/api/chats/{group}/messages/{id}/pin");
    // Members may not pin while only admins edit the group's info (the default).
    let (status, body) = app.post(&pin(&ids[0]), Some(&bob.access), json!({})).await;
    assert_eq!(status, 403, "{body}");
    let mut bob_ws = app.ws(&bob.access).await;
    for id in &ids[..3] {
        let (status, body) = app
            .post(
                &pin(id),
                Some(&admin.access),
                json!({ "durationSeconds": 86400 }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["pinned"], true);
    }
    let told = bob_ws.next_event("message:pinned").await;
    assert_eq!(told["data"]["messageId"], ids[0].as_str());
    let (status, body) = app
        .post(&pin(&ids[3]), Some(&admin.access), json!({}))
        .await;
    assert_eq!(status, 409, "a fourth pin: {body}");
    let (status, body) = app
        .post(
            &pin(&ids[3]),
            Some(&admin.access),
            json!({ "durationSeconds": 3600 }),
        )
        .await;
    assert_eq!(status, 400, "not one of the durations: {body}");
    assert_eq!(
        pinned_ids(&app, &group, &bob).await,
        [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]
    );
    // An expired pin no longer counts (made to expire in the database).
    app.owner_db()
        .await
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE message_pins SET expires_at = now() - interval '1 second' WHERE message_id = $1",
            &[&ids[0].parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let (status, body) = app
        .post(&pin(&ids[3]), Some(&admin.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.delete(&pin(&ids[0]), &admin.access, json!({})).await;
    assert_eq!(status, 404, "its pin had expired");
    let (status, _) = app.delete(&pin(&ids[1]), &admin.access, json!({})).await;
    assert_eq!(status, 200);
    let unpinned = bob_ws.next_event("message:unpinned").await;
    assert_eq!(unpinned["data"]["messageId"], ids[1].as_str());
    // A message deleted for everyone loses its pin.
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{}", ids[2]),
            &bob.access,
            json!({ "deleteForEveryone": true }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(pinned_ids(&app, &group, &bob).await.len(), 1);
    // A member who joins later, or deleted the pinned message for himself, is not shown a pin
    // of a message he does not see.
    let carol = app.register("carol").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/participants"),
            Some(&admin.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let pins_of = |user| pinned_ids(&app, &group, user);
    assert!(pins_of(&carol).await.is_empty(), "pinned before she joined");
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{}", ids[3]),
            &bob.access,
            json!({ "deleteForEveryone": false }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(pins_of(&bob).await.is_empty(), "deleted for himself");
    assert_eq!(pins_of(&admin).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn stars_are_personal_listed_newest_first_and_follow_what_the_user_can_see() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let first = app.sent(&alice, &chat, "keep this").await;
    let second = app.sent(&bob, &chat, "and this").await;
    let mut alice_other = app.ws(&alice.access).await;
    for id in [&first, &second] {
        let (status, body) = app
            .post(
                &format!("/api/chats/{chat}/messages/{id}/star"),
                Some(&alice.access),
                json!({}),
            )
            .await;
        assert_eq!(
            (status, &body["data"]["starred"]),
            (200, &json!(true)),
            "{body}"
        );
    }
    let told = alice_other.next_event("message:starred").await;
    assert_eq!(told["data"]["messageId"], first.as_str());
    let (status, list) = app.get("/api/messages/starred", Some(&alice.access)).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest star first");
    assert_eq!(list["meta"]["pagination"]["total"], 2);
    // One chat's starred messages: a star elsewhere is not among them.
    let carol = app.register("carol").await;
    let other = app.open_chat(&alice, &carol).await;
    let elsewhere = app.sent(&carol, &other, "and elsewhere").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{other}/messages/{elsewhere}/star"),
            Some(&alice.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let starred_in = |query: String| {
        let app = &app;
        let access = alice.access.clone();
        async move {
            let (status, list) = app
                .get(&format!("/api/messages/starred{query}"), Some(&access))
                .await;
            assert_eq!(status, 200, "{list}");
            let ids: Vec<String> = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            (ids, list["meta"]["pagination"]["total"].as_i64().unwrap())
        }
    };
    assert_eq!(
        starred_in(format!("?chatId={chat}")).await,
        (vec![second.clone(), first.clone()], 2)
    );
    assert_eq!(
        starred_in(format!("?chatId={other}")).await,
        (vec![elsewhere.clone()], 1)
    );
    assert_eq!(starred_in(String::new()).await.1, 3);
    let (status, _) = app
        .get("/api/messages/starred?chatId=mine", Some(&alice.access))
        .await;
    assert_eq!(status, 400);
    let (_, bobs) = app.get("/api/messages/starred", Some(&bob.access)).await;
    assert_eq!(bobs["data"], json!([]), "stars are alice's own");
    // Unstarred, and a message she hid, leave the list.
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/messages/{second}/star"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/messages/{first}"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(starred_in(format!("?chatId={chat}")).await, (vec![], 0));
    app.stop().await;
}

#[tokio::test]
async fn message_info_says_who_got_and_read_it_when_as_their_privacy_allows() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let erin = app.register("erin").await;
    set_privacy(&app, &carol, json!({ "lastSeen": "nobody" })).await;
    let group = app.open_group(&alice, "info", &[&bob, &carol, &erin]).await;
    let id = app.sent(&alice, &group, "did you get it?").await;
    let info_path = format!("/api/chats/{group}/messages/{id}/info");
    let (status, info) = app.get(&info_path, Some(&alice.access)).await;
    assert_eq!(status, 200, "{info}");
    assert!(info["data"]["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "sent" && r["deliveredAt"].is_null()));

    // Bob's and carol's devices get it (live), then bob reads it.
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut carol_ws = app.ws(&carol.access).await;
    let again = app.sent(&alice, &group, "now?").await;
    bob_ws.next_event("message:received").await;
    carol_ws.next_event("message:received").await;
    app.relay_caught_up().await;
    // Alice is told live of bob's device only (the relay looks the rule up ahead of writing).
    let delivered = alice_ws.next_event("message:delivered").await;
    assert_eq!(delivered["data"]["messageId"], again.as_str());
    assert_eq!(
        delivered["data"]["deliveredTo"],
        json!([bob.id]),
        "{delivered}"
    );
    alice_ws.expect_silence(Duration::from_millis(300)).await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages/{again}/read"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, info) = app.get(&info_path, Some(&alice.access)).await;
    let recipients = info["data"]["recipients"].as_array().unwrap();
    let bob_row = recipients
        .iter()
        .find(|r| r["userId"] == bob.id.as_str())
        .unwrap();
    assert_eq!(bob_row["status"], "read");
    assert!(
        bob_row["deliveredAt"].is_string() && bob_row["readAt"].is_string(),
        "{bob_row}"
    );
    // Carol hides when she is online: her device's receipt shows no time and no tick.
    let carol_row = recipients
        .iter()
        .find(|r| r["userId"] == carol.id.as_str())
        .unwrap();
    assert_eq!(carol_row["status"], "sent", "{carol_row}");
    assert!(carol_row["deliveredAt"].is_null());
    assert_eq!(recipients.len(), 3, "erin's phone is off: {info}");
    // Bob read it and then left, erin left before it reached her: bob is still listed as having
    // read it, erin, who never will get it, is not.
    for gone in [&bob, &erin] {
        let (status, body) = app
            .delete(
                &format!("/api/chats/{group}/participants/{}", gone.id),
                &alice.access,
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, info) = app.get(&info_path, Some(&alice.access)).await;
    let listed: Vec<(&str, &str)> = info["data"]["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["userId"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [(bob.id.as_str(), "read"), (carol.id.as_str(), "sent")],
        "{info}"
    );
    // Only the sender asks.
    let (status, _) = app.get(&info_path, Some(&bob.access)).await;
    assert_eq!(status, 403);
    app.stop().await;
}

/// WhatsApp's blue microphone and "Opened": a voice note played, and a view-once opened, are told
/// to the sender once (played whatever read receipts say; opened as they allow), to the
/// recipient's other devices, and shown in the message's info.
#[tokio::test]
async fn voice_notes_played_and_view_once_opened_are_told_to_their_sender() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bob_phone = app.login(&bob).await;
    let chat = app.open_chat(&alice, &bob).await;
    let file = uploaded(&app, &alice, &chat, "audio").await;
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "v1", "type": "audio", "mediaId": file }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let note = body["data"]["id"].as_str().unwrap().to_owned();
    let text = app.sent(&alice, &chat, "not a voice note").await;
    // Bob keeps read receipts off: a play is told anyway.
    set_privacy(&app, &bob, json!({ "readReceipts": false })).await;
    let alice_since = present(&app, &alice).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut bob_phone_ws = app.ws(&bob_phone.access).await;
    let played = bob_ws
        .act(
            "message:played",
            json!({ "chatId": chat, "messageId": note }),
        )
        .await;
    assert_eq!(played["event"], "ack", "{played}");
    let played_at = played["data"]["playedAt"].as_str().unwrap().to_owned();
    let told = alice_ws.next_event("message:played").await;
    assert_eq!(
        (&told["data"]["messageId"], &told["data"]["playedBy"]),
        (&json!(note), &json!(bob.id)),
        "{told}"
    );
    assert_eq!(told["data"]["playedAt"], played_at.as_str());
    let echoed = bob_phone_ws.next_event("message:played").await;
    assert_eq!(echoed["data"]["messageId"], note.as_str());
    bob_ws
        .expect_no_event("message:played", Duration::from_millis(300))
        .await;
    // Played again (over REST): the first time, and nobody told twice.
    let path = |id: &str, what: &str| format!("/api/chats/{chat}/messages/{id}/{what}");
    let (status, again) = app
        .post(&path(&note, "played"), Some(&bob.access), json!({}))
        .await;
    assert_eq!(
        (status, &again["data"]["playedAt"]),
        (200, &json!(played_at))
    );
    alice_ws.expect_silence(Duration::from_millis(300)).await;
    let (_, info) = app.get(&path(&note, "info"), Some(&alice.access)).await;
    let receipt = &info["data"]["recipients"][0];
    assert_eq!(receipt["playedAt"], played_at.as_str(), "{info}");
    assert!(receipt["openedAt"].is_null());
    // Histories show it played: on each of bob's devices, and to alice, its sender.
    let shown_in = |user: &User, id: &str, field: &'static str| {
        let (app, user, id) = (&app, user.access.clone(), id.to_owned());
        let chat = chat.clone();
        async move {
            let (_, page) = app
                .get(&format!("/api/chats/{chat}/messages"), Some(&user))
                .await;
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap()[field]
                .clone()
        }
    };
    for user in [&bob_phone, &alice] {
        assert_eq!(shown_in(user, &note, "playedAt").await, played_at.as_str());
        assert!(shown_in(user, &note, "openedAt").await.is_null());
    }
    // Only someone else's voice note.
    let (status, _) = app
        .post(&path(&text, "played"), Some(&bob.access), json!({}))
        .await;
    assert_eq!(status, 404, "not a voice note");
    let (status, _) = app
        .post(&path(&note, "played"), Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 403, "her own");

    // A view-once picture: opened is told as read receipts allow, so not while bob keeps
    // them off; his phone, which can no longer open it, is told.
    let picture = uploaded(&app, &alice, &chat, "image").await;
    let once = |id: &'static str| json!({ "clientMessageId": id, "type": "image", "mediaId": picture, "viewOnce": true });
    let (_, body) = send_body(&app, &alice, &chat, once("o1")).await;
    let hidden = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(&path(&hidden, "open"), Some(&bob.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let echoed = bob_phone_ws.next_event("message:opened").await;
    assert_eq!(echoed["data"]["messageId"], hidden.as_str());
    alice_ws
        .expect_no_event("message:opened", Duration::from_millis(300))
        .await;
    let (_, info) = app.get(&path(&hidden, "info"), Some(&alice.access)).await;
    assert!(
        info["data"]["recipients"][0]["openedAt"].is_null(),
        "{info}"
    );
    assert!(
        shown_in(&bob_phone, &hidden, "openedAt").await.is_string(),
        "his phone shows it opened"
    );
    assert!(
        shown_in(&alice, &hidden, "openedAt").await.is_null(),
        "not to her while his read receipts are off"
    );
    set_privacy(&app, &bob, json!({ "readReceipts": true })).await;
    let (_, body) = send_body(&app, &alice, &chat, once("o2")).await;
    let shown = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post(&path(&shown, "open"), Some(&bob.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let opened = alice_ws.next_event("message:opened").await;
    assert_eq!(
        (&opened["data"]["messageId"], &opened["data"]["openedBy"]),
        (&json!(shown), &json!(bob.id)),
        "{opened}"
    );
    let (_, info) = app.get(&path(&shown, "info"), Some(&alice.access)).await;
    assert_eq!(
        info["data"]["recipients"][0]["openedAt"],
        opened["data"]["openedAt"]
    );
    // Sync has what the WebSocket pushed.
    let (events, _) = sync_all(&app, &alice, &alice_since).await;
    assert_eq!(named(&events, "message:played").len(), 1);
    assert_eq!(named(&events, "message:opened").len(), 1);
    // Not across a block, as reads are not: a voice note sent before alice blocked bob.
    let (_, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "v2", "type": "audio", "mediaId": file }),
    )
    .await;
    let before_block = body["data"]["id"].as_str().unwrap().to_owned();
    app.block(&alice, &bob).await;
    let (status, _) = app
        .post(&path(&before_block, "played"), Some(&bob.access), json!({}))
        .await;
    assert_eq!(status, 200);
    let echoed = bob_phone_ws.next_event("message:played").await;
    assert_eq!(echoed["data"]["messageId"], before_block.as_str());
    alice_ws
        .expect_no_event("message:played", Duration::from_millis(300))
        .await;
    app.stop().await;
}

#[tokio::test]
async fn history_pages_around_a_message_and_filters_by_type() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(app.sent(&alice, &chat, &format!("h{n}")).await);
    }
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "where", "type": "location", "metadata": { "latitude": 48.85, "longitude": 2.35 } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, page) = app
        .get(
            &format!("/api/chats/{chat}/messages?around={}&limit=6", ids[10]),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let contents: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["h8", "h9", "h10", "h11", "h12", "h13"],
        "the message, 2 older, 3 newer"
    );
    assert_eq!(page["meta"]["pagination"]["hasMore"], true);
    let (_, page) = app
        .get(
            &format!("/api/chats/{chat}/messages?type=location"),
            Some(&alice.access),
        )
        .await;
    let kinds: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["location"]);
    let (status, _) = app
        .get(
            &format!("/api/chats/{chat}/messages?type=hologram"),
            Some(&alice.access),
        )
        .await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn presence_reaches_one_to_one_contacts_as_privacy_allows_and_never_whole_groups() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let erin = app.register("erin").await;
    app.open_chat_written(&alice, &bob).await;
    app.open_chat_written(&alice, &dave).await;
    app.open_chat_written(&alice, &erin).await;
    app.open_group(&alice, "big", &[&carol]).await;
    // Dave hides his own last seen (so sees no one's); alice blocked erin.
    set_privacy(&app, &dave, json!({ "lastSeen": "nobody" })).await;
    app.block(&alice, &erin).await;
    let mut since = Vec::new();
    for user in [&carol, &dave, &erin] {
        since.push(present(&app, user).await);
    }
    let mut bob_ws = app.ws(&bob.access).await.with_presence();

    let mut alice_ws = app.ws(&alice.access).await;
    let online = bob_ws.next_event("user:online").await;
    assert_eq!(online["data"]["userId"], alice.id.as_str());
    assert_eq!(online["data"]["status"], "online");
    // Her only device goes idle: offline, with a last seen; in use again: online.
    alice_ws
        .send_json(json!({ "action": "user:offline", "requestId": "idle", "data": {} }))
        .await;
    assert_eq!(alice_ws.answer_to("idle").await["data"]["active"], false);
    let offline = bob_ws.next_event("user:offline").await;
    assert!(offline["data"]["lastSeen"].is_string(), "{offline}");
    alice_ws
        .send_json(json!({ "action": "user:online", "requestId": "back", "data": {} }))
        .await;
    assert_eq!(alice_ws.answer_to("back").await["event"], "ack");
    bob_ws.next_event("user:online").await;
    // A second device changes nothing while the first is in use.
    let mut alice_phone = app.ws(&alice.access).await;
    bob_ws.expect_silence(Duration::from_millis(400)).await;
    alice_phone
        .send_json(json!({ "action": "user:status_update", "requestId": "s",
            "data": { "status": "at the beach" } }))
        .await;
    assert_eq!(
        alice_phone.answer_to("s").await["data"]["status"],
        "at the beach"
    );
    let status = bob_ws.next_event("user:status_updated").await;
    assert_eq!(status["data"]["status"], "at the beach");
    // The same again (a client setting it as it starts): acknowledged, and nobody is told.
    let again = alice_phone
        .act("user:status_update", json!({ "status": "at the beach" }))
        .await;
    assert_eq!(again["data"]["status"], "at the beach", "{again}");
    bob_ws.expect_silence(Duration::from_millis(400)).await;
    // Both devices leave: offline once, when the last one goes.
    drop(alice_phone);
    drop(alice_ws);
    let offline = bob_ws.next_event("user:offline").await;
    assert_eq!(offline["data"]["userId"], alice.id.as_str());

    // Carol shares only a group; dave hides his own; erin is blocked: none of them was told of
    // her presence. Dave was told her status, which her `about` setting shows everyone.
    for (user, since) in [&carol, &dave, &erin].into_iter().zip(&since) {
        let (events, _) = sync_all(&app, user, since).await;
        let told: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .filter(|name| name.starts_with("user:"))
            .collect();
        let status_only: &[&str] = if user.id == dave.id {
            &["user:status_updated"]
        } else {
            &[]
        };
        assert_eq!(told, status_only, "{events:?}");
    }
    let (status, body) = app
        .get(&format!("/api/users/{}", alice.id), Some(&bob.access))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["isOnline"], false, "{body}");
    app.stop().await;
}

/// A change of the `about` setting tells the status text to those it now shows it to, and null
/// to those it no longer does (`user:status_updated`), through the log that sync reads; a
/// change that shows nobody anything new tells nothing.
#[tokio::test]
async fn a_change_of_the_about_setting_tells_the_status_as_each_now_sees_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.open_chat_written(&alice, &bob).await;
    let since = present(&app, &bob).await;
    let mut bob_ws = app.ws(&bob.access).await.with_presence();
    let profile = |body: Value| {
        let app = &app;
        let access = alice.access.clone();
        async move {
            let (status, body) = app.put("/api/users/profile", &access, body).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    let about = |audience: &'static str| json!({ "privacySettings": { "about": audience } });
    profile(json!({ "status": "at work" })).await;
    let told = bob_ws.next_event("user:status_updated").await;
    assert_eq!(told["data"]["status"], "at work", "{told}");
    profile(about("nobody")).await;
    let told = bob_ws.next_event("user:status_updated").await;
    assert_eq!(told["data"]["status"], Value::Null, "hidden: {told}");
    profile(about("nobody")).await;
    profile(about("everyone")).await;
    let told = bob_ws.next_event("user:status_updated").await;
    assert_eq!(told["data"]["status"], "at work", "shown: {told}");
    profile(about("everyone")).await;
    profile(about("contacts")).await;
    let told = bob_ws.next_event("user:status_updated").await;
    assert_eq!(told["data"]["status"], Value::Null, "not a contact: {told}");
    let (events, _) = sync_all(&app, &bob, &since).await;
    let statuses: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "user:status_updated")
        .map(|e| &e["data"]["status"])
        .collect();
    assert_eq!(
        statuses,
        [
            &json!("at work"),
            &Value::Null,
            &json!("at work"),
            &Value::Null
        ],
        "the same setting again told nothing: {events:?}"
    );
    app.stop().await;
}

/// Hiding one's last seen hides one's presence at once, both ways (it is a two-way setting):
/// whoever saw the user online is told it is hidden (offline, no last seen) instead of being
/// left with an "online" that nothing would end, and the user is told the same of everyone
/// whose presence they saw. Showing it again tells each side what the other's is now.
#[tokio::test]
async fn hiding_ones_last_seen_hides_presence_both_ways_at_once() {
    let app = spawn_app().await;
    let (alice, bob, _online) = chatting_online(&app).await;
    for (setting, alice_shown) in [("nobody", false), ("everyone", true)] {
        let (alice_since, bob_since) = (present(&app, &alice).await, present(&app, &bob).await);
        set_privacy(&app, &alice, json!({ "lastSeen": setting })).await;
        let (bob_events, _) = sync_all(&app, &bob, &bob_since).await;
        let (alice_events, _) = sync_all(&app, &alice, &alice_since).await;
        let expected = if alice_shown {
            vec![("user:online".to_owned(), Value::Null)]
        } else {
            vec![("user:offline".to_owned(), Value::Null)]
        };
        assert_eq!(
            presence_told(&bob_events, &alice),
            expected,
            "bob, of alice ({setting})"
        );
        assert_eq!(
            presence_told(&alice_events, &bob),
            expected,
            "alice, of bob ({setting})"
        );
        let (status, body) = app
            .get(&format!("/api/users/{}", alice.id), Some(&bob.access))
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["isOnline"], alice_shown, "{body}");
    }
    // The same setting again changes no one's view: nothing is told.
    let bob_since = present(&app, &bob).await;
    set_privacy(&app, &alice, json!({ "lastSeen": "everyone" })).await;
    let (bob_events, _) = sync_all(&app, &bob, &bob_since).await;
    assert_eq!(presence_told(&bob_events, &alice), vec![]);
    app.stop().await;
}

/// Alice and bob, who share a chat, each online on a connection (held by the third value).
async fn chatting_online(app: &TestApp) -> (User, User, [WsClient; 2]) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.open_chat_written(&alice, &bob).await;
    let online = [app.ws(&alice.access).await, app.ws(&bob.access).await];
    (alice, bob, online)
}

/// What `events` tell of `subject`'s presence: each `user:online` / `user:offline`, with its
/// `lastSeen`.
pub(crate) fn presence_told(events: &[Value], subject: &User) -> Vec<(String, Value)> {
    events
        .iter()
        .filter(|e| e["data"]["userId"] == subject.id.as_str())
        .filter(|e| e["event"].as_str().unwrap().starts_with("user:o"))
        .map(|e| {
            let name = e["event"].as_str().unwrap().to_owned();
            (name, e["data"]["lastSeen"].clone())
        })
        .collect()
}

/// A block hides presence both ways at once, and unblocking shows it again; adding or removing
/// a contact shows or hides the presence a `contacts` last-seen setting keeps for contacts (both
/// ways: the settings are mutual); a new 1:1 chat shows each their partner's.
#[tokio::test]
async fn blocks_and_contacts_show_or_hide_presence_at_once() {
    let app = spawn_app().await;
    let (alice, bob, _online) = chatting_online(&app).await;
    let hidden = vec![("user:offline".to_owned(), Value::Null)];
    let shown = vec![("user:online".to_owned(), Value::Null)];
    for (route, told) in [
        ("/api/users/block", &hidden),
        ("/api/users/unblock", &shown),
    ] {
        let (alice_since, bob_since) = (present(&app, &alice).await, present(&app, &bob).await);
        let (status, _) = app
            .post(route, Some(&alice.access), json!({ "userId": bob.id }))
            .await;
        assert_eq!(status, 200);
        let (bob_events, _) = sync_all(&app, &bob, &bob_since).await;
        let (alice_events, _) = sync_all(&app, &alice, &alice_since).await;
        assert_eq!(
            &presence_told(&bob_events, &alice),
            told,
            "bob, of alice: {route}"
        );
        assert_eq!(
            &presence_told(&alice_events, &bob),
            told,
            "alice, of bob: {route}"
        );
    }

    // Carol shows her presence to her contacts only; dave shares a chat with her.
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    app.open_chat(&carol, &dave).await;
    set_privacy(&app, &carol, json!({ "lastSeen": "contacts" })).await;
    let _carol_ws = app.ws(&carol.access).await;
    let _dave_ws = app.ws(&dave.access).await;
    let contact = format!("/api/contacts/{}", dave.id);
    for (adding, told) in [(true, &shown), (false, &hidden)] {
        let (carol_since, dave_since) = (present(&app, &carol).await, present(&app, &dave).await);
        let (status, body) = if adding {
            app.post(
                "/api/contacts",
                Some(&carol.access),
                json!({ "userId": dave.id }),
            )
            .await
        } else {
            app.delete(&contact, &carol.access, json!({})).await
        };
        assert_eq!(status, 200, "{body}");
        let (dave_events, _) = sync_all(&app, &dave, &dave_since).await;
        assert_eq!(
            &presence_told(&dave_events, &carol),
            told,
            "adding: {adding}"
        );
        // Dave shows everyone his, but presence is mutual: carol, who shows hers to contacts
        // only, sees his only while he is one of them (V72).
        let (carol_events, _) = sync_all(&app, &carol, &carol_since).await;
        assert_eq!(
            &presence_told(&carol_events, &dave),
            told,
            "carol, of dave: adding: {adding}"
        );
    }

    // Two people online: one opening a chat is told the other's presence at once; the other
    // is told the opener's with its first message
    // (`opening_a_chat_tells_its_presence_with_its_first_message`).
    let erin = app.register("erin").await;
    let frank = app.register("frank").await;
    let _online = [app.ws(&erin.access).await, app.ws(&frank.access).await];
    let (erin_since, frank_since) = (present(&app, &erin).await, present(&app, &frank).await);
    let chat = app.open_chat(&erin, &frank).await;
    let (erin_events, _) = sync_all(&app, &erin, &erin_since).await;
    assert_eq!(presence_told(&erin_events, &frank), shown);
    let (frank_events, frank_since) = sync_all(&app, &frank, &frank_since).await;
    assert_eq!(presence_told(&frank_events, &erin), vec![]);
    app.sent(&erin, &chat, "hi frank").await;
    let (frank_events, _) = sync_all(&app, &frank, &frank_since).await;
    assert_eq!(presence_told(&frank_events, &erin), shown);
    app.stop().await;
}

/// A status text reaches the people its owner's `about` setting shows it to, as their profile
/// shows it (not the last-seen settings that choose presence's audience), set either way: over
/// the WebSocket or in the profile.
#[tokio::test]
async fn a_status_reaches_whom_the_about_setting_shows_it_to_however_it_is_set() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    app.open_chat_written(&alice, &bob).await;
    app.open_chat_written(&alice, &carol).await;
    // Bob is alice's contact, carol only shares a chat with her; carol hides her own last seen
    // (so sees no one's presence, which says nothing of statuses).
    let (status, body) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    set_privacy(&app, &carol, json!({ "lastSeen": "nobody" })).await;
    let statuses_seen = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| e["event"] == "user:status_updated")
            .map(|e| e["data"]["status"].clone())
            .collect()
    };
    let mut alice_ws = app.ws(&alice.access).await;
    for (about, bob_sees, carol_sees) in [
        ("everyone", true, true),
        ("contacts", true, false),
        ("nobody", false, false),
    ] {
        set_privacy(&app, &alice, json!({ "about": about })).await;
        let (bob_since, carol_since) = (present(&app, &bob).await, present(&app, &carol).await);
        let (over_ws, in_profile) = (format!("{about}, live"), format!("{about}, in profile"));
        alice_ws
            .send_json(json!({ "action": "user:status_update", "requestId": about,
                "data": { "status": over_ws } }))
            .await;
        assert_eq!(alice_ws.answer_to(about).await["event"], "ack");
        let (status, _) = app
            .put(
                "/api/users/profile",
                &alice.access,
                json!({ "status": in_profile }),
            )
            .await;
        assert_eq!(status, 200);
        for (user, since, sees) in [
            (&bob, bob_since, bob_sees),
            (&carol, carol_since, carol_sees),
        ] {
            let seen = statuses_seen(sync_all(&app, user, &since).await.0);
            let expected = if sees {
                vec![json!(over_ws), json!(in_profile)]
            } else {
                vec![]
            };
            assert_eq!(seen, expected, "{} with about = {about}", user.email);
            // As the profile shows it.
            let (status, body) = app
                .get(&format!("/api/users/{}", alice.id), Some(&user.access))
                .await;
            assert_eq!(status, 200);
            let shown = if sees { json!(in_profile) } else { Value::Null };
            assert_eq!(body["data"]["status"], shown, "{body}");
        }
    }
    app.stop().await;
}

/// The audience of a user's presence (told on every connect and disconnect) is planned with
/// the statement that reads it, so its plan is kept: the function's body is inlined, its
/// tables in the statement's plan, not a call that plans the body again each time. That plan
/// is a generic one of index lookups (`keyed_lookup_plans!`, for the reading transaction only),
/// and the privacy check (`presence_shown_to` both ways, V75: three lookups each, inlined as
/// subplans over the one viewer) runs on the candidates found, once each, never pushed into a
/// scan of members, where one plan in `banter-bench --features` called it 290,000 times for 500
/// viewers (V33). The audiences of a status change
/// and of a new profile picture start from the same people (V36, V65) and are planned the same
/// way.
#[tokio::test]
async fn the_presence_audience_is_planned_with_its_statement() {
    use banter_core::db::presence;
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    app.open_chat_written(&ann, &bob).await;
    let mut client = app.app().db.get().await.unwrap();
    let ann_id: uuid::Uuid = ann.id.parse().unwrap();
    let bob_id: uuid::Uuid = bob.id.parse().unwrap();
    let tx = client.transaction().await.unwrap();
    assert_eq!(presence::audience(&tx, ann_id).await.unwrap(), vec![bob_id]);
    // The audience of a status change (the same people, by another setting) is read the same way.
    assert_eq!(
        presence::status_audience(&tx, ann_id).await.unwrap(),
        vec![bob_id]
    );
    // And that of a new profile picture (V65).
    assert_eq!(
        presence::picture_audience(&tx, ann_id).await.unwrap(),
        vec![bob_id]
    );

    // Their plans as they run in this transaction.
    fn nodes<'a>(plan: &'a serde_json::Value, into: &mut Vec<&'a serde_json::Value>) {
        into.push(plan);
        for child in plan["Plans"].as_array().into_iter().flatten() {
            nodes(child, into);
        }
    }
    let kind = |n: &serde_json::Value| n["Node Type"].as_str().unwrap_or_default().to_owned();
    for (name, statement) in [
        ("audience", presence::AUDIENCE),
        ("status_audience", presence::STATUS_AUDIENCE),
        ("picture_audience", presence::PICTURE_AUDIENCE),
    ] {
        tx.batch_execute(&format!("PREPARE {name}_plan(uuid) AS {statement}"))
            .await
            .unwrap();
        let plan: serde_json::Value = tx
            .query_one(
                &format!("EXPLAIN (FORMAT JSON) EXECUTE {name}_plan('{ann_id}')"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let mut all = Vec::new();
        nodes(&plan[0]["Plan"], &mut all);
        let kinds: Vec<String> = all.iter().map(|n| kind(n)).collect();
        // The only function scanned is `unnest`, of the viewers `presence_shown_to` checks.
        assert!(
            all.iter()
                .any(|n| n["Relation Name"] == "chat_participants")
                && all
                    .iter()
                    .filter(|n| kind(n) == "Function Scan")
                    .all(|n| n["Function Name"] == "unnest"),
            "{name}: the body's tables in the statement's plan: {kinds:?}"
        );
        for whole_table in ["Seq Scan", "Hash Join", "Merge Join", "Bitmap Heap Scan"] {
            assert!(
                !kinds.iter().any(|k| k == whole_table),
                "{name}: {whole_table} in {kinds:?}"
            );
        }
        // The nodes that run the check: those with a subplan over the viewer checked.
        let checked: Vec<String> = all
            .iter()
            .filter(|n| {
                n["Plans"].as_array().into_iter().flatten().any(|child| {
                    child["Parent Relationship"] == "SubPlan" && child["Function Name"] == "unnest"
                })
            })
            .map(|n| kind(n))
            .collect();
        let expected: &[&str] = if name == "audience" {
            &["Subquery Scan"]
        } else {
            &[]
        };
        assert_eq!(checked, expected, "{name}: where presence_shown_to runs");
    }
    tx.commit().await.unwrap();

    // The pooled connection plans as before for whoever takes it next.
    let mode: String = client
        .query_one("SELECT current_setting('plan_cache_mode') AS m", &[])
        .await
        .unwrap()
        .get("m");
    assert_eq!(mode, "auto");
    app.stop().await;
}

/// A file record as the upload route will make it (issue 11): uploaded by `user` for `chat`.
/// A file of `kind` that `user` uploaded for `chat`, processed (its row, written directly).
pub(crate) async fn uploaded(app: &TestApp, user: &User, chat: &str, kind: &str) -> String {
    uploaded_named(app, user, chat, kind, "f").await
}

async fn uploaded_named(app: &TestApp, user: &User, chat: &str, kind: &str, name: &str) -> String {
    let id = uuid::Uuid::now_v7();
    app.owner_db()
        .await
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO media_files (id, uploader_id, chat_id, file_key, file_name, file_type, declared_mime, file_size, status)
             VALUES ($1, $2, $3, $4, $6, $5, 'image/jpeg', 10, 'completed')",
            &[
                &id,
                &user.id.parse::<uuid::Uuid>().unwrap(),
                &chat.parse::<uuid::Uuid>().unwrap(),
                &format!("uploads/{id}"),
                &kind,
                &name,
            ],
        )
        .await
        .unwrap();
    id.to_string()
}

async fn send_body(app: &TestApp, from: &User, chat: &str, body: Value) -> (u16, Value) {
    app.post(
        &format!("/api/chats/{chat}/messages"),
        Some(&from.access),
        body,
    )
    .await
}

#[tokio::test]
async fn each_message_type_carries_what_it_needs_validated() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (status, body) = send_body(&app, &alice, &chat, json!({ "clientMessageId": "l1", "type": "location",
        "metadata": { "latitude": -33.86, "longitude": 151.21, "name": "Opera House", "liveSeconds": 900 } })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["metadata"]["liveSeconds"], 900);
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "l2", "type": "location",
        "metadata": { "latitude": 100, "longitude": 0 } }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("latitude"));

    let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\nTEL;TYPE=cell:+44 20 7946 0000\r\nEND:VCARD\r\n";
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "c1", "type": "contact",
        "metadata": { "vcard": card } }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["metadata"]["name"], "Ada Lovelace");
    let (status, _) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "c2", "type": "contact",
        "metadata": { "vcard": "BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n" } }),
    )
    .await;
    assert_eq!(status, 400, "a card without a name");
    // Cards as phones share them: iOS writes vCard 3.0, Android 2.1 (quoted-printable).
    for (id, card, name, phone) in [
        (
            "c3",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n\
             N:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\n\
             item1.TEL;type=CELL;type=VOICE;type=pref:+44 20 7946 0000\r\nEND:VCARD\r\n",
            "Ada Lovelace",
            "+44 20 7946 0000",
        ),
        (
            "c4",
            "BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:P=C3=A9rez;Jos=C3=A9;;;\n\
             TEL;CELL;PREF:+34 600 000 000\nEND:VCARD\n",
            "José Pérez",
            "+34 600 000 000",
        ),
    ] {
        let (status, body) = send_body(
            &app,
            &alice,
            &chat,
            json!({ "clientMessageId": id, "type": "contact", "metadata": { "vcard": card } }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let metadata = &body["data"]["metadata"];
        assert_eq!(
            (&metadata["name"], &metadata["phones"], &metadata["vcard"]),
            (&json!(name), &json!([phone]), &json!(card)),
            "passed on as it was shared"
        );
    }
    // An iPhone shares a contact with its photo: passed on without it.
    let card =
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nTEL:+44 20 7946 0000\r\nEND:VCARD\r\n";
    let photo =
        " QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n".repeat(800);
    let with_photo = card.replace(
        "END:VCARD",
        &format!("PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\n{photo}END:VCARD"),
    );
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "c6", "type": "contact", "metadata": { "vcard": with_photo } }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["metadata"]["vcard"], card);
    let two = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nEND:VCARD\r\n";
    let (status, _) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "c5", "type": "contact", "metadata": { "vcard": two } }),
    )
    .await;
    assert_eq!(status, 400, "one card a message");

    // Media: only a file of the sender's, for this chat, of the message's type.
    let (status, _) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "i0", "type": "image" }),
    )
    .await;
    assert_eq!(status, 400, "no mediaId");
    let bobs_file = uploaded(&app, &bob, &chat, "image").await;
    let (status, _) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "i1", "type": "image", "mediaId": bobs_file }),
    )
    .await;
    assert_eq!(status, 400, "someone else's file");
    let video = uploaded(&app, &alice, &chat, "video").await;
    let (status, _) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "i2", "type": "image", "mediaId": video }),
    )
    .await;
    assert_eq!(status, 400, "a video is not an image");
    let picture = uploaded(&app, &alice, &chat, "image").await;
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "i3", "type": "image",
        "content": "look", "mediaId": picture }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["mediaId"], picture.as_str());
    let (status, _) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "t1", "content": "x", "mediaId": picture }),
    )
    .await;
    assert_eq!(status, 400, "a text message names no file");

    // A link preview names a link of the text (no spoofed site), and goes when an edit takes
    // the link out.
    let text = "the plan: https://example.com/plan?v=2";
    let preview = json!({ "url": "https://example.com/plan?v=2", "title": " The plan ",
                          "siteName": "Example" });
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "p1",
        "content": text, "metadata": { "linkPreview": preview } }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["metadata"]["linkPreview"]["title"], "The plan");
    let previewed = body["data"]["id"].as_str().unwrap().to_owned();
    let spoofed = json!({ "url": "https://bank.example/login", "title": "Your bank" });
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "p2",
        "content": text, "metadata": { "linkPreview": spoofed } }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let path = format!("/api/chats/{chat}/messages/{previewed}");
    let edited = |content: &str| json!({ "content": content });
    let (status, body) = app
        .put(&path, &alice.access, edited(&format!("{text} (updated)")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["metadata"]["linkPreview"]["siteName"],
        "Example"
    );
    let (status, body) = app
        .put(
            &path,
            &alice.access,
            edited("now https://elsewhere.example"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["metadata"].get("linkPreview").is_none(),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn mentions_name_members_and_show_in_their_chat_list_until_read() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let group = app.open_group(&alice, "team", &[&bob]).await;
    let (status, body) = send_body(
        &app,
        &alice,
        &group,
        json!({ "clientMessageId": "m1",
        "content": "@bob look", "mentions": [bob.id] }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["mentions"], json!([bob.id]));
    let mentioned = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = send_body(
        &app,
        &alice,
        &group,
        json!({ "clientMessageId": "m2",
        "content": "@eve", "mentions": [eve.id] }),
    )
    .await;
    assert_eq!(status, 400, "eve is not a member");
    let listed = |user: User| {
        let app = &app;
        let group = group.clone();
        async move {
            let (_, list) = app.get("/api/chats", Some(&user.access)).await;
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == group.as_str())
                .unwrap()["unreadMention"]
                .clone()
        }
    };
    assert_eq!(listed(bob.clone()).await, true);
    assert_eq!(listed(alice.clone()).await, false, "her own message");
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages/{mentioned}/read"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed(bob).await, false, "read: no longer shown");
    app.stop().await;
}

/// An edit may say whom the new text mentions: taking "@bob" out takes bob's mention with it,
/// naming carol mentions her; without `mentions` they stay; a non-member is refused and
/// changes nothing.
#[tokio::test]
async fn an_edit_changes_whom_the_message_mentions() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let eve = app.register("eve").await;
    let group = app.open_group(&alice, "team", &[&bob, &carol]).await;
    let (status, body) = send_body(
        &app,
        &alice,
        &group,
        json!({ "clientMessageId": "m1", "content": "@bob look", "mentions": [bob.id] }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let path = format!(
        "/api/chats/{group}/messages/{}",
        body["data"]["id"].as_str().unwrap()
    );
    let mentioned = |user: &User| {
        let (app, group, user) = (&app, group.clone(), user.clone());
        async move { app.chat_row(&user, &group).await["unreadMention"].clone() }
    };
    assert_eq!(
        (mentioned(&bob).await, mentioned(&carol).await),
        (json!(true), json!(false))
    );

    let (status, body) = app
        .put(
            &path,
            &alice.access,
            json!({ "content": "look", "mentions": [eve.id] }),
        )
        .await;
    assert_eq!(status, 400, "eve is not a member: {body}");
    assert_eq!(
        history(&app, &bob, &group).await.last().unwrap()["content"],
        "@bob look"
    );

    let (status, body) = app
        .put(
            &path,
            &alice.access,
            json!({ "content": "@carol look", "mentions": [carol.id, carol.id] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["mentions"], json!([carol.id]), "{body}");
    assert_eq!(
        (mentioned(&bob).await, mentioned(&carol).await),
        (json!(false), json!(true))
    );

    let (status, body) = app
        .put(&path, &alice.access, json!({ "content": "@carol look!" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["mentions"], json!([carol.id]), "kept: {body}");
    let (_, edits) = app.get(&format!("{path}/edits"), Some(&bob.access)).await;
    assert_eq!(edits["data"].as_array().unwrap().len(), 2, "{edits}");
    app.stop().await;
}

#[tokio::test]
async fn forwards_are_marked_reuse_the_file_and_slow_down_after_five_hops() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let eve = app.register("eve").await;
    let with_bob = app.open_chat(&alice, &bob).await;
    let with_carol = app.open_chat(&alice, &carol).await;
    let group = app.open_group(&alice, "g", &[&bob, &carol]).await;
    let elsewhere = app.open_chat(&bob, &eve).await;
    let picture = uploaded(&app, &bob, &with_bob, "image").await;
    let (status, body) = send_body(
        &app,
        &bob,
        &with_bob,
        json!({ "clientMessageId": "p", "type": "image", "mediaId": picture }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let original = body["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/chats/{with_bob}/messages/{original}/forward");

    let (status, body) = app
        .post(
            &path,
            Some(&alice.access),
            json!({ "chatIds": [with_carol, group] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let copies = body["data"].as_array().unwrap();
    assert_eq!(copies.len(), 2);
    for copy in copies {
        assert_eq!(copy["forwarded"], true);
        assert_eq!(copy["forwardedManyTimes"], false);
        assert_eq!(
            copy["mediaId"],
            picture.as_str(),
            "the file is reused, not copied"
        );
        assert_eq!(copy["sender"]["id"], alice.id.as_str());
    }
    // Retried: the same copies, not new ones.
    let (_, again) = app
        .post(
            &path,
            Some(&alice.access),
            json!({ "chatIds": [with_carol] }),
        )
        .await;
    assert_eq!(again["data"][0]["id"], copies[0]["id"]);
    // Forwarded again on purpose (a new client id): a new copy; that forward retried: it.
    let forward_again = json!({ "chatIds": [with_carol], "clientForwardId": "f-2" });
    let (status, second) = app
        .post(&path, Some(&alice.access), forward_again.clone())
        .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["data"][0]["id"], copies[0]["id"]);
    let (_, retried) = app.post(&path, Some(&alice.access), forward_again).await;
    assert_eq!(retried["data"][0]["id"], second["data"][0]["id"]);
    let in_carols = history(&app, &carol, &with_carol).await;
    assert_eq!(
        in_carols.iter().filter(|m| m["forwarded"] == true).count(),
        2,
        "{in_carols:?}"
    );
    // Not into a chat alice is not in; not more than 5 at once.
    let (status, _) = app
        .post(
            &path,
            Some(&alice.access),
            json!({ "chatIds": [elsewhere] }),
        )
        .await;
    assert_eq!(status, 404);
    let six: Vec<String> = (0..6).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let (status, _) = app
        .post(&path, Some(&alice.access), json!({ "chatIds": six }))
        .await;
    assert_eq!(status, 400);

    // Five hops on: forwarded many times, one chat at a time.
    let copy = copies[0]["id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    app.owner_db()
        .await
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE messages SET forward_count = 5 WHERE id = $1",
            &[&copy],
        )
        .await
        .unwrap();
    let many = format!("/api/chats/{with_carol}/messages/{copy}/forward");
    let (status, body) = app
        .post(
            &many,
            Some(&carol.access),
            json!({ "chatIds": [with_carol, group] }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app
        .post(&many, Some(&carol.access), json!({ "chatIds": [group] }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["forwardedManyTimes"], true);
    app.stop().await;
}

#[tokio::test]
async fn disappearing_messages_expire_and_are_erased_by_the_schedule() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let kept = app.sent(&alice, &chat, "before the timer").await;
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}"),
            &bob.access,
            json!({ "disappearingSeconds": 86400 }),
        )
        .await;
    assert_eq!(status, 200, "either member of a 1:1 chat sets it: {body}");
    assert_eq!(body["data"]["disappearingSeconds"], 86400);
    let timeline = history(&app, &alice, &chat).await;
    let line = timeline.last().unwrap();
    assert_eq!(line["metadata"]["action"], "disappearing_changed");
    assert_eq!(line["metadata"]["disappearingSeconds"], 86400);
    assert!(
        line["content"].as_str().unwrap().ends_with(
            " turned on disappearing messages: new messages disappear 24 hours after they are sent"
        ),
        "{line}"
    );
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}"),
            &bob.access,
            json!({ "disappearingSeconds": 3600 }),
        )
        .await;
    assert_eq!(status, 400, "not one of the timers");
    let since = present(&app, &bob).await;
    let (status, body) = app.send_text(&alice, &chat, "gone tomorrow").await;
    assert_eq!(status, 201);
    assert!(body["data"]["expiresAt"].is_string(), "{body}");
    let gone = body["data"]["id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let (events, _) = sync_all(&app, &bob, &since).await;
    assert!(events
        .iter()
        .any(|e| e["data"]["message"]["id"] == gone.to_string()));

    // Its time comes (moved forward in the database): the schedule erases it.
    app.expire_message(&gone.to_string()).await;
    crate::support::wait_until(
        "the expired message is erased",
        Duration::from_secs(10),
        || async {
            history(&app, &bob, &chat)
                .await
                .iter()
                .all(|m| m["id"] != gone.to_string())
        },
    )
    .await;
    let left = history(&app, &alice, &chat).await;
    assert!(
        left.iter().any(|m| m["id"] == kept.as_str()),
        "sent before the timer: kept"
    );
    let (events, _) = sync_all(&app, &bob, &since).await;
    assert!(
        events
            .iter()
            .all(|e| e["data"]["message"]["id"] != gone.to_string()),
        "nor in sync"
    );

    // In a group, it takes the permission to edit the group's info.
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "g", &[&carol]).await;
    let (status, _) = app
        .put(
            &format!("/api/chats/{group}"),
            &carol.access,
            json!({ "disappearingSeconds": 604800 }),
        )
        .await;
    assert_eq!(status, 403);
    app.stop().await;
}

#[tokio::test]
async fn a_disappeared_message_is_gone_before_the_schedule_erases_it() {
    // No scheduled run during the test: the expired row stays in the table throughout.
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let earlier = app.sent(&alice, &chat, "said before the timer").await;
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}"),
            &alice.access,
            json!({ "disappearingSeconds": 86400 }),
        )
        .await;
    assert_eq!(status, 200);
    let since = present(&app, &bob).await;
    let gone = app.sent(&alice, &chat, "a secret for a day").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{gone}/star"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, reply) = send_body(
        &app,
        &bob,
        &chat,
        json!({ "clientMessageId": "re", "content": "noted", "replyToId": gone }),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["data"]["replyTo"]["content"], "a secret for a day");
    let reply = reply["data"]["id"].as_str().unwrap().to_owned();
    let elsewhere = app.open_chat(&bob, &app.register("carol").await).await;
    app.expire_message(&gone).await;

    // Its time is up: nowhere to be read...
    let shown = history(&app, &bob, &chat).await;
    assert!(shown.iter().all(|m| m["id"] != gone.as_str()), "{shown:?}");
    assert!(shown.iter().any(|m| m["id"] == earlier.as_str()));
    let quoting = shown.iter().find(|m| m["id"] == reply.as_str()).unwrap();
    assert_eq!(
        quoting["replyTo"]["content"],
        Value::Null,
        "a reply quotes it no more: {quoting}"
    );
    let (_, starred) = app.get("/api/messages/starred", Some(&bob.access)).await;
    assert_eq!(starred["data"], json!([]), "{starred}");
    let row = app.chat_row(&bob, &chat).await;
    assert_ne!(row["lastMessage"]["content"], "a secret for a day", "{row}");
    let (events, _) = sync_all(&app, &bob, &since).await;
    assert!(
        events
            .iter()
            .all(|e| e["data"]["message"]["id"] != gone.as_str()),
        "nor in sync"
    );
    // ... nor to be copied, kept, answered or quoted...
    let (status, _) = send_body(
        &app,
        &bob,
        &chat,
        json!({ "clientMessageId": "re-again", "content": "?", "replyToId": gone }),
    )
    .await;
    assert_eq!(status, 400);
    for (path, body) in [
        ("forward", json!({ "chatIds": [elsewhere] })),
        ("keep", json!({})),
        ("reactions", json!({ "emoji": "👍" })),
    ] {
        let (status, answer) = app
            .post(
                &format!("/api/chats/{chat}/messages/{gone}/{path}"),
                Some(&bob.access),
                body,
            )
            .await;
        assert_eq!(status, 404, "{path}: {answer}");
    }
    // ... but a client may still read up to it.
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{gone}/read"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_default_timer_starts_the_chats_its_owner_starts_and_no_others() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let already = app.open_chat(&alice, &carol).await;
    let week = json!({ "privacySettings": { "defaultDisappearingSeconds": 604800 } });
    let (status, body) = app.put("/api/users/profile", &alice.access, week).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["privacySettings"]["defaultDisappearingSeconds"],
        604800
    );
    let bad = json!({ "privacySettings": { "defaultDisappearingSeconds": 60 } });
    let (status, _) = app.put("/api/users/profile", &alice.access, bad).await;
    assert_eq!(status, 400, "one of the timers");

    // A 1:1 chat Alice starts, and a group she creates, start with her timer and say so: in
    // the group to everyone; in the 1:1 chat to her, for it shows Bob nothing before its first
    // message (`opening_a_chat_shows_the_other_nothing_until_its_first_message`).
    let since = present(&app, &bob).await;
    let chat = app.open_chat(&alice, &bob).await;
    let group = app.open_group(&alice, "g", &[&bob]).await;
    let (events, _) = sync_all(&app, &bob, &since).await;
    assert!(
        events.iter().all(|e| e["data"]["chatId"] != chat.as_str()),
        "{events:?}"
    );
    assert!(history(&app, &bob, &chat).await.is_empty());
    let (_, list) = app.get("/api/chats", Some(&bob.access)).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the group: {list}"
    );
    for (started, told) in [(&chat, &alice), (&group, &bob)] {
        let (_, details) = app
            .get(&format!("/api/chats/{started}"), Some(&bob.access))
            .await;
        assert_eq!(details["data"]["disappearingSeconds"], 604800);
        let line = history(&app, told, started).await.pop().unwrap();
        assert_eq!(line["metadata"]["action"], "disappearing_changed");
        assert_eq!(line["metadata"]["byDefault"], true);
        assert!(
            line["content"].as_str().unwrap().ends_with(
                " uses a default timer for disappearing messages in new chats: new messages \
                 disappear 7 days after they are sent"
            ),
            "{line}"
        );
        let (_, sent) = app
            .send_text(&bob, started, &format!("see you in {started}"))
            .await;
        assert!(sent["data"]["expiresAt"].is_string(), "{sent}");
    }
    // Not a chat that was there before, nor one Bob starts.
    let (_, details) = app
        .get(&format!("/api/chats/{already}"), Some(&alice.access))
        .await;
    assert_eq!(details["data"]["disappearingSeconds"], 0);
    let from_bob = app.open_chat(&bob, &carol).await;
    let (_, details) = app
        .get(&format!("/api/chats/{from_bob}"), Some(&bob.access))
        .await;
    assert_eq!(details["data"]["disappearingSeconds"], 0);
    assert!(history(&app, &bob, &from_bob).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_kept_message_stays_for_everyone_until_it_is_unkept() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let erin = app.register("erin").await;
    let group = app.open_group(&alice, "g", &[&bob, &carol, &erin]).await;
    let plain = app.sent(&bob, &group, "before the timer").await;
    let day = json!({ "disappearingSeconds": 86400 });
    let (status, _) = app
        .put(&format!("/api/chats/{group}"), &alice.access, day)
        .await;
    assert_eq!(status, 200);
    let (_, sent) = app
        .send_text(&bob, &group, "the address is 12 Elm St")
        .await;
    let address = sent["data"]["id"].as_str().unwrap().to_owned();
    let keep = |id: &str| format!("/api/chats/{group}/messages/{id}/keep");
    app.relay_caught_up().await;
    let mut alice_ws = app.ws(&alice.access).await;

    let (status, body) = app
        .post(&keep(&plain), Some(&carol.access), json!({}))
        .await;
    assert_eq!(status, 403, "it does not disappear: {body}");
    let (status, body) = app
        .post(&keep(&address), Some(&carol.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["keptBy"], carol.id.as_str());
    let told = alice_ws.next_event("message:kept").await;
    assert_eq!(
        (&told["data"]["kept"], &told["data"]["keptBy"]),
        (&json!(true), &json!(carol.id))
    );
    let (status, again) = app
        .post(&keep(&address), Some(&alice.access), json!({}))
        .await;
    assert_eq!(
        (status, &again["data"]["keptBy"]),
        (200, &json!(carol.id)),
        "kept once"
    );
    let shown = history(&app, &alice, &group).await;
    let kept = shown.iter().find(|m| m["id"] == address.as_str()).unwrap();
    assert_eq!(
        (&kept["kept"], &kept["expiresAt"]),
        (&json!(true), &Value::Null)
    );

    // Its time passes while kept: the schedule leaves it.
    let id: uuid::Uuid = address.parse().unwrap();
    let owner = app.owner_db().await;
    let db = owner.get().await.unwrap();
    db.execute(
        "UPDATE messages SET expires_unless_kept = now() - interval '1 minute' WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    banter_core::services::relay::scheduled(app.app())
        .await
        .unwrap();
    assert!(history(&app, &bob, &group)
        .await
        .iter()
        .any(|m| m["id"] == address.as_str()));

    // Only who kept it, its sender or an admin unkeeps it; then it goes at once (its time passed).
    let dave = app.register("dave").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/participants"),
            Some(&alice.access),
            json!({ "userId": dave.id }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.delete(&keep(&address), &dave.access, json!({})).await;
    assert_eq!(status, 404, "dave joined after it: not his to see");
    let (status, _) = app.delete(&keep(&plain), &bob.access, json!({})).await;
    assert_eq!(status, 404, "not kept");
    let (status, _) = app.delete(&keep(&address), &erin.access, json!({})).await;
    assert_eq!(
        status, 403,
        "neither who kept it, nor its sender, nor an admin"
    );
    let before_unkept = present(&app, &alice).await;
    let (status, body) = app.delete(&keep(&address), &bob.access, json!({})).await;
    assert_eq!(status, 200, "its sender: {body}");
    assert_eq!(body["data"]["kept"], false);
    assert!(body["data"]["expiresAt"].is_string());
    let told = alice_ws.next_event("message:kept").await;
    assert_eq!(told["data"]["kept"], false);
    banter_core::services::relay::scheduled(app.app())
        .await
        .unwrap();
    assert!(
        history(&app, &alice, &group)
            .await
            .iter()
            .all(|m| m["id"] != address.as_str()),
        "gone once unkept"
    );
    // The erasure took the message's events, not the news that it was unkept: a device that
    // was away learns from sync that it goes.
    let (events, _) = sync_all(&app, &alice, &before_unkept).await;
    let unkept = events
        .iter()
        .find(|e| e["event"] == "message:kept")
        .expect("the unkeep is in sync");
    assert_eq!(
        (&unkept["data"]["kept"], &unkept["data"]["messageId"]),
        (&json!(false), &json!(address))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_view_once_picture_opens_once_per_recipient() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "g", &[&bob, &carol]).await;
    let picture = uploaded(&app, &alice, &group, "image").await;
    let (status, body) = send_body(
        &app,
        &alice,
        &group,
        json!({ "clientMessageId": "v", "type": "image",
        "mediaId": picture, "viewOnce": true }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["viewOnce"], true);
    assert_eq!(
        body["data"]["mediaId"],
        Value::Null,
        "never in the message itself"
    );
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let open = format!("/api/chats/{group}/messages/{id}/open");
    // Not ready yet: refused, and the view is not spent.
    let db = app.owner_db().await.get().await.unwrap();
    let set_status = |status: &'static str| {
        let picture = picture.parse::<uuid::Uuid>().unwrap();
        let db = &db;
        async move {
            db.execute(
                "UPDATE media_files SET status = $2 WHERE id = $1",
                &[&picture, &status],
            )
            .await
            .unwrap();
        }
    };
    set_status("processing").await;
    let (status, body) = app.post(&open, Some(&bob.access), json!({})).await;
    assert_eq!(status, 409, "still being processed: {body}");
    set_status("completed").await;
    let (status, body) = app.post(&open, Some(&bob.access), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["mediaId"], picture.as_str());
    // The open hands the file out, signed: the only way to it, for the file is not shown
    // any more.
    assert_eq!(body["data"]["media"]["id"], picture.as_str());
    let original = body["data"]["media"]["urls"]["original"].as_str().unwrap();
    assert!(
        original.contains(&format!("uploads/{picture}")) && original.contains("signature="),
        "{original}"
    );
    let (status, _) = app
        .get(&format!("/api/media/{picture}"), Some(&bob.access))
        .await;
    assert_eq!(status, 404, "opened");
    let (status, _) = app.post(&open, Some(&bob.access), json!({})).await;
    assert_eq!(status, 403, "once");
    let (status, _) = app.post(&open, Some(&carol.access), json!({})).await;
    assert_eq!(status, 200, "once per recipient");
    let (status, _) = app.post(&open, Some(&alice.access), json!({})).await;
    assert_eq!(status, 403, "not for its sender");
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages/{id}/forward"),
            Some(&bob.access),
            json!({ "chatIds": [group] }),
        )
        .await;
    assert_eq!(status, 403, "not forwarded");
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages/{id}/star"),
            Some(&carol.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "nor starred");
    let (status, _) = send_body(
        &app,
        &alice,
        &group,
        json!({ "clientMessageId": "t", "content": "hi", "viewOnce": true }),
    )
    .await;
    assert_eq!(status, 400, "text is not view-once");
    let text = app.sent(&alice, &group, "plain").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages/{text}/open"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn people_who_see_each_other_go_offline_together_without_deadlock() {
    // Each transition locks its user and appends events naming the others (their rows are
    // key-share locked by the foreign keys): all at once, that must not deadlock.
    let app = spawn_app().await;
    let mut people = Vec::new();
    for n in 0..8 {
        people.push(app.register(&format!("p{n}")).await);
    }
    for (i, a) in people.iter().enumerate() {
        for b in &people[i + 1..] {
            app.open_chat(a, b).await;
        }
    }
    let mut sockets = Vec::new();
    for p in &people {
        sockets.push(app.ws(&p.access).await);
    }
    drop(sockets);
    let viewer = app.register("viewer").await;
    for p in &people {
        crate::support::wait_until("everyone is offline", Duration::from_secs(10), || async {
            let (_, body) = app
                .get(&format!("/api/users/{}", p.id), Some(&viewer.access))
                .await;
            body["data"]["isOnline"] == false
        })
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn the_media_gallery_lists_what_shows_a_file_by_type() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut shown = Vec::new();
    let files = [
        ("image", "Holiday Photo.JPG"),
        ("video", "clip2026.mp4"),
        ("image", "invoice_2026.jpg"),
    ];
    for (n, (kind, name)) in files.iter().enumerate() {
        let file = uploaded_named(&app, &alice, &chat, kind, name).await;
        let (status, body) = send_body(
            &app,
            &alice,
            &chat,
            json!({ "clientMessageId": format!("f{n}"),
            "type": kind, "mediaId": file }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        shown.push(body["data"]["id"].as_str().unwrap().to_owned());
    }
    app.sent(&alice, &chat, "no file").await;
    let once = uploaded(&app, &alice, &chat, "image").await;
    let (status, _) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "once", "type": "image",
        "mediaId": once, "viewOnce": true }),
    )
    .await;
    assert_eq!(status, 201);
    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, page) = app
        .get(&format!("/api/chats/{chat}/media"), Some(&bob.access))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        ids(&page),
        shown,
        "files only, not the text nor the view-once picture"
    );
    let (_, page) = app
        .get(
            &format!("/api/chats/{chat}/media?type=image"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(ids(&page), [shown[0].clone(), shown[2].clone()]);
    let (_, page) = app
        .get(
            &format!(
                "/api/chats/{chat}/media?type=image&limit=1&before={}",
                shown[2]
            ),
            Some(&bob.access),
        )
        .await;
    assert_eq!(ids(&page), [shown[0].clone()]);
    // Search by file name: any case, `_` and `%` taken literally.
    for (q, want) in [
        ("photo", vec![shown[0].clone()]),
        ("_2026", vec![shown[2].clone()]),
        ("2026", vec![shown[1].clone(), shown[2].clone()]),
        ("%25", vec![]),
    ] {
        let (status, page) = app
            .get(&format!("/api/chats/{chat}/media?q={q}"), Some(&bob.access))
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page), want, "q={q}");
    }
    // The links tab: text messages holding an address, not the others.
    let with_link = app
        .sent(&alice, &chat, "the plan: https://example.com/plan")
        .await;
    let with_www = app.sent(&bob, &chat, "or www.example.org").await;
    app.sent(&alice, &chat, "no link, just https:// talk").await;
    let (status, page) = app
        .get(
            &format!("/api/chats/{chat}/media?type=link"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), [with_link, with_www], "{page}");
    let eve = app.register("eve").await;
    let (status, _) = app
        .get(&format!("/api/chats/{chat}/media"), Some(&eve.access))
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_live_location_moves_until_stopped_and_only_its_sender_moves_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (status, body) = send_body(
        &app,
        &alice,
        &chat,
        json!({ "clientMessageId": "live", "type": "location",
        "metadata": { "latitude": 1.0, "longitude": 2.0, "liveSeconds": 900 } }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/chats/{chat}/messages/{id}/location");
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, body) = app
        .put(
            &path,
            &alice.access,
            json!({ "latitude": 1.5, "longitude": 2.5 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let moved = bob_ws.next_event("message:location:updated").await;
    assert_eq!(
        (
            moved["data"]["latitude"].as_f64(),
            moved["data"]["live"].as_bool()
        ),
        (Some(1.5), Some(true))
    );
    let (status, _) = app
        .put(&path, &bob.access, json!({ "latitude": 0, "longitude": 0 }))
        .await;
    assert_eq!(status, 403, "only its sender");
    // Nor is it forwarded: the copy would be a live location of its forwarder, moved by them.
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{id}/forward"),
            Some(&bob.access),
            json!({ "chatIds": [chat] }),
        )
        .await;
    assert_eq!(status, 403, "a live location is not forwarded: {body}");
    let (status, _) = app
        .put(
            &path,
            &alice.access,
            json!({ "latitude": 91, "longitude": 0 }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = app.delete(&path, &alice.access, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let stopped = bob_ws.next_event("message:location:updated").await;
    assert_eq!(stopped["data"]["live"], false);
    // A stop retried (its answer lost) is answered the same, and tells nobody anything new.
    let (status, again) = app.delete(&path, &alice.access, json!({})).await;
    assert_eq!((status, &again["data"]), (200, &body["data"]), "{again}");
    bob_ws.expect_silence(Duration::from_millis(300)).await;
    let (status, _) = app
        .put(
            &path,
            &alice.access,
            json!({ "latitude": 1, "longitude": 1 }),
        )
        .await;
    assert_eq!(status, 403, "stopped");
    let last = history(&app, &bob, &chat).await.pop().unwrap();
    assert_eq!(
        last["metadata"]["latitude"], 1.5,
        "the history shows where it last was"
    );
    let place = app.sent(&alice, &chat, "not a location").await;
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/messages/{place}/location"),
            &alice.access,
            json!({ "latitude": 1, "longitude": 1 }),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_member_who_left_reads_a_message_as_it_was_when_they_left() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "planners", &[&bob, &carol]).await;
    let message = app.sent(&alice, &group, "meet at noon").await;
    let path = format!("/api/chats/{group}/messages/{message}");
    let change = |text: &'static str| {
        let (app, alice, path) = (&app, &alice, &path);
        async move {
            let (status, body) = app
                .put(path, &alice.access, json!({ "content": text }))
                .await;
            assert_eq!(status, 200, "{body}");
        }
    };
    change("meet at one").await;
    let (status, _) = app
        .delete(&format!("/api/chats/{group}"), &carol.access, json!({}))
        .await;
    assert_eq!(status, 200, "carol leaves, keeping the chat");
    change("meet at the secret place").await;

    let shown = |messages: Vec<Value>| {
        messages
            .into_iter()
            .find(|m| m["id"] == message.as_str())
            .unwrap()
    };
    assert_eq!(
        shown(history(&app, &bob, &group).await)["content"],
        "meet at the secret place"
    );
    let for_carol = shown(history(&app, &carol, &group).await);
    assert_eq!(
        (&for_carol["content"], &for_carol["isEdited"]),
        (&json!("meet at one"), &json!(true)),
        "as it was when she left"
    );
    let edits = |user: &User| {
        let (app, path, token) = (&app, format!("{path}/edits"), user.access.clone());
        async move {
            let (status, body) = app.get(&path, Some(&token)).await;
            assert_eq!(status, 200, "{body}");
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["previousContent"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(edits(&bob).await, ["meet at noon", "meet at one"]);
    assert_eq!(
        edits(&carol).await,
        ["meet at noon"],
        "none made since she left"
    );
    let (status, found) = app
        .get("/api/messages/search?q=secret", Some(&carol.access))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        found["data"],
        json!([]),
        "nor found by words she never saw: {found}"
    );
    let (_, found) = app
        .get("/api/messages/search?q=secret", Some(&bob.access))
        .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1, "{found}");
    app.stop().await;
}

#[tokio::test]
async fn a_member_who_left_stops_following_a_live_location() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "hikers", &[&bob, &carol]).await;
    let share = |client_id: &'static str, seconds: i64| {
        let (app, alice, group) = (&app, &alice, &group);
        async move {
            let (status, body) = send_body(
                app,
                alice,
                group,
                json!({ "clientMessageId": client_id, "type": "location",
                "metadata": { "latitude": 1.0, "longitude": 2.0, "liveSeconds": seconds } }),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            body["data"]["id"].as_str().unwrap().to_owned()
        }
    };
    let live = share("live", 900).await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/messages/{live}/star"),
            Some(&carol.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .delete(&format!("/api/chats/{group}"), &carol.access, json!({}))
        .await;
    assert_eq!(status, 200, "carol leaves, keeping the chat");
    let (status, body) = app
        .put(
            &format!("/api/chats/{group}/messages/{live}/location"),
            &alice.access,
            json!({ "latitude": 48.85, "longitude": 2.35 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = |messages: Vec<Value>| {
        messages
            .into_iter()
            .find(|m| m["id"] == live.as_str())
            .expect("the live location is listed")["metadata"]
            .clone()
    };
    let for_bob = shown(history(&app, &bob, &group).await);
    assert_eq!(for_bob["latitude"], 48.85, "a member follows it");
    let for_carol = shown(history(&app, &carol, &group).await);
    assert_eq!(
        (for_carol.get("latitude"), for_carol.get("longitude")),
        (None, None),
        "{for_carol}"
    );
    assert_eq!(for_carol["liveStopped"], true, "it shows as ended");
    let (status, starred) = app.get("/api/messages/starred", Some(&carol.access)).await;
    assert_eq!(status, 200);
    let for_carol = shown(starred["data"].as_array().unwrap().clone());
    assert_eq!(for_carol.get("latitude"), None, "{for_carol}");
    app.stop().await;
}

/// Share a live location for 15 minutes; its message id.
async fn share_live_location(app: &TestApp, who: &User, chat: &str, client_id: &str) -> String {
    let (status, body) = send_body(
        app,
        who,
        chat,
        json!({ "clientMessageId": client_id, "type": "location",
        "metadata": { "latitude": 1.0, "longitude": 2.0, "liveSeconds": 900 } }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

/// A live location ends when its sender leaves the group, and a block ends both of a 1:1's
/// (the chat is told, as a stop tells it); across a block nobody moves one, edits or pins a
/// message, or sets the disappearing timer.
#[tokio::test]
async fn a_live_location_ends_when_its_sender_leaves_or_a_block_comes_between() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let group = app.open_group(&alice, "hikers", &[&bob]).await;
    let chat = app.open_chat(&alice, &bob).await;
    let metadata_of = |messages: Vec<Value>, id: &str| {
        messages
            .into_iter()
            .find(|m| m["id"] == id)
            .expect("listed")["metadata"]
            .clone()
    };
    let since = crate::sync::present(&app, &alice).await;

    let in_group = share_live_location(&app, &bob, &group, "g").await;
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/participants/{}", bob.id),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let shown = metadata_of(history(&app, &alice, &group).await, &in_group);
    assert_eq!(shown["liveStopped"], true, "{shown}");

    let bobs = share_live_location(&app, &bob, &chat, "b").await;
    let alices = share_live_location(&app, &alice, &chat, "a").await;
    let text = app.sent(&bob, &chat, "see you there").await;
    app.block(&alice, &bob).await;
    for id in [&bobs, &alices] {
        let shown = metadata_of(history(&app, &alice, &chat).await, id);
        assert_eq!(shown["liveStopped"], true, "{shown}");
    }
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/messages/{bobs}/location"),
            &bob.access,
            json!({ "latitude": 48.85, "longitude": 2.35 }),
        )
        .await;
    assert_eq!(status, 403, "it has ended");
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}/messages/{text}"),
            &bob.access,
            json!({ "content": "you will regret this" }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // Nor does a pin or a new disappearing timer reach her.
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{text}/pin"),
            Some(&bob.access),
            json!({ "durationSeconds": 86400 }),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}"),
            &bob.access,
            json!({ "disappearingSeconds": 86400 }),
        )
        .await;
    assert_eq!(status, 403);
    let shown: Vec<Value> = history(&app, &alice, &chat).await;
    assert!(shown.iter().any(|m| m["content"] == "see you there"));
    assert!(!shown.iter().any(|m| m["type"] == "system"), "{shown:?}");
    let (_, details) = app
        .get(&format!("/api/chats/{chat}"), Some(&alice.access))
        .await;
    assert_eq!(details["data"]["disappearingSeconds"], 0, "{details}");

    // Alice's devices were told each end.
    let (events, _) = crate::sync::sync_all(&app, &alice, &since).await;
    let ended: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "message:location:updated" && e["data"]["live"] == false)
        .map(|e| e["data"]["messageId"].as_str().unwrap())
        .collect();
    for id in [&in_group, &bobs, &alices] {
        assert!(ended.contains(&id.as_str()), "{id}: {ended:?}");
    }
    app.stop().await;
}

/// API.md's acceptance flow, end to end on the local stack: send, receive on two devices,
/// typing, read, edit, react, reply, delete for everyone, and an offline device catching up
/// through sync.
#[tokio::test]
async fn the_api_acceptance_flow_passes_end_to_end() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bob_phone = app.login(&bob).await;
    let chat = app.open_chat(&alice, &bob).await;
    let offline_since = present(&app, &bob_phone).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_laptop = app.ws(&bob.access).await;
    let mut bob_tablet = app.ws(&bob.access).await;

    // Send; both of bob's connected devices receive it; alice gets the delivered tick.
    alice_ws
        .send_json(json!({ "action": "message:send", "requestId": "s1",
            "data": { "chatId": chat, "clientMessageId": "hello", "content": "hello bob" } }))
        .await;
    let ack = alice_ws.answer_to("s1").await;
    let hello = ack["data"]["id"].as_str().unwrap().to_owned();
    for device in [&mut bob_laptop, &mut bob_tablet] {
        let got = device.next_event("message:received").await;
        assert_eq!(got["data"]["message"]["content"], "hello bob");
    }
    assert_eq!(
        alice_ws.next_event("message:delivered").await["data"]["messageId"],
        hello.as_str()
    );

    // Typing, then read.
    bob_laptop
        .send_json(json!({ "action": "message:typing", "data": { "chatId": chat } }))
        .await;
    assert_eq!(
        alice_ws.next_event("message:typing").await["data"]["userId"],
        bob.id.as_str()
    );
    bob_laptop
        .send_json(json!({ "action": "message:read", "requestId": "r1", "data": { "chatId": chat, "messageId": hello } }))
        .await;
    assert_eq!(bob_laptop.answer_to("r1").await["event"], "ack");
    assert_eq!(
        alice_ws.next_event("message:read").await["data"]["readBy"],
        bob.id.as_str()
    );
    assert_eq!(
        bob_tablet.next_event("message:read").await["data"]["readBy"],
        bob.id.as_str(),
        "his other device"
    );
    // The connection that read has its answer: the next frame it gets is the edit below.

    // Edit, react, reply.
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/messages/{hello}"),
            &alice.access,
            json!({ "content": "hello, bob" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        bob_tablet.next_event("message:edited").await["data"]["message"]["content"],
        "hello, bob"
    );
    assert_eq!(bob_laptop.next_json().await["event"], "message:edited");
    bob_laptop
        .send_json(json!({ "action": "message:reaction", "requestId": "x1",
            "data": { "chatId": chat, "messageId": hello, "emoji": "👋" } }))
        .await;
    assert_eq!(bob_laptop.answer_to("x1").await["event"], "ack");
    assert_eq!(
        alice_ws.next_event("message:reaction:added").await["data"]["emoji"],
        "👋"
    );
    let (status, reply) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "re", "content": "hi alice", "replyToId": hello }),
        )
        .await;
    assert_eq!(status, 201);
    let got = alice_ws.next_event("message:received").await;
    assert_eq!(got["data"]["message"]["replyTo"]["content"], "hello, bob");

    // Delete for everyone: a tombstone on every device, the reply's quote shows it deleted.
    alice_ws
        .send_json(json!({ "action": "message:delete", "requestId": "d1",
            "data": { "chatId": chat, "messageId": hello, "forEveryone": true } }))
        .await;
    assert_eq!(alice_ws.answer_to("d1").await["event"], "ack");
    assert_eq!(
        bob_laptop.next_event("message:deleted").await["data"]["messageId"],
        hello.as_str()
    );
    let messages = history(&app, &bob, &chat).await;
    let quoted = messages
        .iter()
        .find(|m| m["id"] == reply["data"]["id"])
        .unwrap();
    assert_eq!(quoted["replyTo"]["content"], Value::Null);

    // Bob's phone was offline throughout: sync gives it everything, in order, without the
    // deleted text and without typing.
    let (events, _) = sync_all(&app, &bob_phone, &offline_since).await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for expected in [
        "message:received",
        "message:read",
        "message:edited",
        "message:reaction:added",
        "message:deleted",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"message:typing"));
    assert!(
        !json!(events).to_string().contains("hello, bob"),
        "the deleted text is gone from sync"
    );
    let cursors: Vec<&str> = events
        .iter()
        .map(|e| e["cursor"].as_str().unwrap())
        .collect();
    let mut sorted = cursors.clone();
    sorted.sort_by_key(|c| {
        let (x, i) = c.split_once('.').unwrap();
        (x.parse::<i64>().unwrap(), i.parse::<i64>().unwrap())
    });
    assert_eq!(cursors, sorted, "in cursor order");
    app.stop().await;
}

#[tokio::test]
async fn receipt_marks_keep_the_latest_64_moves_and_when_each_happened() {
    let app = spawn_app().await;
    let client = app.app().db.get().await.unwrap();
    // Seventy watermark moves, to seqs 10, 20, ..., 700 (all at the statement's `now()`).
    let row = client
        .query_one(
            "WITH RECURSIVE moves(n, marks) AS (
                 SELECT 0, '{}'::bigint[]
                 UNION ALL
                 SELECT n + 1, receipt_marks_push(marks, (n + 1) * 10) FROM moves WHERE n < 70)
             SELECT cardinality(marks) AS len, marks[1] AS newest,
                    receipt_marks_time(marks, 65) AS forgotten, receipt_marks_time(marks, 75) AS kept,
                    receipt_marks_time(marks, 701) AS not_reached, now() AS now
             FROM moves WHERE n = 70",
            &[],
        )
        .await
        .unwrap();
    type Time = Option<chrono::DateTime<chrono::Utc>>;
    assert_eq!(row.get::<_, i32>("len"), 128, "64 (seq, time) pairs");
    assert_eq!(row.get::<_, i64>("newest"), 700);
    // Seq 65 was reached by the move to 70, the oldest kept: an earlier, forgotten move may
    // have reached it first, so its time is unknown. Seq 75 was reached by the move to 80.
    assert_eq!(row.get::<_, Time>("forgotten"), None);
    assert_eq!(row.get::<_, Time>("kept"), row.get::<_, Time>("now"));
    assert_eq!(row.get::<_, Time>("not_reached"), None);
    app.stop().await;
}

/// `user` changes some of their privacy settings.
async fn set_privacy(app: &TestApp, user: &User, settings: Value) {
    let (status, body) = app
        .put(
            "/api/users/profile",
            &user.access,
            json!({ "privacySettings": settings }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A reply quotes only a message its sender sees: not one from before they joined, nor one
/// they deleted for themselves or cleared (its quote would show it to them again).
#[tokio::test]
async fn a_reply_quotes_only_a_message_its_sender_sees() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "club", &[&bob]).await;
    let before_carol = app.sent(&alice, &group, "before carol").await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/participants"),
            Some(&alice.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let hidden = app.sent(&alice, &group, "hidden by bob").await;
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{hidden}"),
            &bob.access,
            json!({ "deleteForEveryone": false }),
        )
        .await;
    assert_eq!(status, 200);
    let seen = app.sent(&alice, &group, "seen by all").await;
    let reply =
        |id: &str, to: &str| json!({ "clientMessageId": id, "content": "re", "replyToId": to });
    let path = format!("/api/chats/{group}/messages");
    for (who, id, to) in [(&carol, "c1", &before_carol), (&bob, "b1", &hidden)] {
        let (status, body) = app.post(&path, Some(&who.access), reply(id, to)).await;
        assert_eq!(status, 400, "{id}: {body}");
    }
    let (status, body) = app
        .post(&path, Some(&carol.access), reply("c2", &seen))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["replyTo"]["content"], "seen by all");
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/clear"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app.post(&path, Some(&bob.access), reply("b2", &seen)).await;
    assert_eq!(status, 400, "cleared: {body}");
    app.stop().await;
}

/// Replying privately: in the 1:1 with someone, a reply may quote what they sent in a group you
/// share, and its preview names that group. It quotes nothing else of another chat: not another
/// member's message, not one the replier does not see, not one deleted for everyone.
#[tokio::test]
async fn a_private_reply_quotes_the_other_members_message_from_a_shared_group() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let group = app.open_group(&alice, "club", &[&bob, &carol]).await;
    let from_bob = app.sent(&bob, &group, "who is coming?").await;
    let from_carol = app.sent(&carol, &group, "me").await;
    let gone = app.sent(&bob, &group, "never mind").await;
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{gone}"),
            &bob.access,
            json!({ "deleteForEveryone": true }),
        )
        .await;
    assert_eq!(status, 200);
    let with_bob = app.open_chat(&alice, &bob).await;
    let with_carol = app.open_chat(&alice, &carol).await;
    let dave_bob = app.open_chat(&dave, &bob).await;
    let reply =
        |id: &str, to: &str| json!({ "clientMessageId": id, "content": "re", "replyToId": to });
    for (who, chat, id, to) in [
        (&alice, &with_carol, "a1", &from_bob),
        (&alice, &with_bob, "a2", &from_carol),
        (&alice, &with_bob, "a3", &gone),
        (&dave, &dave_bob, "d1", &from_bob),
    ] {
        let (status, body) = app
            .post(
                &format!("/api/chats/{chat}/messages"),
                Some(&who.access),
                reply(id, to),
            )
            .await;
        assert_eq!(status, 400, "{id}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{id}: {body}");
    }
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{with_bob}/messages"),
            Some(&alice.access),
            reply("a4", &from_bob),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["replyTo"]["chatId"], group.as_str(), "{body}");
    assert_eq!(body["data"]["replyTo"]["content"], "who is coming?");
    let pushed = bob_ws.next_event("message:received").await;
    assert_eq!(
        pushed["data"]["message"]["replyTo"]["chatId"],
        group.as_str(),
        "{pushed}"
    );
    assert_eq!(
        pushed["data"]["message"]["replyTo"]["content"],
        "who is coming?"
    );
    // A reply in its own chat names that chat.
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&alice.access),
            reply("a5", &from_carol),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["replyTo"]["chatId"], group.as_str(), "{body}");
    // Deleted for everyone afterwards, the quote shows no text in the 1:1 either.
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{from_bob}"),
            &bob.access,
            json!({ "deleteForEveryone": true }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .get(
            &format!("/api/chats/{with_bob}/messages"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let quote = &body["data"][0]["replyTo"];
    assert_eq!(quote["chatId"], group.as_str(), "{body}");
    assert!(quote["content"].is_null(), "{body}");
    app.stop().await;
}

/// A system line ("alice created the group") is the chat's record of what happened: nobody
/// reacts to it, pins, stars or quotes it, and not even an admin deletes it for everyone; each
/// member may delete it for themselves.
#[tokio::test]
async fn a_system_line_is_the_chats_record_and_takes_no_marks() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let group = app.open_group(&alice, "club", &[&bob]).await;
    let (status, body) = app
        .get(&format!("/api/chats/{group}/messages"), Some(&bob.access))
        .await;
    assert_eq!(status, 200, "{body}");
    let line = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "system")
        .and_then(|m| m["id"].as_str())
        .expect("the group's creation line")
        .to_owned();
    let path = format!("/api/chats/{group}/messages/{line}");
    let refused = [
        app.post(
            &format!("{path}/reactions"),
            Some(&bob.access),
            json!({ "emoji": "👍" }),
        )
        .await,
        app.post(&format!("{path}/star"), Some(&bob.access), json!({}))
            .await,
        app.post(&format!("{path}/pin"), Some(&alice.access), json!({}))
            .await,
        app.delete(&path, &alice.access, json!({ "deleteForEveryone": true }))
            .await,
    ];
    for (status, body) in refused {
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "PERMISSION_DENIED", "{body}");
    }
    let (status, body) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "re", "content": "welcome", "replyToId": line }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .get(&format!("/api/chats/{group}/messages"), Some(&alice.access))
        .await;
    assert_eq!(status, 200, "{body}");
    let kept = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == line.as_str());
    let kept = kept.expect("the line is still there");
    assert_eq!(kept["reactions"], json!([]), "{kept}");
    assert!(!kept["content"].is_null(), "{kept}");
    let (status, body) = app
        .delete(&path, &bob.access, json!({ "deleteForEveryone": false }))
        .await;
    assert_eq!(status, 200, "for himself: {body}");
    app.stop().await;
}

/// A forward that a later chat refuses still delivers, at once, the copies made before it (not
/// with the relay's next scheduled run, here an hour away).
#[tokio::test]
async fn a_forward_refused_by_one_chat_delivers_the_copies_made_before_it() {
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let with_bob = app.open_chat(&alice, &bob).await;
    let with_dave = app.open_chat(&alice, &dave).await;
    let with_carol = app.open_chat(&alice, &carol).await;
    let original = app.sent(&bob, &with_bob, "pass it on").await;
    app.block(&alice, &carol).await;
    let mut dave_ws = app.ws(&dave.access).await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{with_bob}/messages/{original}/forward"),
            Some(&alice.access),
            json!({ "chatIds": [with_dave, with_carol] }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let copy = dave_ws.next_event("message:received").await;
    assert_eq!(copy["data"]["message"]["content"], "pass it on", "{copy}");
    app.stop().await;
}

/// In a history page, the `status` of a message someone else sent is the reader's own receipt
/// (delivered: the page delivers it; read once they read it, or a later one), and of their
/// own, the recipients' as they see them.
#[tokio::test]
async fn a_received_messages_status_is_the_readers_own_receipt() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let one = app.sent(&alice, &chat, "one").await;
    app.sent(&alice, &chat, "two").await;
    let statuses = |user: &User| {
        let (app, chat, user) = (&app, &chat, user.clone());
        async move {
            let (status, page) = app
                .get(&format!("/api/chats/{chat}/messages"), Some(&user.access))
                .await;
            assert_eq!(status, 200, "{page}");
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["status"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(statuses(&bob).await, ["delivered", "delivered"]);
    assert_eq!(statuses(&alice).await, ["delivered", "delivered"]);
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{one}/read"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(statuses(&bob).await, ["read", "delivered"]);
    assert_eq!(statuses(&alice).await, ["read", "delivered"]);
    // Her reply reads nothing of his for him: his receipt of hers stays his.
    app.sent(&bob, &chat, "three").await;
    assert_eq!(statuses(&bob).await, ["read", "delivered", "sent"]);
    app.stop().await;
}
