//! The store-and-forward floor: the least any server that stores a message before it delivers
//! it can do, measured on the stack's PostgreSQL at the 1:1 phase's rate, so the 1:1 figures
//! read against what the machine allows and not only against a lone INSERT.
//!
//! A WebSocket server of a few lines, on a thread of its own (its CPU is that thread's): each
//! frame is one message, committed by one durable single-row INSERT (autocommit, pipelined on
//! one connection) and then written to the recipient's socket. No authentication, no checks,
//! no event log, no receipts: everything Banter does on top is what separates the two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::{cpu_time, paced, postgres_cpu_by_process, CpuTime};

/// What the floor measured.
pub struct Floor {
    /// Send -> received, from when the send was due.
    pub delivered: Histogram<u64>,
    /// CPU milliseconds per delivered message: the server's thread, and PostgreSQL's.
    pub server_cpu_ms: f64,
    pub postgres_cpu_ms: f64,
}

/// Each connection's outgoing frames, by the number it said hello with.
type Outboxes = Arc<Mutex<HashMap<u32, mpsc::UnboundedSender<String>>>>;

/// Run `rate` messages a second for `seconds` between `pairs` pairs through the minimal server.
pub async fn measure(database_url: &str, pairs: usize, rate: u64, seconds: u64) -> Result<Floor> {
    let (address, server_thread) = start_server(database_url.to_string()).await?;
    let started = Instant::now();
    let delivered = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let mut sinks = Vec::new();
    for id in 0..pairs as u32 * 2 {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{address}/")).await?;
        let (mut sink, mut source) = ws.split();
        sink.send(Message::text(id.to_string())).await?;
        let delivered = delivered.clone();
        tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = source.next().await {
                let due: u64 = text.as_str().parse().unwrap_or(0);
                let now = started.elapsed().as_micros() as u64;
                let _ = delivered
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .record(now.saturating_sub(due));
            }
        });
        sinks.push(sink);
    }
    let total = rate * seconds;
    let (server_before, postgres_before) = (
        cpu_time(server_thread),
        postgres_cpu_by_process().into_values().sum::<CpuTime>(),
    );
    let mut due = paced(Instant::now(), rate, total);
    while let Some((n, at)) = due.recv().await {
        // Senders are the even connections, each sending to the odd one after it.
        let from = (n as usize % pairs) * 2;
        let stamp = at.duration_since(started).as_micros();
        sinks[from]
            .send(Message::text(format!("{} {stamp}", from + 1)))
            .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while delivered.lock().unwrap_or_else(|e| e.into_inner()).len() < total
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server = cpu_time(server_thread) - server_before;
    let postgres = postgres_cpu_by_process().into_values().sum::<CpuTime>() - postgres_before;
    let delivered = delivered.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let count = delivered.len().max(1) as f64;
    Ok(Floor {
        server_cpu_ms: server.total() * 1000.0 / count,
        postgres_cpu_ms: postgres.total() * 1000.0 / count,
        delivered,
    })
}

/// Start the server on a thread of its own (a single-threaded runtime, so one thread id holds
/// all its CPU). Returns its address and that thread's id. It runs until the process ends.
async fn start_server(database_url: String) -> Result<(std::net::SocketAddr, u32)> {
    let (ready, started) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the store-and-forward server");
        runtime.block_on(async move {
            let outcome = async {
                let (db, connection) =
                    tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                db.batch_execute(
                    "CREATE TABLE IF NOT EXISTS bench_forwarded (
                         id bigserial PRIMARY KEY, sender int NOT NULL, recipient int NOT NULL,
                         body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
                )
                .await?;
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                Ok::<_, anyhow::Error>((Arc::new(db), listener))
            }
            .await;
            let (db, listener) = match outcome {
                Ok(ok) => ok,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let thread = current_thread_id();
            let _ = ready.send(Ok((listener.local_addr().expect("bound"), thread)));
            let outboxes: Outboxes = Arc::default();
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(forward(stream, db.clone(), outboxes.clone()));
            }
        });
    });
    started
        .await
        .map_err(|_| anyhow!("the store-and-forward server did not start"))?
}

/// One connection: a hello with its number, then frames `"<recipient> <stamp>"`, each stored and
/// then written to the recipient.
async fn forward(stream: TcpStream, db: Arc<tokio_postgres::Client>, outboxes: Outboxes) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let Some(Ok(Message::Text(hello))) = source.next().await else {
        return;
    };
    let Ok(me) = hello.as_str().parse::<u32>() else {
        return;
    };
    let (outbox, mut outgoing) = mpsc::unbounded_channel::<String>();
    outboxes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(me, outbox);
    tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                return;
            }
        }
    });
    let Ok(insert) = db
        .prepare("INSERT INTO bench_forwarded (sender, recipient, body) VALUES ($1, $2, $3)")
        .await
    else {
        return;
    };
    while let Some(Ok(Message::Text(text))) = source.next().await {
        let Some((to, stamp)) = text.as_str().split_once(' ') else {
            continue;
        };
        let (Ok(to), stamp) = (to.parse::<u32>(), stamp.to_string()) else {
            continue;
        };
        let (db, insert, outboxes) = (db.clone(), insert.clone(), outboxes.clone());
        // Stored one by one, each its own commit; many in flight on the one connection.
        tokio::spawn(async move {
            let body = "a message-sized payload of about sixty bytes, like a short chat";
            if db
                .execute(&insert, &[&(me as i32), &(to as i32), &body])
                .await
                .is_ok()
            {
                let outbox = outboxes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&to)
                    .cloned();
                if let Some(outbox) = outbox {
                    let _ = outbox.send(stamp);
                }
            }
        });
    }
}

/// This thread's id: `/proc/<thread id>/stat` reads as a process's, with the thread's CPU.
fn current_thread_id() -> u32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}
