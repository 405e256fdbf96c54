//! The relay: the one live path from the event log to WebSocket connections.
//!
//! Every server-to-client event is a row of the event log, committed with the change that caused
//! it. The relay reads the log in position order, never past the stable horizon, and pushes each
//! event to the connections of the users it is for, so each connection gets its events once and
//! in cursor order. One relay runs at a time (the others wait); it is woken through the
//! delivery queue right after a commit (the fast path), and on a schedule (an EventBridge rule
//! on AWS, a timer in the local stack), so a lost wake-up or a queue outage delays delivery but
//! never loses it.
//!
//! A connection whose push fails is closed: its client reconnects with the cursor of the last
//! event it got and is replayed from there, so nothing is skipped and no other connection is
//! pushed anything twice. A connection that asked to resume (`/ws?since=`) is replayed its
//! events up to the relay's position before it is pushed anything newer; connections resuming
//! together are replayed side by side.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use futures_util::future::join_all;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::api::models::{CallEndReason, ChatDetails, ChatType, Message};
use crate::api::ws::{ChatCreated, EventFrame, MessageEdited, MessageReceived, ServerEvent};
use crate::db::events::{self, PendingReplay, Position, RelayLock, StoredEvent, Stream};
use crate::db::push_devices::{About, NotifyOf};
use crate::db::{chats, messages, relationships, AsTokioPostgres, Planning};
use crate::error::ApiError;
use crate::ports::{ConnectionRecord, DeliveryJob, PushError, PushNotification};
use crate::App;

use super::notifications;
use super::receipts::{self, Deliveries};

/// Events read per round.
const BATCH: i64 = 500;
/// Users whose connections a round looks up at once.
const CONNECTION_LOOKUPS_AT_ONCE: usize = 16;
/// Chats a round reads as their new viewers see them at once (each on a connection of the
/// pool's, which the requests being served share).
const CHATS_READ_AT_ONCE: usize = 4;
/// Rounds per drain at most (the next wake-up or the schedule continues).
const MAX_ROUNDS: usize = 100;
/// A replay whose connection is not ready yet (still in `$connect` on AWS) is kept this long.
const REPLAY_PATIENCE_SECS: i64 = 30;
/// Resuming connections a round replays at once: their reads pipeline on the round's
/// connection and their pushes overlap, so a crowd reconnecting together (after a network
/// blip) is not served one read and one push at a time.
const REPLAYS_AT_ONCE: usize = 16;

/// What a drain did, for logs and benchmarks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RelayReport {
    pub rounds: usize,
    pub events: usize,
    pub pushed: usize,
    pub replayed: usize,
    /// Connections closed because a push to them failed (their clients resume from a cursor).
    pub closed: usize,
    /// Push notifications handed to the devices that were not connected.
    pub notified: usize,
}

/// Hand the relay a wake-up after committing events. Never fails the caller: the events are
/// committed, and the relay also runs on its schedule.
pub async fn wake(app: &App, cause: &str) {
    if let Err(e) = app.ports.queue.enqueue(&DeliveryJob::because(cause)).await {
        tracing::warn!(error = %e, cause, "could not wake the relay; its schedule will deliver");
    }
}

/// Disappearing messages erased per scheduled run at most.
const EXPIRY_BATCH: i64 = 5_000;

/// The scheduled run: housekeeping (compact the log past its retention, merge new words into
/// the search index, erase disappearing messages whose time is up, fail files whose processing
/// stopped, forget spent links and codes,
/// group invitations unanswered for 3 days, abuse reports past 90 days and ended rate-limit
/// windows, delete files nothing shows, retire push endpoints no device uses, end calls nobody
/// answered), then relay what is stable. The
/// relay is the safety net for lost wake-ups, so it runs whatever housekeeping ran into; a
/// housekeeping step that failed is logged, the others still run, and the first failure is
/// answered after the relay (so the invocation reports it).
pub async fn scheduled(app: &App) -> Result<RelayReport, ApiError> {
    let housekeeping = housekeeping(app).await;
    let report = run(app, None).await?;
    housekeeping.map(|()| report)
}

/// The scheduled run's housekeeping: every step tried, the first failure answered.
async fn housekeeping(app: &App) -> Result<(), ApiError> {
    let mut first_failure = None;
    let mut note = |step: &str, outcome: Result<(), ApiError>| {
        if let Err(e) = outcome {
            tracing::error!(error = %e, step, "a housekeeping step failed");
            first_failure.get_or_insert(e);
        }
    };
    let client = app.db.get().await?;
    note(
        "compact the event log",
        events::compact(&client, app.settings.event_retention.as_secs_f64())
            .await
            .map(|removed| {
                if removed > 0 {
                    tracing::info!(removed, "compacted the event log");
                }
            }),
    );
    note(
        "merge the search index",
        messages::flush_search_index(&client).await.map(drop),
    );
    // Disappearing messages whose time is up (a bounded batch per run).
    note(
        "erase disappearing messages",
        messages::erase_expired(&client, EXPIRY_BATCH)
            .await
            .map(|expired| {
                if expired > 0 {
                    tracing::info!(expired, "erased disappearing messages");
                }
            }),
    );
    note(
        "forget spent links and codes",
        crate::db::tokens::forget_spent(&client).await.map(drop),
    );
    note(
        "forget expired group invitations",
        crate::db::chats::forget_expired_invitations(&client)
            .await
            .map(drop),
    );
    note(
        "forget old abuse reports",
        crate::db::reports::forget_old(&client).await.map(drop),
    );
    note(
        "forget old account activity",
        crate::db::account_activity::forget_old(&client)
            .await
            .map(drop),
    );
    drop(client);
    note(
        "forget ended rate-limit windows",
        super::rate_limit::forget_ended_windows(&app.db)
            .await
            .map(drop),
    );
    note(
        "fail abandoned processing",
        super::media::fail_abandoned(app).await.map(|failed| {
            if failed > 0 {
                tracing::warn!(
                    failed,
                    "failed files whose processing stopped without finishing"
                );
            }
        }),
    );
    // Files nothing shows any more (a deleted or disappeared message's, unsent uploads).
    note(
        "sweep media files",
        super::media::sweep(app).await.map(|swept| {
            if swept > 0 {
                tracing::info!(swept, "deleted files no message shows");
            }
        }),
    );
    note(
        "retire push endpoints",
        super::notifications::retire_endpoints(app)
            .await
            .map(|retired| {
                if retired > 0 {
                    tracing::info!(retired, "push endpoints no device uses were deleted");
                }
            }),
    );
    // Calls nobody answered: their `call:ended` events go out with this run's relay, and a
    // missed call that shows its chat to the callee brings them the caller's presence.
    let missed = crate::db::calls::end_unanswered(&app.db, app.settings.call_ring_timeout).await;
    for shown in missed.iter().flatten().flatten() {
        super::presence::chat_shown(app, shown.by, shown.to).await;
    }
    note(
        "end unanswered calls",
        missed.map(|missed| {
            if !missed.is_empty() {
                tracing::info!(missed = missed.len(), "ended calls nobody answered");
            }
        }),
    );
    first_failure.map_or(Ok(()), Err)
}

/// Relay everything that is stable (a wake-up after a commit). If a relay is running, this one
/// queues for the next turn, unless one is queued already: that one has not read yet, so it
/// reads what woke this one, which then has nothing to do. A queue of one, not a crowd of
/// relays retrying the lock: first in this process ([`RelayTurn`], without a round trip),
/// then across processes (the relay queue of [`RelayLock::Wait`], in the round's first
/// statement).
pub async fn drain(app: &App) -> Result<RelayReport, ApiError> {
    let Some(waiting) = app.relay_turn.wait() else {
        return Ok(RelayReport::default());
    };
    let _running = Running::counted(&app.relay_turn.running);
    run(app, Some(waiting)).await
}

/// This process's place in the relay queue: while one of its drains waits for its turn (it has
/// not read yet), a wake-up here leaves at once. On Lambda an instance runs one invocation at a
/// time, so this only matters where one process serves many (the local stack), where it spares
/// PostgreSQL a transaction per wake-up.
///
/// There, a round that recorded receipts may also leave their `message:delivered` events to the
/// next wake-up's drain instead of reading them in a round of its own: under load one comes
/// within milliseconds, and reads them with the messages it was woken for. If none comes within
/// [`RelayTurn::handing_over_receipts`]' wait, the drain reads them itself, so they are late by
/// at most that much. It waits only while wake-ups come at least that often: on a quiet stack
/// no drain would come, and the sender's `message:delivered` would only be late. (On Lambda the
/// wait would be billed and no other drain of the instance could take them: its drains read
/// them at once.)
#[derive(Clone, Default)]
pub struct RelayTurn {
    waiting: Arc<AtomicBool>,
    /// Told when a drain starts waiting.
    queued: Arc<Notify>,
    /// How long a drain waits for the next one to take its receipts' events (zero: it does not).
    receipts_hand_over: Duration,
    /// When the last wake-up came, and how long after the one before it.
    wake_ups: Arc<std::sync::Mutex<WakeUps>>,
    /// Drains of this process under way (waiting for their turn or reading).
    running: Arc<AtomicUsize>,
}

/// One drain counted in [`RelayTurn`]'s `running` while it lives.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn counted(running: &Arc<AtomicUsize>) -> Self {
        running.fetch_add(1, Ordering::SeqCst);
        Self(running.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The pace of a process's relay wake-ups.
#[derive(Default)]
struct WakeUps {
    last: Option<tokio::time::Instant>,
    gap: Option<Duration>,
}

impl RelayTurn {
    /// A place whose drains wait up to `wait` for the next drain to take their receipts' events.
    pub fn handing_over_receipts(wait: Duration) -> Self {
        Self {
            receipts_hand_over: wait,
            ..Self::default()
        }
    }

    /// Wait here, unless a drain of this process already does.
    fn wait(&self) -> Option<Waiting> {
        // (Their pace only matters to a place that hands receipts over.)
        if !self.receipts_hand_over.is_zero() {
            let mut wake_ups = self.wake_ups.lock().unwrap_or_else(|e| e.into_inner());
            let now = tokio::time::Instant::now();
            wake_ups.gap = wake_ups.last.map(|last| now - last);
            wake_ups.last = Some(now);
        }
        if self.waiting.swap(true, Ordering::SeqCst) {
            return None;
        }
        self.queued.notify_waiters();
        Some(Waiting(self.waiting.clone()))
    }

    /// Whether no drain of this process is under way. A drain may read on for a while after
    /// the relay's position has moved past what woke it (while events wait behind an older
    /// transaction, up to [`HELD_BACK_PATIENCE`]), and so relay what commits meanwhile: a
    /// test that must see a commit wait for the schedule waits for this first.
    pub fn is_idle(&self) -> bool {
        self.running.load(Ordering::SeqCst) == 0 && !self.is_waited_for()
    }

    /// Whether a drain of this process waits for its turn (it has not read yet).
    fn is_waited_for(&self) -> bool {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Whether its drains hand their receipts' events over now: they do
    /// (`handing_over_receipts`), and wake-ups come at least as often as the wait, so the next
    /// drain is likely to come within it (on a quiet stack none would).
    fn hands_over_receipts(&self) -> bool {
        let wake_ups = self.wake_ups.lock().unwrap_or_else(|e| e.into_inner());
        !self.receipts_hand_over.is_zero()
            && wake_ups
                .gap
                .is_some_and(|gap| gap <= self.receipts_hand_over)
    }

    /// Whether a drain of this process is waiting for its turn, or starts to within the
    /// hand-over wait: that drain reads what this one leaves. `false` at once when its drains
    /// do not hand over now (`hands_over_receipts`).
    async fn next_drain_within_hand_over(&self) -> bool {
        if !self.hands_over_receipts() {
            return false;
        }
        let queued = self.queued.notified();
        tokio::pin!(queued);
        // Registered before looking, so a drain that starts in between is not missed.
        queued.as_mut().enable();
        if self.is_waited_for() {
            return true;
        }
        tokio::time::timeout(self.receipts_hand_over, queued)
            .await
            .is_ok()
    }
}

/// A drain waiting for its turn; dropped once it holds the relay lock, before it reads (or
/// when it gives up).
struct Waiting(Arc<AtomicBool>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// How long a relay waits for the running one (a round takes milliseconds).
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// While the only events left are held back by an older transaction still in flight (one that
/// may end without events of its own, so without a wake-up): the first pause between looks
/// (doubling up to the longest), and how long to keep looking before leaving them to the
/// schedule. The horizon is the whole cluster's, so a busy neighbour can hold it for a while;
/// two seconds of looking costs about 45 queries.
const HELD_BACK_PAUSE: Duration = Duration::from_millis(2);
const HELD_BACK_PAUSE_MAX: Duration = Duration::from_millis(50);
const HELD_BACK_PATIENCE: Duration = Duration::from_secs(2);

/// Relay rounds, as a queued drain (`waiting` in this process's queue) or as the schedule.
async fn run(app: &App, waiting: Option<Waiting>) -> Result<RelayReport, ApiError> {
    let mut report = RelayReport::default();
    let mut connection = RelayConnection {
        client: Some(app.db.get().await?),
        // Until its first round's lock statement says otherwise, it may hold the queue's lock.
        queued: waiting.is_some(),
        in_round: false,
        waiting,
    };
    let mut held_back_since: Option<tokio::time::Instant> = None;
    let mut pause = HELD_BACK_PAUSE;
    while report.rounds < MAX_ROUNDS {
        // The first round waits for its turn; later ones stop if another relay took it (that
        // one reads on as long as there is anything to read).
        let lock = if report.rounds == 0 {
            RelayLock::Wait {
                within: LOCK_WAIT,
                queue: connection.queued,
            }
        } else {
            RelayLock::Try
        };
        let Some(outcome) = round(app, &mut connection, lock, &mut report).await? else {
            break;
        };
        report.rounds += 1;
        // A drain of this process waits for the lock: it reads on from here, so this one
        // leaves rather than try the lock (a transaction) and find it taken.
        if app.relay_turn.is_waited_for() {
            break;
        }
        // What is left is only the events of this round's receipts: the next drain of this
        // process may read them with its messages. Its pooled connection goes back meanwhile
        // (nothing of the relay is held between rounds), for that drain to take.
        if outcome.wrote && !outcome.full && app.relay_turn.hands_over_receipts() {
            connection.client = None;
            if app.relay_turn.next_drain_within_hand_over().await {
                break;
            }
            connection.client = Some(app.db.get().await?);
        }
        if outcome.full || outcome.wrote {
            held_back_since = None;
            pause = HELD_BACK_PAUSE;
        } else if outcome.held_back
            && held_back_since
                .get_or_insert_with(tokio::time::Instant::now)
                .elapsed()
                < HELD_BACK_PATIENCE
        {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(HELD_BACK_PAUSE_MAX);
        } else {
            break;
        }
    }
    Ok(report)
}

/// A pooled connection that may hold the relay queue's session lock, or be inside a round's
/// transaction. Dropped so (an error, a cancelled future), the connection is closed instead of
/// going back to the pool, and PostgreSQL releases the lock and rolls the round back with it.
struct RelayConnection {
    client: Option<deadpool_postgres::Object>,
    /// The session may hold the relay queue's lock: it asks to join the queue and has not yet
    /// seen its first lock statement answer.
    queued: bool,
    /// A round's transaction is open (begun, not yet committed or rolled back).
    in_round: bool,
    /// This process's place in the queue, until the first round holds the relay lock.
    waiting: Option<Waiting>,
}

impl Drop for RelayConnection {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if self.queued || self.in_round {
                drop(deadpool_postgres::Object::take(client));
            }
        }
    }
}

/// What a round found.
struct RoundOutcome {
    /// The batch was full: more is readable now.
    full: bool,
    /// The round wrote events (receipts' `message:delivered`), readable now.
    wrote: bool,
    /// Committed events wait above the horizon.
    held_back: bool,
}

/// One round in one transaction: take the relay lock, replay to resuming connections, push the
/// next batch, record its receipts, move the position on. `None` if another relay holds the
/// lock (when trying) or is queued for it (when queueing).
///
/// The transaction is the connection's own `BEGIN` and `COMMIT`, not a `Transaction`, so that
/// `BEGIN` goes out with the lock statement and the read in one round trip; `in_round` closes
/// the connection if the round ends any other way.
async fn round(
    app: &App,
    connection: &mut RelayConnection,
    lock: RelayLock,
    report: &mut RelayReport,
) -> Result<Option<RoundOutcome>, ApiError> {
    // (The field, not a method: the round also lets go of `waiting` while `tx` is borrowed.)
    let tx = connection.client.as_ref().expect("present until dropped");
    connection.in_round = true;
    // Sent together (a pipeline): the lock is taken inside the transaction, and the read, a
    // statement of its own (its snapshot taken once the lock is held), reads nothing unless it
    // is. The read goes out before the lock statement when only the lock statement is not yet
    // prepared on this connection (its preparing is a round trip of its own); then it is read
    // again.
    let ((), locked, stable) = tokio::try_join!(
        async { Ok::<_, ApiError>(tx.batch_execute("BEGIN").await?) },
        events::lock_relay(tx, lock),
        events::next_stable(tx, BATCH),
    )?;
    // Out of the queue: it left it holding the lock, or found it taken.
    connection.queued = false;
    if !locked {
        tx.batch_execute("ROLLBACK").await?;
        connection.in_round = false;
        return Ok(None);
    }
    // Its turn: a wake-up from now on may come after this round's reads, so it drains itself.
    connection.waiting = None;
    let stable = if stable.under_lock {
        stable
    } else {
        events::next_stable(tx, BATCH).await?
    };
    if !stable.under_lock {
        return Err(ApiError::Internal(
            "the relay read without the relay lock it holds".into(),
        ));
    }
    // (Rarely any: a statement only when there are.)
    let replays = if stable.replays_waiting {
        events::take_replays(tx).await?
    } else {
        Vec::new()
    };
    let position = stable.position;
    let mut deliveries = Deliveries::default();
    // Each connection's replay in order; replays side by side, all before the batch.
    let replayed: Vec<(Uuid, Vec<Option<Receipt>>)> = futures_util::stream::iter(replays)
        .map(|replay| async move {
            let pushed = replay_to(app, tx, &replay, position).await?;
            Ok::<_, ApiError>((replay.user_id, pushed))
        })
        .buffer_unordered(REPLAYS_AT_ONCE)
        .try_collect()
        .await?;
    for (user, pushed) in replayed {
        report.replayed += pushed.len();
        for (chat, sender, seq, message) in pushed.into_iter().flatten() {
            deliveries.add(chat, sender, user, seq, message);
        }
    }
    let batch = stable.events;
    let full = batch.len() as i64 == BATCH;
    let last = batch.last().map_or(position, |e| e.position);
    // A short batch read everything below the horizon: the position may move up to it.
    let next = if full {
        last
    } else {
        last.max(stable.horizon).max(position)
    };
    let notify = if batch.is_empty() {
        Vec::new()
    } else {
        report.events += batch.len();
        push_batch(app, tx, &batch, &mut deliveries, report).await?
    };
    let (wrote, ()) = tokio::try_join!(receipts::record(tx, &deliveries), async {
        if next != position {
            events::set_relay_position(tx, next).await?;
        }
        Ok(())
    })?;
    tx.batch_execute("COMMIT").await?;
    connection.in_round = false;
    report.notified += notify.len();
    notifications::send(app, notify).await;
    Ok(Some(RoundOutcome {
        full,
        wrote,
        held_back: stable.held_back,
    }))
}

/// What a message event earns when it reaches a viewer's device: `(chat, sender, seq, message)`.
pub(super) type Receipt = (Uuid, Uuid, i64, Uuid);

/// Frames for events, per viewer where the payload depends on who reads it (shared with
/// `/api/sync`, which lists the same frames).
pub(super) struct Frames<'a> {
    app: &'a App,
    messages: HashMap<Uuid, Message>,
    chats: HashMap<(Uuid, Uuid), Option<ChatDetails>>,
    members: HashMap<Uuid, Vec<Uuid>>,
    /// Frame texts of events that read the same for every viewer, by event id: a group message
    /// is serialized once, not once per member.
    texts: HashMap<i64, Option<String>>,
    /// Since when viewers block whom these messages quote or who reacted to them
    /// ([`Frames::learn_blocks`]): what those users did while blocked is hidden from them.
    blocks: HashMap<(Uuid, Uuid), chrono::DateTime<chrono::Utc>>,
    /// Who deleted for themselves the messages these events are about (other than new ones):
    /// `(message, user)`.
    hidden: HashSet<(Uuid, Uuid)>,
}

impl<'a> Frames<'a> {
    /// The messages `batch`'s events carry, read as `planning` says (`KeyedLookups` only in a
    /// relay round's transaction).
    pub(super) async fn load(
        app: &'a App,
        client: &impl AsTokioPostgres,
        batch: &[StoredEvent],
        planning: Planning,
    ) -> Result<Self, ApiError> {
        let ids: Vec<Uuid> = batch.iter().filter_map(|e| e.message_id).collect();
        // (Only events about earlier messages look up who deleted them: a new one is no one's.)
        let about: Vec<Uuid> = batch
            .iter()
            .filter(|e| e.name != "message:received")
            .filter_map(|e| e.message_id)
            .collect();
        let (messages, hidden) = tokio::try_join!(
            messages::by_ids(client, &ids, planning),
            messages::hidden_for(client, &about),
        )?;
        Ok(Self {
            app,
            messages,
            chats: HashMap::new(),
            members: HashMap::new(),
            texts: HashMap::new(),
            blocks: HashMap::new(),
            hidden,
        })
    }

    /// Whom these messages quote, and who reacted to them: the users whose past acts a viewer
    /// who blocks them may not see.
    fn acting_users(&self) -> HashSet<Uuid> {
        self.messages
            .values()
            .flat_map(|m| {
                m.quoted()
                    .map(|q| q.0)
                    .into_iter()
                    .chain(m.reactors().map(|r| r.0))
            })
            .collect()
    }

    /// Learn which of `viewers` block whom these messages quote or who reacted to them (no
    /// round trip, and the viewers not even gathered, when there is nobody).
    pub(super) async fn learn_blocks(
        &mut self,
        client: &impl GenericClient,
        viewers: impl IntoIterator<Item = Uuid>,
    ) -> Result<(), ApiError> {
        let users: Vec<Uuid> = self.acting_users().into_iter().collect();
        if users.is_empty() {
            return Ok(());
        }
        let viewers: Vec<Uuid> = viewers
            .into_iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        self.blocks = relationships::blocks_since(client, &viewers, &users).await?;
        Ok(())
    }

    /// Whether `member` sees the message `event` is about (yes for an event about none, or
    /// about one gone): sent while they were a member, neither cleared nor deleted by them for
    /// themselves. Whoever does not is told nothing of it: its edit would show them its text.
    fn member_sees(&self, event: &StoredEvent, member: &chats::Member) -> bool {
        let Some(message) = event.message_id.and_then(|id| self.messages.get(&id)) else {
            return true;
        };
        member.during(message.created_at.0)
            && message.seq > member.cleared_seq
            && !self.hidden.contains(&(message.id, member.user_id))
    }

    /// Whether `viewer` blocked `user` by `at`.
    fn blocked_by(&self, viewer: Uuid, user: Uuid, at: chrono::DateTime<chrono::Utc>) -> bool {
        self.blocks
            .get(&(viewer, user))
            .is_some_and(|since| *since <= at)
    }

    /// Whether `viewer` sees `event`'s message otherwise than others do: it quotes, or holds a
    /// reaction by, someone they blocked by then, or holds a reaction kept from them.
    fn differs_for(&self, event: &StoredEvent, viewer: Uuid) -> bool {
        let Some(message) = event.message_id.and_then(|id| self.messages.get(&id)) else {
            return false;
        };
        if message.keeps_a_reaction_from(viewer) {
            return true;
        }
        message
            .quoted()
            .into_iter()
            .chain(message.reactors())
            .any(|(user, at)| self.blocked_by(viewer, user, at))
    }

    /// The chat as `viewer` sees it (`chats::details`, read once a round), or `None` if they
    /// no longer read it.
    async fn chat_as_seen(
        &mut self,
        chat_id: Uuid,
        viewer: Uuid,
    ) -> Result<Option<ChatDetails>, ApiError> {
        if !self.chats.contains_key(&(chat_id, viewer)) {
            let details = chats::details(&self.app.db, chat_id, viewer).await?;
            self.chats.insert((chat_id, viewer), details);
        }
        Ok(self.chats[&(chat_id, viewer)].clone())
    }

    /// The chat `event` may give `viewer` (a `chat:created`, unless it is for someone else):
    /// `(chat, viewer)`, which [`Frames::read_chats_as_seen`] reads ahead.
    fn gives_chat(event: &StoredEvent, viewer: Uuid) -> Option<(Uuid, Uuid)> {
        let Stream::Chat(chat) = event.stream else {
            return None;
        };
        if event.name != "chat:created"
            || ChatShownTo::of(event).is_some_and(|s| s.shown_to != viewer)
        {
            return None;
        }
        Some((chat, viewer))
    }

    /// Read the chats as these viewers see them ([`Frames::chat_as_seen`]) a few at a time,
    /// ahead of the frames that carry them: each is a few queries, and a round that gave many
    /// people a chat (a group's creation, the first messages of new 1:1 chats) read them one
    /// after another while every other delivery of the round waited.
    async fn read_chats_as_seen(&mut self, wanted: HashSet<(Uuid, Uuid)>) -> Result<(), ApiError> {
        let missing: Vec<(Uuid, Uuid)> = wanted
            .into_iter()
            .filter(|key| !self.chats.contains_key(key))
            .collect();
        let app = self.app;
        let read: Vec<((Uuid, Uuid), Option<ChatDetails>)> = futures_util::stream::iter(missing)
            .map(|(chat, viewer)| async move {
                let details = chats::details(&app.db, chat, viewer).await?;
                Ok::<_, ApiError>(((chat, viewer), details))
            })
            .buffer_unordered(CHATS_READ_AT_ONCE)
            .try_collect()
            .await?;
        self.chats.extend(read);
        Ok(())
    }

    /// `message` as `viewer` sees it ([`Message::as_seen_by`]).
    fn seen_by(&self, message: Message, viewer: Uuid) -> Message {
        if self.blocks.is_empty() && !message.keeps_a_reaction_from(viewer) {
            return message;
        }
        message.as_seen_by(viewer, |user, at| self.blocked_by(viewer, user, at))
    }

    /// The event as `viewer` is pushed it on `device` (an encrypted message carries only that
    /// device's envelope), or `None` if there is nothing to show (its message or chat is gone).
    pub(super) async fn frame(
        &mut self,
        client: &impl GenericClient,
        event: &StoredEvent,
        viewer: Uuid,
        device: Uuid,
    ) -> Result<Option<EventFrame>, ApiError> {
        if not_for(event, viewer, device) {
            return Ok(None);
        }
        let mut server_event = match (event.name.as_str(), event.stream) {
            // In its chat's stream; or, sent to someone who blocks its sender, in the sender's
            // own (`db::messages::insert_many`).
            ("message:received", _) => {
                let Some(message) = event.message_id.and_then(|id| self.messages.get(&id)) else {
                    return Ok(None);
                };
                let message = self.seen_by(message.clone().for_device(device), viewer);
                ServerEvent::MessageReceived(Box::new(MessageReceived {
                    timestamp: message.created_at,
                    chat_id: message.chat_id,
                    message,
                }))
            }
            ("message:edited", Stream::Chat(chat_id)) => {
                let Some(message) = event.message_id.and_then(|id| self.messages.get(&id)) else {
                    return Ok(None);
                };
                let message = self.seen_by(message.clone(), viewer);
                ServerEvent::MessageEdited(Box::new(MessageEdited {
                    timestamp: message.updated_at,
                    message,
                    chat_id,
                }))
            }
            // Every member of a group is told, the creator's devices too: the one that asked has
            // the chat from its answer, but their others have not (a client knows it by its
            // id). A 1:1 chat reaches the other person with its first message, not before: the
            // send tells it them alone, just before that message (`ChatShownTo`).
            ("chat:created", Stream::Chat(chat_id)) => {
                if Self::gives_chat(event, viewer).is_none() {
                    return Ok(None);
                }
                let Some(chat) = self.chat_as_seen(chat_id, viewer).await? else {
                    return Ok(None);
                };
                if ChatShownTo::of(event).is_none()
                    && chat.kind == ChatType::Individual
                    && event.actor != Some(viewer)
                {
                    return Ok(None);
                }
                if let std::collections::hash_map::Entry::Vacant(entry) =
                    self.members.entry(chat_id)
                {
                    entry.insert(chats::current_member_ids(client, chat_id).await?);
                }
                ServerEvent::ChatCreated(ChatCreated {
                    chat,
                    participants: self.members[&chat_id].clone(),
                })
            }
            (name, _) => {
                match ServerEvent::from_parts(name, event.data.clone().unwrap_or_default()) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::error!(error = %e, name, "an event in the log does not read back");
                        return Ok(None);
                    }
                }
            }
        };
        // The one who joined is given the chat with it, on each of their devices.
        if let ServerEvent::ParticipantJoined(joined) = &mut server_event {
            if joined.participant.id == viewer {
                joined.chat = self
                    .chat_as_seen(joined.chat_id, viewer)
                    .await?
                    .map(Box::new);
            }
        }
        Ok(Some(EventFrame {
            cursor: event.position.encode(),
            event: server_event,
        }))
    }

    /// The frame's text, serialized once per event unless it depends on the viewer (a new
    /// chat, what someone they block did hidden from them) or their device (an encrypted
    /// message). Whom an event is not for at all ([`not_for`]) is settled before the text
    /// another viewer was given is looked up.
    async fn text(
        &mut self,
        client: &impl GenericClient,
        event: &StoredEvent,
        viewer: Uuid,
        device: Uuid,
    ) -> Result<Option<String>, ApiError> {
        if not_for(event, viewer, device) {
            return Ok(None);
        }
        let sealed = event
            .message_id
            .and_then(|id| self.messages.get(&id))
            .is_some_and(|m| m.kind == "encrypted");
        if event.name == "chat:created"
            || joined_is(event, viewer)
            || sealed
            || self.differs_for(event, viewer)
        {
            return Ok(self
                .frame(client, event, viewer, device)
                .await?
                .map(|f| f.to_text()));
        }
        if let Some(text) = self.texts.get(&event.position.event) {
            return Ok(text.clone());
        }
        let text = self
            .frame(client, event, viewer, device)
            .await?
            .map(|f| f.to_text());
        self.texts.insert(event.position.event, text.clone());
        Ok(text)
    }

    /// What `event` may notify its recipients of on devices that are not connected (read once
    /// per event, from its typed payload): a message, someone's reaction (for the sender of
    /// the message reacted to), being added to a group by someone (for the one added), an
    /// invitation, a join request, a call or one missed.
    fn notice(&self, event: &StoredEvent) -> Option<Notice> {
        let payload = || ServerEvent::from_parts(&event.name, event.data.clone()?).ok();
        // A call nobody answered, by its caller (the schedule ends one that rang out).
        if let ("call:ended", Stream::Chat(chat)) = (event.name.as_str(), event.stream) {
            let ServerEvent::CallEnded(call) = payload()? else {
                return None;
            };
            if call.end_reason != Some(CallEndReason::Missed) {
                return None;
            }
            return Some(Notice {
                chat,
                message: None,
                actor: call.caller_id?,
                about: About::MissedCall(call.kind),
                only: None,
            });
        }
        let actor = event.actor?;
        let (chat, message, about, only) = match (event.name.as_str(), event.stream) {
            ("message:received", Stream::Chat(chat)) => {
                (chat, Some(event.message_id?), About::Message, None)
            }
            ("message:reaction:added", Stream::Chat(chat)) => {
                let ServerEvent::ReactionAdded(reaction) = payload()? else {
                    return None;
                };
                let sender = self.messages.get(&reaction.message_id)?.sender.as_ref()?.id;
                let about = About::Reaction(reaction.emoji);
                (chat, Some(reaction.message_id), about, Some(sender))
            }
            ("chat:created", Stream::Chat(chat)) => (chat, None, About::Added, None),
            // Not when they joined by themselves.
            ("chat:participant:joined", Stream::Chat(chat)) => {
                let ServerEvent::ParticipantJoined(joined) = payload()? else {
                    return None;
                };
                if joined.added_by != Some(actor) {
                    return None;
                }
                (chat, None, About::Added, Some(joined.participant.id))
            }
            ("chat:invitation", Stream::User(_)) => {
                let ServerEvent::ChatInvitation(invitation) = payload()? else {
                    return None;
                };
                (invitation.chat_id, None, About::Invited, None)
            }
            ("call:incoming", Stream::Chat(chat)) => {
                let ServerEvent::CallIncoming(offered) = payload()? else {
                    return None;
                };
                (chat, None, About::Call(offered.call.kind), None)
            }
            ("chat:join_request", Stream::User(_)) => {
                let ServerEvent::JoinRequested(request) = payload()? else {
                    return None;
                };
                (request.chat_id, None, About::JoinRequest, None)
            }
            _ => return None,
        };
        Some(Notice {
            chat,
            message,
            actor,
            about,
            only,
        })
    }

    /// The receipt a message event earns when it reaches `viewer` (none for their own, nor for
    /// a system message).
    pub(super) fn receipt(&self, event: &StoredEvent, viewer: Uuid) -> Option<Receipt> {
        if event.name != "message:received" {
            return None;
        }
        let message = self.messages.get(&event.message_id?)?;
        // A system message has no sender to tell.
        message.sender.as_ref()?;
        let sender = event.actor.filter(|a| *a != viewer)?;
        Some((message.chat_id, sender, message.seq, message.id))
    }
}

/// What a `chat:created` written with a message or line holds: the member of a 1:1 chat whose
/// list shows it from that message on (`db::messages::insert_many`,
/// `db::chats::append_system_message`); it is for them alone.
#[derive(Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatShownTo {
    shown_to: Uuid,
}

impl ChatShownTo {
    /// What `event` (a `chat:created`) says, if it is for one member alone.
    fn of(event: &StoredEvent) -> Option<Self> {
        <Self as serde::Deserialize>::deserialize(event.data.as_ref()?).ok()
    }
}

/// Whether `event` is nothing of `viewer`'s on `device`, whatever it holds: one for another
/// device session, or a call's ICE candidate they gave (it is for the other side: their other
/// devices have no use for it).
fn not_for(event: &StoredEvent, viewer: Uuid, device: Uuid) -> bool {
    event.device.is_some_and(|only| only != device)
        || (event.name == "call:candidate" && event.actor == Some(viewer))
}

/// Whether `event` is a `chat:participant:joined` telling of `viewer` themselves.
fn joined_is(event: &StoredEvent, viewer: Uuid) -> bool {
    event.name == "chat:participant:joined"
        && event
            .data
            .as_ref()
            .and_then(|d| d.pointer("/participant/id"))
            .and_then(|id| id.as_str())
            .is_some_and(|id| id.parse() == Ok(viewer))
}

/// What an event may notify its recipients of (`Frames::notice`): all of them but its actor,
/// or `only` one.
struct Notice {
    chat: Uuid,
    message: Option<Uuid>,
    actor: Uuid,
    about: About,
    only: Option<Uuid>,
}

impl Notice {
    /// The notice for each of `recipients` it concerns.
    fn for_each_of(self, recipients: &[Uuid]) -> Vec<NotifyOf> {
        recipients
            .iter()
            .filter(|&&user| user != self.actor && self.only.is_none_or(|only| only == user))
            .map(|&recipient| NotifyOf {
                recipient,
                chat: self.chat,
                message: self.message,
                actor: self.actor,
                about: self.about.clone(),
            })
            .collect()
    }
}

/// One frame for one connection, and the receipt it earns when it arrives.
struct Push {
    position: Position,
    frame: String,
    receipt: Option<Receipt>,
}

/// Push a batch: each event to the connections of the users it is for, each connection's
/// frames in order; receipts for the messages that arrived. Answers the push notifications
/// for the recipients' devices that are not connected, to send once the round commits.
async fn push_batch(
    app: &App,
    client: &impl AsTokioPostgres,
    batch: &[StoredEvent],
    deliveries: &mut Deliveries,
    report: &mut RelayReport,
) -> Result<Vec<(String, PushNotification)>, ApiError> {
    let chat_ids: Vec<Uuid> = batch
        .iter()
        .filter_map(|e| match e.stream {
            Stream::Chat(c) => Some(c),
            Stream::User(_) => None,
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut members: HashMap<Uuid, Vec<chats::Member>> = HashMap::new();
    let earliest = batch.iter().map(|e| e.created_at).min().unwrap_or_default();
    let actors: Vec<Uuid> = batch
        .iter()
        .filter_map(|e| e.actor)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (member_rows, mut frames) = tokio::try_join!(
        chats::members_since(client, &chat_ids, earliest, &actors),
        Frames::load(app, client, batch, Planning::KeyedLookups),
    )?;
    for m in member_rows {
        members.entry(m.chat_id).or_default().push(m);
    }
    // The members' connections first, then which of them await a replay: `$connect` asks for
    // the replay before it registers the connection, so a connection seen here that is
    // resuming is in the set read after.
    // Looked up side by side: on AWS each is a DynamoDB query, a round trip of its own.
    let users: HashSet<Uuid> = members
        .values()
        .flatten()
        .map(|m| m.user_id)
        .chain(batch.iter().filter_map(|e| match e.stream {
            Stream::User(u) => Some(u),
            Stream::Chat(_) => None,
        }))
        .collect();
    let connections: HashMap<Uuid, Vec<ConnectionRecord>> = futures_util::stream::iter(users)
        .map(|user| async move {
            Ok::<_, ApiError>((user, app.ports.connections.connections_of(user).await?))
        })
        .buffer_unordered(CONNECTION_LOOKUPS_AT_ONCE)
        .try_collect()
        .await?;
    // Whom each event is for: its user, or those who were its chat's members when it happened
    // (one removed by it, too), do not block its actor and, for an event about a message, see
    // that message.
    let recipients: Vec<Vec<Uuid>> = batch
        .iter()
        .map(|event| match event.stream {
            Stream::User(u) => vec![u],
            Stream::Chat(c) => members
                .get(&c)
                .into_iter()
                .flatten()
                .filter(|m| m.during(event.created_at))
                .filter(|m| frames.member_sees(event, m))
                .filter(|m| !event.actor.is_some_and(|a| m.blocks(a)))
                .map(|m| m.user_id)
                .collect(),
        })
        .collect();
    // The senders whose messages may reach a connected recipient: whether each may know that
    // recipient's presence (for the receipt) is asked alongside the replays.
    let receipt_pairs: Vec<(Uuid, Uuid)> = batch
        .iter()
        .zip(&recipients)
        .flat_map(|(event, users)| users.iter().map(move |&user| (event, user)))
        .filter(|(_, user)| !connections[user].is_empty())
        .filter_map(|(event, user)| Some((frames.receipt(event, user)?.1, user)))
        .collect();
    // The recipients of messages, and the senders of messages others react to, for the
    // devices among theirs to notify (those with no live connection), asked alongside too.
    let notify: Vec<NotifyOf> = batch
        .iter()
        .zip(&recipients)
        .filter_map(|(event, users)| Some(frames.notice(event)?.for_each_of(users)))
        .flatten()
        .collect();
    let is_connected = |user: Uuid, session: Uuid| {
        connections
            .get(&user)
            .is_some_and(|cs| cs.iter().any(|c| c.session_id == session))
    };
    // (And whom the recipients block among those the messages quote or who reacted to them.)
    let (replaying, (), notify, ()) = tokio::try_join!(
        events::replaying_connections(client),
        deliveries.look_up_presence(client, receipt_pairs),
        notifications::to_notify(client, &notify, is_connected),
        frames.learn_blocks(client, recipients.iter().flatten().copied()),
    )?;
    let replaying: HashSet<String> = replaying.into_iter().collect();
    // The chats new to connected recipients, read side by side before the frames carry them.
    let new_chats: HashSet<(Uuid, Uuid)> = batch
        .iter()
        .zip(&recipients)
        .flat_map(|(event, users)| {
            users
                .iter()
                .filter(|user| !connections[*user].is_empty())
                .filter_map(move |&user| Frames::gives_chat(event, user))
        })
        .collect();
    frames.read_chats_as_seen(new_chats).await?;
    // Per connection, its frames in log order.
    let mut plan: HashMap<String, (Uuid, Vec<Push>)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (event, users) in batch.iter().zip(&recipients) {
        for &user in users {
            let targets: Vec<&ConnectionRecord> = connections[&user]
                .iter()
                .filter(|c| Some(c.connection_id.as_str()) != event.origin_connection.as_deref())
                .filter(|c| !replaying.contains(&c.connection_id))
                .collect();
            let receipt = frames.receipt(event, user);
            for c in targets {
                let Some(frame) = frames.text(client, event, user, c.session_id).await? else {
                    continue;
                };
                let entry = plan.entry(c.connection_id.clone()).or_insert_with(|| {
                    order.push(c.connection_id.clone());
                    (user, Vec::new())
                });
                entry.1.push(Push {
                    position: event.position,
                    frame,
                    receipt,
                });
            }
        }
    }
    let results = join_all(order.iter().map(|id| {
        let (user, pushes) = &plan[id];
        push_in_order(app, id, *user, pushes)
    }))
    .await;
    for (id, (arrived, failed)) in order.iter().zip(results) {
        let (user, pushes) = &plan[id];
        report.pushed += arrived;
        report.closed += usize::from(failed);
        for push in &pushes[..arrived] {
            if let Some((chat, sender, seq, message)) = push.receipt {
                deliveries.add(chat, sender, *user, seq, message);
            }
        }
    }
    Ok(notify)
}

/// Push frames to one connection in order, stopping at the first failure: a gone connection
/// is forgotten, any other failure closes it (its client resumes from its last cursor).
/// Returns how many arrived and whether the connection was given up.
async fn push_in_order(app: &App, connection: &str, user: Uuid, pushes: &[Push]) -> (usize, bool) {
    for (i, push) in pushes.iter().enumerate() {
        match app.ports.push.post(connection, push.frame.as_bytes()).await {
            Ok(()) => {}
            Err(PushError::Gone) => {
                if let Err(e) = app.ports.connections.unregister(user, connection).await {
                    tracing::warn!(error = %e, "could not drop a gone connection");
                }
                super::presence::connection_closed(app, user, connection).await;
                return (i, true);
            }
            Err(PushError::Failed(e)) => {
                tracing::warn!(error = %e, connection, "push failed; closing the connection so its client resumes");
                let _ = app.ports.push.disconnect(connection).await;
                let _ = app.ports.connections.unregister(user, connection).await;
                super::presence::connection_closed(app, user, connection).await;
                return (i, true);
            }
        }
    }
    (pushes.len(), false)
}

/// Replay a resuming connection's events after its cursor up to the relay's position, in
/// order; answers, for each event it pushed, the receipt it earns.
async fn replay_to(
    app: &App,
    client: &impl AsTokioPostgres,
    replay: &PendingReplay,
    until: Position,
) -> Result<Vec<Option<Receipt>>, ApiError> {
    let mut pushed = Vec::new();
    let mut after = replay.after;
    loop {
        let (page, _) = events::for_user(client, replay.user_id, after, until, BATCH).await?;
        let mut frames = Frames::load(app, client, &page, Planning::KeyedLookups).await?;
        frames.learn_blocks(client, [replay.user_id]).await?;
        let mut pushes = Vec::new();
        for event in &page {
            if let Some(frame) = frames
                .text(
                    client,
                    event,
                    replay.user_id,
                    replay.session_id.unwrap_or_default(),
                )
                .await?
            {
                pushes.push(Push {
                    position: event.position,
                    frame,
                    receipt: frames.receipt(event, replay.user_id),
                });
            }
        }
        for (i, push) in pushes.iter().enumerate() {
            match app
                .ports
                .push
                .post(&replay.connection_id, push.frame.as_bytes())
                .await
            {
                Ok(()) => pushed.push(push.receipt),
                Err(e) => {
                    // Not connected yet (API Gateway is still in `$connect`): try again next
                    // round, from here, for a while.
                    let young = chrono::Utc::now() - replay.created_at
                        < chrono::Duration::seconds(REPLAY_PATIENCE_SECS);
                    if matches!(e, PushError::Gone) && young {
                        let resume = PendingReplay {
                            after: if i == 0 {
                                after
                            } else {
                                pushes[i - 1].position
                            },
                            ..replay.clone()
                        };
                        events::return_replay(client, &resume).await?;
                    } else {
                        let _ = app.ports.push.disconnect(&replay.connection_id).await;
                    }
                    return Ok(pushed);
                }
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == BATCH => after = last.position,
            _ => return Ok(pushed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_drain_per_process_waits_for_the_relay_turn() {
        let turn = RelayTurn::default();
        let first = turn.wait().expect("nobody waits yet");
        assert!(
            turn.wait().is_none(),
            "a second wake-up leaves: the waiting drain has not read yet"
        );
        assert!(turn.clone().wait().is_none(), "clones share the place");
        assert!(turn.is_waited_for(), "a running relay leaves it the rounds");
        drop(first);
        assert!(!turn.is_waited_for());
        let next = turn.wait();
        assert!(
            next.is_some(),
            "once the waiting drain holds the lock, the next wake-up waits"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn receipts_are_handed_to_a_drain_that_starts_within_the_wait() {
        let on_lambda = RelayTurn::default();
        let _waiting = on_lambda.wait();
        assert!(
            !on_lambda.next_drain_within_hand_over().await,
            "without a hand-over wait a drain reads its receipts itself"
        );

        let turn = RelayTurn::handing_over_receipts(Duration::from_millis(5));
        // Wake-ups 1 ms apart: busy.
        drop(turn.wait());
        tokio::time::sleep(Duration::from_millis(1)).await;
        drop(turn.wait());
        let started = tokio::time::Instant::now();
        assert!(!turn.next_drain_within_hand_over().await, "no drain came");
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(5),
            "it waited it out"
        );

        let waiting = turn.wait();
        assert!(
            turn.next_drain_within_hand_over().await,
            "a drain waits already"
        );
        drop(waiting);

        let later = turn.clone();
        let starts = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            later.wait().is_some()
        });
        let started = tokio::time::Instant::now();
        assert!(turn.next_drain_within_hand_over().await, "one came");
        assert_eq!(started.elapsed(), Duration::from_millis(2), "as it came");
        assert!(starts.await.unwrap(), "it had the place");
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_quiet_stack_a_drain_reads_its_receipts_without_waiting() {
        let turn = RelayTurn::handing_over_receipts(Duration::from_millis(5));
        let started = tokio::time::Instant::now();
        assert!(
            !turn.next_drain_within_hand_over().await,
            "no wake-up came before"
        );
        drop(turn.wait());
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(turn.wait());
        assert!(
            !turn.next_drain_within_hand_over().await,
            "wake-ups 50 ms apart"
        );
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(50),
            "it did not wait"
        );
    }
}
