//! Issue 8's dropped-connections fault scenario at full size (`banter-bench
//! --dropped-connections`): `--connections` WebSocket connections (10,000 by default) to one
//! group, all dropped at once while the group's messages keep coming, and all reconnecting
//! together, each with the cursor of the last event it got (`/ws?since=`). It prints how long
//! reconnecting and catching up took, and what every connection received after client-side
//! dedupe on cursors: lost, re-pushed and gaps in `seq`, each of which must be 0.
//!
//! The test command runs the same scenario smaller (`tests/it/faults.rs`). There the test holds
//! both ends of every connection in one process, so the open-file limit caps it near 9,000;
//! here the stack is a process of its own and 10,000 fit.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, ensure, Result};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::groups::create_chat;
use crate::message_features::{sync_all, users};
use crate::{connect_from, rss_kib, Stack, User};

/// Connections per member. A member's connections share its session, as a client's tabs
/// would: a session each would cost a login (an Argon2 hash) per connection, and what is under
/// test is the connections.
const PER_MEMBER: usize = 100;
/// WebSocket handshakes in flight at once, the first time and after the drop.
const HANDSHAKES_AT_ONCE: usize = 256;
/// The group gets a message this often, from before the drop until after the reconnects.
const SEND_EVERY: Duration = Duration::from_millis(500);
/// How long messages keep coming before the drop, and after the last reconnect.
const SENDING_AROUND: Duration = Duration::from_secs(3);

/// What one connection (and the connection that replaced it) received, deduped by cursor as a
/// client does.
#[derive(Default)]
struct Received {
    cursors: HashSet<String>,
    last_cursor: Option<String>,
    /// The `seq`s of the group's messages it got.
    seqs: HashSet<i64>,
    /// Events it got a second time (dropped by their cursor).
    repushed: usize,
}

impl Received {
    /// Where this connection resumes: after the last event it got, or at `since`.
    fn resume_from(&self, since: &str) -> String {
        self.last_cursor.clone().unwrap_or_else(|| since.to_owned())
    }

    fn take(&mut self, frame: &Value) {
        let Some(cursor) = frame["cursor"].as_str() else {
            return;
        };
        if !self.cursors.insert(cursor.to_owned()) {
            self.repushed += 1;
            return;
        }
        self.last_cursor = Some(cursor.to_owned());
        if frame["event"] == "message:received" {
            if let Some(seq) = frame["data"]["message"]["seq"].as_i64() {
                self.seqs.insert(seq);
            }
        }
    }
}

/// Connect with `token` from `since`, and read into `received` in the background.
async fn listen(
    ws_url: &str,
    token: &str,
    since: &str,
    received: Arc<Mutex<Received>>,
) -> Result<JoinHandle<()>> {
    let mut ws = connect_from(ws_url, token, Some(since)).await?;
    Ok(tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = ws.next().await {
            if let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) {
                received.lock().unwrap().take(&frame);
            }
        }
    }))
}

/// (Re)connect every connection from its last cursor (`since` before it has one), many
/// handshakes at once.
async fn listen_all(
    ws_url: &str,
    members: &[User],
    connections: &[Arc<Mutex<Received>>],
    since: &str,
) -> Result<Vec<JoinHandle<()>>> {
    futures_util::stream::iter(connections.iter().enumerate())
        .map(|(i, received)| {
            let cursor = received.lock().unwrap().resume_from(since);
            let token = &members[i / PER_MEMBER].token;
            async move { listen(ws_url, token, &cursor, received.clone()).await }
        })
        .buffered(HANDSHAKES_AT_ONCE)
        .try_collect()
        .await
}

/// Send to `chat` every `SEND_EVERY` until `stop`; returns the acknowledged messages' `seq`s
/// and when the last was acknowledged.
async fn keep_sending(
    http: reqwest::Client,
    base: String,
    sender_token: String,
    chat: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(Vec<i64>, Instant)> {
    let mut acked = Vec::new();
    let mut last_ack = Instant::now();
    let mut tick = tokio::time::interval(SEND_EVERY);
    for n in 0.. {
        tick.tick().await;
        if *stop.borrow() {
            break;
        }
        let answer: Value = http
            .post(format!("{base}/api/chats/{chat}/messages"))
            .bearer_auth(&sender_token)
            .json(&json!({ "clientMessageId": format!("d{n}"), "content": "to everyone" }))
            .send()
            .await?
            .json()
            .await?;
        acked.push(
            answer["data"]["seq"]
                .as_i64()
                .ok_or_else(|| anyhow!("send: {answer}"))?,
        );
        last_ack = Instant::now();
    }
    Ok((acked, last_ack))
}

pub async fn run(stack: &Stack, connections_n: usize) -> Result<()> {
    let http = reqwest::Client::new();
    let base = stack.base.clone();
    let ws_url = base.replace("http://", "ws://") + "/ws";
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let members_n = connections_n.div_ceil(PER_MEMBER);
    let users = users(&http, &base, &format!("d{run_id}-"), members_n + 1).await?;
    let (sender, members) = users.split_first().expect("a sender and members");
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let chat = create_chat(
        &http,
        &base,
        sender,
        json!({ "type": "group", "name": "storm", "participantIds": ids }),
    )
    .await?;
    // Without a cursor, sync answers the present one.
    let (_, since) = sync_all(&http, &base, &members[0], "").await?;
    let connections: Vec<Arc<Mutex<Received>>> =
        (0..connections_n).map(|_| Arc::default()).collect();

    let connecting = Instant::now();
    let readers = listen_all(&ws_url, members, &connections, &since).await?;
    println!(
        "\n[dropped connections] {connections_n} WebSocket connections to a group of {members_n} \
         members ({PER_MEMBER} per member), connected in {:.1} s; server RSS {:.0} MiB",
        connecting.elapsed().as_secs_f64(),
        rss_kib(stack.pid()) as f64 / 1024.0
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sending = tokio::spawn(keep_sending(
        http.clone(),
        base.clone(),
        sender.token.clone(),
        chat,
        stopped,
    ));
    tokio::time::sleep(SENDING_AROUND).await;

    // Every connection drops at once (no close frame: the sockets just go), while messages
    // keep coming; then all reconnect together from their last cursors.
    for reader in readers {
        reader.abort();
    }
    let reconnecting = Instant::now();
    let readers = listen_all(&ws_url, members, &connections, &since).await?;
    let reconnected = reconnecting.elapsed();
    tokio::time::sleep(SENDING_AROUND).await;
    stop.send(true)?;
    let (acked, last_ack) = sending.await??;
    ensure!(!acked.is_empty(), "no send was acknowledged");

    // Every resuming connection is replayed what it missed before anything newer.
    let has_all = |r: &Mutex<Received>| {
        let r = r.lock().unwrap();
        acked.iter().all(|seq| r.seqs.contains(seq))
    };
    let deadline = Instant::now() + Duration::from_secs(60 + connections_n as u64 / 100);
    while Instant::now() < deadline && !connections.iter().all(|c| has_all(c)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let complete_after = last_ack.elapsed();
    let incomplete_live = connections.iter().filter(|c| !has_all(c)).count();
    for reader in readers {
        reader.abort();
    }
    // Those still missing something sync from their last cursor, as a client would.
    for (i, received) in connections.iter().enumerate() {
        if !has_all(received) {
            let cursor = received.lock().unwrap().resume_from(&since);
            let (events, _) = sync_all(&http, &base, &members[i / PER_MEMBER], &cursor).await?;
            let mut received = received.lock().unwrap();
            for event in &events {
                received.take(event);
            }
        }
    }

    let (mut received, mut lost, mut repushed, mut gaps) = (0, 0, 0, 0);
    for c in &connections {
        let c = c.lock().unwrap();
        received += c.seqs.len();
        repushed += c.repushed;
        lost += acked.iter().filter(|seq| !c.seqs.contains(seq)).count();
        let mut seqs: Vec<i64> = c.seqs.iter().copied().collect();
        seqs.sort_unstable();
        gaps += seqs.windows(2).filter(|w| w[1] != w[0] + 1).count();
    }
    println!(
        "  all dropped at once: reconnected in {:.1} s ({:.0} connections/s); every connection \
         had every message {:.2} s after the last was acknowledged{}",
        reconnected.as_secs_f64(),
        connections_n as f64 / reconnected.as_secs_f64(),
        complete_after.as_secs_f64(),
        if incomplete_live == 0 {
            String::new()
        } else {
            format!(" ({incomplete_live} not live: they synced)")
        }
    );
    println!(
        "  acknowledged {} messages, received {received} on {connections_n} connections \
         (live + sync), lost {lost}, re-pushed {repushed} (dropped by cursor: 0 duplicates \
         after dedupe), gaps {gaps}",
        acked.len()
    );
    Ok(())
}
