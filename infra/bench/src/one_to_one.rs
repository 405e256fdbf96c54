//! The 1:1 message path at a fixed mean rate (Poisson arrivals): pairs of users, each sender
//! sending over its WebSocket to its receiver's chat (open loop: latency counts from when a send
//! was due), and the saturation sweep that raises the rate until the p99 budget breaks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::aws_cost::{self, AwsRequests};
use crate::groups::open_written_chat;
use crate::{
    connect, cpu_secs, cpu_time, ms, next_text, paced, postgres_cpu_by_process, register,
    reset_statement_stats, transactions, CpuTime, Stack, User, Ws,
};

/// Senders and receivers, and the 1:1 chat of each pair.
pub struct Pairs {
    pub senders: Vec<User>,
    pub receivers: Vec<User>,
    chats: Vec<String>,
}

impl Pairs {
    pub async fn register(
        http: &reqwest::Client,
        base: &str,
        run_id: &str,
        n: usize,
    ) -> Result<Self> {
        let mut pairs = Self {
            senders: Vec::new(),
            receivers: Vec::new(),
            chats: Vec::new(),
        };
        for i in 0..n {
            let a = register(http, base, &format!("s{i}-{run_id}")).await?;
            let b = register(http, base, &format!("r{i}-{run_id}")).await?;
            // Its first message, which brings the other person the chat and the opener's
            // presence, is not what the phases measure.
            let chat = open_written_chat(http, base, &a, &b).await?;
            pairs.chats.push(chat);
            pairs.senders.push(a);
            pairs.receivers.push(b);
        }
        Ok(pairs)
    }
}

/// What one send phase measured.
pub struct SendPhase {
    pub sent: u64,
    /// Sends per second the client kept up (below the rate when the client itself falls behind).
    pub achieved: f64,
    /// Send -> `message:received` at the receiver, from when the send was due.
    pub delivered: Histogram<u64>,
    /// Send -> the sender's `ack`.
    pub acked: Histogram<u64>,
    /// How late this client wrote each send after it was due (waking its pacing thread, and
    /// its own share of the cores): part of every latency above, not the server's.
    pub late: Histogram<u64>,
    /// Not received within 5 s of the last send.
    pub lost: usize,
    /// CPU milliseconds per delivered message: the stack's process, and PostgreSQL's.
    pub server_cpu_ms: f64,
    pub postgres_cpu_ms: f64,
    /// Of those, the part spent in the kernel.
    pub server_kernel_cpu_ms: f64,
    pub postgres_kernel_cpu_ms: f64,
    /// And this benchmark's own (its clients share the machine's cores with the stack).
    pub client_cpu_ms: f64,
    /// PostgreSQL transactions per delivered message.
    pub transactions: f64,
    /// Whether `pg_stat_statements` counted this phase (from its first send).
    pub statements_counted: bool,
    /// Every PostgreSQL process's CPU in the phase, busiest first: (process id, seconds).
    pub postgres_processes: Vec<(u32, CpuTime)>,
    /// What the phase would ask of AWS, per delivered message.
    pub aws_requests: AwsRequests,
}

/// Send `rate` messages per second for `seconds` over fresh connections of every pair, round
/// robin; `tag` keeps this phase's `clientMessageId`s apart from other phases'.
pub async fn send_at_rate(
    stack: &Stack,
    pairs: &Pairs,
    rate: u64,
    seconds: u64,
    tag: &str,
) -> Result<SendPhase> {
    let ws_url = stack.base.replace("http://", "ws://") + "/ws";
    // Send times by clientMessageId: one map for receivers, one for acks.
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let ack_due: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let delivered = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let acked = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let mut sinks: Vec<SplitSink<Ws, Message>> = Vec::new();
    let mut readers = Vec::new();
    for (sender, receiver) in pairs.senders.iter().zip(&pairs.receivers) {
        let (sink, mut sender_stream): (_, SplitStream<Ws>) =
            connect(&ws_url, &sender.token).await?.split();
        sinks.push(sink);
        let (sent, acks) = (ack_due.clone(), acked.clone());
        readers.push(tokio::spawn(async move {
            while let Some(Ok(Message::Text(t))) = sender_stream.next().await {
                let frame: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if frame["event"] == "ack" {
                    let id = frame["data"]["clientMessageId"]
                        .as_str()
                        .unwrap_or_default();
                    if let Some(t0) = sent.lock().unwrap().remove(id) {
                        acks.lock()
                            .unwrap()
                            .record(t0.elapsed().as_micros() as u64)
                            .ok();
                    }
                }
            }
        }));
        let mut rx = connect(&ws_url, &receiver.token).await?;
        let (sent, hist) = (sent_at.clone(), delivered.clone());
        readers.push(tokio::spawn(async move {
            while let Ok(t) = next_text(&mut rx).await {
                let frame: Value = serde_json::from_str(&t).unwrap_or_default();
                if frame["event"] == "message:received" {
                    let id = frame["data"]["message"]["clientMessageId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(t0) = sent.lock().unwrap().remove(&id) {
                        hist.lock()
                            .unwrap()
                            .record(t0.elapsed().as_micros() as u64)
                            .ok();
                    }
                }
            }
        }));
    }
    let total = rate * seconds;
    let pid = stack.pid();
    let cpu_server_0 = cpu_time(pid);
    let cpu_client_0 = cpu_secs(std::process::id());
    let cpu_pg_0 = postgres_cpu_by_process();
    let xacts_0 = transactions(&stack.database_url).await?;
    let aws_0 = aws_cost::counts(&stack.base).await?;
    let statements_counted = reset_statement_stats(&stack.database_url).await;
    let mut late = Histogram::<u64>::new(3)?;
    let start = Instant::now();
    let mut ticks = paced(start, rate, total);
    while let Some((n, due)) = ticks.recv().await {
        let pair = n as usize % sinks.len();
        let id = format!("{tag}{n}");
        let frame = json!({ "action": "message:send", "requestId": n.to_string(),
            "data": { "chatId": pairs.chats[pair], "clientMessageId": id, "content": "a message-sized payload of about sixty bytes, like a short chat" } });
        // Open loop: latency counts from when the send was due.
        sent_at.lock().unwrap().insert(id.clone(), due);
        ack_due.lock().unwrap().insert(id, due);
        sinks[pair]
            .send(Message::Text(frame.to_string().into()))
            .await?;
        late.record(due.elapsed().as_micros() as u64).ok();
    }
    let send_time = start.elapsed();
    for _ in 0..100 {
        if sent_at.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu_server = cpu_time(pid) - cpu_server_0;
    let cpu_client = cpu_secs(std::process::id()) - cpu_client_0;
    let mut by_process: Vec<(u32, CpuTime)> = postgres_cpu_by_process()
        .into_iter()
        .map(|(pid, cpu)| (pid, cpu - cpu_pg_0.get(&pid).copied().unwrap_or_default()))
        .collect();
    let cpu_pg: CpuTime = by_process.iter().map(|(_, cpu)| *cpu).sum();
    by_process.sort_by(|a, b| b.1.total().total_cmp(&a.1.total()));
    let xacts = transactions(&stack.database_url).await? - xacts_0;
    let aws_1 = aws_cost::counts(&stack.base).await?;
    for r in readers {
        r.abort();
    }
    let delivered = delivered.lock().unwrap().clone();
    let acked = acked.lock().unwrap().clone();
    let per_message = delivered.len().max(1) as f64;
    let lost = sent_at.lock().unwrap().len();
    Ok(SendPhase {
        sent: total,
        achieved: total as f64 / send_time.as_secs_f64(),
        lost,
        server_cpu_ms: cpu_server.total() * 1000.0 / per_message,
        postgres_cpu_ms: cpu_pg.total() * 1000.0 / per_message,
        server_kernel_cpu_ms: cpu_server.kernel * 1000.0 / per_message,
        postgres_kernel_cpu_ms: cpu_pg.kernel * 1000.0 / per_message,
        client_cpu_ms: cpu_client * 1000.0 / per_message,
        transactions: xacts as f64 / per_message,
        statements_counted,
        postgres_processes: by_process,
        aws_requests: AwsRequests::between(&aws_0, &aws_1, per_message),
        delivered,
        acked,
        late,
    })
}

/// The p99 a rate must keep to count as sustained (DESIGN.md's saturation budget).
const SATURATION_P99_MS: f64 = 1000.0;

/// Raise the rate by `step` (`step`, 2 × `step`, ...; `seconds` at each) until the delivered
/// p99 passes 1 s, a message is not received, or the client cannot keep the rate; print each
/// step and the highest rate sustained.
pub async fn saturation(stack: &Stack, pairs: &Pairs, step: u64, seconds: u64) -> Result<()> {
    println!(
        "\n[saturation] 1:1 over {} pairs, {seconds} s per step, from {step} msg/s by {step}",
        pairs.senders.len()
    );
    let mut sustained = None;
    let mut rate = step;
    loop {
        let phase = send_at_rate(stack, pairs, rate, seconds, &format!("sat{rate}-")).await?;
        let p99 = ms(&phase.delivered, 0.99);
        println!(
            "  {rate:>6} msg/s (achieved {:.0}/s): delivered p50 {:.2} ms, p99 {p99:.2} ms, not received {}; CPU per message: server {:.3} ms + postgres {:.3} ms (client {:.3} ms)",
            phase.achieved,
            ms(&phase.delivered, 0.5),
            phase.lost,
            phase.server_cpu_ms,
            phase.postgres_cpu_ms,
            phase.client_cpu_ms,
        );
        let kept =
            p99 < SATURATION_P99_MS && phase.lost == 0 && phase.achieved >= 0.95 * rate as f64;
        if !kept {
            break;
        }
        sustained = Some(rate);
        rate += step;
        // Let the stack settle (the relay's receipts, the pool) before the next step.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    match sustained {
        Some(rate) => println!(
            "  saturation: {rate} msg/s sustained with p99 < 1 s (budget >= 5000), {} msg/s was not",
            rate + step
        ),
        None => println!("  saturation: below {step} msg/s (budget >= 5000)"),
    }
    Ok(())
}
