//! Secrets Manager: a function reads its secrets (the database URL, the JWT signing key) once at
//! init, so they never sit in plaintext environment variables. Only the secret's name or ARN is
//! in the environment; the value is never logged.

use aws_sdk_secretsmanager::Client;
use banter_core::ports::PortError;

use crate::describe;

/// The string value of the secret `id` (its name or ARN).
pub async fn secret_string(config: &aws_config::SdkConfig, id: &str) -> Result<String, PortError> {
    let out = Client::new(config)
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| PortError::new("secretsmanager", describe(&e)))?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| PortError::new("secretsmanager", format!("secret {id} holds no string")))
}
