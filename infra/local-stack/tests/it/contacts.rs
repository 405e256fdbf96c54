//! Contacts (`services::contacts`): the list with nicknames, notes, favorites and groups, told
//! to the owner's other devices; what "my contacts" privacy then shows; contact links as QR
//! codes that a reset retires; phone sync that finds only verified, discoverable numbers,
//! stores nothing else and cannot be used to walk the number space; vCard import and export.

use serde_json::{json, Value};

use crate::support::{read_qr, spawn_app, spawn_app_with, TestApp, User};

async fn contacts_of(app: &TestApp, user: &User, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/contacts{query}"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn ids(contacts: &[Value]) -> Vec<&str> {
    contacts
        .iter()
        .map(|c| c["user"]["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn contacts_with_nicknames_favorites_and_groups_reach_every_device() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let alice_phone = app.login(&alice).await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let mut phone_ws = app.ws(&alice_phone.access).await;

    // Bob shows his last seen to his contacts only: Alice sees it once he adds her.
    let (status, _) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "privacySettings": { "lastSeen": "contacts", "about": "contacts" }, "about": "hi there" }),
        )
        .await;
    assert_eq!(status, 200);

    let (status, body) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": bob.id, "nickname": "  Bobby  ", "note": "met at the lake", "favorite": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["nickname"], "Bobby", "trimmed");
    assert_eq!(body["data"]["favorite"], true);
    assert_eq!(
        body["data"]["user"]["about"],
        Value::Null,
        "Bob has not added Alice"
    );
    let told = phone_ws.next_event("contact:updated").await;
    assert_eq!(told["data"]["user"]["id"], bob.id);
    assert_eq!(told["data"]["nickname"], "Bobby");
    assert!(told["cursor"].is_string(), "through the event log: {told}");

    app.post(
        "/api/contacts",
        Some(&bob.access),
        json!({ "userId": alice.id }),
    )
    .await;
    let list = contacts_of(&app, &alice, "").await;
    assert_eq!(
        list[0]["user"]["about"], "hi there",
        "now she is his contact"
    );

    let (status, _) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": carol.id }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&contacts_of(&app, &alice, "").await),
        [bob.id.as_str(), carol.id.as_str()]
    );
    assert_eq!(
        ids(&contacts_of(&app, &alice, "?favorite=true").await),
        [bob.id.as_str()]
    );
    assert_eq!(
        ids(&contacts_of(&app, &alice, "?favorite=false").await),
        [carol.id.as_str()]
    );
    // Searched by her nickname for him, or by their names, whatever the case.
    for (query, found) in [
        ("BOBB", vec![bob.id.as_str()]),
        ("carol", vec![carol.id.as_str()]),
        ("%", vec![]),
        ("nobody", vec![]),
    ] {
        let path = format!("?search={}", query.replace('%', "%25"));
        assert_eq!(
            ids(&contacts_of(&app, &alice, &path).await),
            found,
            "{query}"
        );
    }
    let (status, _) = app.get("/api/contacts?search=", Some(&alice.access)).await;
    assert_eq!(status, 400);

    // Refusals change nothing.
    let bad = [
        // Naming oneself is bad input, as blocking or reporting oneself is.
        (json!({ "userId": alice.id }), 400),
        (json!({ "userId": uuid::Uuid::new_v4() }), 404),
        (
            json!({ "userId": bob.id, "nickname": "x".repeat(101) }),
            400,
        ),
        (json!({ "userId": bob.id, "mood": "happy" }), 400),
    ];
    for (body, want) in bad {
        let (status, answer) = app
            .post("/api/contacts", Some(&alice.access), body.clone())
            .await;
        assert_eq!(status, want, "{body}: {answer}");
    }
    assert_eq!(contacts_of(&app, &alice, "").await[0]["nickname"], "Bobby");

    // PUT changes what it names; null clears.
    let (status, body) = app
        .put(
            &format!("/api/contacts/{}", bob.id),
            &alice.access,
            json!({ "nickname": null, "favorite": false }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["nickname"], Value::Null);
    assert_eq!(body["data"]["note"], "met at the lake");
    let stranger = app.register("stranger").await;
    let (status, _) = app
        .put(
            &format!("/api/contacts/{}", stranger.id),
            &alice.access,
            json!({ "note": "x" }),
        )
        .await;
    assert_eq!(status, 404, "not a contact");

    // Groups (labels): members must be contacts; names unique ignoring case.
    let (status, body) = app
        .post(
            "/api/contacts/groups",
            Some(&alice.access),
            json!({ "name": "Family" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let family = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        phone_ws.next_event("contact:group:updated").await["data"]["name"],
        "Family"
    );
    let (status, _) = app
        .post(
            "/api/contacts/groups",
            Some(&alice.access),
            json!({ "name": "FAMILY" }),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .post(
            "/api/contacts/groups",
            Some(&alice.access),
            json!({ "name": "   " }),
        )
        .await;
    assert_eq!(status, 400);
    let members = format!("/api/contacts/groups/{family}/members");
    let (status, _) = app
        .post(
            &members,
            Some(&alice.access),
            json!({ "userIds": [bob.id, stranger.id] }),
        )
        .await;
    assert_eq!(status, 404, "the stranger is no contact");
    let (status, body) = app
        .post(
            &members,
            Some(&alice.access),
            json!({ "userIds": [bob.id, carol.id] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["memberIds"], json!([bob.id, carol.id]));
    assert_eq!(
        ids(&contacts_of(&app, &alice, &format!("?groupId={family}")).await).len(),
        2
    );
    // Nor to list by: someone else's group is not found, as a deleted one is.
    let (status, body) = app
        .get(
            &format!("/api/contacts?groupId={family}"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "RESOURCE_NOT_FOUND");
    // Someone else's group is not theirs to change.
    let (status, _) = app
        .post(
            &members,
            Some(&bob.access),
            json!({ "userIds": [alice.id] }),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .delete(&format!("{members}/{}", carol.id), &alice.access, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["memberIds"], json!([bob.id]));

    // Removing a contact takes them out of every group, and is told.
    let (status, _) = app
        .delete(
            &format!("/api/contacts/{}", bob.id),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let removed = phone_ws.next_event("contact:removed").await;
    assert_eq!(removed["data"]["userId"], bob.id);
    let (_, groups) = app.get("/api/contacts/groups", Some(&alice.access)).await;
    assert_eq!(groups["data"][0]["memberIds"], json!([]));
    let list = contacts_of(&app, &alice, "").await;
    assert_eq!(ids(&list), [carol.id.as_str()]);
    // Her list is hers: Bob still has her, so his "contacts only" about still shows.
    let (_, bob_seen) = app
        .get(&format!("/api/users/{}", bob.id), Some(&alice.access))
        .await;
    assert_eq!(bob_seen["data"]["about"], "hi there");

    let (status, _) = app
        .delete(
            &format!("/api/contacts/groups/{family}"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        phone_ws.next_event("contact:group:deleted").await["data"]["groupId"],
        family
    );
    let (_, groups) = app.get("/api/contacts/groups", Some(&alice.access)).await;
    assert_eq!(groups["data"], json!([]));
    // A client still filtering by the deleted group is told it is gone.
    let (status, _) = app
        .get(
            &format!("/api/contacts?groupId={family}"),
            Some(&alice.access),
        )
        .await;
    assert_eq!(status, 404);

    // The data export holds the contacts and labels.
    let (_, export) = app.get("/api/users/me/export", Some(&alice.access)).await;
    assert_eq!(
        export["data"]["contacts"][0]["userId"], carol.id,
        "{export}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_contact_link_qr_code_resolves_until_it_is_reset() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, content_type, png) = app.get_file("/api/users/me/qr", &alice).await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    let link = read_qr(&png);
    let code = link.rsplit('/').next().unwrap().to_owned();
    // To where the stack serves (its port is the test's own).
    assert_eq!(link, format!("{}/contact/{code}", app.base));
    // The same link until reset, in either format, and as text.
    assert_eq!(
        read_qr(&app.get_file("/api/users/me/qr", &alice).await.2),
        link
    );
    let (status, text) = app
        .get("/api/users/me/contact-link", Some(&alice.access))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        (text["data"]["url"].as_str(), text["data"]["code"].as_str()),
        (Some(link.as_str()), Some(code.as_str()))
    );
    let (status, content_type, svg) = app.get_file("/api/users/me/qr?format=svg", &alice).await;
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));

    let (status, body) = app
        .get(&format!("/api/contacts/resolve/{code}"), Some(&bob.access))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], alice.id);

    let (status, body) = app
        .post("/api/users/me/qr/reset", Some(&alice.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let new_code = body["data"]["code"].as_str().unwrap().to_owned();
    assert_ne!(new_code, code);
    assert_eq!(
        read_qr(&app.get_file("/api/users/me/qr", &alice).await.2),
        body["data"]["url"].as_str().unwrap()
    );
    let (_, text) = app
        .get("/api/users/me/contact-link", Some(&alice.access))
        .await;
    assert_eq!(text["data"]["code"], new_code.as_str());
    let (status, body) = app
        .get(&format!("/api/contacts/resolve/{code}"), Some(&bob.access))
        .await;
    assert_eq!(status, 404, "the old code is dead: {body}");
    for junk in ["x", "%27%20OR%201%3D1--", &"a".repeat(64)] {
        let (status, _) = app
            .get(&format!("/api/contacts/resolve/{junk}"), Some(&bob.access))
            .await;
        assert_eq!(status, 404, "{junk}");
    }
    let (status, _) = app
        .get(
            &format!("/api/contacts/resolve/{new_code}"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn phone_sync_finds_only_verified_discoverable_numbers_and_keeps_nothing_else() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let erin = app.register("erin").await;
    app.verify_phone(&alice, "+442079460100").await;
    app.verify_phone(&bob, "+442079460958").await;
    app.verify_phone(&carol, "+14155550142").await;
    app.verify_phone(&erin, "+14155550177").await;
    // Dave registered a number but never verified it; Carol is not discoverable; Erin blocks
    // Alice.
    let (status, _) = app
        .post(
            "/api/auth/phone/start",
            Some(&dave.access),
            json!({ "phone": "+14155550199" }),
        )
        .await;
    assert_eq!(status, 200);
    app.put(
        "/api/users/profile",
        &carol.access,
        json!({ "privacySettings": { "discoverable": false } }),
    )
    .await;
    app.block(&erin, &alice).await;

    // National numbers are read in Alice's region (her phone is British).
    let phones = json!([
        "020 7946 0958",
        "+44 20 7946 0958",
        "+1 (415) 555-0142",
        "+1 415 555 0199",
        "+1 415 555 0177",
        "+1 415 555 0123",
        "not a number"
    ]);
    let (status, body) = app
        .post(
            "/api/contacts/sync",
            Some(&alice.access),
            json!({ "phones": phones }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let matches = body["data"]["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "only Bob, once: {body}");
    assert_eq!(matches[0]["user"]["id"], bob.id);
    assert_eq!(matches[0]["phone"], "020 7946 0958");
    assert_eq!(matches[0]["e164"], "+442079460958");
    assert_eq!(
        (
            body["data"]["checked"].as_u64(),
            body["data"]["invalid"].as_u64()
        ),
        (Some(7), Some(1))
    );
    assert_eq!(
        ids(&contacts_of(&app, &alice, "").await),
        [bob.id.as_str()],
        "only the match is kept"
    );

    // Nothing of the numbers that matched nobody was stored anywhere.
    let client = app.owner_db().await.get().await.unwrap();
    let dump: String = client
        .query_one(
            "SELECT concat_ws(' ', (SELECT string_agg(u::text, ' ') FROM user_relationships u),
                                   (SELECT string_agg(e.data::text, ' ') FROM events e))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    for never in ["4155550123", "4155550199", "not a number"] {
        assert!(!dump.contains(never), "{never} was kept");
    }

    // A region for national numbers; a bad one is refused.
    let (status, body) = app
        .post(
            "/api/contacts/sync",
            Some(&bob.access),
            json!({ "phones": ["(415) 555-0142", "020 7946 0100"], "region": "US" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["matches"],
        json!([]),
        "Carol hides; 020 is no US number"
    );
    let (status, _) = app
        .post(
            "/api/contacts/sync",
            Some(&bob.access),
            json!({ "phones": ["1"], "region": "ZZ" }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .post(
            "/api/contacts/sync",
            Some(&bob.access),
            json!({ "phones": vec!["+14155550100"; 1001] }),
        )
        .await;
    assert_eq!(status, 400, "a batch is at most 1,000 numbers");
    let (status, _) = app
        .post(
            "/api/contacts/sync",
            Some(&bob.access),
            json!({ "phones": [] }),
        )
        .await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn walking_the_number_space_runs_into_the_daily_lookup_budget() {
    let app = spawn_app_with(|c| {
        c.settings.rate_limits.contact_lookups = banter_core::config::Limit::new(300, 24 * 3600);
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.verify_phone(&bob, "+14155550142").await;
    let batch = |from: u32| -> Value {
        json!({ "phones": (from..from + 200).map(|n| format!("+1415555{n:04}")).collect::<Vec<_>>() })
    };
    let (status, body) = app
        .post("/api/contacts/sync", Some(&alice.access), batch(0))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["matches"][0]["user"]["id"], bob.id);
    // The next 200 would pass the 300 a day.
    let response = app
        .http
        .post(format!("{}/api/contacts/sync", app.base))
        .bearer_auth(&alice.access)
        .json(&batch(200))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 24 * 3600);
    // vCard import draws on the same budget.
    let card =
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\nTEL:+14155550142\r\nEND:VCARD\r\n".to_owned();
    let (status, _) = app
        .post_text("/api/contacts/import", &alice, "text/vcard", card)
        .await;
    assert_eq!(status, 429);
    app.stop().await;
}

#[tokio::test]
async fn vcards_import_from_phones_and_export_as_vcard_4() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    app.verify_phone(&alice, "+14155550100").await;
    app.verify_phone(&bob, "+14155550142").await;
    app.verify_email(&carol).await;

    // An Android export (vCard 2.1, quoted-printable) with Bob's number in national form, an
    // iPhone export (3.0) naming Carol by email, and someone who is not on Banter.
    let cards = format!(
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Bj=C3=B6rk;Bob;;;\r\n\
         TEL;CELL;PREF:(415) 555-0142\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carol\\, from work\r\nitem1.EMAIL;type=INTERNET:{}\r\n\
         TEL;type=CELL:+1 415 555 0199\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nobody\r\nTEL:+1 415 555 0123\r\nEND:VCARD\r\n",
        carol.email.to_uppercase()
    );
    let (status, body) = app
        .post_text("/api/contacts/import", &alice, "text/vcard", cards)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({ "imported": 3, "matched": 2, "skipped": 1 })
    );
    let list = contacts_of(&app, &alice, "").await;
    let nick = |id: &str| list.iter().find(|c| c["user"]["id"] == id).unwrap()["nickname"].clone();
    assert_eq!(nick(&bob.id), "Bob Björk", "named as the card names them");
    assert_eq!(nick(&carol.id), "Carol, from work");

    // Malformed files say where, and change nothing.
    for (bad, says) in [
        ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n", "line 1"),
        (
            "BEGIN:VCARD\r\nVERSION:3.0\r\nTEL\r\nEND:VCARD\r\n",
            "line 3",
        ),
        ("hello", "line 1"),
    ] {
        let (status, body) = app
            .post_text("/api/contacts/import", &alice, "text/vcard", bad.to_owned())
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    assert_eq!(contacts_of(&app, &alice, "").await.len(), 2);

    // Export: vCard 4.0 a strict parser reads; importing it elsewhere finds the same people...
    let erin = app.register("erin").await;
    let (status, _) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": erin.id }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .put(
            &format!("/api/contacts/{}", bob.id),
            &alice.access,
            json!({ "note": "owes me\na coffee; maybe two" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            "/api/contacts/groups",
            Some(&alice.access),
            json!({ "name": "Work, mostly" }),
        )
        .await;
    assert_eq!(status, 201);
    let group = body["data"]["id"].as_str().unwrap();
    app.post(
        &format!("/api/contacts/groups/{group}/members"),
        Some(&alice.access),
        json!({ "userIds": [carol.id] }),
    )
    .await;
    let (status, content_type, bytes) = app.get_file("/api/contacts/export", &alice).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/vcard"), "{content_type}");
    let text = String::from_utf8(bytes).unwrap();
    let strict = vcard4::parse(&text).expect("valid vCard 4.0");
    assert_eq!(strict.len(), 3);
    assert!(text.contains("CATEGORIES:Work\\, mostly"), "{text}");
    // ...and whole: nicknames, notes and groups come back; a card naming someone by their own
    // name (a contact without a nickname) gives none; a group of the same name is reused.
    let dave = app.register("dave").await;
    let (status, _) = app
        .post(
            "/api/contacts/groups",
            Some(&dave.access),
            json!({ "name": "WORK, MOSTLY" }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .post_text("/api/contacts/import", &dave, "text/vcard", text)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["matched"], 3);
    let list = contacts_of(&app, &dave, "").await;
    let of = |id: &str| list.iter().find(|c| c["user"]["id"] == id).unwrap().clone();
    assert_eq!(of(&bob.id)["nickname"], "Bob Björk");
    assert_eq!(of(&bob.id)["note"], "owes me\na coffee; maybe two");
    assert_eq!(of(&carol.id)["nickname"], "Carol, from work");
    assert_eq!(of(&erin.id)["nickname"], Value::Null, "{list:?}");
    let (_, groups) = app.get("/api/contacts/groups", Some(&dave.access)).await;
    assert_eq!(groups["data"].as_array().unwrap().len(), 1, "{groups}");
    assert_eq!(groups["data"][0]["name"], "WORK, MOSTLY");
    assert_eq!(groups["data"][0]["memberIds"], json!([carol.id]));
    assert_eq!(of(&carol.id)["groupIds"], json!([groups["data"][0]["id"]]));
    app.stop().await;
}

/// A 1:1 chat is named as WhatsApp names it: the name the viewer saved the other under, else
/// the name the other gives themselves, else their username; each viewer sees their own.
#[tokio::test]
async fn a_one_to_one_chat_is_named_by_the_viewers_contact_name_then_the_others_own() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    app.sent(&alice, &chat, "hi").await;
    let names = |user: &User| {
        let (app, chat) = (&app, chat.clone());
        let user = user.clone();
        async move {
            let in_list = app.chat_row(&user, &chat).await["name"].clone();
            let (_, details) = app
                .get(&format!("/api/chats/{chat}"), Some(&user.access))
                .await;
            assert_eq!(in_list, details["data"]["name"], "{details}");
            in_list
        }
    };
    let username = |user: &User| {
        let token = user.access.clone();
        let app = &app;
        async move {
            let (_, me) = app.get("/api/users/profile", Some(&token)).await;
            me["data"]["username"].clone()
        }
    };
    assert_eq!(
        names(&alice).await,
        username(&bob).await,
        "no other name yet"
    );
    let (status, body) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "displayName": "Bobby" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&alice).await, json!("Bobby"));
    let (status, body) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": bob.id, "nickname": "Bob from work" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&alice).await, json!("Bob from work"));
    assert_eq!(
        names(&bob).await,
        username(&alice).await,
        "his view is his own"
    );
    app.stop().await;
}
