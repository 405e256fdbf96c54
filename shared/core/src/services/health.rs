//! `GET /api/health`: whether this function reaches Postgres.

use crate::api::models::{Envelope, Health};
use crate::db;
use crate::error::ApiError;
use crate::App;

/// 200 when Postgres answers, 503 otherwise.
#[utoipa::path(get, path = "/api/health", tag = "health",
    responses((status = 200, description = "Postgres answers", body = Envelope<Health>)))]
pub async fn check(app: &App) -> Result<Health, ApiError> {
    if db::ping(&app.db).await {
        Ok(Health {
            status: "ok".into(),
            database: "up".into(),
        })
    } else {
        Err(ApiError::Unavailable)
    }
}
