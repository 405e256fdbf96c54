//! Group commit for sends: messages sent at the same moment are stored together, in one
//! statement and one transaction ([`messages::insert_many`]), so a burst pays one plan, one
//! round trip and one WAL flush per batch instead of per message.
//!
//! Each process has one batcher: a task that takes whatever is waiting (up to [`MAX_BATCH`]),
//! stores it, and answers each sender. While one batch is being stored the next gathers, so
//! batches grow with the load and an idle system stores a lone message at once. Under load (the
//! last batch held more than one message) a small batch also lingers a moment for more: a batch
//! costs PostgreSQL about as much for three messages as for ten, and on a busy machine the CPU
//! this saves shortens every other queue. One batch is
//! in flight at a time, so two batches never wait on each other's chat rows. The queue is
//! bounded: past it, senders wait (backpressure) rather than memory growing.
//!
//! The batcher stores on a connection of its own, taken from the pool once and kept, whose
//! statements run on generic plans of index lookups (`keyed_lookup_plans!`): a batch's size
//! changes every time, and PostgreSQL would otherwise plan the statement afresh for each size,
//! or (planning once for an unknown size) hash whole tables to join a few rows. A connection
//! that fails is closed, never returned to the pool with those settings.
//!
//! A batch that fails is stored again one message at a time, so one bad message (or a
//! connection lost mid-batch) fails only its own sender. A message whose `clientMessageId` a
//! concurrent send (another process) stored between the batch's snapshot and its insert is
//! asked once more, and then found as `Existing`.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::messages::{self, NewMessage, Stored};
use super::Db;
use crate::error::ApiError;

/// Messages stored together at most.
pub const MAX_BATCH: usize = 128;
/// Sends waiting at most before a sender waits for room.
const QUEUE: usize = 4_096;
/// Under load, how long a batch smaller than [`LINGER_UNTIL`] waits for more messages before it
/// is stored: a trade of latency for CPU. At 1,000 msg/s (`banter-bench`, the same build with
/// and without it, December 2026) it halves PostgreSQL's transactions per delivered message
/// (0.53 instead of 1.06) and its CPU per message (0.63 ms instead of 1.05), for acks 2.2 ms
/// later at the median (4.65 ms instead of 2.43) and send -> receive 1.5 ms later (6.13 ms
/// instead of 4.62; p99 about the same, 14-15 ms). The CPU is what bounds the saturation
/// rate; the latency stays well inside what a person notices.
const LINGER: Duration = Duration::from_millis(2);
/// A batch this big is stored without lingering: at a few thousand messages a second batches
/// gather this many while the last one is stored, and waiting would only add latency.
const LINGER_UNTIL: usize = 8;

/// One send waiting to be stored, and where its outcome goes.
struct Pending {
    message: NewMessage,
    answer: oneshot::Sender<Result<Stored, ApiError>>,
    /// Asked again after a concurrent send of its `clientMessageId` won the race.
    retried: bool,
}

/// The process's send batcher (cheap to clone; its task starts with the first send).
#[derive(Clone)]
pub struct SendBatcher {
    db: Db,
    queue: Arc<OnceLock<mpsc::Sender<Pending>>>,
}

impl SendBatcher {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            queue: Arc::default(),
        }
    }

    /// Store `message` (or find the one its sender already stored under its `clientMessageId`)
    /// with whatever else is being sent now; answers once it is committed.
    pub async fn insert_or_find(&self, message: NewMessage) -> Result<Stored, ApiError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(store_batches(self.db.clone(), rx));
            tx
        });
        let (answer, outcome) = oneshot::channel();
        let pending = Pending {
            message,
            answer,
            retried: false,
        };
        queue
            .send(pending)
            .await
            .map_err(|_| ApiError::Internal("the send batcher stopped".into()))?;
        outcome
            .await
            .map_err(|_| ApiError::Internal("the send batcher dropped a message".into()))?
    }
}

/// The batcher's task: store what is waiting, batch after batch, until every sender is gone.
async fn store_batches(db: Db, mut queue: mpsc::Receiver<Pending>) {
    let mut connection = Connection { db, client: None };
    // Messages held back from a batch (a second send of the same clientMessageId, or a retry),
    // stored first in the next one.
    let mut held: VecDeque<Pending> = VecDeque::new();
    // Whether the last batch held more than one message (the load that lingering pays for).
    let mut under_load = false;
    loop {
        if !gather(&mut queue, &mut held, under_load).await {
            return;
        }
        let batch = take_batch(&mut held);
        under_load = batch.len() > 1;
        for retry in store(&mut connection, batch).await {
            held.push_front(retry);
        }
    }
}

/// Gather the next batch's messages into `held`: wait for one if none is held, take whatever
/// else is waiting and, `under_load`, linger for more while the batch is small. `false` once
/// every sender is gone and nothing is held.
async fn gather<T>(
    queue: &mut mpsc::Receiver<T>,
    held: &mut VecDeque<T>,
    under_load: bool,
) -> bool {
    if held.is_empty() {
        match queue.recv().await {
            Some(p) => held.push_back(p),
            None => return false,
        }
    }
    while held.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(p) => held.push_back(p),
            Err(_) => break,
        }
    }
    if under_load && held.len() < LINGER_UNTIL {
        let until = tokio::time::Instant::now() + LINGER;
        while held.len() < LINGER_UNTIL {
            match tokio::time::timeout_at(until, queue.recv()).await {
                Ok(Some(p)) => held.push_back(p),
                Ok(None) | Err(_) => break,
            }
        }
    }
    true
}

/// The next batch from `held`: up to [`MAX_BATCH`] messages, no two with the same sender and
/// `clientMessageId` (the second waits for the next batch, where it finds the first).
fn take_batch(held: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut batch = Vec::new();
    let mut keys: HashSet<(Uuid, String)> = HashSet::new();
    let mut later = VecDeque::new();
    while let Some(p) = held.pop_front() {
        if batch.len() == MAX_BATCH {
            later.push_back(p);
            continue;
        }
        let key = (p.message.sender_id, p.message.client_message_id.clone());
        if keys.insert(key) {
            batch.push(p);
        } else {
            later.push_back(p);
        }
    }
    *held = later;
    batch
}

/// Store one batch and answer its senders. Returns the messages to ask again (a concurrent send
/// of their `clientMessageId` won; asked again they are found).
async fn store(connection: &mut Connection, batch: Vec<Pending>) -> Vec<Pending> {
    let messages: Vec<&NewMessage> = batch.iter().map(|p| &p.message).collect();
    let outcomes = match connection.insert(&messages).await {
        Ok(outcomes) => outcomes,
        Err(e) if batch.len() == 1 => {
            let p = batch.into_iter().next().expect("one");
            let _ = p.answer.send(Err(e));
            return Vec::new();
        }
        Err(e) => {
            // Alone, each message fails (or not) on its own account.
            tracing::warn!(error = %e, size = batch.len(), "a send batch failed; storing its messages one by one");
            let mut retries = Vec::new();
            for p in batch {
                retries.extend(Box::pin(store(connection, vec![p])).await);
            }
            return retries;
        }
    };
    let mut retries = Vec::new();
    for (mut p, outcome) in batch.into_iter().zip(outcomes) {
        match outcome {
            Some(stored) => {
                let _ = p.answer.send(Ok(stored));
            }
            None if !p.retried => {
                p.retried = true;
                retries.push(p);
            }
            None => {
                let _ = p.answer.send(Err(ApiError::Internal(
                    "message insert neither stored nor found the message".into(),
                )));
            }
        }
    }
    retries
}

/// The batcher's own connection (opened on first use, after a failure, and when the server
/// closed it).
struct Connection {
    db: Db,
    client: Option<deadpool_postgres::Object>,
}

impl Connection {
    /// Store `messages` (`messages::insert_many`). A connection the server closed while it
    /// waited (a restart; Neon suspending an idle compute) is replaced before use; one that
    /// closes during the statement, or whose statement fails with the database unavailable
    /// (`ApiError::Database`: the server ending the session, whose error can come before the
    /// connection is seen closed; a deadlock's victim), is replaced and the statement asked
    /// once more, which is safe because a send is idempotent on its `clientMessageId` (what
    /// committed is found, not stored twice). Either way the senders get their messages, not
    /// a 503.
    async fn insert(&mut self, messages: &[&NewMessage]) -> Result<Vec<Option<Stored>>, ApiError> {
        let mut asked_again = false;
        loop {
            if self.client.as_ref().is_some_and(|c| c.is_closed()) {
                self.discard();
            }
            if self.client.is_none() {
                let client = self.db.get().await?;
                client
                    .batch_execute(concat!("SELECT ", crate::keyed_lookup_plans!("false")))
                    .await?;
                self.client = Some(client);
            }
            let client = self.client.as_ref().expect("opened above");
            let outcome = messages::insert_many(client, messages).await;
            if outcome.is_ok() {
                return outcome;
            }
            let worth_asking_again =
                client.is_closed() || matches!(outcome, Err(ApiError::Database(_)));
            self.discard();
            if !worth_asking_again || asked_again {
                return outcome;
            }
            tracing::warn!(
                "the send batcher's connection closed or its database was unavailable; asking \
                 its batch again on a new one"
            );
            asked_again = true;
        }
    }

    /// Close the connection, not return it to the pool: its session setting stays with it.
    fn discard(&mut self) {
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue with `waiting` messages in it, and another sent `later` (on the paused clock).
    fn queue_with(waiting: usize, later: Duration) -> mpsc::Receiver<usize> {
        let (tx, rx) = mpsc::channel(QUEUE);
        for i in 0..waiting {
            tx.try_send(i).unwrap();
        }
        tokio::spawn(async move {
            tokio::time::sleep(later).await;
            let _ = tx.send(waiting).await;
            // Still there: the queue is open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        rx
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_batcher_stores_a_lone_message_at_once() {
        let mut queue = queue_with(1, Duration::from_millis(1));
        let mut held = VecDeque::new();
        let start = tokio::time::Instant::now();
        assert!(gather(&mut queue, &mut held, false).await);
        assert_eq!((held.len(), start.elapsed()), (1, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn under_load_a_small_batch_lingers_for_what_comes_next() {
        let mut queue = queue_with(1, Duration::from_millis(1));
        let mut held = VecDeque::new();
        let start = tokio::time::Instant::now();
        assert!(gather(&mut queue, &mut held, true).await);
        assert_eq!(held, [0, 1], "the message sent 1 ms later joined the batch");
        assert_eq!(
            start.elapsed(),
            LINGER,
            "and the batch waited out its linger"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn under_load_a_batch_big_enough_goes_at_once() {
        let mut queue = queue_with(LINGER_UNTIL, Duration::from_millis(1));
        let mut held = VecDeque::new();
        let start = tokio::time::Instant::now();
        assert!(gather(&mut queue, &mut held, true).await);
        assert_eq!(
            (held.len(), start.elapsed()),
            (LINGER_UNTIL, Duration::ZERO)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_batcher_ends_when_every_sender_is_gone() {
        let (tx, mut queue) = mpsc::channel::<usize>(1);
        drop(tx);
        assert!(!gather(&mut queue, &mut VecDeque::new(), true).await);
    }
}
