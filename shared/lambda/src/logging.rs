//! Logs: JSON lines in Lambda (CloudWatch parses them), compact readable lines in a terminal.
//! `RUST_LOG` filters (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if in_lambda() {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // A second init (tests, the local stack hosting many handlers) keeps the first subscriber.
    let _ = result;
}

/// Whether this process runs in Lambda (its runtime names the function), where logs are JSON
/// lines that CloudWatch reads.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}
