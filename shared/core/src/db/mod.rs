//! Postgres access: the connection pool (TLS with SNI for Neon when `sslmode=require`), the
//! embedded migrations, and one module of queries per aggregate.
//!
//! Statements are prepared once per connection and cached (`prepare_cached`), which also works
//! behind Neon's PgBouncer pooler (it tracks protocol-level prepared statements). A connection
//! that Neon closed while the compute was suspended is noticed on checkout and replaced.

pub mod account_activity;
pub mod backups;
pub mod calls;
pub mod chats;
pub mod contacts;
pub mod device_keys;
pub mod events;
pub mod invite_links;
pub mod media;
pub mod message_changes;
pub mod message_marks;
pub mod messages;
pub mod polls;
pub mod presence;
pub mod push_devices;
pub mod relationships;
pub mod reports;
pub mod send_batches;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;

pub type Db = Pool;

/// `set_config` calls (comma-separated, for a `SELECT`) that plan statements looking up a few
/// rows by key, whatever their batch size: one generic plan, joined by nested loops over index
/// scans, neither planned afresh for each batch size nor hashing whole tables to join a few
/// rows. `$local` is `"true"` for the current transaction, `"false"` for the session. Used by
/// the send batcher's connection (`send_batches`) and each relay round (`events::lock_relay`).
/// Measured on the batch statement over 1,200 users and 600 chats: 2.09 ms for 2 messages and
/// 11.2 ms for 27 on PostgreSQL's own generic plan, 0.69 ms and 2.9 ms with these.
///
/// No sequential or bitmap scans either, so a plan made while the tables were small (the
/// batcher plans once, at its first batch) keeps to the indexes as they grow, and scans step
/// over the index entries of rows a round deleted or updated (a bitmap scan visits every one of
/// them until a vacuum; an index scan marks them dead once, for the next scans to skip). At
/// 1,000 msg/s the relay's reads went from 190 to 8 buffers a round (`next_stable`), 422 to 177
/// (`append_receipts`), 132 to 23 (`members_since`). And no JIT: the cost PostgreSQL adds to a
/// disabled node (a table without an index, like `relay_position`) passes `jit_above_cost`,
/// and compiling took 464 ms of a 529 ms relay read (`V29` turns JIT off for the database too).
#[macro_export]
macro_rules! keyed_lookup_plans {
    ($local:literal) => {
        concat!(
            "set_config('plan_cache_mode', 'force_generic_plan', ",
            $local,
            "), ",
            "set_config('enable_hashjoin', 'off', ",
            $local,
            "), ",
            "set_config('enable_mergejoin', 'off', ",
            $local,
            "), ",
            "set_config('enable_seqscan', 'off', ",
            $local,
            "), ",
            "set_config('enable_bitmapscan', 'off', ",
            $local,
            "), ",
            "set_config('jit', 'off', ",
            $local,
            ")"
        )
    };
}

/// Plan the rest of transaction `tx` as `keyed_lookup_plans!` says. A simple query, which needs
/// no prepare: a statement pipelined after it never overtakes it.
pub async fn plan_keyed_lookups(
    tx: &deadpool_postgres::Transaction<'_>,
) -> Result<(), crate::error::ApiError> {
    tx.batch_execute(concat!("SELECT ", crate::keyed_lookup_plans!("true")))
        .await?;
    Ok(())
}

/// How a read whose best plan depends on its keys' count and its tables' size is planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planning {
    /// For this call, for the tables as they are now: an unnamed statement, parsed, planned and
    /// run in one round trip ([`AsTokioPostgres`]). For connections without the settings below.
    PerCall,
    /// One generic plan, cached on the connection: only inside a transaction that took
    /// `keyed_lookup_plans!` (a relay round), whose settings keep it to index lookups however
    /// the tables grow. Spares each call its planning (a relay round's message read spent most
    /// of its 0.8 ms there at 1,000 msg/s).
    KeyedLookups,
}

/// A pooled connection or transaction, seen as tokio-postgres's own client, for what the pool's
/// `GenericClient` lacks: `query_typed` runs a statement unnamed, parsed, planned for these
/// parameters and run in one round trip, and not kept. For reads whose best plan depends on
/// how many keys they are given and how big the table has grown, which a plan cached on a
/// long-lived connection would not follow (`messages::by_ids`).
pub trait AsTokioPostgres: deadpool_postgres::GenericClient {
    fn as_tokio_postgres(&self) -> &impl tokio_postgres::GenericClient;
}

impl AsTokioPostgres for deadpool_postgres::Object {
    fn as_tokio_postgres(&self) -> &impl tokio_postgres::GenericClient {
        let client: &tokio_postgres::Client = self;
        client
    }
}

impl AsTokioPostgres for deadpool_postgres::Transaction<'_> {
    fn as_tokio_postgres(&self) -> &impl tokio_postgres::GenericClient {
        let tx: &tokio_postgres::Transaction<'_> = self;
        tx
    }
}

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// How long a pooled connection may sit unused and still be handed out. Past it, it is closed
/// and a new one made: the server may have ended it unseen. Neon suspends an idle compute after
/// five minutes, a NAT drops a quiet flow after about six, and a Lambda instance frozen between
/// invocations cannot notice either, so its first request would fail on the dead connection.
/// A busy process never waits this long.
pub const IDLE_CONNECTION_LIMIT: Duration = Duration::from_secs(240);

/// Open a pool of at most `max_size` connections to `url` (a libpq-style URL or key=value
/// string). No connection is made until first use.
pub fn connect(url: &str, max_size: usize) -> Result<Db, String> {
    connect_trusting_idle(url, max_size, IDLE_CONNECTION_LIMIT)
}

/// [`connect`], handing out a connection unused for at most `idle` (the default is
/// [`IDLE_CONNECTION_LIMIT`]).
pub fn connect_trusting_idle(url: &str, max_size: usize, idle: Duration) -> Result<Db, String> {
    pool(parse_url(url)?, max_size, idle)
}

/// The role request-serving code acts as (`V10`): it reads and writes rows, and cannot change
/// the schema. Deployed functions log in as a member of it; migrations run as the owner.
pub const SERVING_ROLE: &str = "banter_app";

/// A pool like [`connect`]'s whose sessions act as [`SERVING_ROLE`] from the start (`SET ROLE`
/// at connect), for one process that holds the owner's URL (the local stack): it serves with
/// exactly the privileges the deployed functions have, so a missing grant fails in tests.
pub fn connect_as_serving_role(url: &str, max_size: usize) -> Result<Db, String> {
    let mut config = parse_url(url)?;
    config.options(format!("-c role={SERVING_ROLE}"));
    pool(config, max_size, IDLE_CONNECTION_LIMIT)
}

fn parse_url(url: &str) -> Result<tokio_postgres::Config, String> {
    url.parse()
        .map_err(|e| format!("invalid DATABASE_URL: {e}"))
}

fn pool(config: tokio_postgres::Config, max_size: usize, idle: Duration) -> Result<Db, String> {
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if config.get_ssl_mode() == SslMode::Disable {
        Manager::from_config(config, tokio_postgres::NoTls, manager_config)
    } else {
        Manager::from_config(config, tls_connector(), manager_config)
    };
    // (A connection the hook refuses is dropped, and the pool hands out another or a new one.)
    let recent = Hook::sync_fn(move |_, metrics| {
        if metrics.last_used() <= idle {
            Ok(())
        } else {
            Err(HookError::message("unused for too long to trust"))
        }
    });
    Pool::builder(manager)
        .max_size(max_size)
        .pre_recycle(recent)
        .build()
        .map_err(|e| format!("pool: {e}"))
}

/// rustls with the Mozilla root store. The server name given to the TLS handshake is the host
/// name from the URL, which is the SNI that Neon routes on.
fn tls_connector() -> tokio_postgres_rustls::MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

/// Apply pending migrations. An advisory lock makes concurrent runners (two cold Lambdas, a
/// local stack starting beside tests) take turns.
pub async fn migrate(db: &Db) -> Result<Vec<String>, String> {
    let mut client = db
        .get()
        .await
        .map_err(|e| format!("database connection: {e}"))?;
    let client: &mut tokio_postgres::Client = &mut client;
    client
        .batch_execute("SELECT pg_advisory_lock(7201)")
        .await
        .map_err(|e| e.to_string())?;
    let result = embedded::migrations::runner().run_async(client).await;
    let backfill = match &result {
        Ok(_) => Some(users::backfill_username_skeletons(client).await),
        Err(_) => None,
    };
    let _ = client
        .batch_execute("SELECT pg_advisory_unlock(7201)")
        .await;
    let report = result.map_err(|e| format!("migration failed: {e}"))?;
    if let Some(Err(e)) = backfill {
        return Err(format!("filling in username skeletons failed: {e}"));
    }
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// Is Postgres reachable? (`GET /api/health`.)
pub async fn ping(db: &Db) -> bool {
    match db.get().await {
        Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    }
}

/// A statement's condition (SQL) that a message or event, sent by `sender` at `sent_at`, was not
/// sent by someone `viewer` had blocked by then (and still blocks): what a blocked user sends
/// never reaches the blocker, pushed or loaded, while what came before the block stays. The
/// first test reads only `viewer` (a parameter), so PostgreSQL runs it once per statement and,
/// for the many who block no one, skips the lookup per row. (As a SQL function it would not be
/// inlined, holding subqueries, and a call per row doubled a common word's search time.)
pub fn not_sent_while_blocked(viewer: &str, sender: &str, sent_at: &str) -> String {
    format!(
        "NOT (EXISTS (SELECT 1 FROM user_relationships a
                      WHERE a.user_id = {viewer} AND a.relationship_type = 'blocked')
              AND EXISTS (SELECT 1 FROM user_relationships b
                          WHERE b.user_id = {viewer} AND b.related_user_id = {sender}
                            AND b.relationship_type = 'blocked' AND b.created_at <= {sent_at}))"
    )
}

/// A statement's condition (SQL) that `owner` shows `viewer` their presence: the rule of
/// `presence_shown_to` (V75), which PostgreSQL inlines into the statement, so a check per row
/// costs index lookups and no function call.
pub fn presence_shown(owner: &str, viewer: &str) -> String {
    format!("EXISTS (SELECT 1 FROM presence_shown_to({owner}, ARRAY[{viewer}]::uuid[]))")
}

/// A statement's condition (SQL) that `reader` and `sender` share read receipts in `chat`: the
/// rule of `read_receipts_shared_with` (V76), inlined as [`presence_shown`]'s is.
pub fn read_receipts_shared(chat: &str, reader: &str, sender: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM read_receipts_shared_with({chat}, ARRAY[{reader}]::uuid[], {sender}))"
    )
}

/// A statement's expression (SQL) for when the chat whose `chat_sequences` row is `s` last had
/// a message `viewer` sees: its last message's time or, while everything written since was kept
/// from them (the messages and calls of someone they block, V68), the time before it.
pub fn last_message_at(s: &str, viewer: &str) -> String {
    format!("CASE WHEN {s}.quiet_for = {viewer} THEN {s}.quiet_since ELSE {s}.last_message_at END")
}

/// A statement's condition (SQL) that the message `m` has not disappeared: a disappearing
/// message whose time is up is gone at once wherever it is read or acted on, though its row is
/// erased by the next scheduled run (`messages::erase_expired`, a batch at a time). Only the
/// read watermark still takes its id (a client reads up to the last message it showed).
pub fn not_expired(m: &str) -> String {
    format!("({m}.expires_at IS NULL OR {m}.expires_at > now())")
}

/// A statement's condition (SQL) that the user whose `chat_participants` row is `me` reads the
/// chat: a member, or a former member who has not deleted it for themselves (V38). Its
/// messages are then theirs up to [`last_seq_read`]. The condition is the predicate of the index
/// `chat_participants_user_listed`, so a user's chats are read by it.
pub fn reads_the_chat(me: &str) -> String {
    format!("({me}.left_at IS NULL OR NOT {me}.hidden)")
}

/// A statement's condition (SQL) that the list of the user whose `chat_participants` row is
/// `me` shows the chat, whose last `seq` is `last_seq`: not hidden, or written in since they
/// cleared it (a chat deleted for oneself, or a 1:1 chat another opened, until its next message).
pub fn shows_the_chat(me: &str, last_seq: &str) -> String {
    format!("(NOT {me}.hidden OR {last_seq} > {me}.cleared_seq)")
}

/// The last seq of a chat that the user whose `chat_participants` row is `me` reads (SQL): the
/// chat's last when they left it, or, for a member, any.
pub fn last_seq_read(me: &str) -> String {
    format!("coalesce({me}.left_seq, {})", i64::MAX)
}

/// A group's `field` (`name`, `description`, `avatar_url` (V41), `disappearing_seconds`,
/// `send_permission`, `edit_info_permission`, `add_permission` (V45) of the `chats` row `chat`)
/// as the user whose `chat_participants` row is `me` sees it (SQL): as it is, or, for a former
/// member, as it was when they left.
pub fn group_as_seen(me: &str, chat: &str, field: &str) -> String {
    format!("CASE WHEN {me}.left_at IS NULL THEN {chat}.{field} ELSE {me}.left_{field} END")
}

/// A statement's condition (SQL) that the message `m` is not one that `user` deleted for
/// themselves.
pub fn not_hidden_for(user: &str, m: &str) -> String {
    format!("NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = {user} AND h.message_id = {m}.id)")
}

/// [`not_hidden_for`] for a statement that checks thousands of messages (search): the user's
/// hidden messages are read once and hashed (`NOT IN` an uncorrelated subquery, a hashed
/// subplan; `message_id` is never null), so each message costs a hash probe whatever join the
/// plan would otherwise pick. As an anti join, a generic plan that expected a few rows probed
/// the index once per message: about 10 ms of a common word's search.
pub fn not_hidden_for_many(user: &str, m: &str) -> String {
    format!("{m}.id NOT IN (SELECT h.message_id FROM message_hidden h WHERE h.user_id = {user})")
}

/// What names an erased account where it was named: the timeline's lines about it, a 1:1 chat
/// with it.
pub const ERASED_ACCOUNT: &str = "Deleted account";

/// A statement's condition (SQL) that the chat `c` is a user's chat with themselves (WhatsApp's
/// "Message yourself": a 1:1 chat whose two members are the same, one row in
/// `chat_participants`): it has no other member, and nobody left it.
pub fn note_to_self(c: &str) -> String {
    format!(
        "coalesce(split_part({c}.individual_key, ':', 1) = split_part({c}.individual_key, ':', 2), false)"
    )
}

/// A statement's condition (SQL) that `user` sees the message `m`, where `me` is their
/// `chat_participants` row in its chat: they read the chat, the message came while they were a
/// member (and, for a former member, before they left), they have neither cleared it nor deleted
/// it for themselves, and it is not from someone they blocked by then. (Whether it was deleted
/// for everyone or has disappeared is for the caller: some answer those as such.)
pub fn sees_message(me: &str, user: &str, m: &str) -> String {
    format!(
        "({reads} AND {m}.seq > {me}.cleared_seq AND {came} AND {m}.seq <= {last_seq}
          AND {not_hidden} AND {not_blocked})",
        reads = reads_the_chat(me),
        came = came_while_member(
            &format!("{me}.chat_id"),
            user,
            &format!("{me}.joined_at"),
            &format!("{m}.created_at")
        ),
        last_seq = last_seq_read(me),
        not_hidden = not_hidden_for(user, m),
        not_blocked =
            not_sent_while_blocked(user, &format!("{m}.sender_id"), &format!("{m}.created_at")),
    )
}

/// A statement's condition (SQL) that something of time `at` in chat `chat` came while `user`,
/// whose latest membership began at `joined`, was a member: since then (a former member's ends
/// where [`last_seq_read`] or their `left_at` says), or in an earlier membership of theirs (V57:
/// they left and joined again).
pub fn came_while_member(chat: &str, user: &str, joined: &str, at: &str) -> String {
    format!(
        "({at} >= {joined} OR EXISTS (
             SELECT 1 FROM earlier_memberships w
             WHERE w.chat_id = {chat} AND w.user_id = {user} AND w.joined_at <= {at}
               AND {at} <= w.left_at))"
    )
}

/// A statement's condition (SQL) that the `chat_participants` row `p` was a member at `at`
/// (`'infinity'`: is one now). A former member sees the members of the moment they left,
/// without themselves.
pub fn member_at(p: &str, at: &str) -> String {
    format!("({p}.joined_at <= {at} AND ({p}.left_at IS NULL OR {p}.left_at > {at}))")
}

/// A `LIKE` pattern (default escape `\\`) for text containing `query` literally, or starting
/// with it when `prefix_only` (short queries, which an index answers by prefix).
pub fn like_pattern(query: &str, prefix_only: bool) -> String {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    if prefix_only {
        format!("{escaped}%")
    } else {
        format!("%{escaped}%")
    }
}

/// `s` cut to its first `max` characters (for columns with a length check).
pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Is this the error Postgres reports for a unique-constraint violation, on `constraint`?
pub fn is_unique_violation(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.as_db_error().is_some_and(|d| {
        *d.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            && d.constraint() == Some(constraint)
    })
}
