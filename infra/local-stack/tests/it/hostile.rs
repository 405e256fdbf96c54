//! Hostile input: text Postgres cannot hold is refused at the boundary with the envelope and
//! changes nothing; a database error caused by input is a 4xx whose log line names the
//! SQLSTATE and the constraint.

use std::io::Write;
use std::sync::{Arc, Mutex};

use banter_core::db::users::{self, ProfileUpdate};
use serde_json::json;
use uuid::Uuid;

use crate::support::spawn_app;

#[tokio::test]
async fn nul_characters_are_refused_on_every_path_and_change_nothing() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;

    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "n-1", "content": "a\u{0}b" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`content`"),
        "{body}"
    );

    let mut ws = app.ws(&alice.access).await;
    ws.send_json(json!({ "action": "message:send", "requestId": "n-2",
                         "data": { "chatId": chat, "clientMessageId": "n-2", "content": "\u{0}" } }))
        .await;
    let frame = ws.next_json().await;
    assert_eq!(
        (
            frame["event"].as_str(),
            frame["requestId"].as_str(),
            frame["data"]["code"].as_str()
        ),
        (Some("error:general"), Some("n-2"), Some("VALIDATION_ERROR"))
    );
    assert!(
        frame["data"]["message"]
            .as_str()
            .unwrap()
            .contains("`data.content`"),
        "{frame}"
    );

    let (status, body) = app
        .put(
            "/api/users/profile",
            &alice.access,
            json!({ "about": "x\u{0}" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`about`"),
        "{body}"
    );

    let (status, body) = app
        .get("/api/users/search?query=%00", Some(&alice.access))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`query`"),
        "{body}"
    );

    // Nothing was stored.
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
        .await;
    assert_eq!(history["data"].as_array().unwrap().len(), 0, "{history}");
    let (_, profile) = app.get("/api/users/profile", Some(&alice.access)).await;
    assert!(profile["data"]["about"].is_null());
    // And the chat still works.
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "n-3", "content": "fine" }),
        )
        .await;
    assert_eq!(status, 201);
    app.stop().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_database_error_from_input_is_a_4xx_logged_with_its_sqlstate_and_constraint() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Past the boundary (which refuses it first), the database's CHECK refuses a 101-character
    // display name.
    let update = ProfileUpdate {
        display_name: Some(Some("x".repeat(101))),
        ..Default::default()
    };
    let id: Uuid = alice.id.parse().unwrap();
    let client = app.app().db.get().await.unwrap();
    let err = users::update_profile(&client, id, &update)
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (400, "VALIDATION_ERROR"));
    let line = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(line.contains("SQLSTATE 23514"), "{line}");
    assert!(
        line.contains("constraint: users_display_name_check"),
        "{line}"
    );
    assert!(!err.public_message().contains("users_display_name_check"));
    app.stop().await;
}

#[tokio::test]
async fn a_username_that_looks_like_a_taken_one_is_refused() {
    let app = spawn_app().await;
    let register = |name: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/auth/register",
                None,
                json!({ "email": format!("{name}@example.com"), "password": "correct horse", "username": name }),
            )
            .await
        }
    };
    assert_eq!(register("alice").await.0, 201);
    assert_eq!(register("mary").await.0, 201);
    for look_alike in ["a1ice", "ALICE", "rnary"] {
        let (status, body) = register(look_alike).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("RESOURCE_ALREADY_EXISTS")),
            "{look_alike}: {body}"
        );
    }
    let (status, _) = register("alicia").await;
    assert_eq!(status, 201, "a different name is fine");
    let bob = app.register("bob").await;
    let (status, body) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "username": "a1ice" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("RESOURCE_ALREADY_EXISTS"))
    );
    app.stop().await;
}

#[tokio::test]
async fn accounts_from_before_skeletons_get_theirs_when_migrating() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let id: Uuid = alice.id.parse().unwrap();
    let db = &app.app().db;
    let skeleton = || async {
        db.get()
            .await
            .unwrap()
            .query_one("SELECT username_skeleton FROM users WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get::<_, Option<String>>("username_skeleton")
    };
    let before = skeleton().await;
    assert!(before.is_some());
    db.get()
        .await
        .unwrap()
        .execute(
            "UPDATE users SET username_skeleton = NULL WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    banter_core::db::migrate(&app.owner_db().await)
        .await
        .unwrap();
    assert_eq!(skeleton().await, before);
    app.stop().await;
}

#[tokio::test]
async fn the_local_pages_answer_only_to_a_loopback_host() {
    let app = spawn_app().await;
    let get = |host: &'static str| {
        app.http
            .get(format!("{}/local/outbox", app.base))
            .header("host", host)
            .send()
    };
    assert_eq!(get("127.0.0.1").await.unwrap().status().as_u16(), 200);
    assert_eq!(get("localhost:3001").await.unwrap().status().as_u16(), 200);
    assert_eq!(
        get("attacker.example:3001")
            .await
            .unwrap()
            .status()
            .as_u16(),
        421,
        "a rebinding page's Host is refused"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_serving_role_changes_rows_but_never_the_schema() {
    let app = spawn_app().await;
    let serving = app.app().db.get().await.unwrap();
    let role: String = serving
        .query_one("SELECT current_user::text AS role", &[])
        .await
        .unwrap()
        .get("role");
    assert_eq!(role, banter_core::db::SERVING_ROLE);
    for ddl in [
        "CREATE TABLE intruder (id int)",
        "DROP TABLE messages",
        "ALTER TABLE users ADD COLUMN intruder int",
        "TRUNCATE messages",
        "DELETE FROM refinery_schema_history",
    ] {
        let err = serving.batch_execute(ddl).await.expect_err(ddl);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{ddl}: {err}"
        );
    }
    // Everything the product does works with it: the whole test suite runs as this role.
    app.register("alice").await;
    app.stop().await;
}

#[tokio::test]
async fn the_private_postgres_requires_its_password() {
    let dir = std::env::temp_dir().join(format!("banter-pg-{}", uuid::Uuid::new_v4().simple()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pg = banter_local::postgres::PrivatePostgres::new(&dir, port)
        .await
        .unwrap();
    pg.start().await.unwrap();
    let url = pg.url();
    let password = std::fs::read_to_string(dir.join("password")).unwrap();
    assert!(url.contains(&format!(":{password}@")));
    for (what, attempt) in [
        ("no password", url.replace(&format!(":{password}@"), "@")),
        (
            "a wrong password",
            url.replace(&format!(":{password}@"), ":wrong@"),
        ),
    ] {
        let refused = tokio_postgres::connect(&attempt, tokio_postgres::NoTls).await;
        assert!(refused.is_err(), "{what}: refused");
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("the password works");
    tokio::spawn(connection);
    client.simple_query("SELECT 1").await.unwrap();
    assert!(
        !pg.redacted_url().contains(&password),
        "logs never carry it"
    );
    drop(client);
    pg.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
