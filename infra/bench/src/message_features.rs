//! Issue 10's figures (`banter-bench --features`): typing relay latency (p50/p99), CPU per
//! read receipt, how many receipt events a sender gets when a device catches up on 10,000
//! messages and reads them, and presence fan-out for a user with 500 1:1 chats.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::groups::{create_chat, open_written_chat};
use crate::{
    connect, cpu_secs, next_text, postgres_cpu_secs, print_statement_stats, register,
    reset_statement_stats, summary, Stack, User, Ws,
};

/// Users registered at once (each costs an Argon2 hash on the server).
const REGISTER_PARALLEL: usize = 8;

pub(crate) async fn users(
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
    n: usize,
) -> Result<Vec<User>> {
    futures_util::stream::iter(0..n)
        .map(|i| {
            let name = format!("{prefix}{i}");
            async move { register(http, base, &name).await }
        })
        .buffer_unordered(REGISTER_PARALLEL)
        .try_collect()
        .await
}

async fn send_frame(ws: &mut Ws, frame: Value) -> Result<()> {
    ws.send(Message::Text(frame.to_string().into())).await?;
    Ok(())
}

/// The next frame that is the event `name` (within 10 s).
async fn next_event(ws: &mut Ws, name: &str) -> Result<Value> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frame: Value = serde_json::from_str(&next_text(ws).await?)?;
            if frame["event"] == name {
                return Ok(frame);
            }
        }
    })
    .await
    .map_err(|_| anyhow!("no {name} within 10 s"))?
}

/// The answer to `request_id` (within 10 s).
async fn answer(ws: &mut Ws, request_id: &str) -> Result<Value> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frame: Value = serde_json::from_str(&next_text(ws).await?)?;
            if frame["requestId"] == request_id {
                return Ok(frame);
            }
        }
    })
    .await
    .map_err(|_| anyhow!("no answer to {request_id}"))?
}

/// Every event of `user`'s stream after `since`: (events, the cursor after them).
pub(crate) async fn sync_all(
    http: &reqwest::Client,
    base: &str,
    user: &User,
    since: &str,
) -> Result<(Vec<Value>, String)> {
    let mut cursor = since.to_owned();
    let mut events = Vec::new();
    loop {
        // Without a cursor, sync starts from the present.
        let from = if cursor.is_empty() {
            String::new()
        } else {
            format!("since={cursor}&")
        };
        let page: Value = http
            .get(format!("{base}/api/sync?{from}limit=100"))
            .bearer_auth(&user.token)
            .send()
            .await?
            .json()
            .await?;
        let data = &page["data"];
        events.extend(data["events"].as_array().cloned().unwrap_or_default());
        cursor = data["nextCursor"]
            .as_str()
            .ok_or_else(|| anyhow!("sync: {page}"))?
            .to_owned();
        if data["hasMore"] != true {
            return Ok((events, cursor));
        }
    }
}

pub async fn run(stack: &Stack, seconds: u64) -> Result<()> {
    let http = reqwest::Client::new();
    let base = stack.base.clone();
    let ws_url = base.replace("http://", "ws://") + "/ws";
    let run_id = uuid::Uuid::new_v4().simple().to_string();

    // 1. Typing: 20 pairs, each typer alternating typing / stop_typing (the throttle allows one
    //    of each per 2 s per chat), latency from the frame sent to the peer's receipt.
    let pairs = 20;
    let people = users(&http, &base, &format!("t{run_id}-"), pairs * 2).await?;
    let mut typers = Vec::new();
    for pair in people.chunks(2) {
        let chat = open_written_chat(&http, &base, &pair[0], &pair[1]).await?;
        let typer = connect(&ws_url, &pair[0].token).await?;
        let peer = connect(&ws_url, &pair[1].token).await?;
        typers.push((chat, typer, peer));
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let results = futures_util::future::join_all(typers.into_iter().map(
        |(chat, mut typer, mut peer)| async move {
            let mut h = Histogram::<u64>::new(3)?;
            let mut round = 0u64;
            while Instant::now() < deadline {
                for (action, event) in [
                    ("message:typing", "message:typing"),
                    ("message:stop_typing", "message:stop_typing"),
                ] {
                    let t = Instant::now();
                    send_frame(
                        &mut typer,
                        json!({ "action": action, "data": { "chatId": chat } }),
                    )
                    .await?;
                    next_event(&mut peer, event).await?;
                    h.record(t.elapsed().as_micros() as u64)?;
                }
                round += 1;
                // Past the 2 s throttle window (fixed windows: the next one has begun).
                tokio::time::sleep(Duration::from_millis(2_050)).await;
            }
            Ok::<_, anyhow::Error>((h, round))
        },
    ))
    .await;
    let mut typing = Histogram::<u64>::new(3)?;
    for r in results {
        typing.add(r?.0)?;
    }
    println!("\n[typing] {pairs} pairs, typing / stop_typing relayed to the connected peer");
    println!("  typing relay latency: {}", summary(&typing));

    // 2. Read receipts: 20 readers each mark 100 messages read one by one (message:read over
    //    the WebSocket), the sender's receipt stored with each; CPU per read.
    let per_reader = 100;
    let (writer, readers) = people.split_first().ok_or_else(|| anyhow!("no users"))?;
    let readers = &readers[..pairs];
    let mut chats = Vec::new();
    for reader in readers {
        chats.push(
            create_chat(
                &http,
                &base,
                writer,
                json!({ "type": "individual", "participantIds": [reader.id] }),
            )
            .await?,
        );
    }
    let mut ids: Vec<Vec<String>> = vec![Vec::new(); readers.len()];
    for (n, chat) in chats.iter().enumerate() {
        for i in 0..per_reader {
            let answer: Value = http
                .post(format!("{base}/api/chats/{chat}/messages"))
                .bearer_auth(&writer.token)
                .json(&json!({ "clientMessageId": format!("r{n}-{i}"), "content": format!("read me {i}") }))
                .send()
                .await?
                .json()
                .await?;
            ids[n].push(
                answer["data"]["id"]
                    .as_str()
                    .ok_or_else(|| anyhow!("send: {answer}"))?
                    .to_owned(),
            );
        }
    }
    let mut sockets = Vec::new();
    for reader in readers {
        sockets.push(connect(&ws_url, &reader.token).await?);
    }
    let statements_counted = reset_statement_stats(&stack.database_url).await;
    let (cpu0, pg0, t0) = (cpu_secs(stack.pid()), postgres_cpu_secs(), Instant::now());
    let results = futures_util::future::join_all(sockets.into_iter().zip(&chats).zip(&ids).map(
        |((mut ws, chat), ids)| async move {
            let mut h = Histogram::<u64>::new(3)?;
            for (i, id) in ids.iter().enumerate() {
                let request = format!("read-{i}");
                let t = Instant::now();
                send_frame(
                    &mut ws,
                    json!({ "action": "message:read", "requestId": request,
                            "data": { "chatId": chat, "messageId": id } }),
                )
                .await?;
                let a = answer(&mut ws, &request).await?;
                if a["event"] != "ack" {
                    bail!("message:read: {a}");
                }
                h.record(t.elapsed().as_micros() as u64)?;
            }
            Ok::<_, anyhow::Error>(h)
        },
    ))
    .await;
    let elapsed = t0.elapsed().as_secs_f64();
    let (cpu, pg) = (cpu_secs(stack.pid()) - cpu0, postgres_cpu_secs() - pg0);
    let mut reads = Histogram::<u64>::new(3)?;
    for r in results {
        reads.add(r?)?;
    }
    let n = reads.len() as f64;
    println!(
        "\n[read receipts] {} readers x {per_reader} reads (message:read, one message at a time)",
        readers.len()
    );
    println!("  ack latency: {}", summary(&reads));
    println!(
        "  {:.0} reads/s; CPU per read: stack {:.3} ms + PostgreSQL {:.3} ms",
        n / elapsed,
        cpu / n * 1000.0,
        pg / n * 1000.0
    );
    if statements_counted {
        print_statement_stats(&stack.database_url, n, "read").await?;
    }

    // 3. Catch-up: a device offline while 10,000 messages arrive syncs them and reads the last;
    //    the sender's stream gets O(1) receipt events for it.
    let (sender, reader) = (&people[pairs * 2 - 2], &people[pairs * 2 - 1]);
    let chat = create_chat(
        &http,
        &base,
        sender,
        json!({ "type": "individual", "participantIds": [reader.id] }),
    )
    .await?;
    let total = 10_000;
    let t = Instant::now();
    let sent: Vec<String> = futures_util::stream::iter(0..total)
        .map(|i| {
            let (http, base, chat, sender) = (&http, &base, &chat, sender);
            async move {
                let answer: Value = http
                    .post(format!("{base}/api/chats/{chat}/messages"))
                    .bearer_auth(&sender.token)
                    .json(&json!({ "clientMessageId": format!("c{i}"), "content": format!("catch up {i}") }))
                    .send()
                    .await?
                    .json()
                    .await?;
                Ok::<_, anyhow::Error>(answer["data"]["seq"].as_i64().unwrap_or(0).to_string()
                    + " "
                    + answer["data"]["id"].as_str().unwrap_or_default())
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let stored = t.elapsed();
    let (last_seq, last) = sent
        .iter()
        .filter_map(|s| s.split_once(' '))
        .map(|(seq, id)| (seq.parse::<i64>().unwrap_or(0), id.to_owned()))
        .max()
        .ok_or_else(|| anyhow!("nothing sent"))?;
    // The sender's stream from here on.
    let (_, sender_since) = sync_all(&http, &base, sender, "").await?;
    let t = Instant::now();
    let (caught_up, _) = sync_all(&http, &base, reader, "0.0").await?;
    let synced = t.elapsed();
    let received = caught_up
        .iter()
        .filter(|e| e["event"] == "message:received")
        .count();
    let read: Value = http
        .post(format!("{base}/api/chats/{chat}/messages/{last}/read"))
        .bearer_auth(&reader.token)
        .send()
        .await?
        .json()
        .await?;
    if read["data"]["readSeq"].as_i64() != Some(last_seq) {
        bail!("read: {read}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (told, _) = sync_all(&http, &base, sender, &sender_since).await?;
    let count = |name: &str| told.iter().filter(|e| e["event"] == name).count();
    println!("\n[catch-up] {total} messages stored in {stored:.1?} while the reader was offline");
    println!("  the reader's sync: {received} messages in {synced:.1?}; then one read of the last");
    println!(
        "  the sender's stream got {} message:delivered and {} message:read events for them",
        count("message:delivered"),
        count("message:read")
    );

    // 4. Presence fan-out: a user with 500 1:1 chats goes idle and back (user:offline /
    //    user:online): the ack (the transition and its 500 events stored), and the time until
    //    the last of 50 connected partners has the event.
    let partners = users(&http, &base, &format!("p{run_id}-"), 500).await?;
    let owner = register(&http, &base, &format!("owner{run_id}")).await?;
    futures_util::stream::iter(&partners)
        .map(|p| open_written_chat(&http, &base, &owner, p))
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let mut watchers = Vec::new();
    for p in &partners[..50] {
        watchers.push(connect(&ws_url, &p.token).await?);
    }
    let mut owner_ws = connect(&ws_url, &owner.token).await?;
    for w in &mut watchers {
        next_event(w, "user:online").await?;
    }
    let (mut acks, mut fanout) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    let statements_counted = reset_statement_stats(&stack.database_url).await;
    for round in 0..20 {
        let (action, event) = if round % 2 == 0 {
            ("user:offline", "user:offline")
        } else {
            ("user:online", "user:online")
        };
        let request = format!("p{round}");
        let t = Instant::now();
        send_frame(
            &mut owner_ws,
            json!({ "action": action, "requestId": request, "data": {} }),
        )
        .await?;
        answer(&mut owner_ws, &request).await?;
        acks.record(t.elapsed().as_micros() as u64)?;
        for w in &mut watchers {
            next_event(w, event).await?;
        }
        fanout.record(t.elapsed().as_micros() as u64)?;
    }
    println!(
        "\n[presence] a user with 500 1:1 chats toggles idle/active 20 times (500 events each)"
    );
    println!("  ack (transition + 500 events stored): {}", summary(&acks));
    println!(
        "  to the last of 50 connected partners: {}",
        summary(&fanout)
    );
    if statements_counted {
        print_statement_stats(&stack.database_url, acks.len() as f64, "transition").await?;
    }
    Ok(())
}
