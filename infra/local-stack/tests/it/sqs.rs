//! The SQS event source emulation: partial batch failures are redelivered after the visibility
//! timeout with a higher receive count, and a record that keeps failing ends in the dead-letter
//! list after `maxReceiveCount` receives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use banter_core::ports::{DeliveryJob, DeliveryQueue, InProcessQueue};
use banter_local::event_sources::spawn_sqs_poller;
use banter_local::functions::wrap;
use banter_local::template::SqsSource;

use crate::support::spawn_app;

#[tokio::test]
async fn failed_records_are_redelivered_and_then_dead_lettered() {
    let app = spawn_app().await;
    // Receive counts seen per job (named by its `cause`); "flaky" fails once, "broken" always.
    let seen: Arc<Mutex<HashMap<String, Vec<u32>>>> = Arc::default();
    let log = seen.clone();
    let flaky = wrap(move |_app, event: SqsEvent| {
        let log = log.clone();
        async move {
            let mut response = SqsBatchResponse::default();
            for record in event.records {
                let job: DeliveryJob =
                    serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
                let name = job.cause.clone();
                let count: u32 = record.attributes["ApproximateReceiveCount"]
                    .parse()
                    .unwrap();
                log.lock()
                    .unwrap()
                    .entry(name.clone())
                    .or_default()
                    .push(count);
                if name == "broken" || (name == "flaky" && count == 1) {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = record.message_id.unwrap();
                    response.batch_item_failures.push(failure);
                }
            }
            Ok::<_, banter_lambda::Error>(response)
        }
    });
    let mut shared = app.stack.shared.clone();
    let mut handlers = (*shared.handlers).clone();
    handlers.insert("FlakyFunction", flaky);
    shared.handlers = Arc::new(handlers);
    let (queue, rx) = InProcessQueue::new();
    let queue = Arc::new(queue);
    let source = SqsSource {
        function: "FlakyFunction".into(),
        queue: "TestQueue".into(),
        batch_size: 10,
        visibility_timeout_secs: 0,
        max_receive_count: Some(3),
    };
    let dead = banter_local::event_sources::DeadLetters::default();
    spawn_sqs_poller(
        shared,
        source,
        rx,
        queue.clone(),
        Duration::from_millis(50),
        dead.clone(),
    );

    for name in ["fine", "flaky", "broken"] {
        queue.enqueue(&DeliveryJob::because(name)).await.unwrap();
    }
    for _ in 0..100 {
        if dead.lock().unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen["fine"], vec![1], "a success is not redelivered");
    assert_eq!(
        seen["flaky"],
        vec![1, 2],
        "a failure is redelivered once it succeeds"
    );
    assert_eq!(seen["broken"], vec![1, 2, 3], "up to maxReceiveCount");
    let dead = dead.lock().unwrap().clone();
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["body"].as_str().unwrap().contains("broken"));
    app.stop().await;
}
