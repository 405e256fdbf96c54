//! The use cases called directly, with typed requests and typed answers, against the stack's
//! database and ports: what a handler would get, without the HTTP around it.

use banter_core::api::extract::json_value;
use banter_core::api::models::{ChatType, MessageStatus, ParticipantRole};
use banter_core::api::requests::{
    ChatListQuery, CreateChatRequest, HistoryQuery, SendMessageRequest,
};
use banter_core::auth::tokens::Caller;
use banter_core::services::{chats, messaging};
use serde_json::json;
use uuid::Uuid;

use crate::support::{spawn_app, TestApp, User};

fn caller(app: &TestApp, user: &User) -> Caller {
    app.app().tokens.verify_access(&user.access).unwrap()
}

fn text(client_message_id: &str, content: &str) -> SendMessageRequest {
    json_value(json!({ "clientMessageId": client_message_id, "content": content })).unwrap()
}

#[tokio::test]
async fn a_group_is_created_with_its_roles_and_listed_first() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let request: CreateChatRequest = json_value(json!({
        "type": "group", "name": "  Trip  ", "description": "   ",
        "participantIds": [bob.id, carol.id, bob.id, alice.id],
    }))
    .unwrap();
    let opened = chats::create(app.app(), caller(&app, &alice), request)
        .await
        .unwrap();
    assert!(opened.created);
    let chat = opened.chat;
    assert_eq!(
        (chat.kind, chat.name.as_deref()),
        (ChatType::Group, Some("Trip"))
    );
    assert_eq!(chat.description, None, "only spaces is no description");
    assert_eq!(
        chat.participants.len(),
        3,
        "duplicates and the creator counted once"
    );
    let role_of = |user: &User| {
        chat.participants
            .iter()
            .find(|p| p.id.to_string() == user.id)
            .map(|p| p.role)
    };
    assert_eq!(role_of(&alice), Some(ParticipantRole::Admin));
    assert_eq!(role_of(&carol), Some(ParticipantRole::Member));

    let page = chats::list(
        app.app(),
        caller(&app, &bob),
        json_value::<ChatListQuery>(json!({})).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, chat.id);
    assert_eq!(
        (page.pagination.total, page.pagination.next_offset),
        (1, None)
    );
    app.stop().await;
}

#[tokio::test]
async fn sends_are_idempotent_and_history_pages_between_two_messages() {
    let app = spawn_app().await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let chat: Uuid = app.open_chat(&alice, &bob).await.parse().unwrap();
    let me = caller(&app, &alice);
    let mut sent = Vec::new();
    for i in 1..=5 {
        let m = messaging::send(
            app.app(),
            me,
            chat,
            text(&format!("m{i}"), &format!("#{i}")),
            None,
        )
        .await
        .unwrap();
        assert_eq!((m.seq, m.status), (i, MessageStatus::Sent));
        sent.push(m);
    }
    let again = messaging::send(app.app(), me, chat, text("m3", "changed"), None)
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.content.as_deref()),
        (sent[2].id, Some("#3"))
    );

    let between: HistoryQuery = json_value(json!({})).unwrap();
    let between = HistoryQuery {
        before: Some(sent[4].id),
        after: Some(sent[0].id),
        ..between
    };
    let page = messaging::history(app.app(), caller(&app, &bob), chat, between)
        .await
        .unwrap();
    let seqs: Vec<i64> = page.items.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [2, 3, 4], "strictly between, oldest first");
    assert_eq!(page.pagination.before, Some(sent[1].id));

    let stranger = app.register("eve").await;
    let refused = messaging::send(
        app.app(),
        caller(&app, &stranger),
        chat,
        text("e", "hi"),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status(), 404, "not a member looks like no chat");
    app.stop().await;
}

#[tokio::test]
async fn unread_counts_read_at_most_a_thousand_messages_per_chat() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let unread = |token: String| {
        let app = &app;
        async move { app.get("/api/chats", Some(&token)).await.1["data"][0]["unreadCount"].clone() }
    };
    for i in 0..3 {
        app.post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": format!("m{i}"), "content": "hi" }),
        )
        .await;
    }
    assert_eq!(unread(bob.access.clone()).await, 3);
    assert_eq!(
        unread(alice.access.clone()).await,
        0,
        "one's own messages are not unread"
    );
    // A long backlog: the count stops at the cap instead of reading every message.
    let chat_id: uuid::Uuid = chat.parse().unwrap();
    let sender: uuid::Uuid = alice.id.parse().unwrap();
    app.app()
        .db
        .get()
        .await
        .unwrap()
        .batch_execute(&format!(
            "INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, content)
             SELECT gen_random_uuid(), '{chat_id}', '{sender}', 'bulk-' || n, 3 + n, 'x'
             FROM generate_series(1, 1500) n;
             UPDATE chat_sequences SET last_seq = 1503 WHERE chat_id = '{chat_id}';"
        ))
        .await
        .unwrap();
    assert_eq!(
        unread(bob.access.clone()).await,
        banter_core::db::chats::UNREAD_COUNT_CAP
    );
    app.stop().await;
}

/// A transaction the database ended so that others may go on (a deadlock's victim, a
/// serialization failure, a lock or a statement out of time) answers 503 `DATABASE_ERROR`,
/// worth retrying; a statement that fails on its own is still a bug (500).
#[tokio::test]
async fn a_transaction_the_database_ended_is_worth_retrying() {
    use banter_core::error::{ApiError, ErrorCode};
    let app = spawn_app().await;
    let client = app.app().db.get().await.unwrap();
    let answered = |e: tokio_postgres::Error| {
        let e = ApiError::from(e);
        (e.status(), e.error_code())
    };
    for code in ["40P01", "40001", "55P03", "57014"] {
        let raised = client
            .batch_execute(&format!(
                "DO $$ BEGIN RAISE EXCEPTION 'ended' USING ERRCODE = '{code}'; END $$"
            ))
            .await
            .unwrap_err();
        assert_eq!(answered(raised), (503, ErrorCode::DatabaseError), "{code}");
    }
    let failed = client.batch_execute("SELECT 1 / 0").await.unwrap_err();
    assert_eq!(answered(failed), (500, ErrorCode::InternalServerError));
    app.stop().await;
}
