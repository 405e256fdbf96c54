//! The one error type of the API boundary and its mapping to HTTP status and the PRD's
//! `ErrorCodes`. Every handler, REST or WebSocket, reports failures through [`ApiError`].

use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("authentication required")]
    Unauthorized,
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    TokenExpired,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("a two-factor code is required (totpCode or recoveryCode)")]
    TwoFactorRequired,
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("service unavailable")]
    Unavailable,
    #[error("database error: {0}")]
    Database(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::InvalidInput(_) | Self::MissingField(_) => 400,
            Self::Unauthorized
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::InvalidCredentials
            | Self::TwoFactorRequired => 401,
            Self::PermissionDenied(_) => 403,
            Self::NotFound(_) => 404,
            Self::AlreadyExists(_) => 409,
            Self::TooLarge(_) => 413,
            Self::UnsupportedType(_) => 415,
            Self::RateLimited { .. } => 429,
            Self::Internal(_) => 500,
            Self::Unavailable | Self::Database(_) => 503,
        }
    }

    /// The PRD `ErrorCodes` value.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "VALIDATION_ERROR",
            Self::InvalidInput(_) => "INVALID_INPUT",
            Self::MissingField(_) => "MISSING_REQUIRED_FIELD",
            Self::Unauthorized | Self::TwoFactorRequired => "UNAUTHORIZED",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::PermissionDenied(_) => "PERMISSION_DENIED",
            Self::NotFound(_) => "RESOURCE_NOT_FOUND",
            Self::AlreadyExists(_) => "RESOURCE_ALREADY_EXISTS",
            Self::TooLarge(_) => "FILE_TOO_LARGE",
            Self::UnsupportedType(_) => "INVALID_FILE_TYPE",
            Self::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
            Self::Unavailable => "SERVICE_UNAVAILABLE",
            Self::Database(_) => "DATABASE_ERROR",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The message shown to clients. Server-side failures never reveal their cause (no SQL, no
    /// stack): that goes to the log only.
    pub fn public_message(&self) -> String {
        match self {
            Self::Database(_) => "the database is unavailable, try again".into(),
            Self::Internal(_) => "an unexpected error occurred".into(),
            other => other.to_string(),
        }
    }

    /// Seconds a client should wait before retrying (the `Retry-After` header), if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The PRD's error envelope.
    pub fn envelope(&self, request_id: &str) -> Value {
        if self.status() >= 500 {
            tracing::error!(request_id, error = %self, "request failed");
        }
        json!({
            "success": false,
            "error": {
                "code": self.code(),
                "message": self.public_message(),
                "details": Value::Null,
                "timestamp": crate::wire::now_rfc3339(),
                "requestId": request_id,
            }
        })
    }
}

/// The success envelope.
pub fn success_envelope(data: Value) -> Value {
    json!({ "success": true, "data": data, "meta": { "timestamp": crate::wire::now_rfc3339() } })
}

impl From<tokio_postgres::Error> for ApiError {
    /// A lost or refused connection is the database being unavailable (503, worth retrying);
    /// anything else (a failing statement, a type mismatch) is a bug (500).
    fn from(e: tokio_postgres::Error) -> Self {
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io {
            Self::Database(e.to_string())
        } else {
            Self::Internal(format!("postgres: {e}"))
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Database(format!("pool: {e}"))
    }
}

impl From<crate::ports::PortError> for ApiError {
    fn from(e: crate::ports::PortError) -> Self {
        Self::Internal(e.to_string())
    }
}
