//! The schema's own guarantees, read from PostgreSQL's catalog.

use crate::support::spawn_app;

#[tokio::test]
async fn what_refers_to_a_message_a_chat_or_a_user_is_found_by_index_when_it_is_deleted() {
    // Deleting a message or a chat makes PostgreSQL look up, per deleted row, every row that
    // refers to it by foreign key; without an index leading with the referring columns, each
    // look-up reads the whole referring table (on 200,000 messages and their events, erasing
    // 200 disappearing messages took 11.7 s, and 21 ms with V30's indexes). Erasing an account
    // deletes its user (on 1,000,000 events, 89 ms, and 2.1 ms with V31's).
    let app = spawn_app().await;
    let db = app.owner_db().await;
    let client = db.get().await.unwrap();
    let unindexed: Vec<String> = client
        .query(
            "SELECT c.conrelid::regclass::text || '.' || c.conname AS fk
             FROM pg_constraint c
             WHERE c.contype = 'f'
               AND c.confrelid IN ('messages'::regclass, 'chats'::regclass, 'users'::regclass)
               AND NOT EXISTS (
                   SELECT 1 FROM pg_index i
                   WHERE i.indrelid = c.conrelid AND i.indnkeyatts >= cardinality(c.conkey)
                     AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                     AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("fk"))
        .collect();
    assert!(
        unindexed.is_empty(),
        "foreign keys to messages, chats or users with no index leading with their columns: {unindexed:?}"
    );
    app.stop().await;
}

/// How many rows of the log name `id` in `column`.
async fn events_naming(client: &tokio_postgres::Client, column: &str, id: uuid::Uuid) -> i64 {
    client
        .query_one(
            &format!("SELECT count(*) AS n FROM events WHERE {column} = $1"),
            &[&id],
        )
        .await
        .unwrap()
        .get("n")
}

#[tokio::test]
async fn the_log_forgets_deleted_messages_chats_and_users() {
    // The log's references are kept by triggers on the deleting side (V32), as its foreign keys
    // did: a deleted message or chat takes its events, an erased user their stream, and they
    // are named as nobody's actor any more.
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_chat(&alice, &bob).await;
    let other = app.open_chat(&alice, &carol).await;
    let gone: uuid::Uuid = app
        .sent(&alice, &chat, "to be deleted")
        .await
        .parse()
        .unwrap();
    let kept: uuid::Uuid = app
        .sent(&bob, &chat, "outlives its sender")
        .await
        .parse()
        .unwrap();
    app.sent(&alice, &other, "in a chat to be deleted").await;
    let (bob_id, chat_id, other_id): (uuid::Uuid, uuid::Uuid, uuid::Uuid) = (
        bob.id.parse().unwrap(),
        chat.parse().unwrap(),
        other.parse().unwrap(),
    );
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages/{kept}/read"),
            Some(&alice.access),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let db = app.owner_db().await;
    let client = db.get().await.unwrap();
    assert_eq!(events_naming(&client, "message_id", gone).await, 1);
    assert!(events_naming(&client, "actor_id", bob_id).await > 0);
    assert!(
        events_naming(&client, "user_id", bob_id).await > 0,
        "alice's read receipt is in bob's stream"
    );
    assert!(events_naming(&client, "chat_id", other_id).await > 0);

    client
        .execute("DELETE FROM messages WHERE id = $1", &[&gone])
        .await
        .unwrap();
    assert_eq!(
        events_naming(&client, "message_id", gone).await,
        0,
        "a deleted message's events go with it"
    );
    client
        .execute("DELETE FROM chats WHERE id = $1", &[&other_id])
        .await
        .unwrap();
    assert_eq!(
        events_naming(&client, "chat_id", other_id).await,
        0,
        "a deleted chat's events go with it"
    );

    let (status, body) = app
        .delete(
            "/api/users/me",
            &bob.access,
            serde_json::json!({ "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        events_naming(&client, "user_id", bob_id).await,
        0,
        "an erased user's stream goes"
    );
    assert_eq!(
        events_naming(&client, "actor_id", bob_id).await,
        0,
        "and names them as nobody's actor"
    );
    assert_eq!(
        events_naming(&client, "message_id", kept).await,
        1,
        "the message bob sent stays in alice's chat, and so does its event"
    );
    assert!(events_naming(&client, "chat_id", chat_id).await > 0);
    app.stop().await;
}
