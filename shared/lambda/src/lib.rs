//! The entry layer shared by Banter's Lambda functions: building the [`App`] from the
//! environment, translating API Gateway events to domain calls and results back to responses,
//! and starting the Lambda runtime. Each function's `main.rs` is one call to [`run`].

pub mod context;
pub mod logging;
pub mod rest;
pub mod websocket;

use std::future::Future;

use banter_core::App;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use lambda_runtime::Error;

pub use context::Uses;

/// Start a function: logging, the [`App`] (once, at init, with the settings of what it `uses`),
/// then the runtime loop calling `handler` with each event's payload.
///
/// Without its settings it prints one line naming every missing one and reports it to the
/// runtime API's `/init/error`, as Lambda's own runtimes do (Lambda then ends the environment).
/// An emulator that keeps the process (`cargo lambda watch`) gets the same error for every
/// later invocation, instead of waiting for a function that is not there.
pub async fn run<E, R, F, Fut>(uses: Uses, handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(App, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    logging::init();
    let app = match context::app_from_env(uses).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("{e}");
            if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
                std::process::exit(1);
            }
            let diagnostic = Diagnostic {
                error_type: "Runtime.InitError".into(),
                error_message: e.to_string(),
            };
            report_init_error(&diagnostic).await;
            return lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
                let diagnostic = diagnostic.clone();
                async move { Err::<(), Diagnostic>(diagnostic) }
            }))
            .await;
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| {
        handler(app.clone(), event.payload)
    }))
    .await
}

/// Tell the Lambda runtime API that init failed and why (`/runtime/init/error`): the pending
/// invocation answers with the reason.
async fn report_init_error(diagnostic: &Diagnostic) {
    use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
    let request = serde_json::to_vec(diagnostic)
        .map_err(|e| e.to_string())
        .and_then(|body| {
            build_request()
                .method(http::Method::POST)
                .uri("/2018-06-01/runtime/init/error")
                .header("lambda-runtime-function-error-type", "Runtime.InitError")
                .body(Body::from(body))
                .map_err(|e| e.to_string())
        });
    let sent = match request {
        Ok(request) => PooledClient::builder()
            .build()
            .call(request)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        eprintln!("could not report the init error to the runtime API: {e}");
    }
}
