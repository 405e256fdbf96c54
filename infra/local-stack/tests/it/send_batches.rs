//! Group commit for sends (`db::send_batches`): messages stored in one statement each get their
//! own outcome, the accepted ones take their chats' next seqs with no gap, and their events
//! follow the order they were sent in; concurrent sends through the batcher are stored once each.

use banter_core::config::Limit;
use banter_core::db::messages::{self, NewMessage, RateLimitHit, Stored};
use futures_util::future::join_all;
use serde_json::json;
use uuid::Uuid;

use std::time::Duration;

use crate::support::{spawn_app, wait_until, TestApp, User};

fn message(chat: &str, from: &User, client_id: &str) -> NewMessage {
    NewMessage {
        id: Uuid::now_v7(),
        chat_id: chat.parse().unwrap(),
        sender_id: from.id.parse().unwrap(),
        client_message_id: client_id.to_owned(),
        kind: "text".into(),
        content: Some(format!("text of {client_id}")),
        reply_to: None,
        metadata: Default::default(),
        media_id: None,
        mentions: Vec::new(),
        forward_of: None,
        view_once: false,
        origin_connection: None,
        rate_limit: None,
    }
}

/// The outcome's name, and the stored message's `(id, seq)` when it was created.
fn describe(outcome: &Option<Stored>) -> (&'static str, Option<(Uuid, i64)>) {
    match outcome {
        Some(Stored::Created { message, .. }) => ("created", Some((message.id, message.seq))),
        Some(Stored::Existing { .. }) => ("existing", None),
        Some(Stored::NotMember) => ("not member", None),
        Some(Stored::AdminsOnly) => ("admins only", None),
        Some(Stored::BadReply) => ("bad reply", None),
        Some(Stored::Blocked) => ("blocked", None),
        Some(Stored::PartnerGone) => ("partner gone", None),
        Some(Stored::IdReusedElsewhere) => ("reused elsewhere", None),
        Some(Stored::BadMedia) => ("bad media", None),
        Some(Stored::BadMentions) => ("bad mentions", None),
        Some(Stored::RateLimited { .. }) => ("rate limited", None),
        None => ("raced", None),
    }
}

/// The message ids of a chat's `message:received` events, in log order.
async fn received_events(app: &TestApp, chat: &str) -> Vec<Uuid> {
    let client = app.app().db.get().await.unwrap();
    client
        .query(
            "SELECT message_id FROM events WHERE chat_id = $1 AND name = 'message:received'
             ORDER BY xid, id",
            &[&chat.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("message_id"))
        .collect()
}

#[tokio::test]
async fn one_batch_judges_each_message_on_its_own_and_numbers_the_accepted_without_gaps() {
    let app = spawn_app().await;
    let (ann, bob, cid) = (
        app.register("ann").await,
        app.register("bob").await,
        app.register("cid").await,
    );
    let ab = app.open_chat(&ann, &bob).await;
    let ac = app.open_chat(&ann, &cid).await;
    let (status, first) = app.send_text(&ann, &ab, "first").await;
    assert_eq!(status, 201, "{first}");
    let (status, elsewhere) = app.send_text(&ann, &ac, "elsewhere").await;
    assert_eq!(status, 201, "{elsewhere}");
    let elsewhere: Uuid = elsewhere["data"]["id"].as_str().unwrap().parse().unwrap();

    let bad_reply = NewMessage {
        reply_to: Some(elsewhere),
        ..message(&ab, &ann, "bad reply")
    };
    let bad_mention = NewMessage {
        mentions: vec![cid.id.parse().unwrap()],
        ..message(&ab, &ann, "bad mention")
    };
    let batch = [
        message(&ab, &ann, "one"),
        message(&ab, &cid, "outsider"),
        message(&ab, &ann, "two"),
        bad_reply,
        message(&ab, &ann, "first"),
        message(&ac, &ann, "to cid"),
        bad_mention,
        message(&ab, &bob, "three"),
    ];
    let client = app.app().db.get().await.unwrap();
    let batch: Vec<&NewMessage> = batch.iter().collect();
    let outcomes = messages::insert_many(&client, &batch).await.unwrap();
    drop(client);
    let described: Vec<_> = outcomes.iter().map(describe).collect();
    let names: Vec<&str> = described.iter().map(|d| d.0).collect();
    assert_eq!(
        names,
        [
            "created",
            "not member",
            "created",
            "bad reply",
            "existing",
            "created",
            "bad mentions",
            "created"
        ]
    );
    // ab had "first" (seq 1): its three accepted messages take 2, 3, 4 in the order given, the
    // refused ones none; ac had "elsewhere" (seq 1).
    let seqs: Vec<i64> = described.iter().filter_map(|d| d.1.map(|c| c.1)).collect();
    assert_eq!(seqs, [2, 3, 2, 4]);
    let created: Vec<Uuid> = described.iter().filter_map(|d| d.1.map(|c| c.0)).collect();
    let in_ab = received_events(&app, &ab).await;
    assert_eq!(in_ab.len(), 4, "first, then the three accepted");
    assert_eq!(in_ab[1..], [created[0], created[1], created[3]]);
    assert_eq!(received_events(&app, &ac).await[1..], [created[2]]);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_sends_through_the_batcher_are_each_stored_once() {
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    // Forty messages, each sent twice at the same moment (a client retrying), from both sides.
    let sends = (0..80).map(|i| {
        let from = if i % 4 < 2 { &ann } else { &bob };
        let m = message(&chat, from, &format!("m{}", i / 2));
        let sends = app.app().sends.clone();
        async move { sends.insert_or_find(m).await.unwrap() }
    });
    let outcomes: Vec<Stored> = join_all(sends).await;
    let mut created = Vec::new();
    for pair in outcomes.chunks(2) {
        let ids: Vec<Uuid> = pair
            .iter()
            .map(|o| match o {
                Stored::Created { message, .. } => {
                    created.push(message.seq);
                    message.id
                }
                Stored::Existing { id } => *id,
                _ => panic!("a send was refused"),
            })
            .collect();
        assert_eq!(
            ids[0], ids[1],
            "both sends of one clientMessageId find one message"
        );
    }
    created.sort();
    assert_eq!(
        created,
        (1..=40).collect::<Vec<i64>>(),
        "one seq each, no gap"
    );
    assert_eq!(received_events(&app, &chat).await.len(), 40);
    app.stop().await;
}

/// The batcher keeps one connection. When the server ends it between sends (a restart, Neon
/// suspending an idle compute), the next send is stored on a new one, not answered 503: right
/// after the end (the closed connection not yet noticed, so its statement fails and is asked
/// again) and once it is noticed.
#[tokio::test]
async fn a_send_after_the_server_ended_the_batchers_connection_is_stored() {
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    let owner = app.owner_db().await;
    let owner = owner.get().await.unwrap();
    for (round, settle) in [(0, Duration::ZERO), (1, Duration::from_millis(300))] {
        app.sent(&ann, &chat, &format!("before {round}")).await;
        let ended = owner
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND query LIKE 'WITH input AS%'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>("n");
        assert_eq!(
            ended, 1,
            "the batcher's connection, found by its last statement"
        );
        tokio::time::sleep(settle).await;
        let (status, body) = app.send_text(&ann, &chat, &format!("after {round}")).await;
        assert_eq!(status, 201, "round {round}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_batch_counts_each_message_against_its_senders_rate_limit_in_order() {
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    let limited = |from: &User, client_id: &str| NewMessage {
        rate_limit: Some(RateLimitHit {
            bucket: format!("test:{}", from.id),
            limit: Limit::new(3, 3_600),
        }),
        ..message(&chat, from, client_id)
    };
    let client = app.app().db.get().await.unwrap();
    let first = [limited(&ann, "a1"), limited(&ann, "a2")];
    let first: Vec<&NewMessage> = first.iter().collect();
    let outcomes = messages::insert_many(&client, &first).await.unwrap();
    assert_eq!(
        outcomes.iter().map(|o| describe(o).0).collect::<Vec<_>>(),
        ["created", "created"]
    );
    // Ann has one send left in her window: the first of her next three takes it, in order;
    // Bob counts against his own bucket, and a message with no limit is never refused.
    let second = [
        limited(&ann, "a3"),
        limited(&bob, "b1"),
        limited(&ann, "a4"),
        message(&chat, &ann, "unlimited"),
        limited(&ann, "a5"),
    ];
    let second: Vec<&NewMessage> = second.iter().collect();
    let outcomes = messages::insert_many(&client, &second).await.unwrap();
    assert_eq!(
        outcomes.iter().map(|o| describe(o).0).collect::<Vec<_>>(),
        [
            "created",
            "created",
            "rate limited",
            "created",
            "rate limited"
        ]
    );
    let Some(Stored::RateLimited { retry_after_secs }) = &outcomes[2] else {
        unreachable!()
    };
    assert!(
        (1..=3_600).contains(retry_after_secs),
        "retry within the window: {retry_after_secs}"
    );
    // The refused ones count too, as a refused single send does.
    let hits: i32 = client
        .query_one(
            "SELECT hits FROM rate_limit_counters WHERE bucket = $1",
            &[&format!("test:{}", ann.id)],
        )
        .await
        .unwrap()
        .get("hits");
    assert_eq!(hits, 5);
    drop(client);
    // Nothing refused was stored: ann's four and bob's one, seqs without a gap.
    assert_eq!(received_events(&app, &chat).await.len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn keyed_lookups_keep_to_the_indexes_of_small_tables_and_nothing_is_jit_compiled() {
    let app = spawn_app().await;
    let mut client = app.app().db.get().await.unwrap();
    let jit: String = client.query_one("SHOW jit", &[]).await.unwrap().get(0);
    assert_eq!(
        jit, "off",
        "V29 turns JIT off for the database's connections"
    );

    // A lookup by key on a table of a few rows: PostgreSQL's own choice is to read the whole
    // table (or a bitmap of it), which stays the plan after the table has grown. (The table's
    // statistics say so; on a table never analyzed the planner guesses its size from its row
    // width, and a wider row made it guess an index scan.)
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    app.open_chat(&ann, &bob).await;
    let owner = app.owner_db().await;
    owner
        .get()
        .await
        .unwrap()
        .batch_execute("ANALYZE chat_participants")
        .await
        .unwrap();
    let lookup = "EXPLAIN SELECT user_id FROM chat_participants WHERE chat_id = ANY($1::uuid[])";
    let plan = |rows: Vec<tokio_postgres::Row>| -> String {
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let chats: Vec<Uuid> = vec![Uuid::now_v7()];
    let own = plan(client.query(lookup, &[&chats]).await.unwrap());
    assert!(
        !own.contains("Scan using"),
        "without the settings the small table is not read by index, so this test shows what \
         they change:\n{own}"
    );
    // For one transaction, as a relay round takes them.
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(concat!("SELECT ", banter_core::keyed_lookup_plans!("true")))
        .await
        .unwrap();
    let keyed = plan(tx.query(lookup, &[&chats]).await.unwrap());
    assert!(
        keyed.contains("Scan using chat_participants_pkey")
            && !keyed.contains("Seq Scan")
            && !keyed.contains("Bitmap"),
        "with them, an index scan:\n{keyed}"
    );
}

/// A relay round reads the messages its events carry on one generic plan cached on its
/// connection (its transaction's settings keep that plan to the indexes), where sync, without
/// them, plans the read for each call and leaves nothing cached. The cached plan, made while
/// the table held one message, still looks each message up by its id once the table has grown.
#[tokio::test]
async fn a_relay_round_reads_messages_on_a_cached_plan_and_sync_plans_each_read() {
    use banter_core::db::Planning;
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    let (status, sent) = app.send_text(&ann, &chat, "hello").await;
    assert_eq!(status, 201, "{sent}");
    let id: Uuid = sent["data"]["id"].as_str().unwrap().parse().unwrap();
    // A few messages more, and the table's statistics taken then, as autovacuum takes them in
    // a new deployment's first minutes: on so small a table a full scan of an index can look
    // cheaper to the planner than looking ids up.
    for n in 0..10 {
        assert_eq!(app.send_text(&bob, &chat, &format!("hi {n}")).await.0, 201);
    }
    let owner = app.owner_db().await;
    owner
        .get()
        .await
        .unwrap()
        .batch_execute("ANALYZE messages")
        .await
        .unwrap();
    let mut client = app.app().db.get().await.unwrap();
    // `messages::by_ids`, as `pg_prepared_statements` holds it.
    let by_ids_statement =
        "statement LIKE '%wanted.id OFFSET 0) m%(m.expires_at IS NULL OR m.expires_at > now())'";
    let by_id_plans = format!(
        "SELECT coalesce(sum(generic_plans), 0)::int8 AS generic, count(*) AS statements
         FROM pg_prepared_statements WHERE {by_ids_statement}"
    );
    let counts = |row: tokio_postgres::Row| {
        (
            row.get::<_, i64>("generic"),
            row.get::<_, i64>("statements"),
        )
    };

    // The relay may have lent this connection its cached read already.
    let before = counts(client.query_one(&by_id_plans, &[]).await.unwrap());
    let found = messages::by_ids(&client, &[id], Planning::PerCall)
        .await
        .unwrap();
    assert_eq!(found[&id].content.as_deref(), Some("hello"));
    assert_eq!(
        counts(client.query_one(&by_id_plans, &[]).await.unwrap()),
        before,
        "planned for the call, nothing kept or run from a cache"
    );

    let tx = client.transaction().await.unwrap();
    tx.batch_execute(concat!("SELECT ", banter_core::keyed_lookup_plans!("true")))
        .await
        .unwrap();
    for _ in 0..2 {
        let found = messages::by_ids(&tx, &[id], Planning::KeyedLookups)
            .await
            .unwrap();
        assert_eq!(found[&id].content.as_deref(), Some("hello"));
    }
    assert_eq!(
        counts(tx.query_one(&by_id_plans, &[]).await.unwrap()),
        (before.0 + 2, 1),
        "one statement, run twice more on its generic plan"
    );

    // 20,000 more messages (committed by the owner: this transaction's next statements see
    // them), then the cached plan runs again: a plan that read the table, or a whole index of
    // it, would touch hundreds of pages.
    owner
        .get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, type, content)
             SELECT gen_random_uuid(), $1, sender_id, 'grown-' || s, 1000 + s, 'text', 'grown'
             FROM messages, generate_series(1, 20000) s WHERE id = $2",
            &[&chat.parse::<Uuid>().unwrap(), &id],
        )
        .await
        .unwrap();
    let name: String = tx
        .query_one(
            &format!("SELECT name FROM pg_prepared_statements WHERE {by_ids_statement}"),
            &[],
        )
        .await
        .unwrap()
        .get("name");
    let plan: Vec<String> = tx
        .query(
            &format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) EXECUTE {name}('{{{id}}}')"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    let pages: i64 = plan
        .lines()
        .find_map(|l| l.trim().strip_prefix("Buffers: "))
        .map(|b| {
            b.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<i64>().ok())
                .sum()
        })
        .unwrap_or(0);
    assert!(
        pages > 0 && pages < 50,
        "one message read by key, {pages} pages:\n{plan}"
    );
    tx.rollback().await.unwrap();
    app.stop().await;
}

/// Whether the two people of a 1:1 chat block each other is looked up by their keys: a send
/// reads the blocks of its sender, not every block in the database (an OR of the two ways
/// could only be served by one scan over all of them, which the batcher's plans chose).
#[tokio::test]
async fn a_send_looks_up_the_blocks_of_its_sender_not_every_block() {
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    // 30 other people, each blocking the 29 others: 870 blocks that concern neither ann nor bob.
    let owner = app.owner_db().await;
    let owner = owner.get().await.unwrap();
    with_other_users(
        &owner,
        30,
        "INSERT INTO user_relationships (user_id, related_user_id, relationship_type)
         SELECT a.id, b.id, 'blocked' FROM users a JOIN users b ON a.id <> b.id
         WHERE a.username LIKE 'other%' AND b.username LIKE 'other%'",
    )
    .await;
    let (status, first) = app.send_text(&ann, &chat, "first").await;
    assert_eq!(status, 201, "{first}");
    let read =
        index_reads_of_five_more_sends(&app, &owner, &ann, &chat, &["user_relationships"]).await;
    assert!(
        read < 100,
        "five sends read {read} index entries of user_relationships (870 blocks exist, none of ann's)"
    );
    app.stop().await;
}

/// `count` users named `other1`, `other2`... who concern no one in the test, then `then` (SQL
/// that gives them something of their own).
async fn with_other_users(owner: &tokio_postgres::Client, count: i32, then: &str) {
    owner
        .execute(
            "INSERT INTO users (id, email, username, password_hash)
             SELECT gen_random_uuid(), 'other' || i || '@example.test', 'other' || i, 'x'
             FROM generate_series(1, $1) i",
            &[&count],
        )
        .await
        .unwrap();
    owner.batch_execute(then).await.unwrap();
}

/// The index entries of `tables` that five more sends from `from` read, after the one message
/// the test has sent so far.
async fn index_reads_of_five_more_sends(
    app: &TestApp,
    owner: &tokio_postgres::Client,
    from: &User,
    chat: &str,
    tables: &[&str],
) -> i64 {
    let before = index_reads_once_reported(owner, tables, 1).await;
    for n in 0..5 {
        let (status, sent) = app.send_text(from, chat, &format!("more {n}")).await;
        assert_eq!(status, 201, "{sent}");
    }
    index_reads_once_reported(owner, tables, 6).await - before
}

/// The index entries of `tables` read so far, once the statistics count `inserted` messages (the
/// batcher's backend reports its counts together when it is idle, within seconds).
async fn index_reads_once_reported(
    owner: &tokio_postgres::Client,
    tables: &[&str],
    inserted: i64,
) -> i64 {
    let read = std::cell::Cell::new(0);
    let read_ref = &read;
    wait_until(
        "the batcher reported its statistics",
        Duration::from_secs(30),
        || async move {
            let row = owner
                .query_one(
                    "SELECT (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'messages')
                                AS inserted,
                            (SELECT sum(idx_tup_read)::int8 FROM pg_stat_user_indexes
                             WHERE relname = ANY($1)) AS read",
                    &[&tables],
                )
                .await
                .unwrap();
            read_ref.set(row.get::<_, Option<i64>>("read").unwrap_or(0));
            row.get::<_, i64>("inserted") >= inserted
        },
    )
    .await;
    read.get()
}

/// A send reads its own chat's rows: the sender's membership by chat and user, and the chat's
/// sequence by chat, whatever the tables held when the batcher planned its statement. Planned
/// on a few chats, the membership came from the index of the sender's active chats (all of
/// them read, for someone in hundreds of groups) and the sequences from one scan of every
/// chat's.
#[tokio::test]
async fn a_send_reads_its_own_chats_rows_not_every_chat_of_its_sender() {
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    let (status, first) = app.send_text(&ann, &chat, "first").await;
    assert_eq!(status, 201, "{first}");
    // Then ann is in 300 groups more.
    let owner = app.owner_db().await;
    let owner = owner.get().await.unwrap();
    owner
        .execute(
            "WITH made AS (
                 INSERT INTO chats (id, type, name, created_by)
                 SELECT gen_random_uuid(), 'group', 'group ' || i, $1 FROM generate_series(1, 300) i
                 RETURNING id
             )
             INSERT INTO chat_participants (chat_id, user_id) SELECT id, $1 FROM made",
            &[&ann.id.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let tables = ["chat_participants", "chat_sequences"];
    let read = index_reads_of_five_more_sends(&app, &owner, &ann, &chat, &tables).await;
    assert!(
        read < 100,
        "five sends read {read} index entries of chat_participants and chat_sequences \
         (ann is in 301 chats)"
    );
    app.stop().await;
}

/// A send looks its sender's membership, its sender's name and the message it replies to up by
/// key, whatever PostgreSQL's statistics said when the batcher planned its statement. Planned
/// while the statistics counted two memberships, the membership was a join that read every
/// membership of every chat for each batch (and kept doing so as the table grew, until the
/// next ANALYZE).
#[tokio::test]
async fn a_send_planned_on_a_few_members_reads_only_its_own_membership() {
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    let owner = app.owner_db().await;
    let owner = owner.get().await.unwrap();
    // Statistics of two memberships, kept (no autovacuum's ANALYZE makes PostgreSQL plan again).
    owner
        .batch_execute(
            "ALTER TABLE chat_participants SET (autovacuum_enabled = off);
             ALTER TABLE users SET (autovacuum_enabled = off);
             ANALYZE chat_participants, chats, users, messages",
        )
        .await
        .unwrap();
    let (status, first) = app.send_text(&ann, &chat, "first").await;
    assert_eq!(status, 201, "{first}");
    // Then 300 other people in a group of their own: memberships and users that concern
    // neither ann nor bob.
    with_other_users(
        &owner,
        300,
        "WITH made AS (INSERT INTO chats (id, type, name) VALUES (gen_random_uuid(), 'group', 'others')
                       RETURNING id)
         INSERT INTO chat_participants (chat_id, user_id)
         SELECT made.id, u.id FROM made, users u WHERE u.username LIKE 'other%'",
    )
    .await;
    let read =
        index_reads_of_five_more_sends(&app, &owner, &ann, &chat, &["chat_participants", "users"])
            .await;
    assert!(
        read < 100,
        "five sends read {read} index entries of chat_participants and users (302 memberships)"
    );
    app.stop().await;
}

/// A receipt replaces its user's earlier one for the same chat by looking that one up by user
/// and chat, whatever the log held when the statement was planned: planned while the log held
/// no receipts, a join of the new receipts with the log was one scan over every receipt in it,
/// which it kept doing as the log grew.
#[tokio::test]
async fn a_receipt_replaces_its_users_earlier_one_without_reading_everyone_elses() {
    use banter_core::db::events;
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    let receipt = |seq: i64| json!({ "chatId": chat, "messageId": Uuid::now_v7(), "seq": seq, "deliveredTo": [bob.id] });
    let ann_id: Uuid = ann.id.parse().unwrap();
    let bob_id: Uuid = bob.id.parse().unwrap();
    let mut client = app.app().db.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    // As a relay round runs it; planned now, while the log holds no receipts.
    tx.batch_execute(concat!("SELECT ", banter_core::keyed_lookup_plans!("true")))
        .await
        .unwrap();
    events::append_receipts(
        &tx,
        "message:delivered",
        "deliveredTo",
        &[(bob_id, receipt(1))],
        None,
    )
    .await
    .unwrap();
    // Then 300 other people get a delivery receipt each.
    let owner = app.owner_db().await;
    let owner = owner.get().await.unwrap();
    with_other_users(
        &owner,
        300,
        "INSERT INTO events (user_id, name, data)
         SELECT id, 'message:delivered',
                jsonb_build_object('chatId', gen_random_uuid(), 'deliveredTo', jsonb_build_array(id))
         FROM users WHERE username LIKE 'other%'",
    )
    .await;
    let fetched = "SELECT coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relname = 'events'";
    for seq in 1..=3 {
        let before: i64 = tx.query_one(fetched, &[]).await.unwrap().get("n");
        events::append_receipts(
            &tx,
            "message:delivered",
            "deliveredTo",
            &[(ann_id, receipt(seq))],
            None,
        )
        .await
        .unwrap();
        let read = tx.query_one(fetched, &[]).await.unwrap().get::<_, i64>("n") - before;
        assert!(
            read <= 2,
            "receipt {seq} read {read} events (300 other users have receipts)"
        );
    }
    let kept: Vec<i64> = tx
        .query(
            "SELECT (data->>'seq')::int8 AS seq FROM events WHERE user_id = $1 AND name = 'message:delivered'",
            &[&ann_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("seq"))
        .collect();
    assert_eq!(kept, vec![3], "each receipt replaced the one before");
    tx.rollback().await.unwrap();
    app.stop().await;
}
