//! The migration function: applies the embedded migrations to the database (run once after each
//! deploy, `sam remote invoke MigrateFunction`), and returns the versions it applied.

use banter_core::{db, App};
use banter_lambda::Error;
use serde_json::{json, Value};

/// What this function uses: the only settings it asks for at start.
pub const USES: banter_lambda::Uses = banter_lambda::Uses::NOTHING;

pub async fn handle(app: App, _event: Value) -> Result<Value, Error> {
    let applied = db::migrate(&app.db).await?;
    tracing::info!(?applied, "migrations applied");
    Ok(json!({ "applied": applied }))
}
