//! Issue 9's group figures (`banter-bench --group 1024`): one sender to a group whose members
//! are all connected, at a fixed rate (send -> last member received, p50/p99) and at saturation
//! (deliveries per second); the chat list of a user in 500 chats (p95); and the group read with
//! every member's profile (`GET /api/chats/:id`) and a page of its history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    connect, cpu_secs, ms, paced, postgres_cpu_secs, register, summary, Options, Stack, User,
};

/// Per message: when it was sent and how many members have it.
type Arrivals = Arc<Mutex<HashMap<String, (Instant, usize)>>>;

pub(crate) async fn create_chat(
    http: &reqwest::Client,
    base: &str,
    by: &User,
    body: Value,
) -> Result<String> {
    let answer: Value = http
        .post(format!("{base}/api/chats"))
        .bearer_auth(&by.token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["data"]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("chat: {answer}"))?
        .to_owned())
}

/// A 1:1 chat `opener` opens with `other` and writes its first message in (as a chat in use
/// is): until then the other person's list does not show it, and nothing of the opener's
/// presence or typing reaches them.
pub(crate) async fn open_written_chat(
    http: &reqwest::Client,
    base: &str,
    opener: &User,
    other: &User,
) -> Result<String> {
    let chat = create_chat(
        http,
        base,
        opener,
        json!({ "type": "individual", "participantIds": [other.id] }),
    )
    .await?;
    let first = json!({ "clientMessageId": format!("first-{chat}"), "content": "hi" });
    let status = http
        .post(format!("{base}/api/chats/{chat}/messages"))
        .bearer_auth(&opener.token)
        .json(&first)
        .send()
        .await?
        .status();
    anyhow::ensure!(status.is_success(), "first message: {status}");
    Ok(chat)
}

/// `times` answers to `GET url` for `by`, timed one after another.
async fn timed_gets(
    http: &reqwest::Client,
    url: &str,
    by: &User,
    times: usize,
) -> Result<Histogram<u64>> {
    let mut answers = Histogram::<u64>::new(3)?;
    for _ in 0..times {
        let t = Instant::now();
        let status = http.get(url).bearer_auth(&by.token).send().await?.status();
        answers.record(t.elapsed().as_micros() as u64)?;
        anyhow::ensure!(status.is_success(), "{url} answered {status}");
    }
    Ok(answers)
}

pub async fn run(o: &Options, stack: &Stack) -> Result<()> {
    let http = reqwest::Client::new();
    let base = stack.base.clone();
    let ws_url = base.replace("http://", "ws://") + "/ws";
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let users: Vec<User> = futures_util::stream::iter(0..o.group)
        .map(|i| {
            let (http, base, name) = (&http, &base, format!("g{i}-{run_id}"));
            async move { register(http, base, &name).await }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    let (sender, members) = users
        .split_first()
        .ok_or_else(|| anyhow!("--group 2 or more"))?;
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let chat = create_chat(
        &http,
        &base,
        sender,
        json!({ "type": "group", "name": "bench", "participantIds": ids }),
    )
    .await?;

    // 1. The chat list of a user in 500 chats, before the group phases: measured after them it
    // read 57 ms p50 instead of 10 ms, while the group's 1,023 connections were closing (the
    // stack is idle again as soon as the last delivery is in: phase 6 prints it).
    let owner = sender;
    for i in 0..500 {
        let other = &members[i % members.len()];
        create_chat(
            &http,
            &base,
            owner,
            json!({ "type": "group", "name": format!("list {i}"), "participantIds": [other.id] }),
        )
        .await?;
    }
    let list = timed_gets(&http, &format!("{base}/api/chats?limit=50"), owner, 200).await?;
    println!("\n[chat list] a user in 501 chats, first page of 50 (one query)");
    println!("  p95 {:.2} ms; {}", ms(&list, 0.95), summary(&list));
    // 2. The group itself, with every member's profile as the sender sees it.
    let details = timed_gets(&http, &format!("{base}/api/chats/{chat}"), owner, 50).await?;
    println!(
        "\n[chat details] the group of {} members, each profile as the caller sees it",
        o.group
    );
    println!("  p95 {:.2} ms; {}", ms(&details, 0.95), summary(&details));
    // 3. A page of its history, whose ticks are checked against every member's privacy.
    let history = timed_gets(
        &http,
        &format!("{base}/api/chats/{chat}/messages?limit=50"),
        owner,
        50,
    )
    .await?;
    println!("\n[chat history] a page of the group's messages, its ticks from every member");
    println!("  p95 {:.2} ms; {}", ms(&history, 0.95), summary(&history));
    // Every member connected once; each arrival counted, the last one timed.
    let arrivals: Arrivals = Arc::default();
    let last = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let complete = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let mut readers = Vec::new();
    let expected = members.len();
    for member in members {
        let mut ws = connect(&ws_url, &member.token).await?;
        let (arrivals, last, complete) = (arrivals.clone(), last.clone(), complete.clone());
        readers.push(tokio::spawn(async move {
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                let frame: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if frame["event"] != "message:received" {
                    continue;
                }
                let id = frame["data"]["message"]["clientMessageId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let mut arrivals = arrivals.lock().unwrap();
                if let Some((t0, n)) = arrivals.get_mut(&id) {
                    *n += 1;
                    if *n == expected {
                        last.lock()
                            .unwrap()
                            .record(t0.elapsed().as_micros() as u64)
                            .ok();
                        complete.lock().unwrap().push(Instant::now());
                        arrivals.remove(&id);
                    }
                }
            }
        }));
    }
    let (mut sink, mut acks) = connect(&ws_url, &sender.token).await?.split();
    readers.push(tokio::spawn(
        async move { while acks.next().await.is_some() {} },
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let send = |n: u64| {
        json!({ "action": "message:send", "requestId": n.to_string(),
            "data": { "chatId": chat, "clientMessageId": format!("g{n}"), "content": "to the whole group" } })
        .to_string()
    };

    // 4. A fixed rate: send -> the last member has it.
    let total = o.rate * o.seconds;
    let start = Instant::now();
    let mut ticks = paced(start, o.rate, total);
    while let Some((n, due)) = ticks.recv().await {
        arrivals.lock().unwrap().insert(format!("g{n}"), (due, 0));
        sink.send(Message::Text(send(n).into())).await?;
    }
    wait_for_all(&arrivals).await;
    let lost = arrivals.lock().unwrap().len();
    println!(
        "\n[group] one sender to {} connected members, {total} messages at {} msg/s",
        expected, o.rate
    );
    println!(
        "  send -> last member received: {}",
        summary(&last.lock().unwrap())
    );
    println!("  messages some member had not received within 30 s: {lost}");

    // 5. Saturation: a burst as fast as the connection takes it; deliveries per second from
    // the first send to the last member's last arrival.
    arrivals.lock().unwrap().clear();
    complete.lock().unwrap().clear();
    let burst = (o.rate * o.seconds).max(200);
    let cpu_server_0 = cpu_secs(stack.pid());
    let cpu_pg_0 = postgres_cpu_secs();
    let t0 = Instant::now();
    for n in total..total + burst {
        arrivals
            .lock()
            .unwrap()
            .insert(format!("g{n}"), (Instant::now(), 0));
        sink.send(Message::Text(send(n).into())).await?;
    }
    wait_for_all(&arrivals).await;
    let done = complete.lock().unwrap().iter().max().copied().unwrap_or(t0);
    let took = done.duration_since(t0).as_secs_f64();
    let delivered = complete.lock().unwrap().len() * expected;
    println!(
        "  saturation: {burst} messages = {delivered} deliveries in {took:.2} s = {:.0} deliveries/s (budget 50,000/s)",
        delivered as f64 / took
    );
    println!(
        "  CPU per delivery: server {:.1} us + postgres {:.1} us",
        (cpu_secs(stack.pid()) - cpu_server_0) * 1e6 / delivered.max(1) as f64,
        (postgres_cpu_secs() - cpu_pg_0) * 1e6 / delivered.max(1) as f64
    );
    // 6. What the burst leaves behind: how long the stack stays busy after the last delivery
    // (less than 5% of a core for a second ends it), and the CPU per delivery counting it.
    let mut busy_for = 0;
    for second in 1..=60 {
        let (server, postgres) = (cpu_secs(stack.pid()), postgres_cpu_secs());
        tokio::time::sleep(Duration::from_secs(1)).await;
        if cpu_secs(stack.pid()) - server + postgres_cpu_secs() - postgres < 0.05 {
            busy_for = second - 1;
            break;
        }
        busy_for = second;
    }
    println!(
        "  after the last delivery: busy {busy_for} s more; CPU per delivery with it: server {:.1} us + postgres {:.1} us",
        (cpu_secs(stack.pid()) - cpu_server_0) * 1e6 / delivered.max(1) as f64,
        (postgres_cpu_secs() - cpu_pg_0) * 1e6 / delivered.max(1) as f64
    );
    for r in readers {
        r.abort();
    }
    Ok(())
}

/// Until every message has reached every member, or 30 s.
async fn wait_for_all(arrivals: &Arrivals) {
    for _ in 0..600 {
        if arrivals.lock().unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
