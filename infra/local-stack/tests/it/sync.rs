//! The event stream: `/api/sync` and `/ws?since=` read the same log the relay pushes from, in
//! cursor order, without skipping an event that commits late, within membership windows, with
//! one row per chat event; a send is delivered even when the queue refuses its wake-up.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use banter_core::api::extract::json_value;
use banter_core::ports::Absent;
use banter_core::services::{messaging, relay};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{spawn_app, spawn_app_with, wait_until, TestApp, User, WsClient};

/// Sync from `since` to the end, once what was committed before is readable: every event, the
/// final cursor.
pub async fn sync_all(app: &TestApp, user: &User, since: &str) -> (Vec<Value>, String) {
    app.settle().await;
    sync_now(app, user, since).await
}

/// `from` sends `id` (as its text too) to `chat`, stored without waking the relay: it runs only
/// when the test says.
async fn send_unannounced(
    app: &TestApp,
    from: &User,
    chat: Uuid,
    id: &str,
) -> banter_core::api::models::Message {
    let mut quiet = app.app().clone();
    quiet.ports.queue = Arc::new(Absent("delivery queue"));
    let caller = app.app().tokens.verify_access(&from.access).unwrap();
    let body = json_value(json!({ "clientMessageId": id, "content": id })).unwrap();
    messaging::send(&quiet, caller, chat, body, None)
        .await
        .unwrap()
}

/// Sync from `since` to the end as things stand.
async fn sync_now(app: &TestApp, user: &User, since: &str) -> (Vec<Value>, String) {
    sync_in_pages_of(app, user, since, 100).await
}

/// [`sync_now`] in pages of `limit` events.
async fn sync_in_pages_of(
    app: &TestApp,
    user: &User,
    since: &str,
    limit: usize,
) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    let mut cursor = since.to_owned();
    loop {
        let (status, body) = app
            .get(
                &format!("/api/sync?since={cursor}&limit={limit}"),
                Some(&user.access),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        events.extend(body["data"]["events"].as_array().unwrap().iter().cloned());
        cursor = body["data"]["nextCursor"].as_str().unwrap().to_owned();
        if body["data"]["hasMore"] != true {
            return (events, cursor);
        }
    }
}

pub async fn present(app: &TestApp, user: &User) -> String {
    app.settle().await;
    let (status, body) = app.get("/api/sync", Some(&user.access)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["events"],
        json!([]),
        "from the present: nothing yet"
    );
    body["data"]["nextCursor"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, from: &User, chat: &str, id: &str) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&from.access),
            json!({ "clientMessageId": id, "content": format!("text of {id}") }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

fn contents(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "message:received")
        .map(|e| e["data"]["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_offline_device_syncs_what_it_missed_and_counts_as_delivered() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let since = present(&app, &bob).await;
    for i in 0..3 {
        send(&app, &alice, &chat, &format!("m{i}")).await;
    }
    let (events, cursor) = sync_all(&app, &bob, &since).await;
    assert_eq!(
        contents(&events),
        ["text of m0", "text of m1", "text of m2"]
    );
    let cursors: Vec<&str> = events
        .iter()
        .map(|e| e["cursor"].as_str().unwrap())
        .collect();
    assert_eq!(
        cursors.iter().collect::<HashSet<_>>().len(),
        cursors.len(),
        "unique cursors"
    );
    // Nothing again from the returned cursor.
    let (again, _) = sync_all(&app, &bob, &cursor).await;
    assert!(contents(&again).is_empty(), "{again:?}");
    // Listed by sync = delivered: Alice's history and her own stream say so, once.
    wait_until(
        "the receipt is recorded",
        Duration::from_secs(3),
        || async {
            let (_, history) = app
                .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
                .await;
            history["data"][2]["status"] == "delivered"
        },
    )
    .await;
    let (alice_events, _) = sync_all(&app, &alice, &since).await;
    let delivered: Vec<&Value> = alice_events
        .iter()
        .filter(|e| e["event"] == "message:delivered")
        .collect();
    assert_eq!(
        delivered.len(),
        1,
        "one notice for the batch: {alice_events:?}"
    );
    assert_eq!(delivered[0]["data"]["seq"], 3);
    assert_eq!(delivered[0]["data"]["deliveredTo"], json!([bob.id]));
    // A cursor the server never gave is refused.
    let (status, body) = app.get("/api/sync?since=banana", Some(&bob.access)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    app.stop().await;
}

/// A device that never syncs (a client written against the PRD alone) reads what it missed
/// from the history: the messages it loads count as delivered, and the sender is told once.
#[tokio::test]
async fn a_device_that_loads_the_history_counts_as_delivered() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let since = present(&app, &alice).await;
    for i in 0..3 {
        send(&app, &alice, &chat, &format!("m{i}")).await;
    }
    let statuses = || async {
        let (_, history) = app
            .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
            .await;
        history["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["status"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    app.settle().await;
    assert_eq!(
        statuses().await,
        ["sent", "sent", "sent"],
        "bob has no device online"
    );

    for _ in 0..2 {
        let (status, body) = app
            .get(
                &format!("/api/chats/{chat}/messages?limit=2"),
                Some(&bob.access),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(statuses().await, ["delivered", "delivered", "delivered"]);
    let (alice_events, _) = sync_all(&app, &alice, &since).await;
    let delivered: Vec<&Value> = alice_events
        .iter()
        .filter(|e| e["event"] == "message:delivered")
        .collect();
    assert_eq!(delivered.len(), 1, "told once: {alice_events:?}");
    assert_eq!(delivered[0]["data"]["seq"], 3);
    assert_eq!(delivered[0]["data"]["deliveredTo"], json!([bob.id]));
    app.stop().await;
}

#[tokio::test]
async fn a_cursor_never_skips_an_event_that_commits_late() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat_written(&alice, &bob).await;
    let since = present(&app, &bob).await;
    let bob_id: Uuid = bob.id.parse().unwrap();
    // A writer that starts first and commits last: its event gets the smaller transaction id.
    let mut slow = app.owner_db().await.get().await.unwrap();
    let slow = slow.transaction().await.unwrap();
    slow.execute(
        "INSERT INTO events (user_id, name, data) VALUES ($1, 'message:delivered',
             jsonb_build_object('messageId', gen_random_uuid(), 'chatId', gen_random_uuid(), 'seq', 99,
                                'deliveredTo', '[]'::jsonb, 'timestamp', '2026-12-01T00:00:00.000Z'))",
        &[&bob_id],
    )
    .await
    .unwrap();
    // Meanwhile, others commit after it started.
    send(&app, &alice, &chat, "fast").await;
    let (first, cursor) = sync_now(&app, &bob, &since).await;
    assert!(
        first.is_empty(),
        "nothing past the oldest transaction in flight is read yet: {first:?}"
    );
    slow.commit().await.unwrap();
    let (second, _) = sync_all(&app, &bob, &cursor).await;
    let names: Vec<&str> = second
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["message:delivered", "message:received"],
        "the late one first (its transaction started first), nothing skipped"
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_writers_and_a_reader_see_every_event_once() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let writers: Vec<User> = futures_util::future::join_all(
        (0..4).map(|i| app.register(Box::leak(format!("w{i}").into_boxed_str()))),
    )
    .await;
    let mut chats = Vec::new();
    for w in &writers {
        chats.push(app.open_chat(w, &reader).await);
    }
    let since = present(&app, &reader).await;
    let per_writer = 25;
    let sending = futures_util::future::join_all(writers.iter().zip(&chats).map(|(w, chat)| {
        let app = &app;
        async move {
            for i in 0..per_writer {
                send(app, w, chat, &format!("{}-{i}", w.id)).await;
            }
        }
    }));
    // Read while they write, each time from the last cursor.
    let reading = async {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor = since.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while seen.len() < writers.len() * per_writer && tokio::time::Instant::now() < deadline {
            let (events, next) = sync_now(&app, &reader, &cursor).await;
            seen.extend(contents(&events));
            cursor = next;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen
    };
    let (_, seen) = tokio::join!(sending, reading);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    assert_eq!(seen.len(), writers.len() * per_writer, "none skipped");
    app.stop().await;
}

/// Small pages read what one page reads, across many streams: each stream (the reader's own,
/// each chat) gives a page its first events that pass every condition, a blocked sender's
/// left out among them, so no event falls between two pages.
#[tokio::test]
async fn small_pages_across_many_chats_read_what_one_page_reads() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let writers: Vec<User> = futures_util::future::join_all(
        (0..3).map(|i| app.register(Box::leak(format!("w{i}").into_boxed_str()))),
    )
    .await;
    let mut pairs = Vec::new();
    for w in &writers {
        pairs.push(app.open_chat(w, &reader).await);
    }
    let everyone: Vec<&User> = writers.iter().collect();
    let group = app.open_group(&reader, "all", &everyone).await;
    let since = present(&app, &reader).await;
    for round in 0..4 {
        for (i, w) in writers.iter().enumerate() {
            send(&app, w, &pairs[i], &format!("{round}-{i}-pair")).await;
            send(&app, w, &group, &format!("{round}-{i}-group")).await;
        }
        // Two in a row in one stream, both left out once the reader blocks their sender.
        send(&app, &writers[2], &group, &format!("{round}-2-again")).await;
        send(&app, &reader, &group, &format!("{round}-reader")).await;
        if round == 1 {
            app.block(&reader, &writers[2]).await;
        }
    }
    let (whole, _) = sync_all(&app, &reader, &since).await;
    let cursors = |events: &[Value]| -> Vec<String> {
        events.iter().map(|e| e["cursor"].to_string()).collect()
    };
    for limit in [1, 2] {
        let (paged, _) = sync_in_pages_of(&app, &reader, &since, limit).await;
        assert_eq!(cursors(&paged), cursors(&whole), "pages of {limit}");
    }
    let texts = contents(&whole);
    assert!(texts.contains(&"text of 3-1-group".to_owned()), "{texts:?}");
    assert!(texts.contains(&"text of 1-2-group".to_owned()), "{texts:?}");
    for after_the_block in ["text of 2-2-group", "text of 2-2-again"] {
        assert!(!texts.contains(&after_the_block.to_owned()), "{texts:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_group_message_is_one_event_row_and_members_see_their_windows() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let members: Vec<User> = futures_util::future::join_all(
        (0..30).map(|i| app.register(Box::leak(format!("m{i}").into_boxed_str()))),
    )
    .await;
    let (status, group) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "big", "participantIds": members.iter().map(|m| &m.id).collect::<Vec<_>>() }),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let chat = group["data"]["id"].as_str().unwrap().to_owned();
    let chat_id: Uuid = chat.parse().unwrap();
    let since = present(&app, &members[0]).await;
    let first = send(&app, &alice, &chat, "before").await;
    let db = app.app().db.get().await.unwrap();
    let rows: i64 = db
        .query_one(
            "SELECT count(*) AS n FROM events WHERE message_id = $1",
            &[&first["id"].as_str().unwrap().parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(rows, 1, "one row for 31 members");
    // Member 0 leaves; a newcomer joins; then another message.
    let newcomer = app.register("late").await;
    let (left, joined): (Uuid, Uuid) =
        (members[0].id.parse().unwrap(), newcomer.id.parse().unwrap());
    db.execute(
        "UPDATE chat_participants SET left_at = now() WHERE chat_id = $1 AND user_id = $2",
        &[&chat_id, &left],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO chat_participants (chat_id, user_id) VALUES ($1, $2)",
        &[&chat_id, &joined],
    )
    .await
    .unwrap();
    send(&app, &alice, &chat, "after").await;
    let (gone, _) = sync_all(&app, &members[0], &since).await;
    assert_eq!(contents(&gone), ["text of before"], "nothing after leaving");
    let (late, _) = sync_all(&app, &newcomer, &since).await;
    assert_eq!(
        contents(&late),
        ["text of after"],
        "nothing from before joining"
    );
    let (stayed, _) = sync_all(&app, &members[1], &since).await;
    assert_eq!(contents(&stayed), ["text of before", "text of after"]);
    app.stop().await;
}

/// `cursor` is refused as expired by `/api/sync` (410 `SYNC_CURSOR_EXPIRED`) and at the
/// WebSocket handshake of `/ws?since=` (410).
async fn refused_everywhere(app: &TestApp, user: &User, cursor: &str) {
    let (status, body) = app
        .get(&format!("/api/sync?since={cursor}"), Some(&user.access))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("SYNC_CURSOR_EXPIRED")),
        "{cursor}"
    );
    match WsClient::connect_since(app, &user.access, cursor).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 410),
        other => panic!(
            "a resume from {cursor} is refused, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[tokio::test]
async fn cursors_past_the_retention_expire() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let since = present(&app, &bob).await;
    send(&app, &alice, &chat, "old").await;
    let (_, cursor) = sync_all(&app, &bob, &since).await;
    // Compact with no retention at all: every event so far goes.
    let short = app.app_with(|s| s.event_retention = Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(20)).await;
    relay::scheduled(&short).await.unwrap();
    refused_everywhere(&app, &bob, &since).await;
    // The cursor Bob had is past too (compaction also took events after it, in others'
    // streams); a fresh one works.
    let (status, _) = app
        .get(&format!("/api/sync?since={cursor}"), Some(&bob.access))
        .await;
    assert_eq!(status, 410);
    let fresh = present(&app, &bob).await;
    send(&app, &alice, &chat, "new").await;
    let (events, _) = sync_all(&app, &bob, &fresh).await;
    assert_eq!(contents(&events), ["text of new"]);
    app.stop().await;
}

/// A cursor ahead of every event the server has issued (another deployment's, or one from
/// before a restore rewound the log) would hide every event up to it: it is refused like an
/// expired one, so the client reloads instead of waiting on a position the log has not reached.
#[tokio::test]
async fn cursors_ahead_of_the_log_are_refused() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let since = present(&app, &bob).await;
    let (horizon, _) = since.split_once('.').expect("a cursor is xid.event");
    let horizon: i64 = horizon.parse().unwrap();
    let ahead = format!("{}.0", horizon + 1_000_000);
    refused_everywhere(&app, &bob, &ahead).await;
    // Every cursor the server issued is honoured: the present, the last event's, a page's.
    send(&app, &alice, &chat, "one").await;
    let (events, cursor) = sync_all(&app, &bob, &since).await;
    assert_eq!(contents(&events), ["text of one"]);
    let last_event = events[0]["cursor"].as_str().unwrap().to_owned();
    for issued in [since.as_str(), last_event.as_str(), cursor.as_str()] {
        let (status, _) = app
            .get(&format!("/api/sync?since={issued}"), Some(&bob.access))
            .await;
        assert_eq!(status, 200, "{issued}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_reconnect_with_since_replays_exactly_what_was_missed_then_goes_live() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    // Opened once the relay has pushed everything before (chat:created among it).
    let mut bob_ws = app.ws(&bob.access).await;
    send(&app, &alice, &chat, "seen live").await;
    let live = bob_ws.next_event("message:received").await;
    let last_cursor = live["cursor"].as_str().unwrap().to_owned();
    drop(bob_ws);
    for i in 0..5 {
        send(&app, &alice, &chat, &format!("missed {i}")).await;
    }
    let mut bob_ws = WsClient::connect_since(&app, &bob.access, &last_cursor)
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut cursors = Vec::new();
    for _ in 0..5 {
        let frame = bob_ws.next_event("message:received").await;
        cursors.push(frame["cursor"].as_str().unwrap().to_owned());
        got.push(
            frame["data"]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        got,
        (0..5)
            .map(|i| format!("text of missed {i}"))
            .collect::<Vec<_>>()
    );
    send(&app, &alice, &chat, "live again").await;
    let frame = bob_ws.next_event("message:received").await;
    assert_eq!(frame["data"]["message"]["content"], "text of live again");
    assert!(!cursors.contains(&frame["cursor"].as_str().unwrap().to_owned()));
    bob_ws.expect_silence(Duration::from_millis(300)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_send_whose_wake_up_is_lost_is_still_acknowledged_and_delivered() {
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_millis(300)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    // Opened once the relay has pushed everything before (chat:created among it).
    let mut bob_ws = app.ws(&bob.access).await;
    // The queue refuses every enqueue.
    let mut broken = app.app().clone();
    broken.ports.queue = Arc::new(Absent("delivery queue"));
    let caller = app.app().tokens.verify_access(&alice.access).unwrap();
    let body =
        json_value(json!({ "clientMessageId": "q", "content": "through an outage" })).unwrap();
    let stored = messaging::send(&broken, caller, chat.parse().unwrap(), body, None)
        .await
        .expect("a committed send is acknowledged");
    assert_eq!(stored.seq, 1);
    let frame = bob_ws.next_event("message:received").await;
    assert_eq!(frame["data"]["message"]["id"], stored.id.to_string());
    bob_ws.expect_silence(Duration::from_millis(700)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_send_held_back_by_an_older_transaction_goes_live_when_that_one_ends() {
    // No schedule to fall back on: only the relay the send woke can deliver it.
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut bob_ws = app.ws(&bob.access).await;
    // A transaction that started first and ends with nothing to publish (so it wakes nobody):
    // until it ends, the send's event is above the horizon.
    let owner = app.owner_db().await;
    let mut older = owner.get().await.unwrap();
    let older = older.transaction().await.unwrap();
    older
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await
        .unwrap();
    let sent = send(&app, &alice, &chat, "held").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    older.rollback().await.unwrap();
    let frame = bob_ws.next_event("message:received").await;
    assert_eq!(frame["data"]["message"]["id"], sent["id"]);
    app.stop().await;
}

/// A push port that fails for one connection and passes everything else to the real one.
struct FailingFor {
    inner: Arc<dyn banter_core::ports::ConnectionPush>,
    connection: String,
}

#[async_trait::async_trait]
impl banter_core::ports::ConnectionPush for FailingFor {
    async fn post(&self, id: &str, frame: &[u8]) -> Result<(), banter_core::ports::PushError> {
        if id == self.connection {
            return Err(banter_core::ports::PushError::Failed("injected".into()));
        }
        self.inner.post(id, frame).await
    }

    async fn disconnect(&self, id: &str) -> Result<(), banter_core::ports::PushError> {
        self.inner.disconnect(id).await
    }
}

#[tokio::test]
async fn a_failed_push_to_one_device_repushes_to_no_other() {
    // The relay runs only when this test says (no schedule, no wake-ups).
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat: Uuid = app.open_chat(&alice, &bob).await.parse().unwrap();
    let alice_phone = app.login(&alice).await;
    let mut laptop = app.ws(&alice.access).await;
    let mut phone = app.ws(&alice_phone.access).await;
    let alice_id: Uuid = alice.id.parse().unwrap();
    let connections = app
        .app()
        .ports
        .connections
        .connections_of(alice_id)
        .await
        .unwrap();
    let laptop_id = connections
        .iter()
        .find(|c| {
            c.session_id
                != app
                    .app()
                    .tokens
                    .verify_access(&alice_phone.access)
                    .unwrap()
                    .session_id
        })
        .unwrap()
        .connection_id
        .clone();
    for id in ["one", "two", "three"] {
        send_unannounced(&app, &bob, chat, id).await;
    }
    let mut failing = app.app().clone();
    failing.ports.push = Arc::new(FailingFor {
        inner: app.app().ports.push.clone(),
        connection: laptop_id,
    });
    app.settle().await;
    let report = relay::drain(&failing).await.unwrap();
    assert_eq!(report.closed, 1, "{report:?}");
    let mut got = Vec::new();
    for _ in 0..3 {
        let frame = phone.next_event("message:received").await;
        got.push(
            frame["data"]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(got, ["one", "two", "three"]);
    assert!(
        matches!(
            laptop.next_message(Duration::from_secs(3)).await,
            Some(tokio_tungstenite::tungstenite::Message::Close(_)) | None
        ),
        "the failing device is closed, so its client resumes from its cursor"
    );
    send_unannounced(&app, &bob, chat, "four").await;
    app.settle().await;
    relay::drain(app.app()).await.unwrap();
    let frame = phone.next_event("message:received").await;
    assert_eq!(
        frame["data"]["message"]["content"], "four",
        "nothing again before it"
    );
    phone.expect_silence(Duration::from_millis(300)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_queued_relay_waits_for_the_lock_only_so_long_and_leaves_the_queue_once_it_holds_it() {
    use banter_core::db::events::{lock_relay, RelayLock};
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let db = &app.app().db;
    let wait = |within, queue| RelayLock::Wait { within, queue };
    // Takes the relay lock in a transaction of `client`'s, as `lock` says; how long it took.
    async fn take(
        client: &deadpool_postgres::Object,
        lock: RelayLock,
    ) -> (Result<bool, banter_core::ApiError>, Duration) {
        client.batch_execute("BEGIN").await.unwrap();
        let started = std::time::Instant::now();
        let outcome = lock_relay(client, lock).await;
        (outcome, started.elapsed())
    }

    // A relay (the schedule's: it does not queue) holds the lock.
    let running = db.get().await.unwrap();
    assert!(take(&running, wait(Duration::from_secs(5), false))
        .await
        .0
        .unwrap());

    // A queued relay waits for it, for as long as it was told to.
    let queued = db.get().await.unwrap();
    let (gave_up, waited) = take(&queued, wait(Duration::from_millis(200), true)).await;
    assert!(gave_up.is_err(), "the lock wait ends in an error");
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(3),
        "it waited its lock wait, no more: {waited:?}"
    );
    queued.batch_execute("ROLLBACK").await.unwrap();

    // It is still queued (until its connection closes), so a second wake-up leaves at once,
    // without waiting for the lock.
    let other = db.get().await.unwrap();
    let (second, waited) = take(&other, wait(Duration::from_secs(5), true)).await;
    assert!(!second.unwrap(), "a relay is queued already");
    assert!(
        waited < Duration::from_secs(3),
        "it did not wait: {waited:?}"
    );
    other.batch_execute("ROLLBACK").await.unwrap();

    // With the queued relay's connection closed, the queue is free: the next wake-up queues,
    // takes the lock once it is free, and leaves the queue in the same statement.
    // (A closed connection's backend ends, and lets go of its session's locks, a moment later.)
    drop(deadpool_postgres::Object::take(queued));
    wait_until("the closed connection's backend left the queue", Duration::from_secs(5), || async {
        let held = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 7203)";
        !other.query_one(held, &[]).await.unwrap().get::<_, bool>(0)
    })
    .await;
    running.batch_execute("ROLLBACK").await.unwrap();
    let (turn, _) = take(&other, wait(Duration::from_secs(5), true)).await;
    assert!(turn.unwrap(), "the queue was free, and then the lock");
    // While it holds the lock, the queue is free again: a wake-up now queues and waits (its
    // wait runs out), rather than leave at once.
    let third = db.get().await.unwrap();
    let (queued_behind, waited) = take(&third, wait(Duration::from_millis(200), true)).await;
    assert!(
        queued_behind.is_err(),
        "it queued and waited: {queued_behind:?}"
    );
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    drop(deadpool_postgres::Object::take(third));
    other.batch_execute("ROLLBACK").await.unwrap();

    // A relay that tries (a later round) takes the lock only if it is free, and never queues.
    let (tried, _) = take(&running, RelayLock::Try).await;
    assert!(tried.unwrap(), "the lock is free");
    let (tried_again, waited) = take(&other, RelayLock::Try).await;
    assert!(!tried_again.unwrap(), "the lock is taken");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    for client in [&running, &other] {
        client.batch_execute("ROLLBACK").await.unwrap();
    }
    app.stop().await;
}

#[tokio::test]
async fn a_relay_read_in_a_transaction_without_the_relay_lock_reads_nothing() {
    use banter_core::db::events::{lock_relay, next_stable, RelayLock};
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let chat: Uuid = app.open_chat(&alice, &bob).await.parse().unwrap();
    let db = &app.app().db;
    // A relay holds the lock (which takes no transaction id, so the horizon passes it): no other
    // relay reads past the message sent now.
    let running = db.get().await.unwrap();
    running.batch_execute("BEGIN").await.unwrap();
    let wait = RelayLock::Wait {
        within: Duration::from_secs(5),
        queue: false,
    };
    assert!(lock_relay(&running, wait).await.unwrap());
    send_unannounced(&app, &alice, chat, "waiting to be relayed").await;
    app.settle().await;
    // Another relay's try fails, and the read pipelined after it reads nothing.
    let other = db.get().await.unwrap();
    other.batch_execute("BEGIN").await.unwrap();
    let (locked, read) = tokio::join!(lock_relay(&other, RelayLock::Try), next_stable(&other, 500));
    assert!(!locked.unwrap());
    let read = read.unwrap();
    assert!(read.events.is_empty(), "no lock, no events");
    assert!(!read.under_lock, "and it says so");
    other.batch_execute("ROLLBACK").await.unwrap();
    // The lock holder reads the message's event.
    let read = next_stable(&running, 500).await.unwrap();
    assert!(read.under_lock);
    assert!(
        read.events.iter().any(|e| e.name == "message:received"),
        "{read:?}"
    );
    running.batch_execute("ROLLBACK").await.unwrap();
    app.stop().await;
}

/// A push port that, at its first push (the relay is in a round, holding the relay lock), makes
/// another session wait for the relay lock, and goes on once that session is seen waiting: the
/// round's `COMMIT` then hands the lock to that session, before the relay's next round.
struct ContendOnFirstPush {
    inner: Arc<dyn banter_core::ports::ConnectionPush>,
    contender: banter_core::db::Db,
    watcher: banter_core::db::Db,
    /// The contender's task (it holds the lock, once granted, until told to let go) and what
    /// tells it.
    holder: tokio::sync::Mutex<
        Option<(
            tokio::task::JoinHandle<()>,
            tokio::sync::oneshot::Sender<()>,
        )>,
    >,
}

#[async_trait::async_trait]
impl banter_core::ports::ConnectionPush for ContendOnFirstPush {
    async fn post(&self, id: &str, frame: &[u8]) -> Result<(), banter_core::ports::PushError> {
        let mut holder = self.holder.lock().await;
        if holder.is_none() {
            let contender = self.contender.get().await.unwrap();
            let (release, released) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                contender
                    .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(7202)")
                    .await
                    .unwrap();
                let _ = released.await;
                contender.batch_execute("ROLLBACK").await.unwrap();
            });
            *holder = Some((task, release));
            let watcher = self.watcher.get().await.unwrap();
            wait_until(
                "the contender waits for the relay lock",
                Duration::from_secs(5),
                || async {
                    watcher
                        .query_one(
                            "SELECT count(*) AS n FROM pg_locks
                             WHERE locktype = 'advisory' AND objid = 7202 AND NOT granted
                               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                            &[],
                        )
                        .await
                        .unwrap()
                        .get::<_, i64>("n")
                        == 1
                },
            )
            .await;
        }
        self.inner.post(id, frame).await
    }

    async fn disconnect(&self, id: &str) -> Result<(), banter_core::ports::PushError> {
        self.inner.disconnect(id).await
    }
}

#[tokio::test]
async fn a_relay_that_finds_the_lock_taken_between_rounds_rolls_back_and_pools_a_clean_connection()
{
    // The relay runs only when this test says (no schedule; sends wake nobody).
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat: Uuid = app.open_chat_written(&alice, &bob).await.parse().unwrap();
    let mut phone = app.ws(&bob.access).await;
    app.relay_caught_up().await;
    send_unannounced(&app, &alice, chat, "one").await;
    app.settle().await;

    // Round one pushes "one" (and writes its receipt, so there is more to read); while it holds
    // the lock another session queues for it, and takes it at round one's commit. Round two
    // tries the lock, finds it taken and rolls its transaction back.
    let contended = ContendOnFirstPush {
        inner: app.app().ports.push.clone(),
        contender: app.owner_db().await,
        watcher: app.owner_db().await,
        holder: Default::default(),
    };
    let mut relay_app = app.app().clone();
    let contended = Arc::new(contended);
    relay_app.ports.push = contended.clone();
    let report = relay::drain(&relay_app).await.unwrap();
    assert_eq!((report.rounds, report.pushed), (1, 1), "{report:?}");
    let frame = phone.next_event("message:received").await;
    assert_eq!(frame["data"]["message"]["content"], "one");

    // The relay's connection went back to the pool out of its transaction: no connection but
    // the contender's (which holds the lock) is left inside one.
    let watcher = contended.watcher.get().await.unwrap();
    let count = |sql: &'static str| {
        let watcher = &watcher;
        async move {
            watcher
                .query_one(sql, &[])
                .await
                .unwrap()
                .get::<_, i64>("n")
        }
    };
    // (Advisory locks are the cluster's: tests side by side take their own databases' relay
    // locks, so only this database's count.)
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 7202 AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        .await,
        1,
        "the contender holds the lock"
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'
               AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"
        )
        .await,
        0,
        "a pooled connection is left inside a transaction"
    );

    // Once the lock is free, the next drain relays on.
    let (task, release) = contended.holder.lock().await.take().unwrap();
    release.send(()).unwrap();
    task.await.unwrap();
    send_unannounced(&app, &alice, chat, "two").await;
    app.settle().await;
    relay::drain(app.app()).await.unwrap();
    let frame = phone.next_event("message:received").await;
    assert_eq!(frame["data"]["message"]["content"], "two");
    app.stop().await;
}

/// A connection registry that takes a while for each look-up (as a DynamoDB query does) and
/// remembers how many of its look-ups were in flight at once.
struct SlowRegistry {
    inner: Arc<dyn banter_core::ports::ConnectionRegistry>,
    in_flight: std::sync::atomic::AtomicUsize,
    most_at_once: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl banter_core::ports::ConnectionRegistry for SlowRegistry {
    async fn register(
        &self,
        record: &banter_core::ports::ConnectionRecord,
    ) -> Result<(), banter_core::ports::PortError> {
        self.inner.register(record).await
    }

    async fn unregister(
        &self,
        user_id: Uuid,
        connection_id: &str,
    ) -> Result<Option<banter_core::ports::ConnectionRecord>, banter_core::ports::PortError> {
        self.inner.unregister(user_id, connection_id).await
    }

    async fn connections_of(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<banter_core::ports::ConnectionRecord>, banter_core::ports::PortError> {
        use std::sync::atomic::Ordering;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.inner.connections_of(user_id).await
    }
}

#[tokio::test]
async fn a_relay_round_looks_up_the_connections_of_its_users_side_by_side() {
    // The relay runs only when this test says (no schedule, no wake-ups).
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let admin = app.register("admin").await;
    let mut members = Vec::new();
    for n in 0..6 {
        members.push(app.register(&format!("member{n}")).await);
    }
    let group: Uuid = app
        .open_group(&admin, "side by side", &members.iter().collect::<Vec<_>>())
        .await
        .parse()
        .unwrap();
    app.relay_caught_up().await;
    let mut quiet = app.app().clone();
    quiet.ports.queue = Arc::new(Absent("delivery queue"));
    let caller = app.app().tokens.verify_access(&admin.access).unwrap();
    let body = json_value(json!({ "clientMessageId": "hello", "content": "hello all" })).unwrap();
    messaging::send(&quiet, caller, group, body, None)
        .await
        .unwrap();
    let registry = Arc::new(SlowRegistry {
        inner: app.app().ports.connections.clone(),
        in_flight: Default::default(),
        most_at_once: Default::default(),
    });
    let mut relay_app = quiet.clone();
    relay_app.ports.connections = registry.clone();
    app.settle().await;
    let report = relay::drain(&relay_app).await.unwrap();
    assert!(report.events >= 1, "{report:?}");
    // The seven members' look-ups, at once (one after another, on AWS, a round would wait
    // seven DynamoDB round trips).
    assert_eq!(
        registry
            .most_at_once
            .load(std::sync::atomic::Ordering::SeqCst),
        7
    );
    app.stop().await;
}

#[tokio::test]
async fn the_schedule_relays_even_when_its_housekeeping_fails() {
    // No schedule of its own: this test runs it.
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    // A message whose disappearing timer has run out, for a step after the failing one.
    let expired = app.sent(&alice, &chat, "time is up").await;
    app.expire_message(&expired).await;
    let expired: uuid::Uuid = expired.parse().unwrap();
    let owner = app.owner_db().await.get().await.unwrap();
    // That message's own delivery is done before Bob connects: a relay slowed by other tests
    // would otherwise push it to him during the silence below.
    app.relay_caught_up().await;
    let mut bob_ws = app.ws(&bob.access).await;
    // And whatever Bob's connection woke has run too, so that no drain is under way when the
    // message below commits (one was seen to deliver it on a busy machine).
    app.relay_caught_up().await;
    // Merging the search index fails: its function is gone from this test's database.
    owner
        .batch_execute(
            "ALTER FUNCTION flush_message_search_index() RENAME TO flush_message_search_index_gone",
        )
        .await
        .unwrap();
    // A send whose wake-up is lost: only the schedule can relay it.
    let sent = send_unannounced(&app, &alice, chat.parse().unwrap(), "lost-wake-up").await;
    bob_ws.expect_silence(Duration::from_millis(300)).await;

    let outcome = relay::scheduled(app.app()).await;
    assert!(outcome.is_err(), "the failed step is reported: {outcome:?}");
    let pushed = bob_ws.next_event("message:received").await;
    assert_eq!(pushed["data"]["message"]["id"], sent.id.to_string());
    // The steps after the failed one ran too.
    let left: i64 = owner
        .query_one(
            "SELECT count(*) AS n FROM messages WHERE id = $1",
            &[&expired],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(left, 0, "the disappearing message was erased");
    app.stop().await;
}

/// A member removed from a group and added again keeps what came while they were a member the
/// first time (in sync, history and search), and never gets what came while they were out.
#[tokio::test]
async fn a_member_who_rejoins_keeps_what_came_in_each_membership() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let since = present(&app, &bob).await;
    let alpha = send(&app, &alice, &chat, "alpha").await;
    let participants = format!("/api/chats/{chat}/participants");
    let (status, body) = app
        .delete(
            &format!("{participants}/{}", bob.id),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    send(&app, &alice, &chat, "bravo").await;
    let added = json!({ "userId": bob.id });
    let (status, body) = app.post(&participants, Some(&alice.access), added).await;
    assert_eq!(status, 200, "{body}");
    send(&app, &alice, &chat, "charlie").await;

    let texts = |contents: Vec<String>| -> Vec<String> {
        contents
            .into_iter()
            .filter(|c| c.starts_with("text of"))
            .collect()
    };
    let (events, _) = sync_all(&app, &bob, &since).await;
    assert_eq!(
        texts(contents(&events)),
        ["text of alpha", "text of charlie"],
        "sync: each membership's messages, none from between"
    );
    assert!(
        events.iter().any(
            |e| e["event"] == "chat:participant:left" && e["data"]["userId"] == bob.id.as_str()
        ),
        "the removal too: {events:?}"
    );
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    let history: Vec<String> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(texts(history), ["text of alpha", "text of charlie"]);
    for (word, found) in [("alpha", 1), ("bravo", 0)] {
        let (status, body) = app
            .get(&format!("/api/messages/search?q={word}"), Some(&bob.access))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"].as_array().unwrap().len(),
            found,
            "{word}: {body}"
        );
    }
    // The sender's message info counts them among its recipients.
    let (_, info) = app
        .get(
            &format!(
                "/api/chats/{chat}/messages/{}/info",
                alpha["id"].as_str().unwrap()
            ),
            Some(&alice.access),
        )
        .await;
    assert_eq!(
        info["data"]["recipients"][0]["userId"],
        bob.id.as_str(),
        "{info}"
    );
    // Their export lists the earlier membership (Banter keeps it, so it is theirs to see).
    let (_, export) = app.get("/api/users/me/export", Some(&bob.access)).await;
    let club = &export["data"]["chats"][0];
    assert_eq!(club["chatId"], chat.as_str());
    let earlier = club["earlierMemberships"].as_array().unwrap();
    assert_eq!(earlier.len(), 1, "{club}");
    assert!(
        earlier[0]["leftAt"].as_str() < club["joinedAt"].as_str(),
        "{club}"
    );
    app.stop().await;
}

/// The relay too counts an earlier membership: a message it had not yet pushed when its
/// recipient left and joined again still goes out to them.
#[tokio::test]
async fn the_relay_pushes_a_rejoined_member_what_came_in_their_earlier_membership() {
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_group(&alice, "club", &[&bob]).await;
    let chat_id: Uuid = chat.parse().unwrap();
    let mut bob_ws = app.ws(&bob.access).await;
    app.relay_caught_up().await;
    send_unannounced(&app, &alice, chat_id, "kept").await;
    // Out and back in before the relay runs (in the database: the API would wake it).
    let db = app.app().db.get().await.unwrap();
    let bob_id: Uuid = bob.id.parse().unwrap();
    for change in [
        "UPDATE chat_participants SET left_at = clock_timestamp()
         WHERE chat_id = $1 AND user_id = $2",
        "UPDATE chat_participants SET left_at = NULL, joined_at = clock_timestamp()
         WHERE chat_id = $1 AND user_id = $2",
    ] {
        db.execute(change, &[&chat_id, &bob_id]).await.unwrap();
    }
    relay::drain(app.app()).await.unwrap();
    let pushed = bob_ws.next_event("message:received").await;
    assert_eq!(pushed["data"]["message"]["content"], "kept", "{pushed}");
    app.stop().await;
}

/// Two transactions recording delivery receipts about the same people (a sync and a relay
/// round) take the watermark row and the receipt they supersede in the same order, whatever
/// each connection has prepared: one waits for the other, and neither deadlocks. (Pipelined,
/// a connection that had prepared the receipts' statement but not the watermarks' ran the
/// receipts first, and a sync answered 500 now and then.)
#[tokio::test]
async fn receipts_recorded_side_by_side_wait_for_each_other_instead_of_deadlocking() {
    use banter_core::db::{events, messages};
    use banter_core::services::receipts::{self, Deliveries};
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat_written(&alice, &bob).await;
    let ids = [
        app.sent(&alice, &chat, "one").await,
        app.sent(&alice, &chat, "two").await,
    ];
    app.settle().await;
    let (chat, sender, recipient) = (
        chat.parse::<Uuid>().unwrap(),
        alice.id.parse::<Uuid>().unwrap(),
        bob.id.parse::<Uuid>().unwrap(),
    );
    let seq_of = |id: &str| {
        let app = &app;
        let id = id.parse::<Uuid>().unwrap();
        async move {
            let client = app.app().db.get().await.unwrap();
            let row = client
                .query_one("SELECT seq FROM messages WHERE id = $1", &[&id])
                .await
                .unwrap();
            (row.get::<_, i64>("seq"), id)
        }
    };
    let delivered = move |(seq, id): (i64, Uuid)| {
        let mut deliveries = Deliveries::default();
        deliveries.add(chat, sender, recipient, seq, id);
        deliveries
    };
    let (one, two) = (seq_of(&ids[0]).await, seq_of(&ids[1]).await);
    // A receipt in Alice's stream that the next ones supersede.
    let db = app.owner_db().await;
    let mut setup = db.get().await.unwrap();
    let tx = setup.transaction().await.unwrap();
    assert!(receipts::record(&tx, &delivered(one)).await.unwrap());
    tx.commit().await.unwrap();
    drop(setup);
    // A connection that has prepared the receipts' statement, not the watermarks'.
    let mut second = app.owner_db().await.get().await.unwrap();
    let receipt = json!({ "messageId": two.1, "chatId": chat, "seq": two.0,
                          "deliveredTo": [recipient], "timestamp": "2026-01-01T00:00:00Z" });
    let notices = [(sender, receipt)];
    let warm = second.transaction().await.unwrap();
    events::append_receipts(&warm, "message:delivered", "deliveredTo", &notices, None)
        .await
        .unwrap();
    warm.rollback().await.unwrap();
    // The relay's round holds Bob's watermark row...
    let mut first = db.get().await.unwrap();
    let relay = first.transaction().await.unwrap();
    let watermark = messages::DeliveredUpTo {
        chat_id: chat,
        user_id: recipient,
        seq: two.0,
    };
    messages::mark_delivered_many(&relay, &[watermark])
        .await
        .unwrap();
    // ...while the sync records the same delivery on the other connection, and waits...
    let sync = tokio::spawn(async move {
        let tx = second.transaction().await?;
        receipts::record(&tx, &delivered(two)).await?;
        tx.commit().await?;
        Ok::<_, banter_core::error::ApiError>(())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...then the round tells Alice, and commits.
    events::append_receipts(&relay, "message:delivered", "deliveredTo", &notices, None)
        .await
        .expect("the round is not a deadlock's victim");
    relay.commit().await.unwrap();
    sync.await
        .unwrap()
        .expect("nor is the sync: it waited, then recorded nothing new");
    app.stop().await;
}
