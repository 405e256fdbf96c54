//! Assembling and running the local stack: Postgres (private or given), migrations, the App with
//! its embedded adapters, the event sources, and one HTTP server on 127.0.0.1 for REST,
//! WebSocket, `@connections`, signed blob URLs and the developer endpoints under `/local`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use banter_core::auth::tokens::TokenKeys;
use banter_core::config::Settings;
use banter_core::ports::{
    ConnectionRegistry, FileBlobStore, InMemoryConnectionRegistry, InProcessQueue, OutboxNotifier,
};
use banter_core::{db, App, Ports};
use base64::Engine as _;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::aws_calls::{AwsCalls, CountedRegistry};
use crate::connections::{delete_connection, get_connection, post_to_connection, Hub, LocalPush};
use crate::event_sources::{
    get_blob, preflight_blob, put_blob, spawn_schedule, spawn_sqs_consumer, spawn_sqs_poller,
    DeadLetters,
};
use crate::functions::{self, Handler};
use crate::postgres::PrivatePostgres;
use crate::template::StackTemplate;
use crate::websocket::{upgrade, WsLimits};

/// How long a relay drain waits for the next one to take its receipts' events
/// (`RelayTurn::handing_over_receipts`): under load the next batch of messages commits sooner.
const RECEIPTS_HAND_OVER: Duration = Duration::from_millis(5);

pub struct StackConfig {
    pub bind: SocketAddr,
    /// `None`: start the private PostgreSQL under `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub template: PathBuf,
    pub ws_limits: WsLimits,
    /// Overrides the queue's `VisibilityTimeout` (redelivery delay) from the template.
    pub sqs_visibility: Option<Duration>,
    /// An AWS endpoint (moto, LocalStack): the connection registry and the delivery queue are
    /// then the AWS adapters, DynamoDB and SQS, on a table and a queue this stack creates
    /// (`BANTER_AWS_ENDPOINT`).
    pub aws_endpoint: Option<String>,
    /// How often `Schedule` event sources fire (the relay's safety net); the template's rates
    /// are for AWS.
    pub schedule_interval: Duration,
    pub postgres_port: u16,
    pub db_pool_size: usize,
    /// Limits and lifetimes (the PRD's defaults, overridable by `BANTER_*` variables).
    pub settings: Settings,
    /// Where the links it hands out (invites, contact links) lead (`BANTER_PUBLIC_URL`);
    /// `None`: to where it serves, on whichever port that is.
    pub public_url: Option<String>,
    /// Where to write the settings of functions run outside the stack against it
    /// (`.banter/lambda.env` for `cargo lambda watch`; see [`write_function_settings`]).
    pub function_settings: Option<PathBuf>,
    /// The virus scanner's socket (`CLAMD_SOCKET`). `None`: the stack starts a private
    /// `clamd` with test signatures under `data_dir` when ClamAV is installed.
    pub clamd_socket: Option<PathBuf>,
    /// How long an HTTP connection may wait between requests before it is closed
    /// (`http_server::IDLE_TIMEOUT`).
    pub http_idle_timeout: Duration,
}

impl StackConfig {
    /// The defaults of `banter-local`, overridable by `BANTER_PORT`, `DATABASE_URL`,
    /// `BANTER_DATA_DIR`, `BANTER_PG_PORT`, `BANTER_DB_POOL_SIZE`, and the per-connection frame
    /// budget by `BANTER_WS_FRAMES_PER_SECOND` and `BANTER_WS_FRAME_BURST`. Fails when no
    /// repository root is found ([`crate::repo_root`]).
    pub fn from_env() -> anyhow::Result<Self> {
        use banter_core::config::env_parse;
        let root = crate::repo_root()?;
        Ok(Self {
            bind: SocketAddr::from(([127, 0, 0, 1], env_parse("BANTER_PORT").unwrap_or(3001))),
            database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
            data_dir: std::env::var_os("BANTER_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join(".banter")),
            template: root.join("template.yaml"),
            ws_limits: {
                let mut limits = WsLimits::default();
                if let Some(rate) = env_parse("BANTER_WS_FRAMES_PER_SECOND") {
                    limits.frames_per_second = rate;
                }
                if let Some(burst) = env_parse("BANTER_WS_FRAME_BURST") {
                    limits.frame_burst = burst;
                }
                limits
            },
            sqs_visibility: env_parse::<u64>("BANTER_SQS_VISIBILITY_SECS").map(Duration::from_secs),
            aws_endpoint: std::env::var("BANTER_AWS_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty()),
            schedule_interval: Duration::from_millis(
                env_parse("BANTER_SCHEDULE_INTERVAL_MS").unwrap_or(1000),
            ),
            postgres_port: env_parse("BANTER_PG_PORT").unwrap_or(54329),
            db_pool_size: env_parse("BANTER_DB_POOL_SIZE").unwrap_or(32),
            settings: {
                let mut settings = Settings::from_env();
                // A development TURN server's key, as the functions read it outside AWS.
                settings.ice.turn_key = std::env::var("TURN_SHARED_KEY")
                    .ok()
                    .filter(|k| !k.is_empty())
                    .map(banter_core::auth::turn::TurnKey::new);
                settings
            },
            public_url: std::env::var("BANTER_PUBLIC_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            function_settings: Some(root.join(".banter")),
            clamd_socket: std::env::var_os("CLAMD_SOCKET").map(PathBuf::from),
            http_idle_timeout: crate::http_server::IDLE_TIMEOUT,
        })
    }
}

/// What every request handler of the local stack shares.
#[derive(Clone)]
pub struct Shared {
    /// What the handlers get: its database pool acts as the serving role.
    pub app: App,
    /// The same with the schema owner's pool, for the functions that connect as the owner.
    pub owner_app: App,
    pub template: Arc<StackTemplate>,
    pub handlers: Arc<BTreeMap<&'static str, Handler>>,
    pub hub: Hub,
    pub limits: WsLimits,
    pub blobs: Arc<FileBlobStore>,
    pub outbox: Arc<OutboxNotifier>,
    pub dead_letters: DeadLetters,
    pub stage: String,
    pub domain: String,
    /// WebSocket connections whose task (through `$disconnect`) has not finished.
    pub live_connections: Arc<std::sync::atomic::AtomicUsize>,
    /// What the same traffic would ask of AWS (`GET /local/aws-calls`).
    pub aws_calls: Arc<AwsCalls>,
}

impl Shared {
    /// Invoke a function by logical id with an event's JSON.
    pub async fn invoke(&self, function: &str, event: Value) -> Result<Value, String> {
        let handler = self
            .handlers
            .get(function)
            .ok_or_else(|| format!("no handler for {function}"))?;
        let app = if functions::SCHEMA_OWNER_FUNCTIONS.contains(&function) {
            &self.owner_app
        } else {
            &self.app
        };
        self.aws_calls.lambda_invoked();
        let started = std::time::Instant::now();
        let answer = handler(app.clone(), event).await;
        self.aws_calls.lambda_ran(started.elapsed());
        answer
    }
}

/// Where delivery wake-ups go: the in-process queue (and its receiving end), or SQS.
enum Delivery {
    InProcess(
        Arc<InProcessQueue>,
        tokio::sync::mpsc::Receiver<banter_core::ports::QueuedMessage>,
    ),
    Sqs(Arc<banter_aws::SqsDeliveryQueue>),
}

pub struct RunningStack {
    pub addr: SocketAddr,
    pub shared: Shared,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    /// The event sources' tasks (the SQS poller, the schedules), stopped with the stack.
    sources: Vec<tokio::task::JoinHandle<()>>,
    children: Children,
}

/// The servers a stack started for itself: stopped with the stack, and also when its start fails
/// part way (a port taken, a migration refused), so that no PostgreSQL or `clamd` outlives it.
#[derive(Default)]
struct Children {
    postgres: Option<PrivatePostgres>,
    /// The private `clamd` (a child process).
    clamd: Option<tokio::process::Child>,
}

impl Children {
    async fn stop(&mut self) -> Result<()> {
        let stopped = match self.postgres.take() {
            Some(pg) => pg.stop().await,
            None => Ok(()),
        };
        if let Some(mut clamd) = self.clamd.take() {
            let _ = clamd.kill().await;
        }
        stopped
    }
}

impl RunningStack {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop serving: close WebSockets (running `$disconnect`), stop the server, and stop the
    /// private PostgreSQL if this stack started it.
    pub async fn stop(mut self) -> Result<()> {
        self.shared.hub.close_all();
        // Let every connection run its `$disconnect` while the database is still there.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self
            .shared
            .live_connections
            .load(std::sync::atomic::Ordering::Acquire)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for source in &self.sources {
            source.abort();
        }
        let _ = self.shutdown.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        self.shared.app.db.close();
        self.shared.owner_app.db.close();
        self.children.stop().await
    }
}

/// Every function in the template has a handler, and every handler a function.
fn check_handlers(
    template: &StackTemplate,
    handlers: &BTreeMap<&'static str, Handler>,
) -> Result<()> {
    let missing: Vec<_> = template
        .functions
        .iter()
        .filter(|f| !handlers.contains_key(f.as_str()))
        .collect();
    let extra: Vec<_> = handlers
        .keys()
        .filter(|h| !template.functions.contains(**h))
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        bail!("template.yaml and the handlers disagree: no handler for {missing:?}; not in the template: {extra:?}");
    }
    Ok(())
}

/// A key kept in the data directory across restarts (created on first use), so tokens and
/// signed URLs stay valid when the stack restarts.
fn persistent_secret(path: &std::path::Path, create: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>> {
    if let Ok(bytes) = std::fs::read(path) {
        return Ok(bytes);
    }
    let bytes = create();
    std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(bytes)
}

/// The settings a function needs to run outside the stack against it, as `KEY=value` lines:
/// its PostgreSQL, the development signing key, and the stack's emulated AWS endpoints
/// (`aws.rs`, `@connections`). Written at every start to `dir/lambda.env`, which `cargo lambda
/// watch` reads (`Cargo.toml`: `[workspace.metadata.lambda.watch] env_file`), and as
/// `dir/sam-env.json` for `sam local invoke --env-vars`; readable by their owner only, since
/// they hold the database password and the key.
pub fn function_settings(
    addr: SocketAddr,
    database_url: &str,
    development_key: &str,
) -> Vec<(&'static str, String)> {
    let base = format!("http://{addr}");
    vec![
        ("BANTER_ENV", "development".into()),
        ("DATABASE_URL", database_url.into()),
        ("JWT_DEVELOPMENT_PRIVATE_KEY", development_key.into()),
        // The trailing slash matters: S3 appends the bucket to the path as it is.
        ("AWS_ENDPOINT_URL", format!("{base}/aws/")),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "banter-local".into()),
        ("AWS_SECRET_ACCESS_KEY", "banter-local".into()),
        ("CONNECTIONS_TABLE", crate::aws::CONNECTIONS_TABLE.into()),
        (
            "DELIVERY_QUEUE_URL",
            format!("{base}/aws/queue/{}", crate::aws::DELIVERY_QUEUE),
        ),
        ("WEBSOCKET_MANAGEMENT_URL", base.clone()),
        ("MEDIA_BUCKET", crate::aws::MEDIA_BUCKET.into()),
        ("S3_FORCE_PATH_STYLE", "true".into()),
        ("NOTIFY_FROM_EMAIL", "banter@localhost".into()),
        (
            "PUSH_PLATFORM_APPLICATION_FCM",
            crate::aws::PUSH_APPLICATION_FCM.into(),
        ),
        (
            "PUSH_PLATFORM_APPLICATION_APNS",
            crate::aws::PUSH_APPLICATION_APNS.into(),
        ),
    ]
}

fn write_function_settings(
    dir: &std::path::Path,
    addr: SocketAddr,
    database_url: &str,
    development_key: &str,
    public_url: &str,
    clamd_socket: Option<&std::path::Path>,
) -> Result<()> {
    let mut settings = function_settings(addr, database_url, development_key);
    // The links the stack's own handlers hand out.
    settings.push(("BANTER_PUBLIC_URL", public_url.to_owned()));
    if let Some(socket) = clamd_socket {
        // The media function scans with the stack's clamd.
        settings.push(("CLAMD_SOCKET", socket.display().to_string()));
    }
    let mut env = String::from(
        "# Written by banter-local at start: the settings of functions run against it by\n\
         # `cargo lambda watch` (Cargo.toml: [workspace.metadata.lambda.watch] env_file).\n",
    );
    for (name, value) in &settings {
        // Quoted: cargo lambda's reader refuses base64's `+/=` bare (no value holds a `'`).
        env.push_str(&format!("{name}='{value}'\n"));
    }
    // Under `sam local` the template's production settings are there too: blanked, since a
    // function refuses development settings beside Secrets Manager names.
    let production = [
        "DATABASE_URL_SECRET",
        "JWT_PRIVATE_KEY_SECRET",
        "JWT_PUBLIC_KEY",
    ];
    let parameters: serde_json::Map<String, Value> = settings
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .chain(production.map(|name| (name.to_owned(), Value::String(String::new()))))
        .collect();
    let sam = serde_json::json!({ "Parameters": parameters }).to_string();
    std::fs::create_dir_all(dir)?;
    for (file, text) in [("lambda.env", env), ("sam-env.json", sam)] {
        let path = dir.join(file);
        let _ = std::fs::remove_file(&path);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(
            &mut options
                .open(&path)
                .with_context(|| format!("writing {}", path.display()))?,
            text.as_bytes(),
        )?;
    }
    Ok(())
}

pub async fn start(config: StackConfig) -> Result<RunningStack> {
    let mut children = Children::default();
    let started = start_with(config, &mut children).await;
    if started.is_err() {
        if let Err(e) = children.stop().await {
            tracing::warn!(error = %e, "could not stop what the failed start had started");
        }
    }
    started
}

/// Start the stack; each server it starts for itself goes into `children` as soon as it runs
/// (and from there into the running stack).
async fn start_with(config: StackConfig, children: &mut Children) -> Result<RunningStack> {
    let template = StackTemplate::load(&config.template)?;
    std::fs::create_dir_all(&config.data_dir)?;
    // The media function's virus scanner: the one given, or a private one with test signatures.
    let clamd_socket = match &config.clamd_socket {
        Some(socket) => Some(socket.clone()),
        None if crate::clamd::installed() => {
            let (socket, child) = crate::clamd::start(&config.data_dir.join("clamd"), true).await?;
            children.clamd = child;
            tracing::info!(socket = %socket.display(), "private clamd (test signatures) is up");
            Some(socket)
        }
        None => {
            tracing::warn!(
                "ClamAV is not installed: uploads cannot be scanned, so none is processed"
            );
            None
        }
    };
    let handlers = functions::all(fn_media::MediaConfig {
        clamd_socket: clamd_socket.clone(),
    });
    check_handlers(&template, &handlers)?;

    let database_url = match &config.database_url {
        Some(url) => url.clone(),
        None => {
            let pg = children.postgres.insert(
                PrivatePostgres::new(&config.data_dir.join("postgres"), config.postgres_port)
                    .await?,
            );
            pg.start().await?;
            tracing::info!(url = %pg.redacted_url(), "private PostgreSQL is up");
            pg.url()
        }
    };
    // Migrations as the owner; the handlers as the serving role.
    let owner = db::connect(&database_url, 1).map_err(|e| anyhow!(e))?;
    let applied = db::migrate(&owner).await.map_err(|e| anyhow!(e))?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    let pool =
        db::connect_as_serving_role(&database_url, config.db_pool_size).map_err(|e| anyhow!(e))?;

    let mut settings = config.settings.clone();
    // The signing key: JWT_PRIVATE_KEY, or one kept in the data directory (which functions run
    // outside the stack also get, as their development key).
    let signing_key = match std::env::var("JWT_PRIVATE_KEY") {
        Ok(key) => key,
        Err(_) => base64::engine::general_purpose::STANDARD.encode(persistent_secret(
            &config.data_dir.join("jwt-ed25519.pk8"),
            TokenKeys::generate_pkcs8,
        )?),
    };
    let tokens =
        TokenKeys::from_private_key_base64(&signing_key, &settings).map_err(|e| anyhow!(e))?;
    let blob_secret = persistent_secret(&config.data_dir.join("blob-url-secret"), || {
        TokenKeys::generate_pkcs8()[16..48].to_vec()
    })?;

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr()?;
    settings.public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    if let Some(dir) = &config.function_settings {
        write_function_settings(
            dir,
            addr,
            &database_url,
            &signing_key,
            &settings.public_url,
            clamd_socket.as_deref(),
        )?;
    }
    let hub = Hub::default();
    let aws_calls = Arc::new(AwsCalls::default());
    let (connections, delivery) = match &config.aws_endpoint {
        None => {
            let (queue, rx) = InProcessQueue::new();
            let registry: Arc<dyn ConnectionRegistry> =
                Arc::new(InMemoryConnectionRegistry::default());
            (registry, Delivery::InProcess(Arc::new(queue), rx))
        }
        Some(endpoint) => {
            let aws = banter_aws::emulator_config(endpoint).await;
            let name = format!(
                "banter-local-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            banter_aws::create_connections_table(&aws, &name)
                .await
                .map_err(|e| anyhow!("creating the connections table: {e}"))?;
            let queue = banter_aws::SqsDeliveryQueue::create(&aws, &name)
                .await
                .map_err(|e| anyhow!("creating the delivery queue: {e}"))?;
            tracing::info!(%endpoint, table = %name, queue = %name, "on the AWS adapters");
            let registry: Arc<dyn ConnectionRegistry> =
                Arc::new(banter_aws::DynamoConnectionRegistry::new(&aws, name));
            (registry, Delivery::Sqs(Arc::new(queue)))
        }
    };
    let blobs = Arc::new(FileBlobStore::new(
        config.data_dir.join("blobs"),
        format!("http://{addr}/blobs"),
        blob_secret,
    ));
    let (created_tx, created_rx) = tokio::sync::mpsc::unbounded_channel();
    blobs.on_object_created(Box::new(move |key, size| {
        let _ = created_tx.send((key.to_owned(), size));
    }));
    let outbox = Arc::new(OutboxNotifier::default());
    let app = App {
        sends: banter_core::db::send_batches::SendBatcher::new(pool.clone()),
        // Many drains share this process: one hands its receipts' events to the next.
        relay_turn: banter_core::services::relay::RelayTurn::handing_over_receipts(
            RECEIPTS_HAND_OVER,
        ),
        db: pool,
        tokens: Arc::new(tokens),
        sessions: Arc::new(banter_core::auth::revocation::SessionCheck::new(
            settings.session_check_ttl,
        )),
        settings: Arc::new(settings),
        ports: Ports {
            connections: Arc::new(CountedRegistry {
                inner: connections,
                calls: aws_calls.clone(),
            }),
            queue: match &delivery {
                Delivery::InProcess(queue, _) => queue.clone(),
                Delivery::Sqs(queue) => queue.clone(),
            },
            push: Arc::new(LocalPush {
                hub: hub.clone(),
                calls: aws_calls.clone(),
            }),
            blobs: blobs.clone(),
            notifier: outbox.clone(),
            mobile_push: outbox.clone(),
        },
    };
    let owner_app = App {
        db: owner,
        ..app.clone()
    };
    let shared = Shared {
        app,
        owner_app,
        template: Arc::new(template),
        handlers: Arc::new(handlers),
        hub,
        limits: config.ws_limits,
        blobs,
        outbox,
        dead_letters: DeadLetters::default(),
        stage: "local".into(),
        domain: addr.to_string(),
        live_connections: Default::default(),
        aws_calls,
    };

    let [source] = shared.template.sqs.as_slice() else {
        bail!("the local stack feeds exactly one SQS queue (the delivery queue) from the template");
    };
    let visibility = config
        .sqs_visibility
        .unwrap_or(Duration::from_secs(source.visibility_timeout_secs));
    let mut sources = vec![match delivery {
        Delivery::InProcess(queue, rx) => spawn_sqs_poller(
            shared.clone(),
            source.clone(),
            rx,
            queue,
            visibility,
            shared.dead_letters.clone(),
        ),
        Delivery::Sqs(queue) => spawn_sqs_consumer(shared.clone(), source.clone(), queue),
    }];
    sources.push(crate::event_sources::spawn_s3_notifications(
        shared.clone(),
        created_rx,
    ));
    for schedule in &shared.template.schedules {
        if let Some((_, why)) = functions::NOT_SCHEDULED_LOCALLY
            .iter()
            .find(|(f, _)| *f == schedule.function)
        {
            tracing::info!(function = %schedule.function, why, "not scheduled locally");
            continue;
        }
        sources.push(spawn_schedule(
            shared.clone(),
            schedule.clone(),
            config.schedule_interval,
        ));
    }

    let router = Router::new()
        .route("/ws", get(upgrade))
        .route(
            "/@connections/{id}",
            get(get_connection)
                .post(post_to_connection)
                .delete(delete_connection),
        )
        .route(
            "/blobs/{*key}",
            put(put_blob).get(get_blob).options(preflight_blob),
        )
        .route("/aws/", post(crate::aws::aws_api))
        .route(
            "/aws/{bucket}/{*key}",
            put(crate::aws::s3_object)
                .get(crate::aws::s3_object)
                .delete(crate::aws::s3_object),
        )
        .route("/local/outbox", get(local_outbox))
        .route("/local/dead-letters", get(local_dead_letters))
        .route("/local/aws-calls", get(local_aws_calls))
        .fallback(crate::rest::serve)
        .layer(axum::extract::DefaultBodyLimit::max(110 * 1024 * 1024))
        .with_state(shared.clone());
    let (shutdown, on_shutdown) = oneshot::channel::<()>();
    let server = tokio::spawn(crate::http_server::serve(
        listener,
        router,
        config.http_idle_timeout,
        async {
            let _ = on_shutdown.await;
        },
    ));
    Ok(RunningStack {
        addr,
        shared,
        shutdown,
        server,
        sources,
        children: std::mem::take(children),
    })
}

/// Is this request addressed to the loopback host by name or address? The `/local/*` pages
/// hold reset links and codes: a web page whose host name an attacker re-points at 127.0.0.1
/// (DNS rebinding) sends its own `Host` and is refused.
pub(crate) fn loopback_host(headers: &axum::http::HeaderMap) -> bool {
    let Some(host) = headers.get("host").and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

pub(crate) fn misdirected() -> axum::response::Response {
    (
        axum::http::StatusCode::MISDIRECTED_REQUEST,
        "the local pages answer only to 127.0.0.1 or localhost",
    )
        .into_response()
}

/// `GET /local/outbox`: emails, SMS and push notifications the notifier "sent".
async fn local_outbox(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if !loopback_host(&headers) {
        return misdirected();
    }
    Json(serde_json::to_value(shared.outbox.items()).unwrap_or_default()).into_response()
}

/// `GET /local/aws-calls`: the AWS requests the traffic so far would have made on AWS.
async fn local_aws_calls(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if !loopback_host(&headers) {
        return misdirected();
    }
    Json(shared.aws_calls.counts()).into_response()
}

/// `GET /local/dead-letters`: delivery jobs that exhausted their retries.
async fn local_dead_letters(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if !loopback_host(&headers) {
        return misdirected();
    }
    Json(Value::Array(
        shared.dead_letters.lock().expect("dlq lock").clone(),
    ))
    .into_response()
}

impl axum::extract::FromRef<Shared> for Hub {
    fn from_ref(shared: &Shared) -> Hub {
        shared.hub.clone()
    }
}

impl axum::extract::FromRef<Shared> for Arc<AwsCalls> {
    fn from_ref(shared: &Shared) -> Arc<AwsCalls> {
        shared.aws_calls.clone()
    }
}
