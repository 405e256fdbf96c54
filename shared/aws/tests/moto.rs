//! The AWS adapters, through the real AWS SDK, against `moto` server on loopback, pass the same
//! port contracts as the embedded adapters. Each test uses its own table, queue or bucket.
//!
//! `MOTO_ENDPOINT` names a running moto server; without it each test starts `moto_server` from
//! PATH on a free port (`./infra/test.sh` provides it in a virtualenv).

use std::process::Stdio;
use std::time::Duration;

use banter_aws::{
    create_connections_table, DynamoConnectionRegistry, S3BlobStore, SesSnsNotifier, SnsMobilePush,
    SqsDeliveryQueue,
};
use banter_core::ports::{
    contract, BlobStore, MobilePush, MobilePushError, PushPlatform, UrlValidity,
};
use serde_json::Value;

struct Moto {
    endpoint: String,
    _server: Option<tokio::process::Child>,
}

async fn moto() -> Moto {
    if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
        return Moto {
            endpoint,
            _server: None,
        };
    }
    own_moto().await
}

/// A moto server of this test's own. (After multipart uploads, moto's `/moto-api/data.json`
/// fails on the parts it keeps, which the notifier test reads: S3 gets its own server.)
async fn own_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = tokio::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server is on PATH (pip install 'moto[server]', or run ./infra/test.sh)");
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{endpoint}/moto-api/")).await.is_ok() {
            return Moto {
                endpoint,
                _server: Some(server),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not start");
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn dynamodb_registry_passes_the_contract() {
    let moto = moto().await;
    let config = banter_aws::emulator_config(&moto.endpoint).await;
    let table = unique("connections");
    create_connections_table(&config, &table)
        .await
        .expect("create table");
    contract::connection_registry(&DynamoConnectionRegistry::new(&config, table)).await;
}

#[tokio::test]
async fn sqs_queue_passes_the_contract() {
    let moto = moto().await;
    let config = banter_aws::emulator_config(&moto.endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .create_queue()
        .queue_name(unique("delivery"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue = SqsDeliveryQueue::new(&config, url.clone());
    contract::delivery_queue(&queue, || {
        let (sqs, url) = (sqs.clone(), url.clone());
        async move {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let mut bodies = Vec::new();
            for m in out.messages() {
                bodies.push(m.body().unwrap_or_default().to_owned());
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            bodies
        }
    })
    .await;
}

#[tokio::test]
async fn s3_blob_store_passes_the_contract_and_presigned_puts_upload() {
    let moto = own_moto().await;
    let config = banter_aws::emulator_config(&moto.endpoint).await;
    let bucket = unique("media");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    let store = S3BlobStore::new(&config, bucket.clone(), true);
    contract::blob_store(&store).await;
    contract::blob_store_multipart(&store, |url, body| async move {
        let answer = reqwest::Client::new()
            .put(url)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "part PUT: {}",
            answer.status()
        );
        answer.headers()["etag"].to_str().unwrap().to_owned()
    })
    .await;

    let key = "uploads/u1/photo one.jpg";
    let url = store.presign_put(key, "image/jpeg", 4, 300).await.unwrap();
    assert!(
        !url.contains("server-side-encryption"),
        "the bucket's default encrypts: a client sends no encryption header ({url})"
    );
    let status = reqwest::Client::new()
        .put(&url)
        .header("content-type", "image/jpeg")
        .body(vec![0xFF, 0xD8, 0xFF, 0xE0])
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "presigned PUT answered {status}");
    assert_eq!(
        store.get(key).await.unwrap().as_deref(),
        Some(&[0xFF, 0xD8, 0xFF, 0xE0][..])
    );
    // Signed from a moment past, as answers sign from their period's start.
    let valid = UrlValidity {
        from: chrono::Utc::now() - chrono::TimeDelta::seconds(200),
        secs: 300,
    };
    let get = store.presign_get(key, valid).await.unwrap();
    assert_eq!(
        reqwest::get(&get)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        &[0xFF, 0xD8, 0xFF, 0xE0]
    );
}

#[tokio::test]
async fn ses_and_sns_notifier_passes_the_contract_and_the_messages_reach_moto() {
    let moto = moto().await;
    let config = banter_aws::emulator_config(&moto.endpoint).await;
    let sender = format!("{}@banter.example", unique("noreply"));
    aws_sdk_ses::Client::new(&config)
        .verify_email_identity()
        .email_address(&sender)
        .send()
        .await
        .unwrap();
    let to = format!("{}@example.com", unique("user"));
    contract::notifier(
        &SesSnsNotifier::new(&config, sender.clone()),
        &to,
        "+14155550100",
    )
    .await;

    let data: Value = reqwest::get(format!("{}/moto-api/data.json", moto.endpoint))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = data.to_string();
    assert!(
        text.contains(&to),
        "the email to {to} is in moto's SES data"
    );
    assert!(text.contains("654321"), "the SMS is in moto's SNS data");
}

#[tokio::test]
async fn sns_mobile_push_passes_the_contract_on_a_platform_application() {
    let moto = moto().await;
    let config = banter_aws::emulator_config(&moto.endpoint).await;
    let application = aws_sdk_sns::Client::new(&config)
        .create_platform_application()
        .name(unique("banter-fcm"))
        .platform("GCM")
        .attributes("PlatformCredential", "server-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    let push = SnsMobilePush::new(&config, Some(application.clone()), None);
    contract::mobile_push(&push, PushPlatform::Fcm, &unique("fcm-token")).await;
    let endpoint = push
        .register(PushPlatform::Fcm, &unique("fcm-token"))
        .await
        .unwrap();
    assert!(
        endpoint.contains(":endpoint/GCM/"),
        "an endpoint of the application: {endpoint}"
    );
    assert!(matches!(
        push.register(PushPlatform::Apns, "apns-token").await,
        Err(MobilePushError::Unsupported(PushPlatform::Apns))
    ));
}

#[tokio::test]
async fn secrets_are_read_from_secrets_manager() {
    let moto = moto().await;
    let config = banter_aws::emulator_config(&moto.endpoint).await;
    let name = unique("banter/database-url");
    let value = "postgres://banter_api:s3cret@db.example.com/banter?sslmode=require";
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
    assert_eq!(
        banter_aws::secret_string(&config, &name).await.unwrap(),
        value
    );
    let missing = banter_aws::secret_string(&config, &unique("nothing-here")).await;
    assert!(
        missing.is_err(),
        "a missing secret is an error, not an empty string"
    );
}
