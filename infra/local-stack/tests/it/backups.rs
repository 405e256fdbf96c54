//! Chat backups (`services::backups`): asked for over REST, built in the background, announced
//! through the event log, downloaded through a signed link as a zip holding the JSON export,
//! a transcript per chat and the media; only the owner's chats, only what they may see.

use std::io::Read;

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, User};

/// A stored file for `chat`, uploaded by `user`, with these bytes in the blob store.
async fn stored_file(app: &TestApp, user: &User, chat: &str, name: &str, bytes: &[u8]) -> String {
    let id = uuid::Uuid::now_v7();
    let key = format!("uploads/{id}");
    app.owner_db()
        .await
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO media_files (id, uploader_id, chat_id, file_key, file_name, file_type, declared_mime, file_size, status)
             VALUES ($1, $2, $3, $4, $5, 'document', 'application/pdf', $6, 'completed')",
            &[
                &id,
                &user.id.parse::<uuid::Uuid>().unwrap(),
                &chat.parse::<uuid::Uuid>().unwrap(),
                &key,
                &name,
                &(bytes.len() as i64),
            ],
        )
        .await
        .unwrap();
    app.app()
        .ports
        .blobs
        .put(&key, bytes.to_vec().into(), "application/pdf")
        .await
        .unwrap();
    id.to_string()
}

fn entry(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("{name} in the zip"))
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn a_backup_is_built_in_the_background_and_downloaded_as_a_zip() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_chat(&alice, &bob).await;
    let other = app.open_chat(&bob, &carol).await;
    app.send_text(&alice, &chat, "hello Bob").await;
    let (_, hidden) = app.send_text(&bob, &chat, "hidden from alice").await;
    let hidden = hidden["data"]["id"].as_str().unwrap().to_owned();
    app.delete(
        &format!("/api/chats/{chat}/messages/{hidden}"),
        &alice.access,
        json!({}),
    )
    .await;
    let (_, erased) = app.send_text(&bob, &chat, "taken back").await;
    let erased = erased["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/messages/{erased}"),
            &bob.access,
            json!({ "deleteForEveryone": true }),
        )
        .await;
    assert_eq!(status, 200);
    let pdf = b"%PDF-1.4 not really".to_vec();
    let file = stored_file(&app, &bob, &chat, "plan v2.pdf", &pdf).await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            json!({ "clientMessageId": "doc", "type": "document", "mediaId": file, "content": "the plan" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let poll = json!({ "clientMessageId": "poll", "type": "poll", "content": "Lunch?",
                       "metadata": { "options": ["Pizza", "Sushi"] } });
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&bob.access),
            poll,
        )
        .await;
    assert_eq!(status, 201);
    app.send_text(&bob, &other, "nothing for alice").await;

    // Someone else's chat, or a chat that is not there: 404, nothing made.
    for chats in [json!([other]), json!([uuid::Uuid::new_v4()])] {
        let (status, _) = app
            .post(
                "/api/backups",
                Some(&alice.access),
                json!({ "chatIds": chats }),
            )
            .await;
        assert_eq!(status, 404);
    }

    let mut ws = app.ws(&alice.access).await;
    let (status, body) = app
        .post("/api/backups", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["status"], "pending");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let ready = ws.next_event("backup:ready").await;
    assert_eq!(ready["data"]["id"], id.as_str());
    assert!(
        ready["cursor"].is_string(),
        "through the event log: {ready}"
    );

    let (status, body) = app
        .get(&format!("/api/backups/{id}"), Some(&alice.access))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "ready");
    assert!(body["data"]["expiresAt"].is_string());
    let url = body["data"]["downloadUrl"].as_str().unwrap().to_owned();
    let (status, _) = app
        .get(&format!("/api/backups/{id}"), Some(&bob.access))
        .await;
    assert_eq!(status, 404, "nobody else's");

    let bytes = crate::media::download(&app, &json!(url)).await;
    assert_eq!(body["data"]["sizeBytes"].as_u64(), Some(bytes.len() as u64));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let export: Value = serde_json::from_slice(&entry(&mut zip, "export.json")).unwrap();
    let chats = export["chats"].as_array().unwrap();
    assert_eq!(chats.len(), 1, "only Alice's chat: {export}");
    let texts: Vec<Value> = chats[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(
        texts,
        [
            json!("hello Bob"),
            Value::Null,
            json!("the plan"),
            json!("Lunch?")
        ],
        "hidden left out, erased empty"
    );
    let transcript_path = chats[0]["transcript"].as_str().unwrap().to_owned();
    assert!(
        transcript_path.starts_with("chats/bob"),
        "{transcript_path}"
    );
    let transcript = String::from_utf8(entry(&mut zip, &transcript_path)).unwrap();
    // `2026-12-01 19:04 - alice…: hello Bob`, as WhatsApp writes it.
    let said = |who: &str, what: &str| {
        transcript.lines().any(|l| {
            l.len() > 19
                && l.as_bytes()[4] == b'-'
                && l[16..].starts_with(&format!(" - {who}"))
                && l.ends_with(&format!(": {what}"))
        })
    };
    assert!(said("alice", "hello Bob"), "{transcript}");
    assert!(said("bob", "This message was deleted"), "{transcript}");
    assert!(!transcript.contains("hidden from alice"));
    let media_name = format!("media/{}-plan_v2.pdf", file.replace('-', ""));
    assert!(
        said("bob", &format!("{media_name} (file attached) the plan")),
        "{transcript}"
    );
    assert_eq!(entry(&mut zip, &media_name), pdf);
    assert!(said("bob", "POLL:"), "{transcript}");
    assert!(
        transcript.contains("POLL:\nLunch?\nOPTION: Pizza\nOPTION: Sushi\n"),
        "a poll as WhatsApp writes it: {transcript}"
    );

    // A day holds three backups.
    for _ in 0..2 {
        let (status, _) = app
            .post(
                "/api/backups",
                Some(&alice.access),
                json!({ "chatIds": [chat] }),
            )
            .await;
        assert_eq!(status, 202);
    }
    let (status, body) = app
        .post("/api/backups", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 429, "{body}");

    // Erasing the account deletes its backups.
    let key = format!("backups/{}/{id}.zip", alice.id);
    let blobs = &app.app().ports.blobs;
    assert!(blobs.get(&key).await.unwrap().is_some());
    let (status, _) = app
        .delete(
            "/api/users/me",
            &alice.access,
            json!({ "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        blobs.get(&key).await.unwrap(),
        None,
        "erasure deletes the backups"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_backup_holds_a_group_left_as_it_was_then_and_none_deleted() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let kept = app.open_group(&alice, "kept", &[&bob, &carol]).await;
    let deleted = app.open_group(&alice, "deleted", &[&carol]).await;
    // Nor a chat someone opened with her that nobody wrote in: it is not in her list.
    let dave = app.register("dave").await;
    app.open_chat(&dave, &carol).await;
    app.sent(&alice, &kept, "before carol left").await;
    app.sent(&alice, &deleted, "in the deleted one").await;
    // Taken down by the group's admin, and by its sender: the transcript tells which.
    let off_topic = app.sent(&bob, &kept, "off topic").await;
    let regretted = app.sent(&bob, &kept, "regretted").await;
    for (message, by) in [(&off_topic, &alice), (&regretted, &bob)] {
        let (status, body) = app
            .delete(
                &format!("/api/chats/{kept}/messages/{message}"),
                &by.access,
                json!({ "deleteForEveryone": true }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for (chat, times) in [(&kept, 1), (&deleted, 2)] {
        for _ in 0..times {
            let (status, _) = app
                .delete(&format!("/api/chats/{chat}"), &carol.access, json!({}))
                .await;
            assert_eq!(status, 200);
        }
    }
    app.sent(&bob, &kept, "after carol left").await;
    let (status, _) = app
        .post(
            "/api/backups",
            Some(&carol.access),
            json!({ "chatIds": [deleted] }),
        )
        .await;
    assert_eq!(status, 404, "a group she deleted is not hers");

    let mut ws = app.ws(&carol.access).await;
    let (status, body) = app
        .post("/api/backups", Some(&carol.access), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    ws.next_event("backup:ready").await;
    let id = body["data"]["id"].as_str().unwrap();
    let (_, body) = app
        .get(&format!("/api/backups/{id}"), Some(&carol.access))
        .await;
    let bytes = crate::media::download(&app, &body["data"]["downloadUrl"]).await;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let export: Value = serde_json::from_slice(&entry(&mut zip, "export.json")).unwrap();
    let chats = export["chats"].as_array().unwrap();
    assert_eq!(chats.len(), 1, "{export}");
    assert_eq!(chats[0]["id"], kept.as_str());
    let texts: Vec<&str> = chats[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "text" && m["isDeleted"] == false)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before carol left"], "{export}");
    let transcript_path = chats[0]["transcript"].as_str().unwrap().to_owned();
    let transcript = String::from_utf8(entry(&mut zip, &transcript_path)).unwrap();
    let deleted_lines: Vec<&str> = transcript
        .lines()
        .filter_map(|l| l.split_once(": This message was deleted").map(|(_, by)| by))
        .collect();
    assert_eq!(deleted_lines, [" by an admin", ""], "{transcript}");
    let members: Vec<&str> = chats[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        members.len(),
        2,
        "alice and bob, as she left them: {export}"
    );
    assert!(members.iter().all(|m| !m.starts_with("carol")), "{export}");
    app.stop().await;
}
