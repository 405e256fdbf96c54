//! Abuse reports: what is kept for moderators, who is reported, and blocking or leaving with it.

use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp, User};

const MODERATORS: &str = "moderators@banter.example";

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

/// The stored report `id`: who it names, and the text of the messages kept with it.
async fn stored(app: &TestApp, id: &str) -> (Option<uuid::Uuid>, Vec<String>) {
    let id: uuid::Uuid = id.parse().unwrap();
    let row = app
        .app()
        .db
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT reported_user_id, evidence FROM abuse_reports WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let evidence: Value = row.get("evidence");
    let texts = evidence
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    (row.get("reported_user_id"), texts)
}

async fn reports_stored(app: &TestApp) -> i64 {
    app.app()
        .db
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) AS n FROM abuse_reports", &[])
        .await
        .unwrap()
        .get("n")
}

#[tokio::test]
async fn reporting_a_chat_keeps_its_last_messages_and_can_block_the_sender() {
    let app =
        spawn_app_with(|c| c.settings.abuse_reports_email = Some(MODERATORS.to_owned())).await;
    let (me, spammer, stranger) = (
        app.register("rose").await,
        app.register("spam").await,
        app.register("stan").await,
    );
    let chat = app.open_chat(&spammer, &me).await;
    let mine = app.sent(&me, &chat, "who is this?").await;
    for i in 0..7 {
        app.sent(&spammer, &chat, &format!("buy now {i}")).await;
    }
    let elsewhere = app.open_chat(&spammer, &stranger).await;
    let theirs = app.sent(&stranger, &elsewhere, "not yours to see").await;

    let report = |extra: Value| {
        let mut body = json!({ "reason": "spam" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (body, expected, why) in [
        (
            report(json!({})),
            (400, "VALIDATION_ERROR"),
            "nothing named",
        ),
        (
            report(json!({ "messageId": mine })),
            (400, "VALIDATION_ERROR"),
            "a message without its chat",
        ),
        (
            report(json!({ "userId": me.id })),
            (400, "VALIDATION_ERROR"),
            "oneself",
        ),
        (
            json!({ "chatId": chat, "reason": "boredom" }),
            (400, "VALIDATION_ERROR"),
            "an unknown reason",
        ),
        (
            report(json!({ "chatId": chat, "comment": "x".repeat(501) })),
            (400, "VALIDATION_ERROR"),
            "a comment too long",
        ),
        (
            report(json!({ "chatId": chat, "messageId": mine })),
            (400, "VALIDATION_ERROR"),
            "one's own message",
        ),
        (
            report(json!({ "chatId": chat, "leave": true })),
            (400, "VALIDATION_ERROR"),
            "leaving a 1:1 chat",
        ),
        (
            report(json!({ "userId": uuid::Uuid::now_v7() })),
            (404, "RESOURCE_NOT_FOUND"),
            "nobody",
        ),
        (
            report(json!({ "chatId": elsewhere })),
            (404, "RESOURCE_NOT_FOUND"),
            "a chat the reporter is not in",
        ),
        (
            report(json!({ "chatId": chat, "messageId": theirs })),
            (404, "RESOURCE_NOT_FOUND"),
            "a message of another chat",
        ),
    ] {
        let (status, body) = app.post("/api/reports", Some(&me.access), body).await;
        assert_eq!(
            (status, code(&body)),
            (expected.0, Some(expected.1)),
            "{why}: {body}"
        );
    }
    assert_eq!(
        reports_stored(&app).await,
        0,
        "refused reports store nothing"
    );
    assert!(app.last_sent_to(MODERATORS).is_none(), "nor tell anyone");

    let (status, body) = app
        .post(
            "/api/reports",
            Some(&me.access),
            report(json!({ "chatId": chat, "block": true, "comment": "  ads all day  " })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let filed = &body["data"];
    assert_eq!(filed["reportedUserId"], spammer.id.as_str(), "the 1:1 peer");
    assert_eq!(filed["messagesIncluded"], 5);
    assert_eq!(filed["blocked"], true);
    let told = app
        .last_sent_to(MODERATORS)
        .expect("the moderators are told");
    assert_eq!(told.subject.as_deref(), Some("Banter abuse report: spam"));
    assert!(
        told.body.contains(filed["id"].as_str().unwrap()),
        "{}",
        told.body
    );
    assert!(
        !told.body.contains("buy now"),
        "the messages stay in the database: {}",
        told.body
    );
    let (reported, texts) = stored(&app, filed["id"].as_str().unwrap()).await;
    assert_eq!(reported.map(|u| u.to_string()), Some(spammer.id.clone()));
    assert_eq!(
        texts,
        (2..7).map(|i| format!("buy now {i}")).collect::<Vec<_>>(),
        "the last five messages, oldest first"
    );
    let (_, blocked) = app.get("/api/users/blocked", Some(&me.access)).await;
    assert_eq!(blocked["data"][0]["id"], spammer.id.as_str());
    // The blocked sender reaches the reporter no more (stored for him, as any message to
    // someone who blocks its sender, and never shown to her).
    let (status, _) = app.send_text(&spammer, &chat, "one more").await;
    assert_eq!(status, 201);
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&me.access))
        .await;
    let shown: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(
        shown.contains(&"buy now 6") && !shown.contains(&"one more"),
        "{shown:?}"
    );

    // Reported by user alone: their 1:1 chat is what the reporter saw.
    let (status, body) = app
        .post(
            "/api/reports",
            Some(&stranger.access),
            json!({ "userId": spammer.id, "reason": "scam" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, texts) = stored(&app, body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(texts, ["not yours to see"]);

    let (_, export) = app.get("/api/users/me/export", Some(&me.access)).await;
    let exported = &export["data"]["reports"];
    assert_eq!(exported.as_array().map(Vec::len), Some(1), "{exported}");
    assert_eq!(exported[0]["comment"], "ads all day", "trimmed");
    assert_eq!(exported[0]["reason"], "spam");
    app.stop().await;
}

#[tokio::test]
async fn reporting_a_group_message_names_its_sender_and_can_leave_the_group() {
    let app = spawn_app().await;
    let (admin, troll, me, outsider) = (
        app.register("gina").await,
        app.register("troll").await,
        app.register("mia").await,
        app.register("otto").await,
    );
    let group = app.open_group(&admin, "Book club", &[&troll, &me]).await;
    app.sent(&admin, &group, "welcome").await;
    let nasty = app.sent(&troll, &group, "something nasty").await;
    app.sent(&admin, &group, "please stop").await;

    let (status, body) = app
        .post(
            "/api/reports",
            Some(&outsider.access),
            json!({ "chatId": group, "messageId": nasty, "reason": "harassment" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (404, Some("RESOURCE_NOT_FOUND")),
        "only a reader of the group reports it"
    );
    let (status, body) = app
        .post(
            "/api/reports",
            Some(&me.access),
            json!({ "chatId": group, "reason": "harassment", "block": true }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("VALIDATION_ERROR")),
        "a group alone names nobody to block: {body}"
    );
    // Naming someone else than the sender, or someone never in the group: one person would be
    // held to account for what another wrote.
    for (named, why) in [
        (&admin, "the message is the troll's"),
        (&outsider, "otto was never in the group"),
    ] {
        let (status, body) = app
            .post(
                "/api/reports",
                Some(&me.access),
                json!({ "chatId": group, "messageId": nasty, "userId": named.id, "reason": "harassment" }),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (400, Some("VALIDATION_ERROR")),
            "{why}: {body}"
        );
    }
    let (status, body) = app
        .post(
            "/api/reports",
            Some(&me.access),
            json!({ "chatId": group, "userId": outsider.id, "reason": "spam" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("VALIDATION_ERROR")),
        "a group with someone never in it: {body}"
    );
    assert_eq!(
        reports_stored(&app).await,
        0,
        "refused reports store nothing"
    );

    let (status, body) = app
        .post(
            "/api/reports",
            Some(&me.access),
            json!({ "chatId": group, "messageId": nasty, "reason": "harassment", "leave": true }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["reportedUserId"], troll.id.as_str());
    assert_eq!(body["data"]["left"], true);
    let (_, texts) = stored(&app, body["data"]["id"].as_str().unwrap()).await;
    assert!(
        texts.contains(&"something nasty".to_owned()),
        "the reported message is kept: {texts:?}"
    );
    let (_, chat) = app
        .get(&format!("/api/chats/{group}"), Some(&me.access))
        .await;
    assert!(
        chat["data"]["leftAt"].is_string(),
        "the reporter left the group: {chat}"
    );
    let (status, body) = app
        .post(
            "/api/reports",
            Some(&me.access),
            json!({ "chatId": group, "reason": "other", "leave": true }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("VALIDATION_ERROR")),
        "a former member has nothing to leave"
    );
    let (status, _) = app
        .post(
            "/api/reports",
            Some(&me.access),
            json!({ "chatId": group, "reason": "other" }),
        )
        .await;
    assert_eq!(status, 201, "but still reports what they read");
    app.stop().await;
}

/// How `who` finds `whom`: (users found by searching their username, contacts matched by
/// importing a card with their verified address).
async fn discovered(app: &TestApp, who: &User, whom: &User) -> (usize, i64) {
    let (_, profile) = app
        .get(&format!("/api/users/{}", whom.id), Some(&who.access))
        .await;
    let username = profile["data"]["username"].as_str().unwrap().to_owned();
    let (_, search) = app
        .get(
            &format!("/api/users/search?query={username}"),
            Some(&who.access),
        )
        .await;
    let card = format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Them\r\nEMAIL:{}\r\nEND:VCARD\r\n",
        whom.email
    );
    let (status, imported) = app
        .post_text("/api/contacts/import", who, "text/vcard", card)
        .await;
    assert_eq!(status, 200, "{imported}");
    (
        search["data"]["users"].as_array().unwrap().len(),
        imported["data"]["matched"].as_i64().unwrap(),
    )
}

/// Invoke the moderators' function as IAM would let a moderator.
async fn moderate(app: &TestApp, request: Value) -> Result<Value, String> {
    app.stack.shared.invoke("ModerationFunction", request).await
}

#[tokio::test]
async fn moderators_read_the_reports_suspend_the_account_and_reinstate_it() {
    let app = spawn_app().await;
    let (me, spammer) = (app.register("rose").await, app.register("spam").await);
    app.verify_email(&spammer).await;
    let chat = app.open_chat(&spammer, &me).await;
    app.sent(&spammer, &chat, "buy now").await;
    let report = json!({ "reason": "spam", "chatId": chat, "comment": "again" });
    let (status, filed) = app.post("/api/reports", Some(&me.access), report).await;
    assert_eq!(status, 201, "{filed}");

    let reports = moderate(
        &app,
        json!({ "action": "reports", "reportedUserId": spammer.id }),
    )
    .await
    .unwrap();
    let [found] = reports.as_array().unwrap().as_slice() else {
        panic!("{reports}");
    };
    assert_eq!(found["id"], filed["data"]["id"]);
    assert_eq!(found["reporterId"], me.id.as_str());
    assert_eq!(found["comment"], "again");
    assert_eq!(found["evidence"][0]["content"], "buy now");
    assert_eq!(found["reportedUserSuspended"], false);
    assert_eq!(found["resolution"], Value::Null, "open");
    let none = moderate(
        &app,
        json!({ "action": "reports", "reportedUserId": me.id }),
    )
    .await
    .unwrap();
    assert_eq!(none, json!([]));

    let mut spammer_ws = app.ws(&spammer.access).await;
    let suspended = moderate(
        &app,
        json!({ "action": "suspend", "userId": spammer.id, "reason": "spam" }),
    )
    .await
    .unwrap();
    assert_eq!(suspended["changed"], true);
    assert_eq!(suspended["sessionsRevoked"], 1);
    assert_eq!(
        suspended["reportsResolved"], 1,
        "the report about it is dealt with"
    );
    assert!(
        crate::identity::closed(&mut spammer_ws).await,
        "its socket closes"
    );
    let (status, _) = app.send_text(&spammer, &chat, "more spam").await;
    assert_eq!(status, 401, "its tokens stop working");
    let login = |password: &str| json!({ "email": spammer.email, "password": password });
    let (status, body) = app
        .post("/api/auth/login", None, login("correct horse battery"))
        .await;
    assert_eq!(
        (status, code(&body)),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    let (status, body) = app.post("/api/auth/login", None, login("a guess")).await;
    assert_eq!(
        (status, code(&body)),
        (401, Some("INVALID_CREDENTIALS")),
        "a wrong password learns nothing of it"
    );
    assert_eq!(
        app.last_sent_to(&spammer.email).unwrap().subject.as_deref(),
        Some("Your Banter account is suspended")
    );
    let again = moderate(
        &app,
        json!({ "action": "suspend", "userId": spammer.id, "reason": "spam" }),
    )
    .await
    .unwrap();
    assert_eq!(
        (&again["changed"], &again["sessionsRevoked"]),
        (&json!(false), &json!(0))
    );
    let open = moderate(&app, json!({ "action": "reports" }))
        .await
        .unwrap();
    assert_eq!(open, json!([]), "nothing left to review");
    let reports = moderate(&app, json!({ "action": "reports", "status": "resolved" }))
        .await
        .unwrap();
    assert_eq!(reports[0]["reportedUserSuspended"], true);
    assert_eq!(reports[0]["resolution"]["outcome"], "actioned");
    assert_eq!(reports[0]["resolution"]["note"], "spam");
    assert_eq!(
        discovered(&app, &me, &spammer).await,
        (0, 0),
        "nobody finds it"
    );

    let reinstated = moderate(&app, json!({ "action": "reinstate", "userId": spammer.id }))
        .await
        .unwrap();
    assert_eq!(reinstated["changed"], true);
    let (status, _) = app
        .post("/api/auth/login", None, login("correct horse battery"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(discovered(&app, &me, &spammer).await, (1, 1), "found again");

    // Bad requests change nothing.
    for bad in [
        json!({ "action": "suspend", "userId": uuid::Uuid::new_v4(), "reason": "spam" }),
        json!({ "action": "suspend", "userId": me.id, "reason": "  " }),
        json!({ "action": "suspend", "userId": me.id }),
        json!({ "action": "ban", "userId": me.id }),
        json!({ "action": "reports", "limit": 0 }),
        json!({ "action": "reports", "status": "closed" }),
        json!({ "action": "resolve", "reportId": uuid::Uuid::new_v4(), "outcome": "dismissed" }),
        json!({ "action": "resolve", "reportId": filed["data"]["id"], "outcome": "ignored" }),
        json!({ "action": "resolve", "reportId": filed["data"]["id"], "outcome": "dismissed",
                "note": "x".repeat(501) }),
    ] {
        assert!(moderate(&app, bad.clone()).await.is_err(), "{bad}");
    }
    let (status, _) = app.get("/api/users/profile", Some(&me.access)).await;
    assert_eq!(status, 200, "the reporter was never suspended");
    let all = moderate(&app, json!({ "action": "reports", "status": "all" }))
        .await
        .unwrap();
    assert_eq!(all[0]["resolution"]["outcome"], "actioned", "{all}");
    app.stop().await;
}

#[tokio::test]
async fn moderators_work_through_the_open_reports_and_a_later_decision_replaces_an_earlier() {
    let app = spawn_app().await;
    let (me, joker, other) = (
        app.register("rose").await,
        app.register("joker").await,
        app.register("other").await,
    );
    let chat = app.open_chat(&joker, &me).await;
    app.sent(&joker, &chat, "boo").await;
    let mut filed = Vec::new();
    for (reported, reason) in [(&joker, "harassment"), (&other, "spam")] {
        let report = json!({ "reason": reason, "userId": reported.id });
        let (status, body) = app.post("/api/reports", Some(&me.access), report).await;
        assert_eq!(status, 201, "{body}");
        filed.push(body["data"]["id"].as_str().unwrap().to_owned());
    }
    let open = moderate(&app, json!({ "action": "reports" }))
        .await
        .unwrap();
    assert_eq!(open.as_array().unwrap().len(), 2, "{open}");

    let dismissed = moderate(
        &app,
        json!({ "action": "resolve", "reportId": filed[0], "outcome": "dismissed",
                "note": "  a joke between friends  " }),
    )
    .await
    .unwrap();
    assert_eq!(dismissed["id"], filed[0].as_str());
    assert_eq!(dismissed["resolution"]["outcome"], "dismissed");
    assert_eq!(dismissed["resolution"]["note"], "a joke between friends");
    assert_eq!(dismissed["reason"], "harassment", "the report as filed");
    let open = moderate(&app, json!({ "action": "reports" }))
        .await
        .unwrap();
    let [left] = open.as_array().unwrap().as_slice() else {
        panic!("{open}");
    };
    assert_eq!(left["id"], filed[1].as_str());
    let resolved = moderate(&app, json!({ "action": "reports", "status": "resolved" }))
        .await
        .unwrap();
    assert_eq!(resolved.as_array().unwrap().len(), 1);
    assert_eq!(resolved[0]["id"], filed[0].as_str());

    // Looked at again: actioned after all, without a note.
    let changed = moderate(
        &app,
        json!({ "action": "resolve", "reportId": filed[0], "outcome": "actioned" }),
    )
    .await
    .unwrap();
    assert_eq!(changed["resolution"]["outcome"], "actioned");
    assert_eq!(changed["resolution"]["note"], Value::Null);
    // Suspending an account resolves only the open reports about it.
    let suspended = moderate(
        &app,
        json!({ "action": "suspend", "userId": joker.id, "reason": "threats" }),
    )
    .await
    .unwrap();
    assert_eq!(suspended["reportsResolved"], 0);
    let open = moderate(&app, json!({ "action": "reports" }))
        .await
        .unwrap();
    assert_eq!(
        open[0]["id"],
        filed[1].as_str(),
        "the other report is still open"
    );
    app.stop().await;
}

/// Operators tell every account of maintenance, or a notice (the PRD's `system:maintenance` and
/// `system:notification`), through the moderators' function: a connected device gets it live,
/// one that was away finds it in sync. One that says nothing, or ends before it starts or is
/// already over, is refused and tells nobody.
#[tokio::test]
async fn operators_tell_every_account_of_maintenance_and_notices() {
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let bob_since = crate::sync::present(&app, &bob).await;
    let mut ann_ws = app.ws(&ann.access).await;
    let maintenance = json!({ "action": "maintenance", "message": " Down for an upgrade ",
        "startsAt": "2099-01-10T02:00:00Z", "endsAt": "2099-01-10T02:30:00Z" });
    let told = moderate(&app, maintenance).await.unwrap();
    assert_eq!(
        told,
        json!({ "event": "system:maintenance", "accounts": 2 })
    );
    let live = ann_ws.next_event("system:maintenance").await;
    assert_eq!(live["data"]["message"], "Down for an upgrade");
    assert_eq!(live["data"]["startsAt"], "2099-01-10T02:00:00.000Z");
    assert_eq!(live["data"]["endsAt"], "2099-01-10T02:30:00.000Z");
    assert!(live["cursor"].is_string(), "{live}");
    for (refused, why) in [
        (
            json!({ "action": "notify", "message": "   " }),
            "an empty message",
        ),
        (
            json!({ "action": "notify", "message": "x".repeat(1_001) }),
            "too long",
        ),
        (
            json!({ "action": "notify", "title": "t".repeat(101), "message": "x" }),
            "a title too long",
        ),
        (
            json!({ "action": "maintenance", "message": "x",
                "startsAt": "2099-01-10T02:00:00Z", "endsAt": "2099-01-10T01:00:00Z" }),
            "it ends before it starts",
        ),
        (
            json!({ "action": "maintenance", "message": "x", "endsAt": "2020-01-01T00:00:00Z" }),
            "it is over",
        ),
    ] {
        assert!(moderate(&app, refused).await.is_err(), "{why}");
    }
    let notice = json!({ "action": "notify", "title": "New", "message": "Polls are here" });
    let told = moderate(&app, notice).await.unwrap();
    assert_eq!(told["event"], "system:notification");
    let live = ann_ws.next_event("system:notification").await;
    assert_eq!(live["data"]["title"], "New");

    let (events, _) = crate::sync::sync_all(&app, &bob, &bob_since).await;
    let synced: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            let message = e["data"]["message"].as_str().unwrap_or_default();
            (e["event"].as_str().unwrap(), message)
        })
        .collect();
    assert_eq!(
        synced,
        [
            ("system:maintenance", "Down for an upgrade"),
            ("system:notification", "Polls are here")
        ]
    );
    app.stop().await;
}
