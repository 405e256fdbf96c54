//! Every function's handler runs on its sample event from `events/` (the files README's
//! `cargo lambda invoke --data-file` lines use), with the outcome that sample should have.

use std::collections::BTreeSet;

use banter_core::ports::BlobStore;
use serde_json::Value;

use crate::support::spawn_app;

/// Each function's sample event.
const SAMPLES: &[(&str, &str)] = &[
    ("AuthFunction", "auth-register.json"),
    ("ChatsFunction", "chats-list-without-token.json"),
    ("HealthFunction", "health.json"),
    ("UsersFunction", "users-profile-forged-token.json"),
    ("MigrateFunction", "migrate.json"),
    ("ModerationFunction", "moderation-reports.json"),
    ("WsAuthorizerFunction", "ws-authorizer-alg-none.json"),
    ("WsConnectFunction", "ws-connect-unknown-session.json"),
    ("WsDisconnectFunction", "ws-disconnect.json"),
    ("WsMessageFunction", "ws-message-unknown-session.json"),
    ("DeliveryFunction", "delivery.json"),
    ("MediaFunction", "media.json"),
    (
        "UploadsFunction",
        "uploads-presigned-url-without-token.json",
    ),
    ("SignatureUpdateFunction", "signature-update.json"),
];

/// A sample event from `events/`.
fn sample(file: &str) -> Value {
    let path = banter_local::repo_root().unwrap().join("events").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

#[tokio::test]
async fn every_function_has_a_sample_event_and_handles_it() {
    let app = spawn_app().await;
    let shared = &app.stack.shared;
    let covered: BTreeSet<String> = SAMPLES.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        covered, shared.template.functions,
        "one sample per function in template.yaml"
    );

    let mut outcomes = std::collections::BTreeMap::new();
    for (function, file) in SAMPLES {
        outcomes.insert(*function, shared.invoke(function, sample(file)).await);
    }
    let ok = |f: &str| {
        outcomes[f]
            .clone()
            .unwrap_or_else(|e| panic!("{f} failed: {e}"))
    };
    let body =
        |f: &str| -> Value { serde_json::from_str(ok(f)["body"].as_str().unwrap()).unwrap() };

    assert_eq!(ok("AuthFunction")["statusCode"], 201, "a new account");
    assert_eq!(
        body("AuthFunction")["data"]["user"]["username"],
        "sample_user"
    );
    let again = shared
        .invoke("AuthFunction", sample("auth-register.json"))
        .await
        .unwrap();
    assert_eq!(
        again["statusCode"], 409,
        "the address is taken the second time"
    );
    assert_eq!(
        ok("ChatsFunction")["statusCode"],
        401,
        "the sample carries no valid token"
    );
    assert_eq!(body("HealthFunction")["data"]["database"], "up");
    assert_eq!(
        ok("ModerationFunction"),
        serde_json::json!([]),
        "nobody reported anyone"
    );
    assert_eq!(
        body("UsersFunction")["error"]["code"],
        "INVALID_TOKEN",
        "an HS256 token is refused"
    );
    assert_eq!(
        ok("MigrateFunction")["applied"],
        serde_json::json!([]),
        "already migrated at start"
    );
    assert_eq!(
        outcomes["WsAuthorizerFunction"].as_ref().unwrap_err(),
        "Unauthorized",
        "alg:none is refused"
    );
    assert_eq!(
        ok("WsConnectFunction")["statusCode"],
        401,
        "no such device session"
    );
    assert_eq!(ok("WsDisconnectFunction")["statusCode"], 200);
    let frame: Value =
        serde_json::from_str(ok("WsMessageFunction")["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (frame["event"].as_str(), frame["requestId"].as_str()),
        (Some("error:general"), Some("c-1"))
    );
    assert_eq!(
        frame["data"]["code"], "INVALID_TOKEN",
        "the sample's device session does not exist, so it cannot send"
    );
    assert_eq!(
        ok("DeliveryFunction")["batchItemFailures"],
        serde_json::json!([]),
        "nobody online; the malformed job is dropped"
    );
    assert_eq!(
        ok("MediaFunction")["processed"],
        serde_json::json!([]),
        "no media record for the sample key"
    );
    assert_eq!(
        body("UploadsFunction")["error"]["code"],
        "UNAUTHORIZED",
        "the sample carries no token"
    );
    // Offline, freshclam cannot reach ClamAV's mirrors: the run fails and stores nothing.
    let update = outcomes["SignatureUpdateFunction"].as_ref().unwrap_err();
    assert!(update.contains("freshclam failed"), "{update}");
    assert_eq!(
        shared.blobs.get("clamav/manifest.json").await.unwrap(),
        None
    );
    app.stop().await;
}
