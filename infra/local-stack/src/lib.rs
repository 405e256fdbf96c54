//! Banter's local stack: every Lambda handler of the workspace in one process on 127.0.0.1,
//! behind emulations of API Gateway's REST, WebSocket and `@connections` APIs and of the SQS and
//! S3 event sources, with routes read from `template.yaml`.

pub mod aws;
pub mod aws_calls;
pub mod blob_cors;
pub mod clamd;
pub mod compression;
pub mod connections;
pub mod debian;
pub mod event_sources;
pub mod functions;
pub mod http_server;
pub mod postgres;
pub mod rest;
pub mod stack;
pub mod template;
pub mod websocket;

pub use stack::{start, RunningStack, StackConfig};

/// The repository root (where `template.yaml` is): the one this binary was built from, or, when
/// that has moved or gone (a copied binary), the nearest directory above the working directory
/// that holds a `template.yaml`.
pub fn repo_root() -> anyhow::Result<std::path::PathBuf> {
    let built_from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built_from.join("template.yaml").is_file() {
        return Ok(built_from.canonicalize()?);
    }
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|dir| dir.join("template.yaml").is_file())
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no template.yaml in {} (where this binary was built) or above {}: \
                 run banter-local from the Banter repository",
                built_from.display(),
                cwd.display()
            )
        })
}
