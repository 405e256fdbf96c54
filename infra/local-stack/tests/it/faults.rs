//! Fault scenarios, at a size that keeps the test command quick (`BANTER_FAULT_RATE`,
//! `BANTER_FAULT_SECONDS`, `BANTER_FAULT_QUEUE_SECONDS`, `BANTER_FAULT_CONNECTIONS` make them
//! bigger). Each prints what it counted: acknowledged messages, what every device received
//! (live, then through sync after client-side dedupe on cursors), lost, duplicated, and gaps in
//! each chat's `seq`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{spawn_app_with, TestApp, User};

/// Registrations and logins in flight at once while a scenario sets up.
const AT_ONCE: usize = 4;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one device got, deduped by cursor as a client does (a re-push of a cursor it already
/// has, after a relay crash, is counted and dropped).
#[derive(Default)]
struct Device {
    by_cursor: BTreeMap<String, Value>,
    duplicates: usize,
    last_cursor: Option<String>,
}

impl Device {
    fn take(&mut self, frame: Value) {
        let Some(cursor) = frame["cursor"].as_str().map(str::to_owned) else {
            return;
        };
        self.last_cursor = Some(cursor.clone());
        if self.by_cursor.insert(cursor, frame).is_some() {
            self.duplicates += 1;
        }
    }

    fn message_ids(&self) -> HashSet<String> {
        self.by_cursor
            .values()
            .filter(|f| f["event"] == "message:received")
            .filter_map(|f| f["data"]["message"]["id"].as_str().map(str::to_owned))
            .collect()
    }
}

/// A device's connection, read in the background into its `Device`.
async fn listen(
    app: &TestApp,
    token: &str,
    since: Option<&str>,
    device: Arc<Mutex<Device>>,
) -> tokio::task::JoinHandle<()> {
    let url = match since {
        Some(c) => format!("{}?token={token}&since={c}", app.ws_url()),
        None => format!("{}?token={token}", app.ws_url()),
    };
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let (_, mut stream) = ws.split();
    tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            if let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) {
                device.lock().unwrap().take(frame);
            }
        }
    })
}

/// Sync a device from its last cursor to the end (what a client does after any doubt).
async fn catch_up(app: &TestApp, user: &User, device: &Arc<Mutex<Device>>, since: &str) {
    let mut cursor = device
        .lock()
        .unwrap()
        .last_cursor
        .clone()
        .unwrap_or_else(|| since.to_owned());
    loop {
        let (status, body) = app
            .get(
                &format!("/api/sync?since={cursor}&limit=100"),
                Some(&user.access),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        for event in body["data"]["events"].as_array().unwrap() {
            device.lock().unwrap().take(event.clone());
        }
        cursor = body["data"]["nextCursor"].as_str().unwrap().to_owned();
        if body["data"]["hasMore"] != true {
            return;
        }
    }
}

/// Every acknowledged message must be on every receiving device; `seq` has no holes.
fn report(
    name: &str,
    acked: &HashMap<String, (String, i64)>,
    devices: &[(String, Arc<Mutex<Device>>)],
) {
    let mut lost = 0;
    let mut duplicates = 0;
    let mut gaps = 0;
    let mut received = 0;
    for (chat, device) in devices {
        let device = device.lock().unwrap();
        let got = device.message_ids();
        received += got.len();
        duplicates += device.duplicates;
        lost += acked
            .iter()
            .filter(|(_, (c, _))| c == chat)
            .filter(|(id, _)| !got.contains(*id))
            .count();
        let mut seqs: Vec<i64> = device
            .by_cursor
            .values()
            .filter(|f| f["event"] == "message:received" && f["data"]["chatId"] == chat.as_str())
            .filter_map(|f| f["data"]["message"]["seq"].as_i64())
            .collect();
        seqs.sort();
        seqs.dedup();
        gaps += seqs.windows(2).filter(|w| w[1] != w[0] + 1).count();
    }
    println!(
        "[fault: {name}] acknowledged {}, received {received} on {} devices (live + sync), \
         lost {lost}, re-pushed {duplicates} (dropped by cursor: 0 duplicates after dedupe), gaps {gaps}",
        acked.len(),
        devices.len()
    );
    assert_eq!(
        (lost, gaps),
        (0, 0),
        "{name}: nothing acknowledged is lost, no gaps"
    );
}

#[tokio::test]
async fn postgres_restarting_mid_run_loses_no_acknowledged_message() {
    let rate = setting("BANTER_FAULT_RATE", 200);
    let seconds = setting("BANTER_FAULT_SECONDS", 4);
    let dir = std::env::temp_dir().join(format!("banter-fault-{}", uuid::Uuid::new_v4().simple()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pg = Arc::new(
        banter_local::postgres::PrivatePostgres::new(&dir, port)
            .await
            .unwrap(),
    );
    pg.start().await.unwrap();
    let url = pg.url();
    let app = spawn_app_with(|c| {
        c.database_url = Some(url);
        c.schedule_interval = Duration::from_millis(200);
        c.ws_limits.frames_per_second = 1e6;
        c.ws_limits.frame_burst = 1e6;
    })
    .await;
    let pairs = 10;
    let mut senders = Vec::new();
    let mut devices = Vec::new();
    let mut chats = Vec::new();
    let mut listeners = Vec::new();
    let since = {
        let probe = app.register("probe").await;
        app.get("/api/sync", Some(&probe.access)).await.1["data"]["nextCursor"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut receivers = Vec::new();
    for i in 0..pairs {
        let a = app
            .register(Box::leak(format!("s{i}").into_boxed_str()))
            .await;
        let b = app
            .register(Box::leak(format!("r{i}").into_boxed_str()))
            .await;
        let chat = app.open_chat(&a, &b).await;
        let device = Arc::new(Mutex::new(Device::default()));
        listeners.push(listen(&app, &b.access, None, device.clone()).await);
        devices.push((chat.clone(), device));
        chats.push(chat);
        senders.push(a);
        receivers.push(b);
    }
    // Senders over WebSocket; acks collected by clientMessageId.
    let acked: Arc<Mutex<HashMap<String, (String, i64)>>> = Arc::default();
    let mut sinks = Vec::new();
    for (sender, chat) in senders.iter().zip(&chats) {
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("{}?token={}", app.ws_url(), sender.access))
                .await
                .unwrap();
        let (sink, mut stream) = ws.split();
        sinks.push(sink);
        let (acked, chat) = (acked.clone(), chat.clone());
        listeners.push(tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = stream.next().await {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                if frame["event"] == "ack" {
                    let id = frame["data"]["id"].as_str().unwrap_or_default().to_owned();
                    let seq = frame["data"]["seq"].as_i64().unwrap_or(0);
                    acked.lock().unwrap().insert(id, (chat.clone(), seq));
                }
            }
        }));
    }
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    let crash_at = total / 3;
    let mut crash = None;
    for n in 0..total {
        tokio::time::sleep_until(start + interval * n as u32).await;
        if n == crash_at {
            let pg = pg.clone();
            crash = Some(tokio::spawn(async move { pg.restart_immediately().await }));
        }
        let pair = n as usize % sinks.len();
        let frame = json!({ "action": "message:send", "requestId": n.to_string(),
            "data": { "chatId": chats[pair], "clientMessageId": format!("m{n}"), "content": "under a crash" } });
        if sinks[pair]
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    crash.unwrap().await.unwrap().unwrap();
    // Let the relay (and its schedule) finish, then each device syncs from its last cursor.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for ((_, device), user) in devices.iter().zip(&receivers) {
        catch_up(&app, user, device, &since).await;
    }
    let acked = acked.lock().unwrap().clone();
    // How many were acknowledged depends on how long the crash took: every one that was must
    // arrive.
    assert!(
        !acked.is_empty(),
        "sends around the crash were acknowledged"
    );
    report("postgres restarted (immediate) mid-run", &acked, &devices);
    for l in listeners {
        l.abort();
    }
    app.stop().await;
    pg.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_connection_dropping_at_once_resumes_from_its_cursor() {
    let users_n = setting("BANTER_FAULT_CONNECTIONS", 300) as usize / 5;
    let app = spawn_app_with(|c| {
        c.schedule_interval = Duration::from_millis(200);
        // The sender and every member.
        c.settings.max_group_members = users_n + 1;
        // At full size, setting up (a password hash per session) outlasts the default 15
        // minutes: the first sessions' tokens must still open their connections.
        c.settings.access_token_ttl = Duration::from_secs(3 * 3600);
    })
    .await;
    let sender = app.register("sender").await;
    // Registering and logging in hash a password each: a few at a time, as the stack's hashing
    // slots take them (all at once, a full-size run is answered 503 past the slots' queue).
    let members: Vec<User> = futures_util::stream::iter(0..users_n)
        .map(|i| app.register(Box::leak(format!("u{i}").into_boxed_str())))
        .buffered(AT_ONCE)
        .collect()
        .await;
    let (status, group) = app
        .post(
            "/api/chats",
            Some(&sender.access),
            json!({ "type": "group", "name": "storm", "participantIds": members.iter().map(|m| &m.id).collect::<Vec<_>>() }),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let chat = group["data"]["id"].as_str().unwrap().to_owned();
    // Five devices per member: the registration's session and four logins.
    let logins: Vec<User> = futures_util::stream::iter(members.iter().flat_map(|m| [m; 4]))
        .map(|m| app.login(m))
        .buffered(AT_ONCE)
        .collect()
        .await;
    let sessions: Vec<User> = logins.into_iter().chain(members.iter().cloned()).collect();
    let since = app.get("/api/sync", Some(&members[0].access)).await.1["data"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let devices: Vec<Arc<Mutex<Device>>> = sessions.iter().map(|_| Arc::default()).collect();
    let mut listeners = Vec::new();
    for (session, device) in sessions.iter().zip(&devices) {
        listeners.push(listen(&app, &session.access, Some(&since), device.clone()).await);
    }
    let acked: Arc<Mutex<HashMap<String, (String, i64)>>> = Arc::default();
    let send = |n: usize| {
        let (app, acked, chat, token) = (&app, acked.clone(), chat.clone(), sender.access.clone());
        async move {
            let (status, body) = app
                .post(
                    &format!("/api/chats/{chat}/messages"),
                    Some(&token),
                    json!({ "clientMessageId": format!("g{n}"), "content": "to everyone" }),
                )
                .await;
            if status == 201 {
                let id = body["data"]["id"].as_str().unwrap().to_owned();
                acked
                    .lock()
                    .unwrap()
                    .insert(id, (chat, body["data"]["seq"].as_i64().unwrap()));
            }
        }
    };
    for n in 0..20 {
        send(n).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every connection drops at once, while messages keep coming; each reconnects with the
    // cursor of the last event it got.
    for l in listeners.drain(..) {
        l.abort();
    }
    for n in 20..30 {
        send(n).await;
    }
    let reconnecting = tokio::time::Instant::now();
    for (session, device) in sessions.iter().zip(&devices) {
        let cursor = device
            .lock()
            .unwrap()
            .last_cursor
            .clone()
            .unwrap_or_else(|| since.clone());
        listeners.push(listen(&app, &session.access, Some(&cursor), device.clone()).await);
    }
    let reconnected = reconnecting.elapsed();
    for n in 30..40 {
        send(n).await;
    }
    let expected = acked.lock().unwrap().len();
    // Every resuming connection is replayed its missed events before anything newer: at full
    // size that takes a while, which is slowness, not loss.
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(20 + devices.len() as u64 / 100);
    while tokio::time::Instant::now() < deadline
        && devices
            .iter()
            .any(|d| d.lock().unwrap().message_ids().len() < expected)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let name = format!("{} connections dropped at once", devices.len());
    println!(
        "[fault: {name}] reconnected in {:.1} s, and had everything {:.1} s after the first",
        reconnected.as_secs_f64(),
        reconnecting.elapsed().as_secs_f64()
    );
    let acked = acked.lock().unwrap().clone();
    let named: Vec<(String, Arc<Mutex<Device>>)> =
        devices.iter().map(|d| (chat.clone(), d.clone())).collect();
    report(&name, &acked, &named);
    let duplicates: usize = devices.iter().map(|d| d.lock().unwrap().duplicates).sum();
    assert_eq!(
        duplicates, 0,
        "a resumed connection is replayed nothing it already had"
    );
    for l in listeners {
        l.abort();
    }
    app.stop().await;
}

/// A push port that takes its time, so a relay can be stopped in the middle of a batch.
struct SlowPush {
    push: Arc<dyn banter_core::ports::ConnectionPush>,
    /// Frames pushed so far.
    pushed: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl banter_core::ports::ConnectionPush for SlowPush {
    async fn post(&self, id: &str, frame: &[u8]) -> Result<(), banter_core::ports::PushError> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let posted = self.push.post(id, frame).await;
        self.pushed.fetch_add(1, Ordering::SeqCst);
        posted
    }

    async fn disconnect(&self, id: &str) -> Result<(), banter_core::ports::PushError> {
        self.push.disconnect(id).await
    }
}

/// `pairs` senders and receivers with a chat each, the receivers listening.
async fn pairs_listening(
    app: &TestApp,
    pairs: usize,
) -> (
    Vec<User>,
    Vec<User>,
    Vec<(String, Arc<Mutex<Device>>)>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (mut senders, mut receivers, mut devices, mut listeners) = (vec![], vec![], vec![], vec![]);
    for i in 0..pairs {
        let a = app
            .register(Box::leak(format!("s{i}").into_boxed_str()))
            .await;
        let b = app
            .register(Box::leak(format!("r{i}").into_boxed_str()))
            .await;
        let chat = app.open_chat(&a, &b).await;
        let device = Arc::new(Mutex::new(Device::default()));
        listeners.push(listen(app, &b.access, None, device.clone()).await);
        devices.push((chat, device));
        senders.push(a);
        receivers.push(b);
    }
    (senders, receivers, devices, listeners)
}

#[tokio::test]
async fn a_relay_killed_mid_batch_is_redone_without_loss() {
    // No schedule and no wake-ups: the relay runs when this test says.
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let (senders, receivers, devices, listeners) = pairs_listening(&app, 5).await;
    let since = app.get("/api/sync", Some(&receivers[0].access)).await.1["data"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every relay woken so far has finished (one held back by other tests' transactions looks
    // on for a moment), so nothing relays what follows until this test says.
    app.relay_caught_up().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut quiet = app.app().clone();
    quiet.ports.queue = Arc::new(banter_core::ports::Absent("delivery queue"));
    let mut acked = HashMap::new();
    for n in 0..100 {
        let pair = n % senders.len();
        let caller = app
            .app()
            .tokens
            .verify_access(&senders[pair].access)
            .unwrap();
        let body = banter_core::api::extract::json_value(
            json!({ "clientMessageId": format!("k{n}"), "content": "mid-batch" }),
        )
        .unwrap();
        let chat = devices[pair].0.parse().unwrap();
        let m = banter_core::services::messaging::send(&quiet, caller, chat, body, None)
            .await
            .unwrap();
        acked.insert(m.id.to_string(), (devices[pair].0.clone(), m.seq));
    }
    // The consumer dies in the middle of its batch (its transaction never commits)...
    app.settle().await;
    let mut slow = app.app().clone();
    let pushed = Arc::new(AtomicUsize::new(0));
    slow.ports.push = Arc::new(SlowPush {
        push: app.app().ports.push.clone(),
        pushed: pushed.clone(),
    });
    // Stopped once it has pushed a tenth of the batch (however long another test's open
    // transaction holds the horizon back before it reads).
    let a_tenth_pushed = async {
        while pushed.load(Ordering::SeqCst) < 10 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let killed = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            _ = banter_core::services::relay::drain(&slow) => false,
            () = a_tenth_pushed => true,
        }
    })
    .await;
    assert_eq!(killed, Ok(true), "the relay was stopped mid-batch");
    // ...and the redelivered wake-up runs it again, until it has passed everything sent.
    app.relay_caught_up().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for ((_, device), user) in devices.iter().zip(&receivers) {
        catch_up(&app, user, device, &since).await;
    }
    report("relay killed mid-batch, then redelivered", &acked, &devices);
    let repushed: usize = devices
        .iter()
        .map(|(_, d)| d.lock().unwrap().duplicates)
        .sum();
    assert!(
        repushed > 0,
        "what the killed relay pushed is pushed again (and deduped)"
    );
    for l in listeners {
        l.abort();
    }
    app.stop().await;
}

#[tokio::test]
async fn a_queue_refusing_every_wake_up_for_a_while_delays_but_loses_nothing() {
    let refusal = Duration::from_secs(setting("BANTER_FAULT_QUEUE_SECONDS", 2));
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_millis(300)).await;
    let (senders, _receivers, devices, listeners) = pairs_listening(&app, 5).await;
    let mut refusing = app.app().clone();
    refusing.ports.queue = Arc::new(banter_core::ports::Absent("delivery queue"));
    let mut acked = HashMap::new();
    let start = tokio::time::Instant::now();
    let mut n = 0;
    // Sends during the outage (every wake-up refused), then after it.
    while start.elapsed() < refusal * 2 {
        let during = start.elapsed() < refusal;
        let via = if during { &refusing } else { app.app() };
        let pair = n % senders.len();
        let caller = app
            .app()
            .tokens
            .verify_access(&senders[pair].access)
            .unwrap();
        let body = banter_core::api::extract::json_value(
            json!({ "clientMessageId": format!("q{n}"), "content": "queue down" }),
        )
        .unwrap();
        let chat = devices[pair].0.parse().unwrap();
        let m = banter_core::services::messaging::send(via, caller, chat, body, None)
            .await
            .expect("a committed send is acknowledged, queue or not");
        acked.insert(m.id.to_string(), (devices[pair].0.clone(), m.seq));
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Live only: every device must have it all without syncing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline
        && devices
            .iter()
            .map(|(_, d)| d.lock().unwrap().message_ids().len())
            .sum::<usize>()
            < acked.len()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report(
        &format!("queue refusing wake-ups for {} s", refusal.as_secs()),
        &acked,
        &devices,
    );
    for l in listeners {
        l.abort();
    }
    app.stop().await;
}
