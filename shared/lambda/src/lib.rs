//! The entry layer shared by Banter's Lambda functions: building the [`App`] from the
//! environment, translating API Gateway events to domain calls and results back to responses,
//! and starting the Lambda runtime. Each function's `main.rs` is one call to [`run`].

pub mod context;
pub mod logging;
pub mod rest;
pub mod websocket;

use std::future::Future;

use banter_core::App;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use lambda_runtime::Error;

/// Start a function: logging, the [`App`] (once, at init), then the runtime loop calling
/// `handler` with each event's payload.
pub async fn run<E, R, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(App, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    logging::init();
    let app = context::app_from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| {
        handler(app.clone(), event.payload)
    }))
    .await
}
