//! Banter's local stack: every Lambda handler of the workspace in one process on 127.0.0.1,
//! behind emulations of API Gateway's REST, WebSocket and `@connections` APIs and of the SQS and
//! S3 event sources, with routes read from `template.yaml`.

pub mod aws;
pub mod aws_calls;
pub mod clamd;
pub mod connections;
pub mod debian;
pub mod event_sources;
pub mod functions;
pub mod postgres;
pub mod rest;
pub mod stack;
pub mod template;
pub mod websocket;

pub use stack::{start, RunningStack, StackConfig};

/// The repository root (where `template.yaml` is).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}
