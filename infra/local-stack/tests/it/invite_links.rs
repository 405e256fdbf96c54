//! Group invite links (`services::invite_links`): admins make, reset and revoke them; a code
//! joins (REST or `chat:join`) unless it is revoked or expired, the group is full, or an admin
//! blocked the joiner or removed them (then only a link needing approval takes their request);
//! a link needing approval makes a request the admins answer, and the requester is told
//! through the event log.

use serde_json::{json, Value};

use crate::support::{read_qr, spawn_app, spawn_app_with, TestApp, User};

async fn make_link(app: &TestApp, by: &User, chat: &str, body: Value) -> (u16, Value) {
    app.post(
        &format!("/api/chats/{chat}/invite-link"),
        Some(&by.access),
        body,
    )
    .await
}

async fn follow(app: &TestApp, who: &User, code: &str) -> (u16, Value) {
    app.post(
        &format!("/api/invites/{code}/join"),
        Some(&who.access),
        json!({}),
    )
    .await
}

/// `by` approves `user`'s request to join `chat`: the status.
async fn approve(app: &TestApp, by: &User, chat: &str, user: &User) -> u16 {
    app.post(
        &format!("/api/chats/{chat}/join-requests/{}/approve", user.id),
        Some(&by.access),
        json!({}),
    )
    .await
    .0
}

/// The names of the events in `user`'s stream after `since`.
async fn events_since(app: &TestApp, user: &User, since: &str) -> Vec<Value> {
    app.settle().await;
    let (status, body) = app
        .get(&format!("/api/sync?since={since}"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["events"].as_array().unwrap().clone()
}

async fn cursor(app: &TestApp, user: &User) -> String {
    let (status, body) = app.get("/api/sync", Some(&user.access)).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["nextCursor"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn admins_make_reset_and_revoke_links_and_a_code_joins_until_then() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;

    // Only admins; someone outside cannot tell the group exists.
    assert_eq!(make_link(&app, &bob, &chat, json!({})).await.0, 403);
    assert_eq!(make_link(&app, &carol, &chat, json!({})).await.0, 404);
    let (status, body) = make_link(&app, &alice, &chat, json!({ "expiresInSeconds": 5 })).await;
    assert_eq!(status, 400, "an expiry under a minute: {body}");
    let (status, body) = make_link(&app, &alice, &chat, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 22);
    assert!(body["data"]["url"].as_str().unwrap().ends_with(&code));
    assert_eq!(body["data"]["requireApproval"], false);

    // Before following it, she sees which group it is: its name and size, not who is in it.
    let (status, preview) = app
        .get(&format!("/api/invites/{code}"), Some(&carol.access))
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (
            &preview["data"]["chatId"],
            &preview["data"]["name"],
            &preview["data"]["participantCount"],
            &preview["data"]["alreadyMember"],
            &preview["data"]["requireApproval"]
        ),
        (
            &json!(chat),
            &json!("club"),
            &json!(2),
            &json!(false),
            &json!(false)
        )
    );
    assert!(preview["data"].get("participants").is_none(), "{preview}");
    for unknown in ["AAAAAAAAAAAAAAAAAAAAAA", "short"] {
        let (status, _) = app
            .get(&format!("/api/invites/{unknown}"), Some(&carol.access))
            .await;
        assert_eq!(status, 404, "{unknown}");
    }

    // Following it joins, with the timeline and the members told.
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, body) = follow(&app, &carol, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "joined");
    assert_eq!(body["data"]["chat"]["id"], chat.as_str());
    let joined = bob_ws.next_event("chat:participant:joined").await;
    assert_eq!(joined["data"]["participant"]["id"], carol.id);
    assert_eq!(joined["data"].get("addedBy"), None, "she joined by herself");
    let system = bob_ws.next_event("message:received").await;
    assert_eq!(system["data"]["message"]["metadata"]["action"], "joined");
    let (_, preview) = app
        .get(&format!("/api/invites/{code}"), Some(&carol.access))
        .await;
    assert_eq!(
        (
            &preview["data"]["participantCount"],
            &preview["data"]["alreadyMember"]
        ),
        (&json!(3), &json!(true))
    );
    // Again: already a member, nothing changes.
    let (status, body) = follow(&app, &carol, &code).await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("joined"))
    );
    bob_ws
        .expect_silence(std::time::Duration::from_millis(300))
        .await;

    // A reset makes a new code; the old one stops working.
    let (_, body) = make_link(&app, &alice, &chat, json!({})).await;
    let new_code = body["data"]["code"].as_str().unwrap().to_owned();
    assert_ne!(new_code, code);
    assert_eq!(follow(&app, &dave, &code).await.0, 404);
    // Revoked: gone too, and revoking twice finds nothing.
    let (status, body) = app
        .delete(
            &format!("/api/chats/{chat}/invite-link"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["revoked"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(follow(&app, &dave, &new_code).await.0, 404);
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/invite-link"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);

    // Expired: refused.
    // (JSON Schema's integers include 60.0.)
    let (_, body) = make_link(&app, &alice, &chat, json!({ "expiresInSeconds": 60.0 })).await;
    let expiring = body["data"]["code"].as_str().unwrap().to_owned();
    assert!(body["data"]["expiresAt"].is_string());
    app.owner_db()
        .await
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE chat_invite_links SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(follow(&app, &dave, &expiring).await.0, 404);
    // Codes that cannot be one answer the same 404.
    for bad in ["short", "%2e%2e", &"x".repeat(64)] {
        assert_eq!(follow(&app, &dave, bad).await.0, 404, "{bad}");
    }

    // An admin who blocked someone keeps them out.
    let (_, body) = make_link(&app, &alice, &chat, json!({})).await;
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    app.block(&alice, &dave).await;
    let (status, body) = follow(&app, &dave, &code).await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains("club"), "no leak: {body}");
    app.stop().await;
}

#[tokio::test]
async fn a_full_group_refuses_the_code_and_chat_join_follows_it_over_the_websocket() {
    let app = spawn_app_with(|config| config.settings.max_group_members = 3).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let (_, body) = make_link(&app, &alice, &chat, json!({})).await;
    let code = body["data"]["code"].as_str().unwrap().to_owned();

    let mut carol_ws = app.ws(&carol.access).await;
    carol_ws
        .send_json(
            json!({ "action": "chat:join", "requestId": "j1", "data": { "inviteCode": code } }),
        )
        .await;
    let ack = carol_ws.answer_to("j1").await;
    assert_eq!(ack["event"], "ack", "{ack}");
    assert_eq!(ack["data"]["status"], "joined");
    assert_eq!(ack["data"]["chatId"], chat.as_str());
    carol_ws
        .send_json(json!({ "action": "chat:join", "requestId": "j2", "data": { "inviteCode": 7 } }))
        .await;
    let refused = carol_ws.answer_to("j2").await;
    assert_eq!(refused["event"], "error:general");
    assert_eq!(refused["data"]["code"], "VALIDATION_ERROR");

    let (status, body) = follow(&app, &dave, &code).await;
    assert_eq!(status, 409, "three members is full: {body}");
    let (_, details) = app
        .get(&format!("/api/chats/{chat}"), Some(&alice.access))
        .await;
    assert_eq!(details["data"]["participants"].as_array().unwrap().len(), 3);
    app.stop().await;
}

/// Someone an admin removed does not come back through the link by themselves: the link is
/// refused them (REST and `chat:join`) unless it asks the admins first, where they may ask; nor
/// does a member add them back. An admin adding them back clears it; someone who left by
/// themselves rejoins as before.
#[tokio::test]
async fn a_member_an_admin_removed_needs_an_admin_to_come_back() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_group(&alice, "club", &[&bob, &carol]).await;
    let (_, body) = make_link(&app, &alice, &chat, json!({})).await;
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    let remove = |who: &User| {
        let path = format!("/api/chats/{chat}/participants/{}", who.id);
        let admin = alice.access.clone();
        let app = &app;
        async move { app.delete(&path, &admin, json!({})).await.0 }
    };

    assert_eq!(remove(&bob).await, 200);
    let (status, body) = follow(&app, &bob, &code).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );
    let mut bob_ws = app.ws(&bob.access).await;
    let refused = bob_ws.act("chat:join", json!({ "inviteCode": code })).await;
    assert_eq!(refused["data"]["code"], "PERMISSION_DENIED", "{refused}");
    let (_, details) = app
        .get(&format!("/api/chats/{chat}"), Some(&alice.access))
        .await;
    assert_eq!(details["data"]["participants"].as_array().unwrap().len(), 2);

    // Through a link that asks the admins first, he may ask.
    let (_, body) = make_link(&app, &alice, &chat, json!({ "requireApproval": true })).await;
    let asking = body["data"]["code"].as_str().unwrap().to_owned();
    let (status, body) = follow(&app, &bob, &asking).await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("requested"))
    );

    // Nor does a member bring him back, even where members add: only an admin.
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}"),
            &alice.access,
            json!({ "permissions": { "addMembers": "all" } }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/participants"),
            Some(&carol.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );

    // Added back by an admin, he is a member like any other: whoever leaves by themselves (he
    // now, and carol) rejoins by the link.
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/participants"),
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let (_, body) = make_link(&app, &alice, &chat, json!({})).await;
    let open = body["data"]["code"].as_str().unwrap().to_owned();
    for who in [&bob, &carol] {
        let (status, body) = app
            .delete(&format!("/api/chats/{chat}"), &who.access, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = follow(&app, who, &open).await;
        assert_eq!(
            (status, body["data"]["status"].as_str()),
            (200, Some("joined")),
            "one who left by themselves: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_link_needing_approval_makes_requests_that_admins_answer_and_the_requester_is_told() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let (_, body) = make_link(&app, &alice, &chat, json!({ "requireApproval": true })).await;
    assert_eq!(body["data"]["requireApproval"], true);
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    let alice_since = cursor(&app, &alice).await;
    let carol_since = cursor(&app, &carol).await;
    let dave_since = cursor(&app, &dave).await;

    for who in [&carol, &dave] {
        let (status, body) = follow(&app, who, &code).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["status"], "requested");
        assert_eq!(body["data"].get("chat"), None, "not a member yet: {body}");
    }
    // Not a member while waiting.
    let (status, _) = app
        .get(&format!("/api/chats/{chat}"), Some(&carol.access))
        .await;
    assert_eq!(status, 404);
    // The admins see the requests, members do not.
    let requests = format!("/api/chats/{chat}/join-requests");
    assert_eq!(app.get(&requests, Some(&bob.access)).await.0, 403);
    let (status, body) = app.get(&requests, Some(&alice.access)).await;
    assert_eq!(status, 200, "{body}");
    let waiting: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userId"].as_str().unwrap())
        .collect();
    assert_eq!(waiting, [carol.id.as_str(), dave.id.as_str()]);
    let told: Vec<Value> = events_since(&app, &alice, &alice_since)
        .await
        .into_iter()
        .filter(|e| e["event"] == "chat:join_request")
        .collect();
    assert_eq!(told.len(), 2, "the admin is told of each request: {told:?}");
    assert_eq!(told[0]["data"]["userId"], carol.id);

    // Members cannot answer; admins approve one and reject the other.
    let answer = |user: &User, verdict: &str| {
        format!("/api/chats/{chat}/join-requests/{}/{verdict}", user.id)
    };
    assert_eq!(
        app.post(&answer(&carol, "approve"), Some(&bob.access), json!({}))
            .await
            .0,
        403
    );
    let (status, body) = app
        .post(&answer(&carol, "approve"), Some(&alice.access), json!({}))
        .await;
    assert_eq!(
        (status, body["data"]["approved"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (status, body) = app
        .post(&answer(&dave, "reject"), Some(&alice.access), json!({}))
        .await;
    assert_eq!(
        (status, body["data"]["approved"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    // Each request is answered once.
    assert_eq!(
        app.post(&answer(&dave, "approve"), Some(&alice.access), json!({}))
            .await
            .0,
        404
    );

    let (status, _) = app
        .get(&format!("/api/chats/{chat}"), Some(&carol.access))
        .await;
    assert_eq!(status, 200, "approved: a member");
    let (status, _) = app
        .get(&format!("/api/chats/{chat}"), Some(&dave.access))
        .await;
    assert_eq!(status, 404, "rejected: not one");
    let carol_events: Vec<String> = events_since(&app, &carol, &carol_since)
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        carol_events
            .iter()
            .any(|e| e == "chat:join_request:answered")
            && carol_events.iter().any(|e| e == "chat:participant:joined"),
        "{carol_events:?}"
    );
    let dave_events = events_since(&app, &dave, &dave_since).await;
    assert_eq!(dave_events.len(), 1, "{dave_events:?}");
    assert_eq!(dave_events[0]["event"], "chat:join_request:answered");
    assert_eq!(dave_events[0]["data"]["approved"], false);
    let (_, body) = app.get(&requests, Some(&alice.access)).await;
    assert_eq!(body["data"], json!([]));
    app.stop().await;
}

/// A requester takes back a request still waiting (WhatsApp's "Cancel request"), and every
/// admin's list of waiting requests follows each request's end: withdrawn, approved or
/// rejected by another admin (`chat:join_request:closed`).
#[tokio::test]
async fn a_requester_withdraws_a_waiting_request_and_every_admin_sees_requests_close() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let (status, _) = app
        .put(
            &format!("/api/chats/{chat}/participants/{}/role", bob.id),
            &alice.access,
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = make_link(&app, &alice, &chat, json!({ "requireApproval": true })).await;
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    for who in [&carol, &dave] {
        assert_eq!(
            follow(&app, who, &code).await.1["data"]["status"],
            "requested"
        );
    }
    let bob_since = cursor(&app, &bob).await;
    let carol_since = cursor(&app, &carol).await;

    let withdraw = format!("/api/chats/{chat}/join-request");
    let (status, body) = app.delete(&withdraw, &carol.access, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["withdrawn"], true);
    assert_eq!(
        app.delete(&withdraw, &carol.access, json!({})).await.0,
        404,
        "nothing left to withdraw"
    );
    let status = approve(&app, &alice, &chat, &carol).await;
    assert_eq!(
        status, 404,
        "a withdrawn request is no longer there to approve"
    );
    let status = approve(&app, &alice, &chat, &dave).await;
    assert_eq!(status, 200);

    let closed: Vec<(Value, Value)> = events_since(&app, &bob, &bob_since)
        .await
        .into_iter()
        .filter(|e| e["event"] == "chat:join_request:closed")
        .map(|e| (e["data"]["userId"].clone(), e["data"]["outcome"].clone()))
        .collect();
    assert_eq!(
        closed,
        [
            (json!(carol.id), json!("withdrawn")),
            (json!(dave.id), json!("approved"))
        ],
        "the other admin's list follows"
    );
    let carol_events = events_since(&app, &carol, &carol_since).await;
    assert_eq!(carol_events.len(), 1, "{carol_events:?}");
    assert_eq!(carol_events[0]["event"], "chat:join_request:closed");
    let (_, waiting) = app
        .get(
            &format!("/api/chats/{chat}/join-requests"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(waiting["data"], json!([]));
    // She may ask again; an admin who adds her directly closes her request: approving it
    // later would have made her join again, her history so far gone.
    assert_eq!(
        follow(&app, &carol, &code).await.1["data"]["status"],
        "requested"
    );
    let bob_since = cursor(&app, &bob).await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/participants"),
            Some(&alice.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200);
    let closed: Vec<Value> = events_since(&app, &bob, &bob_since)
        .await
        .into_iter()
        .filter(|e| e["event"] == "chat:join_request:closed")
        .map(|e| e["data"]["outcome"].clone())
        .collect();
    assert_eq!(closed, [json!("joined")]);
    let (_, waiting) = app
        .get(
            &format!("/api/chats/{chat}/join-requests"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(waiting["data"], json!([]));
    let status = approve(&app, &bob, &chat, &carol).await;
    assert_eq!(status, 404, "a member has no request to approve");
    let (status, _) = app
        .delete(
            &format!("/api/chats/{}/join-request", uuid::Uuid::new_v4()),
            &carol.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// An admin demoted while approving a request: the requester joins before the demotion or not
/// at all, never on the word of someone no longer admin.
#[tokio::test]
async fn an_admin_demoted_while_approving_approves_before_or_not_at_all() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    for round in 0..24 {
        let chat = app.open_group(&alice, "club", &[&bob]).await;
        let role = format!("/api/chats/{chat}/participants/{}/role", bob.id);
        let (status, _) = app
            .put(&role, &alice.access, json!({ "role": "admin" }))
            .await;
        assert_eq!(status, 200);
        let (_, body) = make_link(&app, &alice, &chat, json!({ "requireApproval": true })).await;
        let code = body["data"]["code"].as_str().unwrap().to_owned();
        follow(&app, &carol, &code).await;
        let ((demoted, _), approved) = tokio::join!(
            app.put(&role, &alice.access, json!({ "role": "member" })),
            approve(&app, &bob, &chat, &carol)
        );
        assert_eq!(demoted, 200);
        let (_, history) = app
            .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
            .await;
        let seq_of = |action: &str| {
            history["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["metadata"]["action"] == action)
                .map(|m| m["seq"].as_i64().unwrap())
                .max()
        };
        if approved == 200 {
            let (joined, demotion) = (seq_of("added").unwrap(), seq_of("role_changed").unwrap());
            assert!(
                joined < demotion,
                "round {round}: approved ({approved}) after the demotion: {history}"
            );
        } else {
            assert_eq!(approved, 403, "round {round}");
            assert_eq!(seq_of("added"), None, "round {round}");
        }
    }
    app.stop().await;
}

/// A group its last member left has ended: its links find nothing (a newcomer following one
/// was made its only member, and with no admin nobody could ever run it), and a request still
/// waiting is answered no.
#[tokio::test]
async fn a_group_everyone_left_is_over_its_links_and_waiting_requests_with_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let (_, body) = make_link(&app, &alice, &chat, json!({ "requireApproval": true })).await;
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    let (status, body) = follow(&app, &dave, &code).await;
    assert_eq!(
        (status, &body["data"]["status"]),
        (200, &json!("requested"))
    );
    let (_, body) = make_link(&app, &alice, &chat, json!({})).await;
    let open_code = body["data"]["code"].as_str().unwrap().to_owned();
    let since = cursor(&app, &dave).await;
    for member in [&alice, &bob] {
        let (status, body) = app
            .delete(&format!("/api/chats/{chat}"), &member.access, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    let (status, body) = app
        .get(&format!("/api/invites/{open_code}"), Some(&carol.access))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = follow(&app, &carol, &open_code).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app
        .get(&format!("/api/chats/{chat}"), Some(&carol.access))
        .await;
    assert_eq!(status, 404, "{body}");
    let answered: Vec<Value> = events_since(&app, &dave, &since)
        .await
        .into_iter()
        .filter(|e| e["event"] == "chat:join_request:answered")
        .collect();
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!(
        answered[0]["data"],
        json!({ "chatId": chat, "approved": false })
    );
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/join-request"),
            &dave.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "nothing waits any more");
    app.stop().await;
}

/// An admin demoted while making or revoking the group's link: the change waits for the group's
/// lock, which the demotion holds here (taken first, so the order is sure), and is then
/// refused; it is never made on the word of someone no longer admin.
#[tokio::test]
async fn an_admin_demoted_meanwhile_neither_makes_nor_revokes_the_link() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let (_, body) = make_link(&app, &alice, &chat, json!({})).await;
    let code = body["data"]["code"].clone();
    let link = format!("/api/chats/{chat}/invite-link");
    let role = format!("/api/chats/{chat}/participants/{}/role", bob.id);
    let ids: [uuid::Uuid; 2] = [chat.parse().unwrap(), bob.id.parse().unwrap()];
    for revoking in [false, true] {
        let (status, _) = app
            .put(&role, &alice.access, json!({ "role": "admin" }))
            .await;
        assert_eq!(status, 200);
        let mut owner = app.owner_db().await.get().await.unwrap();
        let demotion = owner.transaction().await.unwrap();
        demotion
            .query_one("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE", &[&ids[0]])
            .await
            .unwrap();
        let attempt = async {
            if revoking {
                app.delete(&link, &bob.access, json!({})).await
            } else {
                app.post(&link, Some(&bob.access), json!({})).await
            }
        };
        let demote = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            demotion
                .execute(
                    "UPDATE chat_participants SET role = 'member' WHERE chat_id = $1 AND user_id = $2",
                    &[&ids[0], &ids[1]],
                )
                .await
                .unwrap();
            demotion.commit().await.unwrap();
        };
        let ((status, body), ()) = tokio::join!(attempt, demote);
        assert_eq!(status, 403, "revoking: {revoking}: {body}");
        let (status, body) = app.get(&link, Some(&alice.access)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["code"], code,
            "the link alice made still works"
        );
    }
    app.stop().await;
}

/// The image at `path` (with the caller's token): its status, content type and bytes.
#[tokio::test]
async fn admins_get_the_link_as_a_qr_code_in_png_or_svg() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let qr = format!("/api/chats/{chat}/invite-link/qr");
    let (status, _, _) = app.get_file(&qr, &alice).await;
    assert_eq!(status, 404, "no link yet");
    let link = format!("/api/chats/{chat}/invite-link");
    assert_eq!(
        app.get(&link, Some(&alice.access)).await.0,
        404,
        "no link yet"
    );
    let (_, made) = make_link(&app, &alice, &chat, json!({ "requireApproval": true })).await;
    let url = made["data"]["url"].as_str().unwrap().to_owned();
    // Shown again as it is, not replaced: the code already given out keeps working.
    let (status, shown) = app.get(&link, Some(&alice.access)).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"], made["data"]);
    assert_eq!(
        app.get(&link, Some(&bob.access)).await.0,
        403,
        "admins only"
    );

    let (status, content_type, png) = app.get_file(&qr, &alice).await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    assert_eq!(read_qr(&png), url, "the PNG encodes the link");
    let (status, content_type, svg) = app.get_file(&format!("{qr}?format=svg"), &alice).await;
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    let (status, _, body) = app.get_file(&format!("{qr}?format=gif"), &alice).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    assert_eq!(
        app.get_file(&qr, &bob).await.0,
        403,
        "members do not see it"
    );
    assert_eq!(
        app.get_file(&qr, &carol).await.0,
        404,
        "outsiders do not see the group"
    );
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/invite-link"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get_file(&qr, &alice).await.0, 404, "revoked");
    app.stop().await;
}
