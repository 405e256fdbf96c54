//! `banter-bench`: load benchmark of the local stack on loopback. It starts `banter-local` (the
//! release binary next to this one) as a child process with a private, durable PostgreSQL, then
//! measures and prints:
//!
//! 1. the floor: single-row INSERT commit latency of that PostgreSQL, one client (pgbench-style),
//!    and the store-and-forward floor: send -> receive through the least a server that stores
//!    before it delivers can do, at the 1:1 rate (`store_and_forward.rs`);
//! 2. connect rate and server memory per idle connection for N WebSocket connections;
//! 3. frame round trip through route dispatch (an unknown action answered by `$default`);
//! 4. send -> receive latency of `message:send` -> `message:received` at a fixed mean rate
//!    (open loop: latency counts from the scheduled send time), acks, losses, server and
//!    PostgreSQL CPU and PostgreSQL transactions per delivered message, the AWS requests the
//!    traffic would make and their cost at list prices (`aws_cost.rs`), the costliest statements
//!    and the busiest PostgreSQL processes;
//! 5. sync catch-up speed for a device returning to 10,000 missed messages;
//! 6. server memory (peak, 5 s after, and 5 s after the clients closed their connections) under
//!    1,000 concurrent failing logins.
//!
//! With `--dropped-connections` it runs issue 8's fault scenario at full size instead
//! (`dropped_connections.rs`): `--connections` connections to a group, all dropped at once while
//! messages keep coming, all resuming from their cursors; lost, re-pushed and gaps.
//! With `--saturation` it raises the 1:1 rate from `--rate` in steps of `--rate` until the
//! delivered p99 passes 1 s (`one_to_one.rs`), and prints the highest rate sustained.
//! With `--group N` it measures groups instead (`groups.rs`): one sender to N-1 connected
//! members at `--rate` (send -> last member, p50/p99) and at saturation (deliveries/s), and the
//! chat list of a user in 500 chats. With `--features` it measures message features
//! (`message_features.rs`): typing relay latency, CPU per read receipt, receipt events for a
//! 10,000-message catch-up, presence fan-out for a user with 500 chats. With `--discovery` it
//! measures search, contact sync and backups (`discovery.rs`): message search over 1,000,000
//! messages, a phone sync of 1,000 numbers, the backup of a 10,000-message chat. With
//! `--media` it measures the media pipeline without the stack (`media.rs`): a 12-megapixel
//! JPEG beside libvips' `vipsthumbnail`, pictures per second per core, a 30 s 1080p clip.
//!
//! ```sh
//! cargo build --release -p banter-local -p banter-bench
//! ./target/release/banter-bench --connections 10000 --rate 1000 --seconds 10
//! ./target/release/banter-bench --saturation --rate 1000 --seconds 10
//! ./target/release/banter-bench --dropped-connections --connections 10000
//! ./target/release/banter-bench --group 1024 --rate 20 --seconds 10
//! ./target/release/banter-bench --features --seconds 10
//! ./target/release/banter-bench --discovery
//! ./target/release/banter-bench --media
//! ```
//! It stops by itself, and stops the stack and its PostgreSQL, also when it ends early: an error,
//! a panic (a closed stdout, as `| head` leaves it), Ctrl-C, SIGTERM or SIGHUP.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod aws_cost;
mod discovery;
mod dropped_connections;
mod groups;
mod media;
mod message_features;
mod one_to_one;
mod store_and_forward;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Options {
    connections: usize,
    rate: u64,
    seconds: u64,
    pairs: usize,
    /// The local stack's PostgreSQL pool size (`BANTER_DB_POOL_SIZE`).
    pool: usize,
    /// Members of the group scenario (`groups.rs`) instead of the 1:1 run; 0 for the 1:1 run.
    group: usize,
    /// The message features scenario (`message_features.rs`) instead of the 1:1 run.
    features: bool,
    /// The search, contact sync and backup scenario (`discovery.rs`) instead of the 1:1 run.
    discovery: bool,
    /// The saturation sweep (`one_to_one.rs`) instead of the 1:1 run: from `rate` in steps of
    /// `rate`.
    saturation: bool,
    /// The dropped-connections fault scenario (`dropped_connections.rs`) with `connections`
    /// instead of the 1:1 run.
    dropped_connections: bool,
    stack_bin: PathBuf,
}

/// The flags, for `--help` and for a usage error.
const USAGE: &str = "\
usage: banter-bench [--connections N] [--rate MSG_PER_S] [--seconds S] [--pairs N] [--pool N]
                    [--group MEMBERS | --features | --discovery | --saturation
                     | --dropped-connections] [--stack-bin PATH]
       banter-bench --media | --media-image FILE
defaults: --connections 10000 --rate 1000 --seconds 10 --pairs 50 --pool 16,
          --stack-bin: banter-local beside this binary";

/// The options `args` (the arguments after the program's name) ask for.
fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        connections: 10_000,
        rate: 1_000,
        seconds: 10,
        pairs: 50,
        pool: 16,
        group: 0,
        features: false,
        discovery: false,
        saturation: false,
        dropped_connections: false,
        stack_bin: std::env::current_exe()?.with_file_name("banter-local"),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        // Every number a flag takes counts something there must be at least one of.
        let count = |v: &String| match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(anyhow!("{flag} takes a whole number above 0, not {v:?}")),
        };
        match flag.as_str() {
            "--connections" => o.connections = count(value()?)?,
            "--rate" => o.rate = count(value()?)? as u64,
            "--seconds" => o.seconds = count(value()?)? as u64,
            "--pairs" => o.pairs = count(value()?)?,
            "--stack-bin" => o.stack_bin = value()?.into(),
            "--pool" => o.pool = count(value()?)?,
            "--group" => match count(value()?)? {
                1 => bail!("--group takes at least 2 members (a sender and a receiver)"),
                n => o.group = n,
            },
            "--features" => o.features = true,
            "--discovery" => o.discovery = true,
            "--saturation" => o.saturation = true,
            "--dropped-connections" => o.dropped_connections = true,
            other => bail!("unknown flag {other:?}"),
        }
    }
    Ok(o)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The stack under test, as a child process.
struct Stack {
    child: tokio::process::Child,
    base: String,
    database_url: String,
    data_dir: PathBuf,
}

impl Stack {
    async fn start(bin: &PathBuf, pool: usize) -> Result<Self> {
        let port = free_port();
        let pg_port = free_port();
        let data_dir =
            std::env::temp_dir().join(format!("banter-bench-{}", uuid::Uuid::new_v4().simple()));
        let child = tokio::process::Command::new(bin)
            .env("BANTER_PORT", port.to_string())
            .env("BANTER_PG_PORT", pg_port.to_string())
            .env("BANTER_DATA_DIR", &data_dir)
            .env("BANTER_DB_POOL_SIZE", pool.to_string())
            .env("RUST_LOG", "warn")
            // The benchmark registers hundreds of users and sends thousands of messages per
            // minute from one IP: lift the PRD's per-IP and per-user limits.
            .env("BANTER_RATE_LIMIT_GENERAL", "100000000/60")
            .env("BANTER_RATE_LIMIT_AUTH", "100000000/60")
            .env("BANTER_RATE_LIMIT_MESSAGES", "100000000/60")
            .env("BANTER_RATE_LIMIT_CONTACT_LOOKUPS", "100000000/60")
            .env("BANTER_RATE_LIMIT_BACKUPS", "100000000/60")
            // The login burst fails 1,000 times from one address: no backoff, so every one
            // costs its Argon2 check.
            .env("BANTER_LOGIN_FAILURES_BEFORE_BACKOFF", "1000000")
            .env("BANTER_WS_FRAMES_PER_SECOND", "1000000")
            .env("BANTER_WS_FRAME_BURST", "1000000")
            // Idle connections are spread over a few users (100 each).
            .env("BANTER_MAX_CONNECTIONS_PER_USER", "1000")
            .env_remove("DATABASE_URL")
            // Its log goes with this program's, to stderr: stdout carries only the figures.
            .stdout(std::io::stderr())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with cargo build --release -p banter-local)",
                    bin.display()
                )
            })?;
        // Owned from here on, so that a failed start stops it too (`Drop`).
        let mut stack = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            database_url: String::new(),
            data_dir,
        };
        let http = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = http.get(format!("{}/api/health", stack.base)).send().await {
                if r.status().is_success() {
                    // The private PostgreSQL keeps its password beside its cluster.
                    let password =
                        std::fs::read_to_string(stack.data_dir.join("postgres").join("password"))?;
                    stack.database_url = format!(
                        "postgres://banter:{}@127.0.0.1:{pg_port}/banter",
                        password.trim()
                    );
                    return Ok(stack);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the local stack did not become healthy")
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    async fn stop(mut self) {
        if self.ask_to_stop() {
            let _ = tokio::time::timeout(STOP_WITHIN, self.child.wait()).await;
        }
    }

    /// SIGINT, the stack's Ctrl-C path, which also stops its PostgreSQL; `false` if the stack
    /// has already ended.
    fn ask_to_stop(&mut self) -> bool {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return false;
        }
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status();
        true
    }
}

/// How long the stack gets to stop itself and its PostgreSQL before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// However the benchmark ends (a panic, a closed stdout, an error before [`Stack::stop`]), the
/// stack is asked to stop as Ctrl-C would ask it, so its private PostgreSQL stops with it instead
/// of outliving the run; killed outright it could not stop its cluster. Then the data goes.
impl Drop for Stack {
    fn drop(&mut self) {
        if self.ask_to_stop() {
            let deadline = Instant::now() + STOP_WITHIN;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Listens, from now on, for the signals that ask the benchmark to stop (Ctrl-C, SIGTERM as from
/// `timeout`, SIGHUP as from a closed terminal); the future resolves with the first one's name.
fn stop_signals() -> Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
            _ = hangup.recv() => "SIGHUP",
        }
    })
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A process's CPU seconds (`/proc/pid/stat`): in user space, and in the kernel on its behalf
/// (system calls, waking and switching threads, loopback TCP).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTime {
    pub user: f64,
    pub kernel: f64,
}

impl CpuTime {
    pub fn total(self) -> f64 {
        self.user + self.kernel
    }
}

impl std::iter::Sum for CpuTime {
    fn sum<I: Iterator<Item = CpuTime>>(times: I) -> CpuTime {
        times.fold(CpuTime::default(), |sum, t| CpuTime {
            user: sum.user + t.user,
            kernel: sum.kernel + t.kernel,
        })
    }
}

impl std::ops::Sub for CpuTime {
    type Output = CpuTime;
    fn sub(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user - earlier.user,
            kernel: self.kernel - earlier.kernel,
        }
    }
}

/// CPU time of one process.
fn cpu_time(pid: u32) -> CpuTime {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of /proc/pid/stat (utime, stime) are 11 and 12 after the name.
    CpuTime {
        user: ticks(11) / 100.0,
        kernel: ticks(12) / 100.0,
    }
}

/// CPU seconds (user + kernel) of one process.
fn cpu_secs(pid: u32) -> f64 {
    cpu_time(pid).total()
}

/// CPU seconds of every PostgreSQL process on the machine (the benchmark's private cluster is
/// the busy one).
fn postgres_cpu_secs() -> f64 {
    postgres_cpu_by_process()
        .into_values()
        .sum::<CpuTime>()
        .total()
}

/// CPU time of each PostgreSQL process on the machine, by process id.
fn postgres_cpu_by_process() -> std::collections::HashMap<u32, CpuTime> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_time(pid)))
        .collect()
}

/// Sends due at `rate` per second from `start`, as many independent clients send them (a
/// Poisson process: exponential gaps, seeded so runs compare), `total` of them: each is handed
/// over as `(number, when it was due)` once due, by a thread of its own. Open loop, each
/// latency counts from when its send was due; tokio's timer fires on whole milliseconds, so it
/// would send up to 1 ms late and that delay would count in every latency. The kernel's sleep
/// wakes within tens of microseconds.
fn paced(start: Instant, rate: u64, total: u64) -> tokio::sync::mpsc::Receiver<(u64, Instant)> {
    use rand::{Rng, SeedableRng};
    let (due, ticks) = tokio::sync::mpsc::channel(1024);
    std::thread::spawn(move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(total);
        let mut at = start;
        for n in 0..total {
            // 1 - u is in (0, 1]: its logarithm is finite.
            let gap = -(1.0 - rng.gen::<f64>()).ln() / rate as f64;
            at += Duration::from_secs_f64(gap);
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if due.blocking_send((n, at)).is_err() {
                return;
            }
        }
    });
    ticks
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn summary(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})",
        ms(h, 0.5),
        ms(h, 0.9),
        ms(h, 0.99),
        h.max() as f64 / 1000.0,
        h.len()
    )
}

/// Single-row INSERT commits, one client, like `pgbench -c 1 -f insert.sql`.
async fn postgres_floor(url: &str, seconds: f64) -> Result<Histogram<u64>> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, payload text NOT NULL)").await?;
    let insert = client
        .prepare("INSERT INTO bench_floor (payload) VALUES ($1)")
        .await?;
    let mut h = Histogram::<u64>::new(3)?;
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        let t = Instant::now();
        client
            .execute(
                &insert,
                &[&"a message-sized payload of about sixty bytes, like a short chat"],
            )
            .await?;
        h.record(t.elapsed().as_micros() as u64)?;
    }
    client.batch_execute("DROP TABLE bench_floor").await?;
    Ok(h)
}

struct User {
    id: String,
    token: String,
}

async fn register(http: &reqwest::Client, base: &str, name: &str) -> Result<User> {
    let email = format!("{name}@bench.example");
    let r: Value = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({ "email": email, "password": "bench password" }))
        .send()
        .await?
        .json()
        .await?;
    let data = &r["data"];
    Ok(User {
        id: data["user"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("register failed: {r}"))?
            .to_owned(),
        token: data["tokens"]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}

async fn connect(ws_url: &str, token: &str) -> Result<Ws> {
    connect_from(ws_url, token, None).await
}

/// Connect, resuming after the cursor `since` when given (`/ws?since=`).
async fn connect_from(ws_url: &str, token: &str, since: Option<&str>) -> Result<Ws> {
    let url = match since {
        Some(cursor) => format!("{ws_url}?token={token}&since={cursor}"),
        None => format!("{ws_url}?token={token}"),
    };
    // Nagle off, as a chat client has it: a small frame goes out at once.
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    Ok(ws)
}

/// Open `n` connections with up to `parallel` handshakes in flight. Returns them and the time.
async fn open_many(
    ws_url: &str,
    tokens: &[String],
    n: usize,
    parallel: usize,
) -> Result<(Vec<Ws>, Duration)> {
    let start = Instant::now();
    let results: Vec<Result<Ws>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let token = tokens[i % tokens.len()].clone();
            let url = ws_url.to_owned();
            async move { connect(&url, &token).await }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let conns: Vec<Ws> = results.into_iter().collect::<Result<_>>()?;
    Ok((conns, elapsed))
}

async fn next_text(ws: &mut Ws) -> Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection closed"),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--media"] => {
            println!("banter-bench: the media pipeline");
            return media::run().await;
        }
        ["--media-image", file] => return media::image_once(std::path::Path::new(file)),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            return Ok(());
        }
        _ => {}
    }
    let o = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            // A usage error is the caller's, not a failure to report with a backtrace.
            eprintln!("banter-bench: {e}\n{USAGE}");
            std::process::exit(2)
        }
    };
    if o.discovery {
        println!("banter-bench: message search, phone sync, backups");
    } else if o.dropped_connections {
        println!(
            "banter-bench: {} connections dropped at once, resuming from their cursors",
            o.connections
        );
    } else if o.saturation {
        println!(
            "banter-bench: saturation, 1:1 from {} msg/s in steps of {} over {} pairs",
            o.rate, o.rate, o.pairs
        );
    } else if o.features {
        println!("banter-bench: message features (typing, read receipts, catch-up, presence)");
    } else if o.group > 0 {
        println!(
            "banter-bench: a group of {} members, {} msg/s for {} s",
            o.group, o.rate, o.seconds
        );
    } else {
        println!(
            "banter-bench: {} connections, {} msg/s for {} s over {} pairs",
            o.connections, o.rate, o.seconds, o.pairs
        );
    }
    // Every connection is a file, here and in the stack (which inherits the limit): the soft
    // limit (often 1,024) would refuse the default 10,000 long before the hard one.
    rlimit::increase_nofile_limit(u64::MAX)?;
    // Listening before the stack starts: a signal then waits for the stack, to stop it.
    let stop_signal = stop_signals()?;
    let stack = Stack::start(&o.stack_bin, o.pool).await?;
    let scenario = async {
        if o.discovery {
            discovery::run(&stack).await
        } else if o.dropped_connections {
            dropped_connections::run(&stack, o.connections).await
        } else if o.saturation {
            saturation(&o, &stack).await
        } else if o.features {
            message_features::run(&stack, o.seconds).await
        } else if o.group > 0 {
            groups::run(&o, &stack).await
        } else {
            run(&o, &stack).await
        }
    };
    let result = tokio::select! {
        result = scenario => result,
        signal = stop_signal => Err(anyhow!("stopped by {signal}")),
    };
    stack.stop().await;
    result
}

/// The saturation sweep over fresh pairs.
async fn saturation(o: &Options, stack: &Stack) -> Result<()> {
    let http = reqwest::Client::new();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let pairs = one_to_one::Pairs::register(&http, &stack.base, &run_id, o.pairs).await?;
    one_to_one::saturation(stack, &pairs, o.rate, o.seconds).await
}

async fn run(o: &Options, stack: &Stack) -> Result<()> {
    let http = reqwest::Client::new();
    let ws_url = stack.base.replace("http://", "ws://") + "/ws";
    let run_id = uuid::Uuid::new_v4().simple().to_string();

    // 1. The floor.
    let floor = postgres_floor(&stack.database_url, 3.0).await?;
    let floor_avg = floor.mean() / 1000.0;
    println!("\n[postgres floor] single-row INSERT commit, 1 client (pgbench-style, fsync on)");
    println!(
        "  latency average = {floor_avg:.3} ms, tps = {:.0}",
        1000.0 / floor_avg
    );
    println!("  {}", summary(&floor));
    let forwarded =
        store_and_forward::measure(&stack.database_url, o.pairs, o.rate, o.seconds.min(10)).await?;
    println!(
        "\n[store-and-forward floor] one durable INSERT per message, then a direct push (no checks, \
         no event log, no receipts), {} msg/s over {} pairs",
        o.rate, o.pairs
    );
    println!("  delivered: {}", summary(&forwarded.delivered));
    println!(
        "  p50 / floor = {:.2}x; CPU per delivered message: server {:.3} ms + postgres {:.3} ms",
        ms(&forwarded.delivered, 0.5) / floor_avg,
        forwarded.server_cpu_ms,
        forwarded.postgres_cpu_ms
    );

    // Users: pairs for the message path, and owners for the idle connections.
    let idle_users = (o.connections / 100).clamp(1, 100);
    let pairs = one_to_one::Pairs::register(&http, &stack.base, &run_id, o.pairs).await?;
    // Password hashing cost (Argon2id, 19 MiB, t=2, p=1) and login latency over REST.
    let mut hashing = Histogram::<u64>::new(3)?;
    for _ in 0..20 {
        let t = Instant::now();
        banter_core::auth::password::hash_password("bench password".into()).await?;
        hashing.record(t.elapsed().as_micros() as u64)?;
    }
    let mut logins = Histogram::<u64>::new(3)?;
    for i in 0..30 {
        let t = Instant::now();
        let email = format!("s{}-{run_id}@bench.example", i % o.pairs);
        let status = http
            .post(format!("{}/api/auth/login", stack.base))
            .json(&json!({ "email": email, "password": "bench password" }))
            .send()
            .await?
            .status();
        logins.record(t.elapsed().as_micros() as u64)?;
        if !status.is_success() {
            bail!("login answered {status}");
        }
    }
    // Failed logins, wrong password against unknown email: they should take the same time. Nine
    // of each (distinct accounts), under the per-IP failure threshold (20) that starts backoff.
    let mut wrong = Histogram::<u64>::new(3)?;
    let mut unknown = Histogram::<u64>::new(3)?;
    for i in 0..9 {
        let cases = [
            (
                &mut wrong,
                format!("r{}-{run_id}@bench.example", i % o.pairs),
            ),
            (&mut unknown, format!("nobody{i}-{run_id}@bench.example")),
        ];
        for (hist, email) in cases {
            let t = Instant::now();
            let status = http
                .post(format!("{}/api/auth/login", stack.base))
                .json(&json!({ "email": email, "password": "not the password" }))
                .send()
                .await?
                .status();
            hist.record(t.elapsed().as_micros() as u64)?;
            if status.as_u16() != 401 {
                bail!("a failed login answered {status}");
            }
        }
    }
    println!(
        "\n[auth] Argon2id hash (19 MiB, t=2, p=1), in this process: {}",
        summary(&hashing)
    );
    println!("  login over REST, succeeding:     {}", summary(&logins));
    println!("  login over REST, wrong password: {}", summary(&wrong));
    println!("  login over REST, unknown email:  {}", summary(&unknown));

    let mut idle_tokens = Vec::new();
    for i in 0..idle_users {
        idle_tokens.push(
            register(&http, &stack.base, &format!("idle{i}-{run_id}"))
                .await?
                .token,
        );
    }

    // 2. Connections and memory.
    let pid = stack.pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = rss_kib(pid);
    let (idle, connect_time) = open_many(&ws_url, &idle_tokens, o.connections, 256).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(pid);
    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / o.connections as f64;
    println!(
        "\n[connections] {} WebSocket connections (authorizer + $connect each)",
        idle.len()
    );
    println!(
        "  connect rate = {:.0} connections/s ({:.2} s)",
        idle.len() as f64 / connect_time.as_secs_f64(),
        connect_time.as_secs_f64()
    );
    println!(
        "  server RSS {:.1} MiB -> {:.1} MiB: {:.1} KiB ({:.1} KB) per idle connection (budget 20 KB)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        per_conn / 1024.0,
        per_conn / 1000.0
    );

    // 3. Frame round trip through route dispatch ($default answers an unknown action).
    let mut probe = connect(&ws_url, &pairs.senders[0].token).await?;
    let mut rtt = Histogram::<u64>::new(3)?;
    for i in 0..2000 {
        let t = Instant::now();
        probe
            .send(Message::Text(
                json!({ "action": "bench:probe", "requestId": i.to_string() })
                    .to_string()
                    .into(),
            ))
            .await?;
        let answer = next_text(&mut probe).await?;
        rtt.record(t.elapsed().as_micros() as u64)?;
        if i == 0 && !answer.contains("error:general") {
            bail!("unexpected probe answer {answer}");
        }
    }
    println!("\n[frame round trip] frame -> route selection -> handler -> route response");
    println!("  {}", summary(&rtt));
    drop(probe);

    // 4. Send -> receive at a fixed mean rate (Poisson arrivals, `paced`).
    let phase = one_to_one::send_at_rate(stack, &pairs, o.rate, o.seconds, "b").await?;
    println!(
        "\n[send -> receive] {} messages at {} msg/s (achieved {:.0}/s), 1:1 over {} pairs",
        phase.sent, o.rate, phase.achieved, o.pairs
    );
    println!("  delivered: {}", summary(&phase.delivered));
    println!("  acked:     {}", summary(&phase.acked));
    println!(
        "  of which this client wrote the send late: {}",
        summary(&phase.late)
    );
    println!("  not received within 5 s: {}", phase.lost);
    println!(
        "  p50 / floor = {:.2}x (budget 2x; the store-and-forward floor's p50 is {:.2}x); \
         CPU per delivered message: server {:.3} ms + postgres {:.3} ms \
         (and this benchmark's clients, on the same cores, {:.3} ms)",
        ms(&phase.delivered, 0.5) / floor_avg,
        ms(&forwarded.delivered, 0.5) / floor_avg,
        phase.server_cpu_ms,
        phase.postgres_cpu_ms,
        phase.client_cpu_ms
    );
    println!(
        "  of which in the kernel (system calls, thread wake-ups, loopback TCP): server {:.3} ms, postgres {:.3} ms",
        phase.server_kernel_cpu_ms, phase.postgres_kernel_cpu_ms
    );
    println!(
        "  PostgreSQL transactions per delivered message: {:.2} (send, relay rounds, receipts)",
        phase.transactions
    );
    phase.aws_requests.print();
    if phase.statements_counted {
        let delivered = phase.delivered.len().max(1) as f64;
        print_statement_stats(&stack.database_url, delivered, "delivered message").await?;
    }
    print_postgres_processes(
        &stack.database_url,
        &phase.postgres_processes,
        phase.delivered.len().max(1) as f64,
    )
    .await?;
    drop(idle);

    // 5. Sync catch-up: a device returning to many missed messages.
    let missed = 10_000;
    let writer = register(&http, &stack.base, &format!("cw-{run_id}")).await?;
    let returning = register(&http, &stack.base, &format!("cr-{run_id}")).await?;
    let chat = groups::create_chat(
        &http,
        &stack.base,
        &writer,
        json!({ "type": "individual", "participantIds": [returning.id] }),
    )
    .await?;
    let since: Value = http
        .get(format!("{}/api/sync", stack.base))
        .bearer_auth(&returning.token)
        .send()
        .await?
        .json()
        .await?;
    let mut cursor = since["data"]["nextCursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let sends = futures_util::stream::iter(0..missed)
        .map(|n| {
            let (http, base, chat, token) = (&http, &stack.base, &chat, &writer.token);
            async move {
                http.post(format!("{base}/api/chats/{chat}/messages"))
                    .bearer_auth(token)
                    .json(&json!({ "clientMessageId": format!("c{n}"), "content": "missed while away" }))
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<bool>>()
        .await;
    let stored = sends.iter().filter(|ok| **ok).count();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = Instant::now();
    let mut caught_up = 0;
    loop {
        let page: Value = http
            .get(format!("{}/api/sync?since={cursor}&limit=100", stack.base))
            .bearer_auth(&returning.token)
            .send()
            .await?
            .json()
            .await?;
        caught_up += page["data"]["events"].as_array().map_or(0, Vec::len);
        cursor = page["data"]["nextCursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if page["data"]["hasMore"] != true {
            break;
        }
    }
    let took = t.elapsed().as_secs_f64();
    println!("\n[sync catch-up] a device returning to {stored} missed messages, pages of 100");
    println!(
        "  {caught_up} events in {took:.2} s = {:.0} events/s",
        caught_up as f64 / took
    );

    // 6. Memory under a burst of 1,000 concurrent logins (unknown emails, wrong passwords).
    let rss_idle = rss_kib(pid);
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_idle));
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        tokio::spawn(async move {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let t = Instant::now();
    // Its own client: its 1,000 keep-alive connections stay open until it is dropped.
    let burst_http = reqwest::Client::new();
    let answers = futures_util::future::join_all((0..1000).map(|i| {
        let (http, base, run_id) = (&burst_http, &stack.base, &run_id);
        async move {
            http.post(format!("{base}/api/auth/login"))
                .json(&json!({ "email": format!("burst{i}-{run_id}@bench.example"), "password": "wrong" }))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    }))
    .await;
    let burst_time = t.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settled = rss_kib(pid);
    // The clients go: their connections close, and what the server held for them is freed.
    drop(burst_http);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let clients_gone = rss_kib(pid);
    let mut by_status: std::collections::BTreeMap<u16, usize> = Default::default();
    for a in answers {
        *by_status.entry(a).or_default() += 1;
    }
    println!("\n[login burst] 1,000 concurrent logins (unknown emails, wrong passwords) in {burst_time:.1} s: {by_status:?}");
    println!(
        "  server RSS: before {:.1} MiB, peak {:.1} MiB, 5 s after {:.1} MiB (the clients' 1,000 keep-alive connections open), 5 s after they closed {:.1} MiB",
        rss_idle as f64 / 1024.0,
        peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0,
        settled as f64 / 1024.0,
        clients_gone as f64 / 1024.0
    );
    Ok(())
}

/// Transactions committed or rolled back in the cluster so far (`pg_stat_database`).
/// Start counting statements (pg_stat_statements, which the local stack preloads); `false` if
/// the extension is not there.
async fn reset_statement_stats(url: &str) -> bool {
    let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
        return false;
    };
    let task = tokio::spawn(connection);
    let ok = client
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();",
        )
        .await
        .is_ok();
    drop(client);
    let _ = task.await;
    ok
}

/// Round trips per `unit` (a delivered message, a read), `count` of them since
/// [`reset_statement_stats`], and the statements that cost PostgreSQL the most.
async fn print_statement_stats(url: &str, count: f64, unit: &str) -> Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT calls::float8 AS calls, total_exec_time + total_plan_time AS ms,
                    plans::float8 AS plans, shared_blks_hit::float8 / greatest(calls, 1) AS blocks,
                    regexp_replace(left(query, 80), '\\s+', ' ', 'g') AS query
             FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
             ORDER BY total_exec_time + total_plan_time DESC",
            &[],
        )
        .await?;
    let calls: f64 = rows.iter().map(|r| r.get::<_, f64>("calls")).sum();
    println!(
        "  PostgreSQL statements (round trips) per {unit}: {:.2}",
        calls / count
    );
    let plans: f64 = rows.iter().map(|r| r.get::<_, f64>("plans")).sum();
    println!(
        "  of which planned (not a cached generic plan): {:.2}",
        plans / count
    );
    println!("  costliest statements, per {unit} (calls, plans, planning + execution ms, buffers per call):");
    // The 15 costliest, and any other that runs for at least one in 100 units (its round trips
    // cost more than its execution shows).
    let frequent = |r: &&tokio_postgres::Row| r.get::<_, f64>("calls") / count >= 0.01;
    for r in rows
        .iter()
        .take(15)
        .chain(rows.iter().skip(15).filter(frequent))
    {
        println!(
            "    {:>5.2} {:>5.2} {:>7.4} ms {:>6.0}  {}",
            r.get::<_, f64>("calls") / count,
            r.get::<_, f64>("plans") / count,
            r.get::<_, f64>("ms") / count,
            r.get::<_, f64>("blocks"),
            r.get::<_, String>("query")
        );
    }
    drop(client);
    let _ = task.await;
    Ok(())
}

/// Where PostgreSQL's CPU in a phase went: its busiest processes, with what each ran last, and
/// every process's CPU summed by kind (client backends, the WAL writer, the checkpointer,
/// autovacuum...). Their CPU is measured by the kernel, so unlike pg_stat_statements' times it
/// leaves out waiting for a core: it shows what one connection (the send batcher's, a relay's)
/// costs, how near a core it is, and how much of the whole no statement accounts for.
async fn print_postgres_processes(
    url: &str,
    processes: &[(u32, CpuTime)],
    delivered: f64,
) -> Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(connection);
    let pids: Vec<i32> = processes.iter().map(|(pid, _)| *pid as i32).collect();
    let rows = client
        .query(
            "SELECT pid, coalesce(backend_type, '') AS kind,
                    regexp_replace(left(coalesce(query, ''), 70), '\\s+', ' ', 'g') AS query
             FROM pg_stat_activity WHERE pid = ANY($1)",
            &[&pids],
        )
        .await?;
    let row_of = |pid: u32| rows.iter().find(|r| r.get::<_, i32>("pid") == pid as i32);
    // pg_stat_statements times ExecutorRun and ExecutorFinish only: a statement's executor
    // start-up (opening its relations and indexes, building every node of the plan) is in its
    // process's CPU below and in none of the times above. For the send statement it was about a
    // quarter of the batcher's CPU at 100 msg/s (perf).
    println!(
        "  busiest PostgreSQL processes, CPU ms per delivered message (what each ran last; this \
         counts executor start-up, which the execution times above leave out):"
    );
    for (pid, cpu) in processes.iter().take(4) {
        let what = row_of(*pid).map_or("(gone)".to_owned(), |r| {
            format!(
                "{}: {}",
                r.get::<_, String>("kind"),
                r.get::<_, String>("query")
            )
        });
        println!(
            "    {:>7.4} ms  pid {pid:<7} {what}",
            cpu.total() * 1000.0 / delivered
        );
    }
    // (The postmaster, and processes that ended before this look, are not in pg_stat_activity.)
    let mut by_kind: Vec<(String, f64, usize)> = Vec::new();
    for (pid, cpu) in processes {
        let secs = cpu.total();
        let kind = row_of(*pid).map_or("postmaster or ended".to_owned(), |r| r.get("kind"));
        match by_kind.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, total, n)) => {
                *total += secs;
                *n += 1;
            }
            None => by_kind.push((kind, secs, 1)),
        }
    }
    by_kind.sort_by(|a, b| b.1.total_cmp(&a.1));
    let kinds: Vec<String> = by_kind
        .iter()
        .filter(|(_, secs, _)| *secs > 0.0)
        .map(|(kind, secs, n)| format!("{kind} ({n}) {:.4}", secs * 1000.0 / delivered))
        .collect();
    println!(
        "  PostgreSQL CPU ms per delivered message by kind of process: {}",
        kinds.join(", ")
    );
    drop(client);
    let _ = task.await;
    Ok(())
}

async fn transactions(url: &str) -> Result<i64> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(connection);
    let n: i64 = client
        .query_one(
            "SELECT (sum(xact_commit) + sum(xact_rollback))::bigint AS n FROM pg_stat_database",
            &[],
        )
        .await?
        .get("n");
    drop(client);
    let _ = task.await;
    Ok(n)
}
