//! Issue 12's figures (`banter-bench --discovery`): message search p50/p95 over 1,000,000
//! messages in 10,000 chats for a user in 200 of them (common words, rare words, prefixes),
//! with the plan of the common-word query; the schedule's erasure of 1,000 disappearing messages
//! among them; a phone sync of 1,000 numbers; the backup of a 10,000-message chat. The corpus
//! is written straight into the stack's PostgreSQL (as the schema's owner) so that seeding
//! takes a minute, not an afternoon of API calls.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::{connect, next_text, register, summary, Stack, User};

/// The corpus: chats, messages per chat, and the searcher's share of the chats.
const CHATS: i64 = 10_000;
const MESSAGES_PER_CHAT: i64 = 100;
const SEARCHER_CHATS: i64 = 200;
/// Distinct words; drawn with a skewed distribution (word 0 in about 40% of messages).
const VOCABULARY: usize = 5_000;
const QUERIES_PER_KIND: usize = 100;
/// Messages of the corpus whose disappearing time is up, erased as the schedule does.
const EXPIRED: i64 = 1_000;

/// Pseudo-words of two to four syllables, all distinct.
fn vocabulary() -> Vec<String> {
    const SYLLABLES: [&str; 20] = [
        "ka", "re", "mi", "to", "lu", "sa", "ne", "po", "di", "fe", "go", "ha", "ji", "vo", "wu",
        "ye", "zi", "bo", "ce", "xu",
    ];
    (0..VOCABULARY)
        .map(|i| {
            let mut n = i + 20;
            let mut word = String::new();
            while n > 0 {
                word.push_str(SYLLABLES[n % 20]);
                n /= 20;
            }
            word
        })
        .collect()
}

pub async fn run(stack: &Stack) -> Result<()> {
    let http = reqwest::Client::new();
    let base = stack.base.clone();
    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (db, connection) =
        tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);

    // 1. Message search.
    let searcher = register(&http, &base, &format!("searcher{run_id}")).await?;
    let filler = register(&http, &base, &format!("filler{run_id}")).await?;
    let words = vocabulary();
    let started = Instant::now();
    seed_corpus(&db, &searcher, &filler, &words).await?;
    println!(
        "\n[search corpus] {} messages in {CHATS} chats, the searcher in {SEARCHER_CHATS}: seeded and indexed in {:.1} s",
        CHATS * MESSAGES_PER_CHAT,
        started.elapsed().as_secs_f64()
    );
    let common = words[0].clone();
    let rare = words[4000].clone();
    let prefix = words[25][..3].to_owned();
    let two_words = format!("{} {}", words[1], words[3]);
    println!(
        "\n[message search] GET /api/messages/search, {QUERIES_PER_KIND} queries each, one client"
    );
    for (kind, q) in [
        ("common word", common.as_str()),
        ("rare word", rare.as_str()),
        ("prefix", prefix.as_str()),
        ("two words", two_words.as_str()),
    ] {
        let mut h = Histogram::<u64>::new(3)?;
        let mut total = 0;
        for _ in 0..QUERIES_PER_KIND {
            let t = Instant::now();
            let page: Value = http
                .get(format!("{base}/api/messages/search"))
                .query(&[("q", q), ("limit", "20")])
                .bearer_auth(&searcher.token)
                .send()
                .await?
                .json()
                .await?;
            h.record(t.elapsed().as_micros() as u64)?;
            total = page["meta"]["pagination"]["total"]
                .as_i64()
                .ok_or_else(|| anyhow!("search failed: {page}"))?;
        }
        println!(
            "  {kind:<12} q={q:<14} matches {total:>6}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.95) as f64 / 1000.0,
            h.max() as f64 / 1000.0
        );
    }
    explain(&db, &searcher, &common).await?;
    erase_expired(stack).await?;

    // 2. Phone sync: 1,000 numbers in national form, half of them people on Banter.
    seed_phones(&db).await?;
    let mut h = Histogram::<u64>::new(3)?;
    let mut matched = 0;
    for i in 0..10 {
        let user = register(&http, &base, &format!("syncer{i}{run_id}")).await?;
        let phones: Vec<String> = (0..1000).map(|n| format!("(650) 253-{n:04}")).collect();
        let t = Instant::now();
        let r: Value = http
            .post(format!("{base}/api/contacts/sync"))
            .bearer_auth(&user.token)
            .json(&json!({ "phones": phones, "region": "US" }))
            .send()
            .await?
            .json()
            .await?;
        h.record(t.elapsed().as_micros() as u64)?;
        matched = r["data"]["matches"]
            .as_array()
            .ok_or_else(|| anyhow!("sync failed: {r}"))?
            .len();
    }
    println!("\n[phone sync] POST /api/contacts/sync with 1,000 numbers, {matched} of them on Banter (10 users)");
    println!("  {}", summary(&h));

    // 3. Backup of a 10,000-message chat.
    let chat = seed_backup_chat(&db, &searcher, &filler, &words).await?;
    let ws_url = base.replace("http://", "ws://") + "/ws";
    let mut ws = connect(&ws_url, &searcher.token).await?;
    let t = Instant::now();
    let r: Value = http
        .post(format!("{base}/api/backups"))
        .bearer_auth(&searcher.token)
        .json(&json!({ "chatIds": [chat] }))
        .send()
        .await?
        .json()
        .await?;
    let id = r["data"]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("backup refused: {r}"))?
        .to_owned();
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let frame: Value = serde_json::from_str(&next_text(&mut ws).await?)?;
            if frame["event"] == "backup:ready" || frame["event"] == "backup:failed" {
                if frame["event"] == "backup:failed" {
                    bail!("the backup failed: {frame}");
                }
                return Ok::<_, anyhow::Error>(());
            }
        }
    })
    .await
    .map_err(|_| anyhow!("no backup:ready within 120 s"))??;
    let built = t.elapsed();
    let got: Value = http
        .get(format!("{base}/api/backups/{id}"))
        .bearer_auth(&searcher.token)
        .send()
        .await?
        .json()
        .await?;
    let t = Instant::now();
    let zip = http
        .get(got["data"]["downloadUrl"].as_str().unwrap_or_default())
        .send()
        .await?
        .bytes()
        .await?;
    println!("\n[backup] one chat of 10,000 messages");
    println!(
        "  asked -> backup:ready {:.2} s; zip {:.1} KB, downloaded in {:.1} ms",
        built.as_secs_f64(),
        zip.len() as f64 / 1024.0,
        t.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}

/// The chats, memberships and messages of the search corpus, the search index built after
/// the rows and the table vacuumed (as a bulk load would).
async fn seed_corpus(
    db: &tokio_postgres::Client,
    searcher: &User,
    filler: &User,
    words: &[String],
) -> Result<()> {
    let searcher: uuid::Uuid = searcher.id.parse()?;
    let filler: uuid::Uuid = filler.id.parse()?;
    db.execute(
        "INSERT INTO chats (id, type, name, created_by)
         SELECT gen_random_uuid(), 'group', 'bench ' || i, $1 FROM generate_series(1, $2::bigint) i",
        &[&filler, &CHATS],
    )
    .await?;
    db.execute(
        "UPDATE chat_sequences s SET last_seq = $1
         FROM chats c WHERE c.id = s.chat_id AND c.name LIKE 'bench %'",
        &[&MESSAGES_PER_CHAT],
    )
    .await?;
    db.execute(
        "INSERT INTO chat_participants (chat_id, user_id, role, joined_at)
         SELECT id, $1, 'admin', now() - interval '1 year' FROM chats WHERE name LIKE 'bench %'",
        &[&filler],
    )
    .await?;
    db.execute(
        "INSERT INTO chat_participants (chat_id, user_id, joined_at)
         SELECT id, $1, now() - interval '1 year' FROM chats WHERE name LIKE 'bench %' ORDER BY id LIMIT $2",
        &[&searcher, &SEARCHER_CHATS],
    )
    .await?;
    db.batch_execute("DROP INDEX messages_search").await?;
    db.execute(
        "INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, type, content, created_at)
         SELECT gen_random_uuid(), c.id, $1, 'bench-' || c.id || '-' || s, s, 'text',
                (SELECT string_agg(($2::text[])[1 + floor(power(random(), 3) * $3)::int], ' ')
                 FROM generate_series(1, 5 + (s + c.n) % 9) w WHERE c.n > 0),
                now() - interval '300 days' + make_interval(mins => s::int)
         FROM (SELECT id, row_number() OVER () AS n FROM chats WHERE name LIKE 'bench %') c,
              generate_series(1::bigint, $4) s",
        &[&filler, &words, &(words.len() as f64), &MESSAGES_PER_CHAT],
    )
    .await?;
    db.batch_execute(
        "CREATE INDEX messages_search ON messages USING gin (search) WITH (fastupdate = off)
             WHERE type <> 'system' AND NOT deleted_for_everyone",
    )
    .await?;
    // As after a bulk load: the visibility map and hint bits set, the statistics taken, so the
    // searches measure reading the corpus, not a first pass over it (or autovacuum's, beside
    // them). A statement of its own: VACUUM runs outside any transaction.
    db.batch_execute("VACUUM (ANALYZE) messages").await?;
    db.batch_execute("ANALYZE chat_participants").await?;
    Ok(())
}

/// The schedule's erasure of disappearing messages (`messages::erase_expired`) among the
/// corpus: each erased message is looked up in everything that refers to it (`V30`). Their time
/// comes in the erasure's own transaction, so the stack's schedule cannot take them first.
async fn erase_expired(stack: &Stack) -> Result<()> {
    let pool = banter_core::db::connect(&stack.database_url, 1).map_err(|e| anyhow!(e))?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "UPDATE messages SET expires_at = now() - interval '1 second'
         WHERE id IN (SELECT id FROM messages ORDER BY created_at LIMIT $1)",
        &[&EXPIRED],
    )
    .await?;
    let started = Instant::now();
    let erased = banter_core::db::messages::erase_expired(&tx, EXPIRED).await?;
    let took = started.elapsed();
    tx.commit().await?;
    println!(
        "\n[disappearing messages] the schedule erases {erased} expired messages among {}: {:.1} ms",
        CHATS * MESSAGES_PER_CHAT,
        took.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// The common-word query's plan, as the server runs it.
async fn explain(db: &tokio_postgres::Client, searcher: &User, q: &str) -> Result<()> {
    let searcher: uuid::Uuid = searcher.id.parse()?;
    // The generic plan, as `messages::search` has the server run it (an EXPLAIN of the
    // statement itself would plan it for these values).
    db.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE search_plan (uuid, text, uuid, text, uuid, timestamptz, timestamptz, int8, int8)
             AS {}",
        banter_core::db::messages::search_sql()
    ))
    .await?;
    let plan = db
        .query(
            &format!(
                "EXPLAIN (ANALYZE, BUFFERS)
                 EXECUTE search_plan('{searcher}', '{}', NULL, NULL, NULL, NULL, NULL, 20, 0)",
                q.replace('\'', "''")
            ),
            &[],
        )
        .await?;
    db.batch_execute("DEALLOCATE search_plan; RESET plan_cache_mode")
        .await?;
    println!("\n[message search] EXPLAIN ANALYZE, common word `{q}` (where the time goes):");
    // (`One-Time Filter` and `never executed` say which way `search_reads_chats` chose.)
    let wanted = [
        "One-Time Filter",
        "Limit",
        "Sort ",
        "WindowAgg",
        "Join",
        "Bitmap",
        "Recheck",
        "Heap Blocks",
        "Execution",
    ];
    for row in &plan {
        let line: String = row.get(0);
        if wanted.iter().any(|w| line.contains(w)) {
            println!("  {line}");
        }
    }
    Ok(())
}

/// 5,000 people with verified phones: +1 650 253 0000, 0002, ... 9998.
async fn seed_phones(db: &tokio_postgres::Client) -> Result<()> {
    db.execute(
        "INSERT INTO users (id, email, email_verified, phone, phone_verified, username, password_hash)
         SELECT gen_random_uuid(), 'phone' || i || '@bench.example', true,
                '+1650253' || lpad(i::text, 4, '0'), true, 'phone' || i || 'b', 'not a hash'
         FROM generate_series(0, 9998, 2) i",
        &[],
    )
    .await?;
    Ok(())
}

/// A 1:1-sized chat of the searcher's with 10,000 messages.
async fn seed_backup_chat(
    db: &tokio_postgres::Client,
    searcher: &User,
    filler: &User,
    words: &[String],
) -> Result<String> {
    let searcher: uuid::Uuid = searcher.id.parse()?;
    let filler: uuid::Uuid = filler.id.parse()?;
    let chat = uuid::Uuid::new_v4();
    db.execute(
        "INSERT INTO chats (id, type, name, created_by) VALUES ($1, 'group', 'bench backup', $2)",
        &[&chat, &searcher],
    )
    .await?;
    db.execute(
        "UPDATE chat_sequences SET last_seq = 10000 WHERE chat_id = $1",
        &[&chat],
    )
    .await?;
    db.execute(
        "INSERT INTO chat_participants (chat_id, user_id, role, joined_at)
         VALUES ($1, $2, 'admin', now() - interval '1 year'), ($1, $3, 'member', now() - interval '1 year')",
        &[&chat, &searcher, &filler],
    )
    .await?;
    db.execute(
        "INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, type, content, created_at)
         SELECT gen_random_uuid(), $1::uuid, CASE WHEN s % 2 = 0 THEN $2::uuid ELSE $3::uuid END, 'backup-' || $1::uuid::text || '-' || s, s, 'text',
                (SELECT string_agg(($4::text[])[1 + floor(power(random(), 3) * $5)::int], ' ')
                 FROM generate_series(1, 5 + s % 9) w WHERE s > 0),
                now() - interval '100 days' + make_interval(secs => s::double precision * 60)
         FROM generate_series(1::bigint, 10000) s",
        &[&chat, &searcher, &filler, &words, &(words.len() as f64)],
    )
    .await?;
    Ok(chat.to_string())
}
