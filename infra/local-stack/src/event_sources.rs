//! The event sources API Gateway is not: the SQS poller that feeds the delivery function, the
//! EventBridge schedules (a timer), and the S3 bucket that feeds the media function.
//!
//! SQS: batches of up to `BatchSize` records in the real `SqsEvent` shape; records named in
//! `batchItemFailures` (or all, if the function fails) become visible again after the queue's
//! visibility timeout and move to the dead-letter list after `maxReceiveCount` receives.
//!
//! S3: signed `PUT /blobs/{key}` (preflighted by a web page as the bucket's `CorsConfiguration`
//! allows) stores the object and, when the key is under a trigger's
//! prefix, invokes the function with an `ObjectCreated:Put` `S3Event` (retried twice on failure,
//! as S3's asynchronous invocation is).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use banter_core::ports::{BlobStore, InProcessQueue, QueuedMessage, SignedBlobRequest};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};

use crate::blob_cors;
use crate::stack::Shared;
use crate::template::SqsSource;

/// Records that exhausted their receives, newest last (`GET /local/dead-letters`).
pub type DeadLetters = Arc<Mutex<Vec<Value>>>;

/// Batches handed to the function at once (Lambda scales SQS pollers out the same way).
const CONCURRENT_BATCHES: usize = 8;

pub fn spawn_sqs_poller(
    shared: Shared,
    source: SqsSource,
    mut rx: mpsc::Receiver<QueuedMessage>,
    queue: Arc<InProcessQueue>,
    visibility: Duration,
    dead_letters: DeadLetters,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(CONCURRENT_BATCHES));
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < source.batch_size {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let (shared, source, queue, dead_letters) = (
                shared.clone(),
                source.clone(),
                queue.clone(),
                dead_letters.clone(),
            );
            tokio::spawn(async move {
                let failed = invoke_batch(&shared, &source, &batch).await;
                drop(permit);
                for mut message in batch.into_iter().filter(|m| failed.contains(&m.message_id)) {
                    message.receive_count += 1;
                    if source
                        .max_receive_count
                        .is_some_and(|max| message.receive_count >= max)
                    {
                        tracing::error!(message_id = %message.message_id, "moved to the dead-letter queue");
                        dead_letters
                            .lock()
                            .expect("dlq lock")
                            .push(json!({ "messageId": message.message_id, "body": message.body }));
                        continue;
                    }
                    let queue = queue.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(visibility).await;
                        let _ = queue.requeue(message);
                    });
                }
            });
        }
    })
}

/// A `Schedule` event source: invoke the function with an EventBridge "Scheduled Event" every
/// `every` (the template's rate is for AWS; one machine wants it sooner).
pub fn spawn_schedule(
    shared: Shared,
    source: crate::template::ScheduleSource,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let event = json!({
                "version": "0",
                "id": uuid::Uuid::new_v4().to_string(),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "000000000000",
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "region": "local",
                "resources": [format!("arn:aws:events:local:000000000000:rule/{}", source.expression)],
                "detail": {},
            });
            if let Err(e) = shared.invoke(&source.function, event).await {
                tracing::warn!(function = %source.function, error = %e, "scheduled invocation failed");
            }
        }
    })
}

/// The SQS event source on a real SQS queue (the local stack on the AWS adapters): long-poll,
/// invoke the function with each batch, delete what succeeded; a failed record comes back
/// after the queue's visibility timeout, as with Lambda's event source mapping.
pub fn spawn_sqs_consumer(
    shared: Shared,
    source: SqsSource,
    queue: Arc<banter_aws::SqsDeliveryQueue>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let received = match queue.receive(source.batch_size.min(10) as i32, 1).await {
                Ok(received) => received,
                Err(e) => {
                    tracing::warn!(error = %e, "receiving from SQS failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if received.is_empty() {
                continue;
            }
            let batch: Vec<QueuedMessage> = received
                .iter()
                .map(|m| QueuedMessage {
                    message_id: m.message_id.clone(),
                    body: m.body.clone(),
                    receive_count: m.previous_receives,
                })
                .collect();
            let failed = invoke_batch(&shared, &source, &batch).await;
            for m in received.iter().filter(|m| !failed.contains(&m.message_id)) {
                if let Err(e) = queue.delete(&m.receipt_handle).await {
                    tracing::warn!(error = %e, "deleting a handled SQS message failed");
                }
            }
        }
    })
}

/// Invoke the function with one batch; returns the message ids to retry.
async fn invoke_batch(shared: &Shared, source: &SqsSource, batch: &[QueuedMessage]) -> Vec<String> {
    let first_time = batch.iter().filter(|m| m.receive_count == 0).count();
    shared.aws_calls.sqs_batch(first_time as u64);
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id,
                "receiptHandle": format!("local-{}-{}", m.message_id, m.receive_count),
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": (m.receive_count + 1).to_string(),
                    "SentTimestamp": now,
                    "SenderId": "000000000000",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:local:000000000000:{}", source.queue),
                "awsRegion": "local",
            })
        })
        .collect();
    // Moved in: `json!` would serialize the records into a copy of themselves.
    let mut event = json!({});
    event["Records"] = Value::Array(records);
    match shared.invoke(&source.function, event).await {
        Ok(answer) => answer["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
            .collect(),
        Err(e) => {
            tracing::error!(function = %source.function, error = %e, "the batch failed; every record will be retried");
            batch.iter().map(|m| m.message_id.clone()).collect()
        }
    }
}

fn blob_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// `PUT /blobs/{key}?...&signature`: a presigned upload, checked as S3 checks one: signature,
/// expiry, `Content-Type` and `Content-Length` as signed, the encryption header; or one part
/// of a multipart upload (`uploadId`, `partNumber`), answered with its `ETag`.
/// A web page's request is answered as the bucket's `CorsConfiguration` says ([`blob_cors`]).
pub async fn put_blob(
    State(shared): State<Shared>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = store_blob(&shared, &key, &query, &headers, body).await;
    blob_cors::mark(&shared.template.blob_cors, "PUT", &headers, &mut response);
    response
}

/// `OPTIONS /blobs/{key}`: a web page's preflight of a signed URL.
pub async fn preflight_blob(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    blob_cors::preflight(&shared.template.blob_cors, &headers)
}

async fn store_blob(
    shared: &Shared,
    key: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match shared.blobs.verify("PUT", key, query) {
        Err(e) => blob_error(StatusCode::FORBIDDEN, &e),
        Ok(SignedBlobRequest::Put {
            content_type,
            content_length,
            ..
        }) => {
            if header("content-type") != Some(content_type.as_str()) {
                return blob_error(
                    StatusCode::FORBIDDEN,
                    "Content-Type differs from the signed one",
                );
            }
            if body.len() as u64 != content_length {
                return blob_error(
                    StatusCode::FORBIDDEN,
                    "Content-Length differs from the signed one",
                );
            }
            // As S3 refuses x-amz- headers a presigned URL was not signed for (this store signs
            // none: it keeps what it stores encrypted by default, as the bucket does).
            if headers
                .keys()
                .any(|name| name.as_str().starts_with("x-amz-"))
            {
                return blob_error(
                    StatusCode::FORBIDDEN,
                    "there were headers present in the request which were not signed",
                );
            }
            match shared.blobs.put(key, body, &content_type).await {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "blob write failed");
                    blob_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "could not store the object",
                    )
                }
            }
        }
        Ok(SignedBlobRequest::Part {
            upload_id,
            part_number,
            ..
        }) => match shared.blobs.put_part(&upload_id, part_number, &body).await {
            Ok(etag) => (StatusCode::OK, [("etag", etag)]).into_response(),
            Err(e) => blob_error(StatusCode::NOT_FOUND, &e.to_string()),
        },
        Ok(SignedBlobRequest::Get { .. }) => {
            blob_error(StatusCode::FORBIDDEN, "this URL is signed for GET")
        }
    }
}

/// Deliver the blob store's object-created notices (see `FileBlobStore::on_object_created`)
/// to the functions whose S3 triggers match, until the stack stops.
pub fn spawn_s3_notifications(
    shared: Shared,
    mut created: mpsc::UnboundedReceiver<(String, u64)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some((key, size)) = created.recv().await {
            object_created(&shared, &key, size);
        }
    })
}

/// A stored object under a trigger's prefix invokes its function with an `ObjectCreated` event,
/// as the bucket's notification does (in the background; retried twice on failure, as Lambda
/// retries an asynchronous invocation, then logged as failed).
fn object_created(shared: &Shared, key: &str, size: u64) {
    for source in shared
        .template
        .s3
        .iter()
        .filter(|s| key.starts_with(&s.prefix))
    {
        let event = json!({ "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "local",
            "eventTime": chrono::Utc::now().to_rfc3339(),
            "eventName": "ObjectCreated:Put",
            "userIdentity": { "principalId": "local" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "local",
                "bucket": { "name": source.bucket, "ownerIdentity": { "principalId": "local" }, "arn": format!("arn:aws:s3:::{}", source.bucket) },
                "object": { "key": url_encode_key(key), "size": size, "eTag": "", "sequencer": "0" },
            },
        }]});
        let (shared, function) = (shared.clone(), source.function.clone());
        tokio::spawn(async move {
            for attempt in 0..3 {
                match shared.invoke(&function, event.clone()).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(%function, attempt, error = %e, "S3 event invocation failed")
                    }
                }
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
            // On AWS the event would wait in the function's on-failure destination
            // (MediaDeadLetterQueue); here it is said, with what to send again.
            tracing::error!(%function, event = %event, "S3 event failed every attempt; not retried");
        });
    }
}

/// `GET /blobs/{key}?expires&signature`: a presigned download, with the `Content-Type` it was
/// stored with (as S3 answers), readable by a web page as the bucket's `CorsConfiguration` says.
pub async fn get_blob(
    State(shared): State<Shared>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut response = read_blob(&shared, &key, &query).await;
    blob_cors::mark(&shared.template.blob_cors, "GET", &headers, &mut response);
    response
}

async fn read_blob(shared: &Shared, key: &str, query: &HashMap<String, String>) -> Response {
    if let Err(e) = shared.blobs.verify("GET", key, query) {
        return blob_error(StatusCode::FORBIDDEN, &e);
    }
    let object = async {
        let Some(bytes) = shared.blobs.get(key).await? else {
            return Ok(None);
        };
        Ok::<_, banter_core::ports::PortError>(Some((shared.blobs.content_type(key).await?, bytes)))
    };
    match object.await {
        Ok(Some((content_type, bytes))) => {
            ([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Ok(None) => blob_error(StatusCode::NOT_FOUND, "no such object"),
        Err(e) => {
            tracing::error!(error = %e, "blob read failed");
            blob_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not read the object",
            )
        }
    }
}

/// Keys in S3 events are URL-encoded (spaces as `+`), as real S3 sends them.
fn url_encode_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
