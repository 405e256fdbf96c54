//! Polls: a message of type `poll` asks a question; members vote, change their vote or take it
//! back, and every member's devices get `message:poll:voted` live and through sync.

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, User};

async fn send_poll(
    app: &TestApp,
    from: &User,
    chat: &str,
    question: &str,
    metadata: Value,
) -> (u16, Value) {
    let body = json!({
        "clientMessageId": uuid::Uuid::new_v4(),
        "type": "poll",
        "content": question,
        "metadata": metadata,
    });
    app.post(
        &format!("/api/chats/{chat}/messages"),
        Some(&from.access),
        body,
    )
    .await
}

async fn vote(app: &TestApp, who: &User, chat: &str, poll: &str, options: Value) -> (u16, Value) {
    let path = format!("/api/chats/{chat}/messages/{poll}/poll/vote");
    app.request(
        reqwest::Method::PUT,
        &path,
        Some(&who.access),
        Some(json!({ "options": options })),
    )
    .await
}

async fn results(app: &TestApp, who: &User, chat: &str, poll: &str) -> (u16, Value) {
    app.get(
        &format!("/api/chats/{chat}/messages/{poll}/poll"),
        Some(&who.access),
    )
    .await
}

#[tokio::test]
async fn members_vote_change_and_take_back_and_everyone_sees_the_counts() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let outsider = app.register("outsider").await;
    let chat = app.open_group(&alice, "lunch club", &[&bob, &carol]).await;

    let (status, body) = send_poll(
        &app,
        &alice,
        &chat,
        "Lunch?",
        json!({ "options": ["Pizza"] }),
    )
    .await;
    assert_eq!(status, 400, "one answer is no poll: {body}");
    let (status, sent) = send_poll(
        &app,
        &alice,
        &chat,
        "Lunch?",
        json!({ "options": ["Pizza", "Sushi", "Salad"] }),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let poll = sent["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(sent["data"]["type"], "poll");
    assert_eq!(sent["data"]["content"], "Lunch?");
    assert_eq!(
        sent["data"]["metadata"],
        json!({ "options": ["Pizza", "Sushi", "Salad"], "multipleAnswers": false })
    );
    app.relay_caught_up().await;
    let (_, now) = app.get("/api/sync", Some(&carol.access)).await;
    let cursor = now["data"]["nextCursor"].as_str().unwrap().to_owned();
    let mut carol_ws = app.ws(&carol.access).await;

    let (status, voted) = vote(&app, &bob, &chat, &poll, json!([1])).await;
    assert_eq!(status, 200, "{voted}");
    assert_eq!(voted["data"]["myOptions"], json!([1]));
    assert_eq!(voted["data"]["voters"], 1);
    let event = carol_ws.next_event("message:poll:voted").await;
    assert_eq!(event["data"]["userId"], bob.id.as_str());
    assert_eq!(event["data"]["options"], json!([1]));
    assert_eq!(event["data"]["votes"], json!([0, 1, 0]));
    // Changing the vote moves it; the same vote again changes nothing and tells nobody.
    let (status, _) = vote(&app, &bob, &chat, &poll, json!([2])).await;
    assert_eq!(status, 200);
    assert_eq!(
        carol_ws.next_event("message:poll:voted").await["data"]["votes"],
        json!([0, 0, 1])
    );
    let (status, _) = vote(&app, &bob, &chat, &poll, json!([2])).await;
    assert_eq!(status, 200);
    let (status, _) = vote(&app, &carol, &chat, &poll, json!([2])).await;
    assert_eq!(status, 200);
    let (_, seen) = results(&app, &alice, &chat, &poll).await;
    let salad = &seen["data"]["options"][2];
    assert_eq!(salad["text"], "Salad");
    assert_eq!(salad["votes"], 2);
    assert_eq!(
        salad["voterIds"],
        json!([bob.id, carol.id]),
        "earliest first"
    );
    assert_eq!(seen["data"]["voters"], 2);
    assert_eq!(seen["data"]["myOptions"], json!([]));
    assert_eq!(seen["data"]["question"], "Lunch?");

    // One answer in this poll; answers it has; each once.
    for (bad, why) in [
        (json!([0, 1]), "one answer"),
        (json!([3]), "no such answer"),
        (json!([-1]), "an index"),
        (json!("0"), "a list"),
    ] {
        let (status, body) = vote(&app, &bob, &chat, &poll, bad).await;
        assert_eq!(status, 400, "{why}: {body}");
    }
    // Bob takes his vote back.
    let (status, body) = vote(&app, &bob, &chat, &poll, json!([])).await;
    assert_eq!((status, &body["data"]["voters"]), (200, &json!(1)));
    // Sync tells it all, in order, without the unchanged vote (once the last vote is below
    // the horizon: the relay has passed it).
    app.relay_caught_up().await;
    let (_, synced) = app
        .get(
            &format!("/api/sync?since={cursor}&limit=100"),
            Some(&carol.access),
        )
        .await;
    let votes: Vec<(Value, Value)> = synced["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "message:poll:voted")
        .map(|e| (e["data"]["userId"].clone(), e["data"]["options"].clone()))
        .collect();
    assert_eq!(
        votes,
        [
            (json!(bob.id), json!([1])),
            (json!(bob.id), json!([2])),
            (json!(carol.id), json!([2])),
            (json!(bob.id), json!([])),
        ]
    );

    // A poll with several answers each.
    let (_, sent) = send_poll(
        &app,
        &alice,
        &chat,
        "Which days?",
        json!({ "options": ["Mon", "Tue", "Wed"], "multipleAnswers": true }),
    )
    .await;
    let days = sent["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = vote(&app, &bob, &chat, &days, json!([2, 0])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["myOptions"], json!([0, 2]));
    let (status, _) = vote(&app, &bob, &chat, &days, json!([0, 0])).await;
    assert_eq!(status, 400, "an answer once");

    // Not a poll; not a member.
    let text = app.sent(&alice, &chat, "plain text").await;
    assert_eq!(vote(&app, &bob, &chat, &text, json!([0])).await.0, 404);
    assert_eq!(results(&app, &bob, &chat, &text).await.0, 404);
    assert_eq!(vote(&app, &outsider, &chat, &poll, json!([0])).await.0, 404);
    assert_eq!(results(&app, &outsider, &chat, &poll).await.0, 404);
    // A member who left keeps what they saw, and votes no more.
    let (status, _) = app
        .delete(&format!("/api/chats/{chat}"), &carol.access, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(vote(&app, &carol, &chat, &poll, json!([0])).await.0, 403);
    assert_eq!(results(&app, &carol, &chat, &poll).await.0, 200);

    // Bob's votes are in his export; deleted for everyone, the poll's votes are gone.
    let (_, export) = app.get("/api/users/me/export", Some(&bob.access)).await;
    let exported = export["data"]["pollVotes"].as_array().unwrap();
    assert_eq!(exported.len(), 1, "{exported:?}");
    assert_eq!(exported[0]["messageId"], days.as_str());
    assert_eq!(exported[0]["options"], json!([0, 2]));
    let everyone = json!({ "deleteForEveryone": true });
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/messages/{days}"),
            &alice.access,
            everyone,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(vote(&app, &bob, &chat, &days, json!([1])).await.0, 403);
    let db = app.app().db.get().await.unwrap();
    let left: i64 = db
        .query_one(
            "SELECT count(*) AS n FROM poll_votes WHERE message_id = $1",
            &[&days.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_blocked_chat_takes_no_votes_and_a_forwarded_poll_starts_empty() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (status, sent) = send_poll(
        &app,
        &alice,
        &chat,
        "Tea or coffee?",
        json!({ "options": ["Tea", "Coffee"] }),
    )
    .await;
    assert_eq!(status, 201);
    let poll = sent["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(vote(&app, &bob, &chat, &poll, json!([0])).await.0, 200);
    let group = app.open_group(&bob, "elsewhere", &[&alice]).await;
    let (status, forwarded) = app
        .post(
            &format!("/api/chats/{chat}/messages/{poll}/forward"),
            Some(&bob.access),
            json!({ "chatIds": [group] }),
        )
        .await;
    assert_eq!(status, 200, "{forwarded}");
    let copy = forwarded["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, copied) = results(&app, &alice, &group, &copy).await;
    assert_eq!(copied["data"]["question"], "Tea or coffee?");
    assert_eq!(copied["data"]["voters"], 0);

    app.block(&alice, &bob).await;
    let (status, body) = vote(&app, &bob, &chat, &poll, json!([1])).await;
    assert_eq!(status, 403, "{body}");
    let (_, seen) = results(&app, &alice, &chat, &poll).await;
    assert_eq!(seen["data"]["options"][0]["votes"], 1, "unchanged");
    app.stop().await;
}

#[tokio::test]
async fn a_vote_over_the_websocket_is_the_rest_route_and_its_connection_is_not_told_twice() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let metadata = json!({ "options": ["Tea", "Coffee"], "multipleAnswers": true });
    let (_, sent) = send_poll(&app, &alice, &chat, "Tea or coffee?", metadata).await;
    let poll = sent["data"]["id"].as_str().unwrap().to_owned();
    app.relay_caught_up().await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let ballot = json!({ "chatId": chat, "messageId": poll, "options": [1, 0] });
    let ack = bob_ws.act("message:poll:vote", ballot).await;
    assert_eq!(ack["event"], "ack", "{ack}");
    assert_eq!(ack["data"]["myOptions"], json!([0, 1]));
    assert_eq!(ack["data"]["voters"], 1);
    let told = alice_ws.next_event("message:poll:voted").await;
    assert_eq!(told["data"]["votes"], json!([1, 1]));
    app.relay_caught_up().await;
    bob_ws
        .expect_silence(std::time::Duration::from_millis(300))
        .await;
    for bad in [
        json!({ "chatId": chat, "messageId": poll, "options": [2] }),
        json!({ "chatId": chat, "messageId": poll, "options": [0], "extra": 1 }),
        json!({ "chatId": chat, "messageId": poll }),
    ] {
        let answer = bob_ws.act("message:poll:vote", bad.clone()).await;
        assert_eq!(answer["event"], "error:general", "{bad}: {answer}");
    }
    app.stop().await;
}

/// Votes per answer and who cast them, as `who` reads the poll.
async fn standing(app: &TestApp, who: &User, chat: &str, poll: &str) -> Vec<(i64, Value)> {
    let (status, body) = results(app, who, chat, poll).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["votes"].as_i64().unwrap(), o["voterIds"].clone()))
        .collect()
}

#[tokio::test]
async fn a_former_member_reads_the_votes_as_they_stood_when_they_left() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "club", &[&bob, &carol, &dave]).await;
    let (_, sent) = send_poll(
        &app,
        &alice,
        &chat,
        "When?",
        json!({ "options": ["Mon", "Tue", "Wed"] }),
    )
    .await;
    let poll = sent["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(vote(&app, &bob, &chat, &poll, json!([0])).await.0, 200);
    // Flipping before anyone leaves keeps no history.
    assert_eq!(vote(&app, &dave, &chat, &poll, json!([1])).await.0, 200);
    assert_eq!(vote(&app, &dave, &chat, &poll, json!([0])).await.0, 200);
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/participants/{}", carol.id),
            &carol.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "Carol leaves and keeps the group");
    let as_she_left = standing(&app, &carol, &chat, &poll).await;
    assert_eq!(
        as_she_left,
        [
            (2, json!([bob.id, dave.id])),
            (0, json!([])),
            (0, json!([])),
        ]
    );

    // After she left: Bob moves his vote twice, Dave takes his back, Alice votes.
    assert_eq!(vote(&app, &bob, &chat, &poll, json!([1])).await.0, 200);
    assert_eq!(vote(&app, &bob, &chat, &poll, json!([2])).await.0, 200);
    assert_eq!(vote(&app, &dave, &chat, &poll, json!([])).await.0, 200);
    assert_eq!(vote(&app, &alice, &chat, &poll, json!([2])).await.0, 200);
    assert_eq!(
        standing(&app, &alice, &chat, &poll).await,
        [
            (0, json!([])),
            (0, json!([])),
            (2, json!([bob.id, alice.id])),
        ]
    );
    assert_eq!(
        standing(&app, &carol, &chat, &poll).await,
        as_she_left,
        "nothing since she left"
    );
    let (_, seen) = results(&app, &carol, &chat, &poll).await;
    assert_eq!(seen["data"]["voters"], 2);

    // Kept: the two votes that stood when she left; Bob's vote for Tue, cast and withdrawn
    // after, and Dave's for Tue, withdrawn before, are gone.
    let db = app.app().db.get().await.unwrap();
    let rows: Vec<(uuid::Uuid, i16, bool)> = db
        .query(
            "SELECT user_id, option_index, withdrawn_at IS NULL AS current FROM poll_votes
             WHERE message_id = $1 ORDER BY voted_at, user_id",
            &[&poll.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let id = |u: &User| u.id.parse::<uuid::Uuid>().unwrap();
    assert_eq!(
        rows,
        [
            (id(&bob), 0, false),
            (id(&dave), 0, false),
            (id(&bob), 2, true),
            (id(&alice), 2, true),
        ]
    );
    // A member's export holds their current votes only.
    let (_, export) = app.get("/api/users/me/export", Some(&bob.access)).await;
    assert_eq!(export["data"]["pollVotes"][0]["options"], json!([2]));
    app.stop().await;
}

/// A group's poll counts every vote for everyone (as `message:poll:voted` does), but who voted
/// leaves out, for a member, someone they blocked when that one voted: as their reactions are.
#[tokio::test]
async fn a_blocked_members_vote_counts_but_is_not_named_to_the_blocker() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&carol, "club", &[&alice, &bob]).await;
    let (status, sent) = send_poll(
        &app,
        &carol,
        &group,
        "Tea or coffee?",
        json!({ "options": ["Tea", "Coffee"] }),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let poll = sent["data"]["id"].as_str().unwrap().to_owned();
    app.block(&alice, &bob).await;
    assert_eq!(vote(&app, &bob, &group, &poll, json!([0])).await.0, 200);
    let (_, to_alice) = results(&app, &alice, &group, &poll).await;
    assert_eq!(to_alice["data"]["options"][0]["votes"], 1, "{to_alice}");
    assert_eq!(
        to_alice["data"]["options"][0]["voterIds"],
        json!([]),
        "{to_alice}"
    );
    assert_eq!(to_alice["data"]["voters"], 1, "{to_alice}");
    let (_, to_carol) = results(&app, &carol, &group, &poll).await;
    assert_eq!(
        to_carol["data"]["options"][0]["voterIds"],
        json!([bob.id]),
        "{to_carol}"
    );
    app.stop().await;
}
