//! Message search (`services::search`): what a member may see and nothing else, words without
//! case or accents in any script (Chinese, Japanese and Korean character by character), the
//! parts of links and addresses, the last word as a prefix, filters, highlights, and input
//! that tsquery would choke on treated as plain words.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp, User};

/// `GET path` with these query parameters (encoded as a client encodes them), as `user`.
async fn get_query(
    app: &TestApp,
    user: &User,
    path: &str,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let response = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&user.access)
        .query(params)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn search(app: &TestApp, user: &User, params: &[(&str, &str)]) -> (u16, Value) {
    get_query(app, user, "/api/messages/search", params).await
}

/// Searches that tsquery or SQL would read as syntax, and words that need quoting.
const SYNTAX_AS_TEXT: [&str; 9] = [
    "':* & | ! ( ) \\",
    "cafe & !x",
    "' OR 1=1 --",
    "<->",
    "café:*",
    "%_%",
    "!!!",
    "it's l'été",
    "back\\slash \\'",
];

/// The texts found for `q`, in order.
async fn found(app: &TestApp, user: &User, params: &[(&str, &str)]) -> Vec<String> {
    let (status, body) = search(app, user, params).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

/// For each `(q, texts)`: a search for `q` finds exactly `texts`, in any order.
async fn finds_each(app: &TestApp, user: &User, cases: &[(&str, Vec<&str>)]) {
    for (q, expected) in cases {
        let mut texts = found(app, user, &[("q", q)]).await;
        texts.sort();
        let mut expected = expected.clone();
        expected.sort();
        assert_eq!(texts, expected, "{q}");
    }
}

/// The best hit for `q` shows `snippet`, the words found at `highlights` (UTF-16 ranges).
async fn best_hit_shows(app: &TestApp, user: &User, q: &str, snippet: &str, highlights: Value) {
    let (_, body) = search(app, user, &[("q", q)]).await;
    let hit = &body["data"][0];
    assert_eq!(hit["snippet"], snippet, "{hit}");
    assert_eq!(hit["highlights"], highlights, "{hit}");
}

#[tokio::test]
async fn search_finds_what_the_caller_may_see_in_any_language_and_form() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let pair = app.open_chat(&alice, &bob).await;
    let theirs = app.open_group(&bob, "bob and carol", &[&carol]).await;

    app.sent(&alice, &pair, "Café crème at the CAFÉ tonight?")
        .await;
    app.sent(&bob, &pair, "the cafeteria is closed on Sundays")
        .await;
    app.sent(&bob, &pair, "Привет, как дела? Straße gesperrt")
        .await;
    app.sent(&alice, &pair, "meet @bob_99 at 5, ok").await;
    app.sent(&bob, &theirs, "secret café plans").await;

    // Accents and case do not matter; the last word is a prefix while typing.
    let cafe = found(&app, &alice, &[("q", "cafe")]).await;
    assert_eq!(cafe.len(), 2, "{cafe:?}");
    assert_eq!(
        cafe[0], "Café crème at the CAFÉ tonight?",
        "twice the word ranks first"
    );
    assert!(cafe.contains(&"the cafeteria is closed on Sundays".to_owned()));
    assert_eq!(found(&app, &alice, &[("q", "CAFÉ CRÈME")]).await.len(), 1);
    assert_eq!(
        found(&app, &alice, &[("q", "привет")]).await.len(),
        1,
        "Cyrillic"
    );
    assert_eq!(
        found(&app, &alice, &[("q", "strasse")]).await.len(),
        1,
        "ß as ss"
    );
    assert_eq!(
        found(&app, &alice, &[("q", "bob_99")]).await.len(),
        1,
        "usernames"
    );
    assert_eq!(
        found(&app, &alice, &[("q", "5")]).await.len(),
        1,
        "short terms"
    );
    assert_eq!(
        found(&app, &alice, &[("q", "sund")]).await.len(),
        1,
        "prefix"
    );
    assert!(
        found(&app, &alice, &[("q", "closed cafe tonight")])
            .await
            .is_empty(),
        "every word"
    );

    // Highlights: UTF-16 ranges of the words found in the snippet.
    let (_, body) = search(&app, &alice, &[("q", "creme")]).await;
    let hit = &body["data"][0];
    let snippet: Vec<u16> = hit["snippet"].as_str().unwrap().encode_utf16().collect();
    let ranges = hit["highlights"].as_array().unwrap();
    assert_eq!(ranges.len(), 1, "{hit}");
    let (start, end) = (
        ranges[0]["start"].as_u64().unwrap() as usize,
        ranges[0]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(String::from_utf16(&snippet[start..end]).unwrap(), "crème");

    // Bob and Carol's group is not Alice's.
    assert!(found(&app, &alice, &[("q", "secret")]).await.is_empty());
    assert!(found(&app, &alice, &[("q", "secret"), ("chatId", &theirs)])
        .await
        .is_empty());
    assert_eq!(found(&app, &bob, &[("q", "cafe")]).await.len(), 3);

    // Filters.
    assert_eq!(
        found(&app, &bob, &[("q", "cafe"), ("chatId", &theirs)]).await,
        ["secret café plans"]
    );
    assert_eq!(
        found(&app, &alice, &[("q", "cafe"), ("senderId", &bob.id)])
            .await
            .len(),
        1
    );
    assert!(found(&app, &alice, &[("q", "cafe"), ("type", "image")])
        .await
        .is_empty());
    let later = "2999-01-01T00:00:00Z";
    assert!(found(&app, &alice, &[("q", "cafe"), ("from", later)])
        .await
        .is_empty());
    assert_eq!(
        found(&app, &alice, &[("q", "cafe"), ("to", later)])
            .await
            .len(),
        2
    );
    let (status, _) = search(
        &app,
        &alice,
        &[
            ("q", "cafe"),
            ("from", later),
            ("to", "2000-01-01T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    // A time that is not one says what a time looks like.
    let (status, body) = search(&app, &alice, &[("q", "cafe"), ("from", "yesterday")]).await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("`from`") && message.contains("RFC 3339"),
        "{body}"
    );
    let (status, _) = search(&app, &alice, &[("q", "cafe"), ("type", "gif")]).await;
    assert_eq!(status, 400);
    let (status, _) = search(&app, &alice, &[("q", "")]).await;
    assert_eq!(status, 400, "nothing to look for");
    let (status, body) = search(&app, &alice, &[("q", "cafe"), ("limit", "1")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    assert_eq!(body["meta"]["pagination"]["nextOffset"], 1);
    assert_eq!(
        (
            &body["meta"]["pagination"]["page"],
            &body["meta"]["pagination"]["totalPages"]
        ),
        (&json!(1), &json!(2)),
        "the PRD's paging: {body}"
    );

    // What tsquery or SQL would read as syntax is only text here.
    for q in SYNTAX_AS_TEXT {
        let (status, body) = search(&app, &alice, &[("q", q)]).await;
        assert_eq!(status, 200, "{q}: {body}");
    }
    assert_eq!(
        found(&app, &alice, &[("q", "café:*")]).await.len(),
        2,
        "the colon is a separator"
    );
    app.stop().await;
}

/// Chinese, Japanese and Korean run on without spaces: any part of a run is found, its
/// characters in order (V73), and highlighted as one range; the in-chat search reads the same.
#[tokio::test]
async fn search_finds_any_part_of_chinese_japanese_and_korean_text() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let pair = app.open_chat(&alice, &bob).await;
    for text in [
        "昨日東京タワーに行きました",
        "我们明天在北京见面吧",
        "서울에서 만나요",
        "京東の駅",
        "Tokyo タワー and 東京tower",
    ] {
        app.sent(&alice, &pair, text).await;
    }
    let cases = [
        (
            "タワー",
            vec!["Tokyo タワー and 東京tower", "昨日東京タワーに行きました"],
        ),
        ("行きました", vec!["昨日東京タワーに行きました"]),
        ("北京", vec!["我们明天在北京见面吧"]),
        ("见面", vec!["我们明天在北京见面吧"]),
        ("서울", vec!["서울에서 만나요"]),
        ("東京tower", vec!["Tokyo タワー and 東京tower"]),
        // In order: 京東 is not 東京.
        ("東京 行き", vec!["昨日東京タワーに行きました"]),
        ("京東", vec!["京東の駅"]),
        ("北见", vec![]),
    ];
    finds_each(&app, &bob, &cases).await;
    let (_, body) = search(&app, &bob, &[("q", "タワー")]).await;
    let hit = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["message"]["content"] == "昨日東京タワーに行きました")
        .unwrap();
    assert_eq!(hit["snippet"], "昨日東京タワーに行きました", "{hit}");
    assert_eq!(
        hit["highlights"],
        json!([{ "start": 4, "end": 7 }]),
        "{hit}"
    );
    let (status, history) = get_query(
        &app,
        &bob,
        &format!("/api/chats/{pair}/messages"),
        &[("search", "見面"), ("limit", "10")],
    )
    .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["data"], json!([]), "見 is not 见");
    let (_, history) = get_query(
        &app,
        &bob,
        &format!("/api/chats/{pair}/messages"),
        &[("search", "见面")],
    )
    .await;
    assert_eq!(history["data"][0]["content"], "我们明天在北京见面吧");
    app.stop().await;
}

/// A link or an email address is found by its parts (V73): a host's words, a path's, the name
/// or domain of an address, in order; a half-typed last part is a prefix.
#[tokio::test]
async fn search_finds_the_parts_of_links_and_email_addresses() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let pair = app.open_chat(&alice, &bob).await;
    let link = "see https://github.com/banter/issues/7 today";
    let mail = "write to bob@example.com";
    app.sent(&alice, &pair, link).await;
    app.sent(&alice, &pair, mail).await;
    let cases = [
        ("github issues", vec![link]),
        ("github.co", vec![link]),
        ("banter/issues", vec![link]),
        ("https://github.com/banter", vec![link]),
        ("issues/8", vec![]),
        ("example", vec![mail]),
        ("bob@example.com", vec![mail]),
        ("example.com bob", vec![mail]),
        ("com", vec![link, mail]),
    ];
    finds_each(&app, &bob, &cases).await;
    // The snippet is the text as written, the part found marked.
    best_hit_shows(
        &app,
        &bob,
        "github",
        link,
        json!([{ "start": 12, "end": 18 }]),
    )
    .await;
    app.stop().await;
}

/// An emoji is a word of its own (V78): found as typed, with or without its variation selector,
/// a sequence by its parts; and shown as itself in the snippet.
#[tokio::test]
async fn search_finds_emoji() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let pair = app.open_chat(&alice, &bob).await;
    let birthday = "Happy birthday 🎂🎉";
    let heart = "I \u{2764} it";
    let thumb = "nice \u{1f44d}\u{1f3fd}";
    let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467} day";
    // The letter the index spells emoji with, written as the cake's spelling.
    let spelling = "\u{a66e}01f382 is not a cake";
    for text in [birthday, heart, thumb, family, "birthday plans", spelling] {
        app.sent(&alice, &pair, text).await;
    }
    let cases = [
        ("🎂", vec![birthday]),
        ("🎉🎂", vec![birthday]),
        ("🎂 birthday", vec![birthday]),
        ("🎂 plans", vec![]),
        ("bir", vec![birthday, "birthday plans"]),
        // With the variation selector a keyboard adds.
        ("\u{2764}\u{fe0f}", vec![heart]),
        ("\u{1f44d}", vec![thumb]),
        ("\u{1f44d}\u{1f3fd}", vec![thumb]),
        ("\u{1f469}", vec![family]),
        ("🍰", vec![]),
        ("\u{a66e}01f382", vec![spelling]),
    ];
    finds_each(&app, &bob, &cases).await;
    // "Happy birthday " is 15 UTF-16 code units, the cake 2.
    let cake = json!([{ "start": 15, "end": 17 }]);
    best_hit_shows(&app, &bob, "🎂", birthday, cake).await;
    // Shown as written.
    let word = json!([{ "start": 17, "end": 21 }]);
    best_hit_shows(&app, &bob, "cake", spelling, word).await;
    let (status, history) = get_query(
        &app,
        &bob,
        &format!("/api/chats/{pair}/messages"),
        &[("search", "🎉")],
    )
    .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["data"][0]["content"], birthday);
    app.stop().await;
}

/// Whether the search statement reads the caller's chats for `word` (V35), for a caller
/// whose chats hold 10 messages.
async fn reads_chats_for(app: &TestApp, word: &str) -> bool {
    let db = app.app().db.get().await.unwrap();
    db.query_one(
        "SELECT search_reads_chats(search_query($1), 10) AS by_chat",
        &[&word],
    )
    .await
    .unwrap()
    .get("by_chat")
}

#[tokio::test]
async fn search_leaves_out_what_was_hidden_cleared_deleted_or_from_before_joining() {
    let app = spawn_app().await;
    // Found through the words' index: a word in a handful of messages.
    assert!(!reads_chats_for(&app, "zebra").await);
    leaves_out_what_was_hidden_cleared_deleted_or_from_before_joining(app).await;
}

#[tokio::test]
async fn a_word_in_most_messages_is_found_by_reading_the_callers_chats_with_the_same_rules() {
    let app = spawn_app().await;
    // 2,000 messages of others' chat carry the word, then the statistics see it.
    let dave = app.register("dave").await;
    let erin = app.register("erin").await;
    let theirs_text = app.open_chat(&dave, &erin).await;
    let owner = app.owner_db().await;
    let db = owner.get().await.unwrap();
    let theirs: uuid::Uuid = theirs_text.parse().unwrap();
    let dave_id: uuid::Uuid = dave.id.parse().unwrap();
    db.execute(
        "INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, type, content)
         SELECT gen_random_uuid(), $1, $2, 'filler-' || s, 1000 + s, 'text', 'zebra crossing ' || s
         FROM generate_series(1, 2000) s",
        &[&theirs, &dave_id],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE chat_sequences SET last_seq = 3000 WHERE chat_id = $1",
        &[&theirs],
    )
    .await
    .unwrap();
    db.batch_execute("ANALYZE messages").await.unwrap();
    app.sent(&erin, &theirs_text, "no stripes here").await;
    assert!(reads_chats_for(&app, "zebra").await);
    // Choosing reads the query's words back from its text: any word does.
    for q in SYNTAX_AS_TEXT {
        let (status, body) = search(&app, &erin, &[("q", q)]).await;
        assert_eq!(status, 200, "{q}: {body}");
    }
    assert!(
        !reads_chats_for(&app, "crossing lighthouse").await,
        "the rarest word decides"
    );
    // Read from her chat: all of them, the best first.
    let (status, body) = search(&app, &erin, &[("q", "zebra cross"), ("limit", "5")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["pagination"]["total"], 2000);
    assert_eq!(body["data"].as_array().unwrap().len(), 5);
    // A page holds 50 unless the caller says (API.md: lists default to 50).
    let (_, body) = search(&app, &erin, &[("q", "zebra cross")]).await;
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        50,
        "{}",
        body["meta"]
    );
    leaves_out_what_was_hidden_cleared_deleted_or_from_before_joining(app).await;
}

async fn leaves_out_what_was_hidden_cleared_deleted_or_from_before_joining(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "club", &[&bob]).await;
    app.sent(&alice, &group, "zebra before carol").await;
    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/participants"),
            Some(&alice.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200);
    let hidden = app.sent(&bob, &group, "zebra hidden by carol").await;
    let erased = app.sent(&bob, &group, "zebra deleted for everyone").await;
    app.sent(&bob, &group, "zebra that stays").await;
    app.sent(&bob, &group, "a horse, not what anyone looks for")
        .await;
    assert_eq!(
        found(&app, &carol, &[("q", "zebra")]).await.len(),
        3,
        "not from before she joined"
    );

    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{hidden}"),
            &carol.access,
            json!({ "deleteForEveryone": false }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{erased}"),
            &bob.access,
            json!({ "deleteForEveryone": true }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        found(&app, &carol, &[("q", "zebra")]).await,
        ["zebra that stays"]
    );
    assert_eq!(
        found(&app, &alice, &[("q", "zebra")]).await.len(),
        3,
        "hidden only for Carol"
    );

    let (status, _) = app
        .post(
            &format!("/api/chats/{group}/clear"),
            Some(&alice.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        found(&app, &alice, &[("q", "zebra")]).await.is_empty(),
        "cleared"
    );
    app.sent(&bob, &group, "zebra after the clear").await;
    assert_eq!(
        found(&app, &alice, &[("q", "zebra")]).await,
        ["zebra after the clear"]
    );

    // A member who left keeps finding what came before she left, and nothing after it; once
    // she deletes the group for herself, nothing of it.
    let mut before_leaving = found(&app, &carol, &[("q", "zebra")]).await;
    before_leaving.sort();
    assert_eq!(
        before_leaving,
        ["zebra after the clear", "zebra that stays"]
    );
    let (status, body) = app
        .delete(&format!("/api/chats/{group}"), &carol.access, json!({}))
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("left"))
    );
    app.sent(&bob, &group, "zebra after carol left").await;
    let mut kept = found(&app, &carol, &[("q", "zebra")]).await;
    kept.sort();
    assert_eq!(kept, before_leaving);
    let only_there = [("q", "zebra"), ("chatId", group.as_str())];
    assert_eq!(found(&app, &carol, &only_there).await.len(), 2);
    let (status, body) = app
        .delete(&format!("/api/chats/{group}"), &carol.access, json!({}))
        .await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("deleted"))
    );
    assert!(found(&app, &carol, &[("q", "zebra")]).await.is_empty());
    assert_eq!(
        found(&app, &bob, &[("q", "zebra"), ("chatId", group.as_str())])
            .await
            .len(),
        5,
        "only for her: bob finds all but the one deleted for everyone"
    );
    app.stop().await;
}

/// A chat's history searched by words (`GET /api/chats/{chatId}/messages?search=`, PRD
/// `GetMessagesRequest.search`): the texts of one page, oldest first, and the page's meta.
async fn history_found(
    app: &TestApp,
    user: &User,
    chat: &str,
    query: &[(&str, &str)],
) -> (Vec<String>, Value) {
    let (status, body) = get_query(app, user, &format!("/api/chats/{chat}/messages"), query).await;
    assert_eq!(status, 200, "{query:?}: {body}");
    let texts = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    (texts, body["meta"]["pagination"].clone())
}

#[tokio::test]
async fn a_chats_history_searched_by_words_holds_what_the_search_finds_there() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let group = app.open_group(&alice, "zoo", &[&bob, &carol]).await;
    let elsewhere = app.open_chat(&alice, &bob).await;
    app.sent(&alice, &group, "Zebras at noon").await;
    app.sent(&bob, &group, "a horse").await;
    let second = app.sent(&bob, &group, "the zebra again").await;
    let erased = app.sent(&bob, &group, "zebra, deleted").await;
    app.sent(&alice, &elsewhere, "zebra in another chat").await;
    let (status, _) = app
        .delete(
            &format!("/api/chats/{group}/messages/{erased}"),
            &bob.access,
            json!({ "deleteForEveryone": true }),
        )
        .await;
    assert_eq!(status, 200);

    let (texts, _) = history_found(&app, &carol, &group, &[("search", "zebr")]).await;
    assert_eq!(texts, ["Zebras at noon", "the zebra again"]);
    let (texts, _) = history_found(&app, &carol, &group, &[("search", "added")]).await;
    assert!(texts.is_empty(), "no system line: {texts:?}");
    // Paged as the history is: the newest first, then older ones before it.
    let (texts, page) =
        history_found(&app, &carol, &group, &[("search", "zebra"), ("limit", "1")]).await;
    assert_eq!(
        (texts.as_slice(), &page["hasMore"]),
        (&["the zebra again".to_owned()][..], &json!(true))
    );
    let before = page["before"].as_str().unwrap();
    let (texts, page) = history_found(
        &app,
        &carol,
        &group,
        &[("search", "zebra"), ("limit", "1"), ("before", before)],
    )
    .await;
    assert_eq!(
        (texts.as_slice(), &page["hasMore"]),
        (&["Zebras at noon".to_owned()][..], &json!(false))
    );

    // Carol leaves and keeps the group; Bob's later edit holds words she never saw.
    let (status, _) = app
        .delete(&format!("/api/chats/{group}"), &carol.access, json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .put(
            &format!("/api/chats/{group}/messages/{second}"),
            &bob.access,
            json!({ "content": "the zebra again, and a lion" }),
        )
        .await;
    assert_eq!(status, 200);
    let (texts, _) = history_found(&app, &carol, &group, &[("search", "lion")]).await;
    assert!(texts.is_empty(), "edited after she left: {texts:?}");
    let (texts, _) = history_found(&app, &carol, &group, &[("search", "zebra")]).await;
    assert_eq!(
        texts,
        ["Zebras at noon", "the zebra again"],
        "as she saw them"
    );
    let (texts, _) = history_found(&app, &bob, &group, &[("search", "lion")]).await;
    assert_eq!(texts, ["the zebra again, and a lion"]);

    let (status, _) = app
        .get(
            &format!("/api/chats/{elsewhere}/messages?search=zebra"),
            Some(&carol.access),
        )
        .await;
    assert_eq!(status, 404, "not her chat");
    let (status, _) = app
        .get(
            &format!("/api/chats/{group}/messages?search="),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn new_words_are_found_at_once_and_the_schedule_merges_them_into_the_index() {
    // No schedule of its own: this test runs it.
    let app = spawn_app_with(|c| c.schedule_interval = Duration::from_secs(3600)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    app.sent(&alice, &chat, "the lighthouse at Zanzibar").await;
    // Found while its words wait in the index's pending list.
    assert_eq!(
        found(&app, &bob, &[("q", "lighthouse")]).await,
        ["the lighthouse at Zanzibar"]
    );
    banter_core::services::relay::scheduled(app.app())
        .await
        .unwrap();
    // The schedule merged them (as the serving role): nothing is left to merge.
    let db = app.app().db.get().await.unwrap();
    assert_eq!(
        banter_core::db::messages::flush_search_index(&db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        found(&app, &bob, &[("q", "zanzibar")]).await,
        ["the lighthouse at Zanzibar"]
    );
}
