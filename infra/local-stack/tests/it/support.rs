//! The test harness: `spawn_app` starts a local stack with a fresh database, and helpers act as
//! clients (register, create chats, WebSocket frames).

use std::path::PathBuf;
use std::time::Duration;

use banter_local::{RunningStack, StackConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The maintenance database of the PostgreSQL server tests use: `TEST_DATABASE_URL`, or a
/// private cluster started (once, and left running for later runs) under the temp directory.
async fn admin_url() -> &'static str {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            return url;
        }
        let dir = std::env::temp_dir().join("banter-test-postgres");
        let pg = banter_local::postgres::PrivatePostgres::new(&dir, 54330)
            .await
            .expect("test postgres");
        pg.start().await.expect("start test postgres");
        pg.admin_url()
    })
    .await
}

/// The socket of the `clamd` tests use: `CLAMD_SOCKET`, or a private one with test signatures
/// started (once, and left running for later runs) under the temp directory.
pub async fn clamd_socket() -> PathBuf {
    static SOCKET: OnceCell<PathBuf> = OnceCell::const_new();
    SOCKET
        .get_or_init(|| async {
            if let Some(socket) = std::env::var_os("CLAMD_SOCKET") {
                return PathBuf::from(socket);
            }
            let dir = std::env::temp_dir().join("banter-test-clamd");
            let (socket, _) = banter_local::clamd::start(&dir, false)
                .await
                .expect("test clamd (Debian's clamav-daemon)");
            socket
        })
        .await
        .clone()
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((url, None));
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// What each test's database and data directory are named after: `t_{pid}_{id}` and
/// `banter-test-{pid}-{id}`, so a later run can tell which a run that ended without dropping
/// them (a failed test unwinds past `TestApp::stop`) left behind.
fn run_scoped_name(prefix: &str, separator: char) -> String {
    format!(
        "{prefix}{}{separator}{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether the process `pid` names is gone (where `/proc` tells: elsewhere none is).
fn run_ended(pid: &str) -> bool {
    let proc = std::path::Path::new("/proc");
    proc.is_dir() && pid.parse::<u32>().is_ok() && !proc.join(pid).exists()
}

/// Once per run, before its first database: drop the databases and data directories that
/// runs which have ended left behind.
async fn sweep_ended_runs() {
    static SWEPT: OnceCell<()> = OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let admin = admin_client().await;
            let names = admin
                .query(
                    "SELECT datname FROM pg_database WHERE datname ~ '^t_[0-9]+_[0-9a-f]{32}$'",
                    &[],
                )
                .await
                .expect("list test databases");
            for row in names {
                let name: String = row.get(0);
                if run_ended(name.split('_').nth(1).unwrap_or_default()) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            }
            let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
                return;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = name
                    .strip_prefix("banter-test-")
                    .and_then(|rest| rest.split_once('-'))
                    .map(|(pid, _)| pid)
                else {
                    continue;
                };
                if run_ended(pid) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        })
        .await;
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(admin_url().await, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    client
}

pub struct TestApp {
    pub stack: RunningStack,
    pub base: String,
    pub http: reqwest::Client,
    database: String,
    data_dir: PathBuf,
}

/// The PRD's settings with rate limits out of the way: tests register many users from one IP.
/// Tests of the limits themselves put them back.
pub fn relaxed_settings() -> banter_core::config::Settings {
    use banter_core::config::{Limit, Settings};
    let mut s = Settings::default();
    s.rate_limits.general = Limit::new(1_000_000, 60);
    s.rate_limits.auth = Limit::new(1_000_000, 60);
    s.rate_limits.messages = Limit::new(1_000_000, 60);
    // Tests of refresh-token reuse present a spent token at once; the retry grace has its own.
    s.refresh_retry_grace = std::time::Duration::ZERO;
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut StackConfig)) -> TestApp {
    // The fault scenarios hold both ends of thousands of connections.
    rlimit::increase_nofile_limit(u64::MAX).expect("open-file limit");
    sweep_ended_runs().await;
    let database = run_scoped_name("t_", '_');
    admin_client()
        .await
        .batch_execute(&format!(
            "CREATE DATABASE {database} {}",
            banter_local::postgres::DATABASE_LOCALE
        ))
        .await
        .expect("create test database");
    let data_dir = std::env::temp_dir().join(run_scoped_name("banter-test-", '-'));
    let mut config = StackConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(with_database(admin_url().await, &database)),
        data_dir: data_dir.clone(),
        template: banter_local::repo_root().unwrap().join("template.yaml"),
        ws_limits: Default::default(),
        sqs_visibility: Some(Duration::from_millis(200)),
        schedule_interval: Duration::from_millis(500),
        aws_endpoint: None,
        postgres_port: 0,
        db_pool_size: 8,
        settings: relaxed_settings(),
        public_url: None,
        function_settings: None,
        clamd_socket: Some(clamd_socket().await),
        http_idle_timeout: banter_local::http_server::IDLE_TIMEOUT,
    };
    configure(&mut config);
    let stack = banter_local::start(config)
        .await
        .expect("local stack starts");
    let base = stack.base_url();
    TestApp {
        stack,
        base,
        http: reqwest::Client::new(),
        database,
        data_dir,
    }
}

/// A registered user and their tokens.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl User {
    /// The same user on the device session a login (or registration) answered with `body`.
    pub fn signed_in_with(&self, body: &Value) -> User {
        let token = |name: &str| {
            body["data"]["tokens"][name]
                .as_str()
                .expect("a token")
                .to_owned()
        };
        User {
            access: token("accessToken"),
            refresh: token("refreshToken"),
            ..self.clone()
        }
    }
}

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.stack.addr)
    }

    /// The stack's application. Its database pool acts as the serving role (rows only).
    pub fn app(&self) -> &banter_core::App {
        &self.stack.shared.app
    }

    /// Where this test's stack keeps its files (its blob store under `blobs/`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The stack's app with settings of its own (`change`d), to call services with directly.
    pub fn app_with(
        &self,
        change: impl FnOnce(&mut banter_core::config::Settings),
    ) -> banter_core::App {
        let mut app = self.app().clone();
        let mut settings = (*app.settings).clone();
        change(&mut settings);
        app.settings = std::sync::Arc::new(settings);
        app
    }

    /// A pool on this test's database as the schema's owner (what the migrate function holds).
    pub async fn owner_db(&self) -> banter_core::db::Db {
        banter_core::db::connect(&self.owner_url().await, 1).unwrap()
    }

    /// This test's database, as the schema's owner.
    pub async fn owner_url(&self) -> String {
        with_database(admin_url().await, &self.database)
    }

    /// Make a disappearing message's time be up (a second ago), as if its timer had run out.
    pub async fn expire_message(&self, message: &str) {
        let id: uuid::Uuid = message.parse().expect("a message id");
        self.owner_db()
            .await
            .get()
            .await
            .unwrap()
            .execute(
                "UPDATE messages SET expires_at = now() - interval '1 second' WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
    }

    /// Stop the stack and drop its database.
    pub async fn stop(self) {
        self.stack.stop().await.expect("stack stops");
        let _ = admin_client()
            .await
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    /// One request with an optional bearer token and JSON body: the status and the JSON answer.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn register(&self, name: &str) -> User {
        let email = format!(
            "{name}-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let (status, body) = self
            .post(
                "/api/auth/register",
                None,
                json!({ "email": email, "password": "correct horse battery" }),
            )
            .await;
        assert_eq!(status, 201, "register: {body}");
        let data = &body["data"];
        User {
            id: data["user"]["id"].as_str().unwrap().to_owned(),
            email,
            access: data["tokens"]["accessToken"].as_str().unwrap().to_owned(),
            refresh: data["tokens"]["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// Log in again: a second device session.
    pub async fn login(&self, user: &User) -> User {
        let (status, body) = self
            .post(
                "/api/auth/login",
                None,
                json!({ "email": user.email, "password": "correct horse battery" }),
            )
            .await;
        assert_eq!(status, 200, "login: {body}");
        user.signed_in_with(&body)
    }

    pub async fn open_chat(&self, a: &User, b: &User) -> String {
        let (status, body) = self
            .post(
                "/api/chats",
                Some(&a.access),
                json!({ "type": "individual", "participantIds": [b.id] }),
            )
            .await;
        assert!(status == 201 || status == 200, "create chat: {body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// A 1:1 chat `a` opened with `b` and wrote in: in both lists, and each sees the other's
    /// presence as their settings allow (before its first message `b` sees nothing of it).
    pub async fn open_chat_written(&self, a: &User, b: &User) -> String {
        let chat = self.open_chat(a, b).await;
        self.sent(a, &chat, &format!("hi, from {} in {chat}", a.email))
            .await;
        chat
    }

    /// A group `name` made by `admin` with `members`: its id.
    pub async fn open_group(&self, admin: &User, name: &str, members: &[&User]) -> String {
        let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let (status, body) = self
            .post(
                "/api/chats",
                Some(&admin.access),
                json!({ "type": "group", "name": name, "participantIds": ids }),
            )
            .await;
        assert_eq!(status, 201, "create group: {body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// `who` blocks `whom` (which must succeed).
    pub async fn block(&self, who: &User, whom: &User) {
        let (status, body) = self
            .post(
                "/api/users/block",
                Some(&who.access),
                json!({ "userId": whom.id }),
            )
            .await;
        assert_eq!(status, 200, "block: {body}");
    }

    /// `who` unblocks `whom` (which must succeed).
    pub async fn unblock(&self, who: &User, whom: &User) {
        let (status, body) = self
            .post(
                "/api/users/unblock",
                Some(&who.access),
                json!({ "userId": whom.id }),
            )
            .await;
        assert_eq!(status, 200, "unblock: {body}");
    }

    /// `from` sends `text` to `chat` over REST (its clientMessageId is the text too).
    pub async fn send_text(&self, from: &User, chat: &str, text: &str) -> (u16, Value) {
        self.post(
            &format!("/api/chats/{chat}/messages"),
            Some(&from.access),
            json!({ "clientMessageId": text, "content": text }),
        )
        .await
    }

    /// `chat`'s row in `user`'s chat list (which must hold it).
    pub async fn chat_row(&self, user: &User, chat: &str) -> Value {
        let (status, list) = self.get("/api/chats", Some(&user.access)).await;
        assert_eq!(status, 200, "{list}");
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == chat)
            .unwrap_or_else(|| panic!("{chat} is not in the list: {list}"))
            .clone()
    }

    /// `from` sends `text` to `chat` (as [`Self::send_text`]), which must be stored: its id.
    pub async fn sent(&self, from: &User, chat: &str, text: &str) -> String {
        let (status, body) = self.send_text(from, chat, text).await;
        assert_eq!(status, 201, "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Wait until the registry holds no connection of `user` (`$disconnect` ran).
    pub async fn wait_for_no_connections(&self, user: uuid::Uuid, what: &str) {
        wait_until(what, Duration::from_secs(5), || async {
            self.app()
                .ports
                .connections
                .connections_of(user)
                .await
                .unwrap()
                .is_empty()
        })
        .await;
    }

    /// A WebSocket connection, opened once the relay has pushed everything committed before
    /// (so it starts from the present, as a test expects, and is pushed nothing older).
    pub async fn ws(&self, token: &str) -> WsClient {
        self.relay_caught_up().await;
        WsClient::connect(self, token)
            .await
            .expect("websocket connects")
    }

    /// Wait until every transaction that began before now has ended, in the whole cluster: the
    /// horizon the event log is read below is the cluster's oldest transaction in flight, and
    /// tests run side by side (one of them holds a transaction open on purpose).
    pub async fn settle(&self) {
        let db = self.app().db.get().await.unwrap();
        let mark: i64 = db
            .query_one("SELECT pg_current_xact_id()::text::bigint AS x", &[])
            .await
            .unwrap()
            .get("x");
        wait_until(
            "older transactions end",
            Duration::from_secs(10),
            || async {
                let horizon: i64 = db
                    .query_one(
                        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS x",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get("x");
                horizon > mark
            },
        )
        .await;
    }

    /// Wait until the relay's position is past every transaction that began before now, and no
    /// drain of the stack is under way.
    pub async fn relay_caught_up(&self) {
        let db = self.app().db.get().await.unwrap();
        let mark: i64 = db
            .query_one("SELECT pg_current_xact_id()::text::bigint AS x", &[])
            .await
            .unwrap()
            .get("x");
        wait_until("the relay catches up", Duration::from_secs(15), || async {
            let _ = banter_core::services::relay::drain(self.app()).await;
            let at: i64 = db
                .query_one("SELECT xid::text::bigint AS x FROM relay_position", &[])
                .await
                .unwrap()
                .get("x");
            // And no drain of the stack reads on (it would relay what the test commits next).
            at > mark && self.app().relay_turn.is_idle()
        })
        .await;
    }
}

/// Wait until `condition` holds (checked every 20 ms), failing the test after `timeout`.
/// An answer refusing someone who blocks the user they tried to reach, and telling them to
/// unblock first.
pub fn assert_told_to_unblock(status: u16, body: &Value) {
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unblock")),
        "{body}"
    );
}

pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Validators of the WebSocket frames against the generated AsyncAPI document: what a client
/// sends, and what the server sends (an answer or an event).
struct FrameSchemas {
    client: jsonschema::Validator,
    server: jsonschema::Validator,
}

fn frame_schemas() -> &'static FrameSchemas {
    static SCHEMAS: std::sync::OnceLock<FrameSchemas> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let doc = banter_core::api::docs::asyncapi();
        let validator = |root: Value| {
            let mut schema = doc.clone();
            schema
                .as_object_mut()
                .unwrap()
                .extend(root.as_object().unwrap().clone());
            jsonschema::validator_for(&schema).expect("the AsyncAPI schemas compile")
        };
        FrameSchemas {
            client: validator(json!({ "$ref": "#/components/schemas/ClientFrameDoc" })),
            server: validator(json!({ "anyOf": [
                { "$ref": "#/components/schemas/ReplyFrame" },
                { "$ref": "#/components/schemas/ServerEvent" },
            ]})),
        }
    })
}

/// A presence event's frame.
fn is_presence(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|f| {
        f.get("requestId").is_none()
            && matches!(f["event"].as_str(), Some("user:online" | "user:offline"))
    })
}

/// A WebSocket client whose every frame is checked against the AsyncAPI document: frames the
/// server sends must match it, and a client frame the document calls invalid must be answered
/// with `error:general`.
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// `requestId`s of frames sent that the document calls invalid.
    invalid_requests: std::collections::HashSet<String>,
    /// Whether frames are checked (not for raw pushes through `@connections`).
    checked: bool,
    /// Whether presence events (`user:online` / `user:offline`, pushed whenever someone the
    /// user shares a chat with connects) reach the test; most tests are about something else.
    presence: bool,
}

impl WsClient {
    pub async fn connect(
        app: &TestApp,
        token: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (stream, _) =
            tokio_tungstenite::connect_async(format!("{}?token={token}", app.ws_url())).await?;
        Ok(Self {
            stream,
            invalid_requests: Default::default(),
            checked: true,
            presence: false,
        })
    }

    /// Connect resuming after `since` (`/ws?token=...&since=...`).
    pub async fn connect_since(
        app: &TestApp,
        token: &str,
        since: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (stream, _) = tokio_tungstenite::connect_async(format!(
            "{}?token={token}&since={since}",
            app.ws_url()
        ))
        .await?;
        Ok(Self {
            stream,
            invalid_requests: Default::default(),
            checked: true,
            presence: false,
        })
    }

    /// This client's test wants presence events too.
    pub fn with_presence(mut self) -> Self {
        self.presence = true;
        self
    }

    /// This client receives raw pushes (`@connections` tests), not protocol frames: they are
    /// not checked against the AsyncAPI document.
    pub fn raw(mut self) -> Self {
        self.checked = false;
        self
    }

    pub async fn send_text(&mut self, text: &str) {
        if let Ok(frame) = serde_json::from_str::<Value>(text) {
            let request_id = frame["requestId"].as_str();
            if let (Some(id), false) = (request_id, frame_schemas().client.is_valid(&frame)) {
                self.invalid_requests.insert(id.to_owned());
            }
        }
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send frame");
    }

    pub async fn send_json(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// The next message, or `None` if nothing arrives within `wait`.
    pub async fn next_message(&mut self, wait: Duration) -> Option<Message> {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) => return None,
                Ok(Some(Err(e))) => panic!("websocket error: {e}"),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(Message::Text(t)))) => {
                    self.check_server_frame(t.as_str());
                    if !self.presence && is_presence(t.as_str()) {
                        continue;
                    }
                    return Some(Message::Text(t));
                }
                Ok(Some(Ok(m))) => return Some(m),
            }
        }
    }

    /// A frame from the server matches the AsyncAPI document, and answers a frame the
    /// document calls invalid with `error:general`.
    fn check_server_frame(&mut self, text: &str) {
        if !self.checked {
            return;
        }
        let frame: Value = serde_json::from_str(text).expect("frames are JSON");
        let schemas = frame_schemas();
        if !schemas.server.is_valid(&frame) {
            let errors: Vec<String> = schemas
                .server
                .iter_errors(&frame)
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            panic!("a server frame does not match asyncapi.json: {text}\n{errors:?}");
        }
        if let Some(id) = frame["requestId"].as_str() {
            if self.invalid_requests.remove(id) {
                assert_eq!(
                    frame["event"], "error:general",
                    "a frame asyncapi.json calls invalid was accepted: {text}"
                );
            }
        }
    }

    /// The next JSON frame (within 5 s).
    pub async fn next_json(&mut self) -> Value {
        match self.next_message(Duration::from_secs(5)).await {
            Some(Message::Text(t)) => serde_json::from_str(t.as_str()).expect("frames are JSON"),
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// The next frame that is the event `name`, skipping others (within 5 s).
    pub async fn next_event(&mut self, name: &str) -> Value {
        for _ in 0..20 {
            let frame = self.next_json().await;
            if frame["event"] == name {
                return frame;
            }
        }
        panic!("no {name} event");
    }

    /// The answer (`ack` or `error:general`) to the frame sent with `request_id`, skipping the
    /// events pushed meanwhile.
    pub async fn answer_to(&mut self, request_id: &str) -> Value {
        for _ in 0..20 {
            let frame = self.next_json().await;
            if frame["requestId"] == request_id {
                return frame;
            }
        }
        panic!("no answer to {request_id}");
    }

    /// Send `action` with `data` and a fresh `requestId`; its answer (`ack` or `error:general`).
    pub async fn act(&mut self, action: &str, data: Value) -> Value {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        self.send_json(json!({ "action": action, "requestId": request_id, "data": data }))
            .await;
        self.answer_to(&request_id).await
    }

    /// Asserts that nothing arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(m) = self.next_message(wait).await {
            panic!("expected no frame, got {m:?}");
        }
    }

    /// No `name` event for `wait`; other frames (a receipt arriving meanwhile) are skipped.
    pub async fn expect_no_event(&mut self, name: &str, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        while let Some(Message::Text(t)) = self
            .next_message(until.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            let frame: Value = serde_json::from_str(t.as_str()).expect("frames are JSON");
            assert_ne!(frame["event"], name, "expected no {name}, got {frame}");
        }
    }

    /// No frame that names `id` (a chat, a message) for `wait`; frames about anything else (a
    /// receipt of something earlier, arriving late) are skipped.
    pub async fn expect_nothing_about(&mut self, id: &str, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        while let Some(m) = self
            .next_message(until.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            assert!(
                !m.to_string().contains(id),
                "expected nothing about {id}, got {m:?}"
            );
        }
    }
}

impl TestApp {
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::DELETE, path, Some(token), Some(body))
            .await
    }

    /// A GET answered with a file (a QR code, a vCard): status, content type, bytes.
    pub async fn get_file(&self, path: &str, user: &User) -> (u16, String, Vec<u8>) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            status,
            content_type,
            response.bytes().await.unwrap().to_vec(),
        )
    }

    /// A POST of a non-JSON body (a vCard): status and the JSON answer.
    pub async fn post_text(
        &self,
        path: &str,
        user: &User,
        content_type: &str,
        body: String,
    ) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&user.access)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// Verify `phone` as `user`'s with the code the outbox holds.
    pub async fn verify_phone(&self, user: &User, phone: &str) {
        let (status, body) = self
            .post(
                "/api/auth/phone/start",
                Some(&user.access),
                json!({ "phone": phone }),
            )
            .await;
        assert_eq!(status, 200, "phone start: {body}");
        let sms = self.last_sent_to(phone).expect("an SMS").body;
        let code: String = sms.chars().filter(char::is_ascii_digit).take(6).collect();
        let (status, body) = self
            .post(
                "/api/auth/phone/verify",
                Some(&user.access),
                json!({ "phone": phone, "code": code }),
            )
            .await;
        assert_eq!(status, 200, "phone verify: {body}");
    }

    /// Verify `user`'s email with the link the outbox holds.
    pub async fn verify_email(&self, user: &User) {
        let token = self.emailed_token(&user.email);
        let (status, body) = self
            .post("/api/auth/verify-email", None, json!({ "token": token }))
            .await;
        assert_eq!(status, 200, "verify email: {body}");
    }

    /// The last outbox message to `to`.
    pub fn last_sent_to(&self, to: &str) -> Option<banter_core::ports::OutboxItem> {
        self.stack
            .shared
            .outbox
            .items()
            .into_iter()
            .rev()
            .find(|i| i.to == to)
    }

    /// The token in the last email to `to` (after `token=`).
    pub fn emailed_token(&self, to: &str) -> String {
        let body = self.last_sent_to(to).expect("an email was sent").body;
        let start = body.find("token=").expect("a link with a token") + "token=".len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// What a PNG's QR code says.
pub fn read_qr(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let (width, height) = (frame.width as usize, frame.height as usize);
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}
