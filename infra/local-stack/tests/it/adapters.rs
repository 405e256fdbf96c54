//! The embedded adapters pass the same port contracts as the AWS ones; the local stack's signed
//! blob URLs behave like S3 presigned URLs and uploads trigger the media function; the AWS
//! adapters pass their contracts against the stack's emulation of the AWS APIs (`/aws`), on the
//! stack's own ports.

use std::time::Duration;

use banter_core::ports::{
    contract, BlobStore, FileBlobStore, InMemoryConnectionRegistry, InProcessQueue, OutboxNotifier,
    UrlValidity,
};
use uuid::Uuid;

use crate::support::{spawn_app, wait_until};

#[tokio::test]
async fn in_memory_connection_registry_passes_the_contract() {
    contract::connection_registry(&InMemoryConnectionRegistry::default()).await;
}

#[tokio::test]
async fn in_process_queue_passes_the_contract() {
    let (queue, mut rx) = InProcessQueue::new();
    contract::delivery_queue(&queue, || {
        let mut bodies = Vec::new();
        while let Ok(m) = rx.try_recv() {
            bodies.push(m.body);
        }
        async move { bodies }
    })
    .await;
}

#[tokio::test]
async fn file_blob_store_passes_the_contract() {
    let dir = std::env::temp_dir().join(format!("banter-blobs-{}", Uuid::new_v4().simple()));
    let store = FileBlobStore::new(
        dir.clone(),
        "http://127.0.0.1:9/blobs".into(),
        b"secret".to_vec(),
    );
    contract::blob_store(&store).await;
    assert!(store
        .put("../escape", "x".into(), "text/plain")
        .await
        .is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn file_blob_store_passes_the_multipart_contract_through_signed_part_urls() {
    let app = spawn_app().await;
    let http = app.http.clone();
    contract::blob_store_multipart(&*app.stack.shared.blobs, |url, body| {
        let http = http.clone();
        async move {
            let answer = http.put(url).body(body).send().await.unwrap();
            assert!(
                answer.status().is_success(),
                "part PUT: {}",
                answer.status()
            );
            answer.headers()["etag"].to_str().unwrap().to_owned()
        }
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn outbox_mobile_push_passes_the_contract_and_keeps_what_it_sent() {
    use banter_core::ports::PushPlatform;
    let outbox = OutboxNotifier::default();
    contract::mobile_push(&outbox, PushPlatform::Apns, "a1b2c3").await;
    let items = outbox.items();
    assert_eq!(
        items.len(),
        1,
        "one notification, before the endpoint was gone"
    );
    assert_eq!(
        (items[0].channel, items[0].to.as_str()),
        ("push", "outbox:apns:a1b2c3")
    );
    assert_eq!(items[0].subject.as_deref(), Some("Alice"));
}

#[tokio::test]
async fn outbox_notifier_passes_the_contract_and_keeps_what_it_sent() {
    let outbox = OutboxNotifier::default();
    contract::notifier(&outbox, "a@example.com", "+14155550100").await;
    let items = outbox.items();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (items[0].channel, items[0].to.as_str()),
        ("email", "a@example.com")
    );
    assert!(items[1].body.contains("654321"));
}

#[tokio::test]
async fn signed_upload_urls_are_checked_as_s3_checks_them() {
    let app = spawn_app().await;
    let blobs = &app.app().ports.blobs;
    let key = format!("tmp/{}.png", Uuid::now_v7());
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\0".to_vec();
    let url = blobs
        .presign_put(&key, "image/png", png.len() as u64, 60)
        .await
        .unwrap();
    let put = |url: String, ct: &'static str, unsigned_header: bool, body: Vec<u8>| {
        let http = app.http.clone();
        async move {
            let mut request = http.put(url).header("content-type", ct).body(body);
            if unsigned_header {
                request = request.header("x-amz-server-side-encryption", "AES256");
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    let tampered = url.replace("signature=", "signature=0");
    assert_eq!(
        put(tampered, "image/png", false, png.clone()).await,
        403,
        "tampered signature"
    );
    let longer = url.replace("contentLength=12", "contentLength=13");
    assert_eq!(
        put(longer, "image/png", false, png.clone()).await,
        403,
        "another size signed"
    );
    assert_eq!(
        put(url.clone(), "image/jpeg", false, png.clone()).await,
        403,
        "content type differs from the signed one"
    );
    assert_eq!(
        put(
            url.clone(),
            "image/png",
            false,
            [png.clone(), b"more".to_vec()].concat()
        )
        .await,
        403,
        "more bytes than signed"
    );
    assert_eq!(
        put(url.clone(), "image/png", true, png.clone()).await,
        403,
        "with an x-amz- header the URL was not signed for, as S3 refuses it"
    );
    assert_eq!(
        app.app().ports.blobs.get(&key).await.unwrap(),
        None,
        "nothing refused was stored"
    );
    assert_eq!(
        put(url.clone(), "image/png", false, png.clone()).await,
        200,
        "the URL and the file's type are all an upload needs"
    );

    // Signed from a moment past (as answers sign from their period's start), still valid.
    let since = |secs: i64| UrlValidity {
        from: chrono::Utc::now() - chrono::TimeDelta::seconds(secs),
        secs: 300,
    };
    let get = blobs.presign_get(&key, since(200)).await.unwrap();
    let bytes = app
        .http
        .get(&get)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), png.as_slice());
    let other = blobs
        .presign_get("tmp/other.png", since(200))
        .await
        .unwrap();
    let forged = format!(
        "{}{}",
        get.split('?').next().unwrap(),
        &other[other.find('?').unwrap()..]
    );
    let http = &app.http;
    let status =
        |url: String| async move { http.get(&url).send().await.unwrap().status().as_u16() };
    assert_eq!(status(forged).await, 403, "a signature names one object");
    let expired = blobs.presign_get(&key, since(301)).await.unwrap();
    assert_eq!(status(expired).await, 403, "the URL has expired");
    app.stop().await;
}

/// A moto server: `MOTO_ENDPOINT` (the test command starts one), else `moto_server` from PATH.
async fn moto() -> (String, Option<tokio::process::Child>) {
    if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
        return (endpoint, None);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server is on PATH (./infra/test.sh provides it)");
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_until("moto starts", Duration::from_secs(20), || async {
        reqwest::get(format!("{endpoint}/moto-api/")).await.is_ok()
    })
    .await;
    (endpoint, Some(child))
}

#[tokio::test]
async fn the_message_path_runs_end_to_end_on_dynamodb_and_sqs() {
    let (endpoint, _moto) = moto().await;
    // No schedule: a delivery here can only come through SQS.
    let app = crate::support::spawn_app_with(|c| {
        c.aws_endpoint = Some(endpoint.clone());
        c.schedule_interval = Duration::from_secs(3600);
    })
    .await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let bob_id: Uuid = bob.id.parse().unwrap();
    // The registry is DynamoDB: the record is there, found by the user's key.
    let records = app
        .app()
        .ports
        .connections
        .connections_of(bob_id)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let (status, sent) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            serde_json::json!({ "clientMessageId": "via-sqs", "content": "through moto" }),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let frame = bob_ws.next_event("message:received").await;
    assert_eq!(frame["data"]["message"]["id"], sent["data"]["id"]);
    drop(bob_ws);
    app.wait_for_no_connections(bob_id, "$disconnect removed the DynamoDB record by its key")
        .await;
    app.stop().await;
}

/// What a function run by `cargo lambda watch` does with `.banter/lambda.env`: the AWS adapters,
/// through the real SDK, against the stack's `/aws`, reach the stack's own ports.
#[tokio::test]
async fn aws_adapters_pass_their_contracts_against_the_stacks_emulation() {
    use banter_aws::{DynamoConnectionRegistry, S3BlobStore, SesSnsNotifier, SqsDeliveryQueue};
    use banter_core::ports::{ConnectionRegistry, DeliveryJob, DeliveryQueue};
    use banter_local::aws::{CONNECTIONS_TABLE, DELIVERY_QUEUE, MEDIA_BUCKET};

    let app = spawn_app().await;
    let shared = &app.stack.shared;
    let aws = banter_aws::emulator_config(&format!("{}/aws/", app.base)).await;

    let registry = DynamoConnectionRegistry::new(&aws, CONNECTIONS_TABLE);
    contract::connection_registry(&registry).await;
    let user = Uuid::now_v7();
    let record = banter_core::ports::ConnectionRecord {
        connection_id: "emulated-1".into(),
        user_id: user,
        session_id: Uuid::now_v7(),
        connected_at: 1_790_000_000,
    };
    registry.register(&record).await.expect("register");
    assert_eq!(
        shared
            .app
            .ports
            .connections
            .connections_of(user)
            .await
            .unwrap(),
        vec![record],
        "a record put through DynamoDB's API is in the stack's registry"
    );
    let elsewhere = DynamoConnectionRegistry::new(&aws, "another-table");
    assert!(
        elsewhere.connections_of(user).await.is_err(),
        "an unknown table is refused"
    );

    let blobs = S3BlobStore::new(&aws, MEDIA_BUCKET, true);
    contract::blob_store(&blobs).await;
    blobs
        .put(
            "avatars/emulated.bin",
            bytes::Bytes::from_static(b"abc"),
            "image/png",
        )
        .await
        .expect("put");
    assert_eq!(
        shared
            .blobs
            .get("avatars/emulated.bin")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"abc"[..]),
        "an object put through S3's API is in the stack's blob store"
    );
    let upload = blobs
        .presign_put("avatars/presigned.bin", "image/png", 3, 300)
        .await
        .unwrap();
    let put = app
        .http
        .put(&upload)
        .header("content-type", "image/png")
        .body("xyz")
        .send()
        .await
        .unwrap();
    assert!(
        put.status().is_success(),
        "a presigned PUT: {}",
        put.status()
    );
    assert_eq!(
        shared
            .blobs
            .get("avatars/presigned.bin")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"xyz"[..])
    );

    let push = banter_aws::SnsMobilePush::new(
        &aws,
        Some(banter_local::aws::PUSH_APPLICATION_FCM.into()),
        Some(banter_local::aws::PUSH_APPLICATION_APNS.into()),
    );
    contract::mobile_push(
        &push,
        banter_core::ports::PushPlatform::Fcm,
        "emulated-token",
    )
    .await;
    assert!(
        shared
            .outbox
            .items()
            .iter()
            .any(|m| m.channel == "push" && m.to == "outbox:fcm:emulated-token"),
        "a notification published through SNS's API is in the stack's outbox"
    );

    let email = format!("{}@example.com", Uuid::new_v4().simple());
    contract::notifier(
        &SesSnsNotifier::new(&aws, "banter@localhost"),
        &email,
        "+14155550123",
    )
    .await;
    let outbox = shared.outbox.items();
    assert!(
        outbox
            .iter()
            .any(|m| m.channel == "email" && m.to == email && m.body == "code: 123456"),
        "SES's SendEmail lands in the outbox"
    );
    assert!(outbox
        .iter()
        .any(|m| m.channel == "sms" && m.to == "+14155550123"));

    let queue = SqsDeliveryQueue::new(&aws, format!("{}/aws/queue/{DELIVERY_QUEUE}", app.base));
    queue
        .enqueue(&DeliveryJob::because("emulated"))
        .await
        .expect("SendMessage reaches the stack's queue");
    let unknown = SqsDeliveryQueue::new(&aws, format!("{}/aws/queue/other", app.base));
    assert!(unknown.enqueue(&DeliveryJob::because("x")).await.is_err());
    app.stop().await;
}
