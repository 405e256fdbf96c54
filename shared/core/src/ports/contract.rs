//! Contract test suites for the ports. Each function exercises one port implementation and
//! panics on a broken promise; `banter-aws`'s tests run them against the AWS adapters (through
//! the real SDK, against moto), the local stack's tests against the embedded ones.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::*;

/// Register, look up, unregister; two users never see each other's connections.
pub async fn connection_registry(registry: &dyn ConnectionRegistry) {
    let alice = Uuid::new_v4();
    let bob = Uuid::new_v4();
    let record = |user: Uuid, id: &str| ConnectionRecord {
        connection_id: format!("{id}-{}", Uuid::new_v4().simple()),
        user_id: user,
        session_id: Uuid::new_v4(),
        connected_at: chrono::Utc::now().timestamp(),
    };
    let a1 = record(alice, "a1");
    let a2 = record(alice, "a2");
    let b1 = record(bob, "b1");
    for r in [&a1, &a2, &b1] {
        registry.register(r).await.expect("register");
    }
    let mut of_alice = registry.connections_of(alice).await.expect("lookup");
    of_alice.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    let mut expected = vec![a1.clone(), a2.clone()];
    expected.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    assert_eq!(of_alice, expected, "alice's connections");
    assert_eq!(
        registry.connections_of(bob).await.unwrap(),
        vec![b1.clone()]
    );

    assert_eq!(
        registry.unregister(alice, &a1.connection_id).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(
        registry.unregister(alice, &a1.connection_id).await.unwrap(),
        None,
        "second unregister finds nothing"
    );
    assert_eq!(
        registry.connections_of(alice).await.unwrap(),
        vec![a2.clone()]
    );
    assert_eq!(
        registry
            .unregister(alice, "never-registered")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        registry.unregister(alice, &b1.connection_id).await.unwrap(),
        None,
        "a connection is removed only under its own user"
    );
    assert_eq!(
        registry.connections_of(bob).await.unwrap(),
        vec![b1.clone()]
    );
    assert!(registry
        .connections_of(Uuid::new_v4())
        .await
        .unwrap()
        .is_empty());
}

/// Every enqueued job arrives, intact, as a message body. `receive` returns the bodies that
/// arrived within a short wait.
pub async fn delivery_queue<F, Fut>(queue: &dyn DeliveryQueue, mut receive: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let jobs: Vec<DeliveryJob> = (0..3)
        .map(|i| DeliveryJob::because(&format!("héllo \"{i}\"")))
        .collect();
    for job in &jobs {
        queue.enqueue(job).await.expect("enqueue");
    }
    let mut got: Vec<DeliveryJob> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < jobs.len() && tokio::time::Instant::now() < deadline {
        for body in receive().await {
            got.push(serde_json::from_str(&body).expect("a queued body is a DeliveryJob"));
        }
    }
    got.sort_by(|a, b| a.cause.cmp(&b.cause));
    let as_json = |jobs: &[DeliveryJob]| serde_json::to_value(jobs).expect("jobs serialize");
    assert_eq!(as_json(&got), as_json(&jobs));
}

/// Put then get round-trips bytes; a missing key is `None`; signed URLs are produced for valid
/// keys and refused for keys that could escape the store.
pub async fn blob_store(store: &dyn BlobStore) {
    let key = format!("uploads/contract/{}.bin", Uuid::new_v4());
    assert_eq!(store.get(&key).await.expect("get missing"), None);
    let bytes = Bytes::from((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>());
    store
        .put(&key, bytes.clone(), "application/octet-stream")
        .await
        .expect("put");
    assert_eq!(store.get(&key).await.expect("get"), Some(bytes));
    assert_eq!(store.size(&key).await.expect("size"), Some(70_000));
    assert_eq!(
        store.size(&format!("{key}.none")).await.expect("size"),
        None
    );
    store.tag(&key, "scan", "infected").await.expect("tag");
    store.tag(&key, "scan", "clean").await.expect("tag again");
    let put_url = store
        .presign_put(&key, "image/jpeg", 4, 300)
        .await
        .expect("presign put");
    let valid = UrlValidity {
        from: chrono::Utc::now() - chrono::TimeDelta::seconds(120),
        secs: 300,
    };
    let get_url = store.presign_get(&key, valid).await.expect("presign get");
    assert!(put_url.starts_with("http") && get_url.starts_with("http"));
    assert_ne!(put_url, get_url);
    assert_eq!(
        store.presign_get(&key, valid).await.expect("presign get"),
        get_url,
        "the same validity signs the same URL (a client's cache keeps the file)"
    );
    let later = UrlValidity {
        from: valid.from + chrono::TimeDelta::seconds(60),
        ..valid
    };
    assert_ne!(
        store.presign_get(&key, later).await.expect("presign get"),
        get_url
    );
    store.delete(&key).await.expect("delete");
    assert_eq!(store.get(&key).await.expect("get deleted"), None);
    store
        .delete(&key)
        .await
        .expect("deleting a missing object succeeds");
}

/// A multipart upload through presigned part URLs: parts of at least 5 MiB but the last join
/// into the object in order; a wrong ETag or a small middle part is refused; an aborted upload
/// is gone. `put(url, bytes)` sends the part as a client would and answers its `ETag`.
pub async fn blob_store_multipart<F, Fut>(store: &dyn BlobStore, put: F)
where
    F: Fn(String, Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let key = format!("uploads/contract/{}.bin", Uuid::new_v4());
    let big = vec![7u8; super::MIN_PART_BYTES as usize];
    let upload = store
        .create_multipart(&key, "application/pdf")
        .await
        .expect("create multipart");
    let mut parts = Vec::new();
    for (n, body) in [(1, big.clone()), (2, b"tail".to_vec())] {
        let url = store
            .presign_part(&key, &upload, n, 300)
            .await
            .expect("presign part");
        parts.push(super::UploadedPart {
            part_number: n,
            etag: put(url, body).await,
        });
    }
    let mut wrong = parts.clone();
    wrong[1].etag = "\"00000000000000000000000000000000\"".into();
    assert!(
        store
            .complete_multipart(&key, &upload, &wrong)
            .await
            .is_err(),
        "a wrong ETag is refused"
    );
    store
        .complete_multipart(&key, &upload, &parts)
        .await
        .expect("complete multipart");
    let joined = store
        .get(&key)
        .await
        .expect("get")
        .expect("the joined object");
    assert_eq!(joined.len(), big.len() + 4);
    assert!(joined.ends_with(b"tail") && joined[0] == 7);

    // A middle part under 5 MiB.
    let small_key = format!("uploads/contract/{}.bin", Uuid::new_v4());
    let upload = store
        .create_multipart(&small_key, "application/pdf")
        .await
        .expect("create multipart");
    let mut parts = Vec::new();
    for n in [1, 2] {
        let url = store
            .presign_part(&small_key, &upload, n, 300)
            .await
            .expect("presign part");
        parts.push(super::UploadedPart {
            part_number: n,
            etag: put(url, b"small".to_vec()).await,
        });
    }
    assert!(
        store
            .complete_multipart(&small_key, &upload, &parts)
            .await
            .is_err(),
        "a middle part under 5 MiB is refused"
    );
    store
        .abort_multipart(&small_key, &upload)
        .await
        .expect("abort");
    store
        .abort_multipart(&small_key, &upload)
        .await
        .expect("aborting twice succeeds");
    assert_eq!(store.get(&small_key).await.expect("get"), None);
    store.delete(&key).await.expect("delete");
}

/// Sending email and SMS succeeds; the caller checks where it landed (outbox or moto).
pub async fn notifier(notifier: &dyn Notifier, email_to: &str, sms_to: &str) {
    notifier
        .send_email(email_to, "Verify your email", "code: 123456")
        .await
        .expect("email");
    notifier
        .send_sms(sms_to, "Your Banter code is 654321")
        .await
        .expect("sms");
}

/// A device token becomes an endpoint that takes notifications; registering the same token
/// again gives the same endpoint; once unregistered, the endpoint is `Gone`.
pub async fn mobile_push(push: &dyn MobilePush, platform: PushPlatform, token: &str) {
    let endpoint = push.register(platform, token).await.expect("register");
    assert_eq!(
        push.register(platform, token)
            .await
            .expect("register again"),
        endpoint,
        "one endpoint per token"
    );
    let notification = PushNotification {
        title: "Alice".into(),
        body: "héllo \"there\"".into(),
        chat_id: Uuid::new_v4(),
        message_id: Some(Uuid::new_v4()),
    };
    push.send(&endpoint, &notification).await.expect("send");
    push.unregister(&endpoint).await.expect("unregister");
    assert!(matches!(
        push.send(&endpoint, &notification).await,
        Err(MobilePushError::Gone)
    ));
}

/// A frame posted to a live connection arrives intact; posting to or closing a connection that
/// does not exist is `Gone`; a closed connection is gone afterwards. `live` is the id of an open
/// connection, `next_frame` returns the next frame it receives (or `None` once it is closed).
pub async fn connection_push<F, Fut>(push: &dyn ConnectionPush, live: &str, mut next_frame: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let frame =
        serde_json::json!({ "event": "contract", "data": { "text": "héllo \"quoted\"", "n": 1 } })
            .to_string();
    push.post(live, frame.as_bytes())
        .await
        .expect("post to a live connection");
    assert_eq!(next_frame().await.as_deref(), Some(frame.as_str()));
    assert!(matches!(
        push.post("no-such-connection=", b"{}").await,
        Err(PushError::Gone)
    ));
    assert!(matches!(
        push.disconnect("no-such-connection=").await,
        Err(PushError::Gone)
    ));
    push.disconnect(live)
        .await
        .expect("close a live connection");
    assert_eq!(next_frame().await, None, "the connection closes");
    let mut gone = false;
    for _ in 0..50 {
        if matches!(push.post(live, b"{}").await, Err(PushError::Gone)) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "a closed connection is gone");
}
