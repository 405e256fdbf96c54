//! The in-process function registry: every Lambda handler of the workspace, by the logical id
//! `template.yaml` gives it. An invocation takes the event as the JSON API Gateway, SQS or S3
//! would send and returns the response as JSON, so the handlers see exactly what they would see
//! in Lambda.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use banter_core::App;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub type Invocation = Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;
pub type Handler = Arc<dyn Fn(App, Value) -> Invocation + Send + Sync>;

/// Wrap a typed handler as a JSON-in, JSON-out function, as the Lambda runtime does.
pub fn wrap<E, R, F, Fut>(handler: F) -> Handler
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(App, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, banter_lambda::Error>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |app: App, event: Value| {
        let handler = handler.clone();
        Box::pin(async move {
            let event: E = serde_json::from_value(event)
                .map_err(|e| format!("event does not deserialize: {e}"))?;
            let response = handler(app, event).await.map_err(|e| e.to_string())?;
            serde_json::to_value(response).map_err(|e| format!("response does not serialize: {e}"))
        }) as Invocation
    })
}

/// Functions that connect as the schema's owner (`template.yaml` gives them the migration
/// secret); every other function gets the serving role.
pub const SCHEMA_OWNER_FUNCTIONS: &[&str] = &["MigrateFunction"];

/// Scheduled functions the local stack does not run on their schedule, and why.
pub const NOT_SCHEDULED_LOCALLY: &[(&str, &str)] = &[(
    "SignatureUpdateFunction",
    "freshclam needs the internet; the local clamd has test signatures",
)];

/// Every handler, by the function's logical id in `template.yaml`. The media function runs
/// with `media` (the stack's `clamd`).
pub fn all(media: fn_media::MediaConfig) -> BTreeMap<&'static str, Handler> {
    BTreeMap::from([
        ("AuthFunction", wrap(fn_auth::handle)),
        ("ChatsFunction", wrap(fn_chats::handle)),
        ("HealthFunction", wrap(fn_health::handle)),
        ("UsersFunction", wrap(fn_users::handle)),
        ("MigrateFunction", wrap(fn_migrate::handle)),
        ("ModerationFunction", wrap(fn_moderation::handle)),
        ("WsAuthorizerFunction", wrap(fn_ws_authorizer::handle)),
        ("WsConnectFunction", wrap(fn_ws_connect::handle)),
        ("WsDisconnectFunction", wrap(fn_ws_disconnect::handle)),
        ("WsMessageFunction", wrap(fn_ws_message::handle)),
        ("DeliveryFunction", wrap(fn_delivery::handle)),
        (
            "MediaFunction",
            wrap(move |app, event| {
                let media = media.clone();
                async move { fn_media::handle_with(&media, app, event).await }
            }),
        ),
        ("UploadsFunction", wrap(fn_uploads::handle)),
        (
            "SignatureUpdateFunction",
            wrap(fn_media::signatures::update),
        ),
    ])
}
