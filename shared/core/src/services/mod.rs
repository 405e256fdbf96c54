//! The use cases, one module per area. Handlers call these with already-authenticated callers
//! and the request's JSON; these validate, authorize, and call Postgres and the ports.

pub mod accounts;
pub mod blocking;
pub mod chats;
pub mod connections;
pub mod data_rights;
pub mod delivery;
pub mod messaging;
pub mod profiles;
pub mod rate_limit;
pub mod two_factor;
pub mod verification;

use serde_json::Value;

use crate::error::ApiError;

/// A required string field of a JSON body.
pub fn required_str<'a>(body: &'a Value, field: &'static str) -> Result<&'a str, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(ApiError::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::Validation(format!("`{field}` must be a string"))),
    }
}

/// An optional string field of a JSON body.
pub fn optional_str<'a>(body: &'a Value, field: &'static str) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::Validation(format!("`{field}` must be a string"))),
    }
}

/// The request body must be a JSON object.
pub fn require_object(body: &Value) -> Result<(), ApiError> {
    if body.is_object() {
        Ok(())
    } else {
        Err(ApiError::InvalidInput(
            "the request body must be a JSON object".into(),
        ))
    }
}
