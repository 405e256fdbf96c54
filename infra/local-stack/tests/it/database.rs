//! The connection pool (`banter_core::db::connect`): what it hands out.

use std::time::Duration;

use crate::support::spawn_app;

/// A pooled connection unused for longer than the pool trusts is closed and a new one handed
/// out (the server may have ended it unseen: a suspended Neon compute, a NAT's timeout, a
/// Lambda instance frozen meanwhile); one used recently is handed out again.
#[tokio::test]
async fn a_connection_idle_too_long_is_replaced_and_a_recent_one_reused() {
    let app = spawn_app().await;
    let url = app.owner_url().await;
    let db = banter_core::db::connect_trusting_idle(&url, 1, Duration::from_millis(500)).unwrap();
    let backend = || async {
        let client = db.get().await.unwrap();
        let row = client
            .query_one("SELECT pg_backend_pid() AS pid", &[])
            .await
            .unwrap();
        row.get::<_, i32>("pid")
    };
    let first = backend().await;
    assert_eq!(backend().await, first, "used just now: the same connection");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let later = backend().await;
    assert_ne!(later, first, "unused too long: a new one");
    assert_eq!(backend().await, later);
    app.stop().await;
}
