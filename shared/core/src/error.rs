//! The one error type of the API boundary and its mapping to HTTP status and the PRD's
//! `ErrorCodes`. Every handler, REST or WebSocket, reports failures through [`ApiError`].
//!
//! Database errors are mapped here too: the SQLSTATEs client input can cause (a unique, foreign
//! key or check violation, text Postgres refuses) become 4xx; everything else stays a 5xx whose
//! log line carries the database's own report (SQLSTATE, message, constraint), never the client's
//! answer.

use serde::Serialize;
use tokio_postgres::error::SqlState;
use utoipa::ToSchema;

use crate::api::models::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidInput(String),
    /// An encrypted message not sealed for exactly the chat's devices (`details` names them:
    /// seal it for the missing ones, with bundles from `GET /api/users/{userId}/keys`, and drop
    /// the extra ones).
    #[error("the message is not sealed for exactly the chat's devices now")]
    DevicesChanged {
        missing: Vec<uuid::Uuid>,
        extra: Vec<uuid::Uuid>,
    },
    #[error("missing required field `{0}`")]
    MissingField(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    TokenExpired,
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A signed-in caller's password, asked again for a sensitive change (change the password
    /// or email, delete the account, turn off two-factor), was wrong: said as such, since no
    /// email was given. The same code and status as a failed login.
    #[error("the password is wrong")]
    WrongPassword,
    #[error("a two-factor code is required (totpCode or recoveryCode)")]
    TwoFactorRequired,
    /// The password was right and the second factor was not: said so, since an answer without
    /// a code already tells that the password was right.
    #[error("invalid two-factor code (a recovery code works once)")]
    InvalidSecondFactor,
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this method is not allowed here (allowed: {0})")]
    MethodNotAllowed(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("this sync cursor cannot be resumed (it is older than the retention, or not one this server issued); reload the chat list and history")]
    SyncCursorExpired,
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    /// An upload said to be finished whose bytes are not there (or a multipart upload whose
    /// parts do not join).
    #[error("{0}")]
    UploadFailed(String),
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("service unavailable")]
    Unavailable,
    #[error("database error: {0}")]
    Database(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The PRD's `ErrorCodes`, as the `error.code` of the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    InvalidInput,
    MissingRequiredField,
    Unauthorized,
    InvalidToken,
    TokenExpired,
    InvalidCredentials,
    PermissionDenied,
    ResourceNotFound,
    MethodNotAllowed,
    ResourceAlreadyExists,
    SyncCursorExpired,
    FileTooLarge,
    InvalidFileType,
    UploadFailed,
    RateLimitExceeded,
    ServiceUnavailable,
    DatabaseError,
    InternalServerError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "VALIDATION_ERROR",
            Self::InvalidInput => "INVALID_INPUT",
            Self::MissingRequiredField => "MISSING_REQUIRED_FIELD",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            Self::SyncCursorExpired => "SYNC_CURSOR_EXPIRED",
            Self::FileTooLarge => "FILE_TOO_LARGE",
            Self::InvalidFileType => "INVALID_FILE_TYPE",
            Self::UploadFailed => "UPLOAD_FAILED",
            Self::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::DatabaseError => "DATABASE_ERROR",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// `{"success": false, "error": {...}}`: every failed REST answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// What failed, for people; names the field at fault for bad input.
    pub message: String,
    /// More about the failure where a client acts on it: for an encrypted message not sealed
    /// for the chat's devices, `{missingDevices, extraDevices}`; otherwise null.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub timestamp: Timestamp,
    pub request_id: String,
}

impl ApiError {
    /// HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_)
            | Self::InvalidInput(_)
            | Self::MissingField(_)
            | Self::DevicesChanged { .. } => 400,
            Self::Unauthorized
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::InvalidCredentials
            | Self::WrongPassword
            | Self::InvalidSecondFactor
            | Self::TwoFactorRequired => 401,
            Self::PermissionDenied(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::AlreadyExists(_) | Self::UploadFailed(_) => 409,
            Self::SyncCursorExpired => 410,
            Self::TooLarge(_) => 413,
            Self::UnsupportedType(_) => 415,
            Self::RateLimited { .. } => 429,
            Self::Internal(_) => 500,
            Self::Unavailable | Self::Database(_) => 503,
        }
    }

    /// The PRD `ErrorCodes` value.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) | Self::DevicesChanged { .. } => ErrorCode::ValidationError,
            Self::InvalidInput(_) => ErrorCode::InvalidInput,
            Self::MissingField(_) => ErrorCode::MissingRequiredField,
            Self::Unauthorized | Self::TwoFactorRequired => ErrorCode::Unauthorized,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::InvalidCredentials | Self::WrongPassword | Self::InvalidSecondFactor => {
                ErrorCode::InvalidCredentials
            }
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::ResourceNotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::AlreadyExists(_) => ErrorCode::ResourceAlreadyExists,
            Self::SyncCursorExpired => ErrorCode::SyncCursorExpired,
            Self::TooLarge(_) => ErrorCode::FileTooLarge,
            Self::UnsupportedType(_) => ErrorCode::InvalidFileType,
            Self::UploadFailed(_) => ErrorCode::UploadFailed,
            Self::RateLimited { .. } => ErrorCode::RateLimitExceeded,
            Self::Unavailable => ErrorCode::ServiceUnavailable,
            Self::Database(_) => ErrorCode::DatabaseError,
            Self::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
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

    /// Log a server-side failure with what an operator needs: the route (REST route or
    /// WebSocket action), the request id and the full cause (for a database error, its SQLSTATE,
    /// message and constraint). Client errors are not logged.
    pub fn log(&self, route: &str, request_id: &str) {
        match self {
            // Load shed (the hashing queue was full) or a dependency down: expected under a
            // burst, so a warning rather than an error per request.
            Self::Unavailable => tracing::warn!(route, request_id, "service unavailable"),
            _ if self.status() >= 500 => {
                tracing::error!(route, request_id, error = %self, "request failed")
            }
            _ => {}
        }
    }

    /// What a client acts on beyond the code (the envelope's `details`): for an encrypted
    /// message not sealed for the chat's devices, `{missingDevices, extraDevices}`.
    pub fn details(&self) -> Option<serde_json::Value> {
        match self {
            Self::DevicesChanged { missing, extra } => Some(serde_json::json!({
                "missingDevices": missing,
                "extraDevices": extra,
            })),
            _ => None,
        }
    }

    /// The PRD's error envelope.
    pub fn envelope(&self, request_id: &str) -> ErrorEnvelope {
        ErrorEnvelope {
            success: false,
            error: ErrorBody {
                code: self.error_code(),
                message: self.public_message(),
                details: self.details(),
                timestamp: Timestamp::now(),
                request_id: request_id.to_owned(),
            },
        }
    }
}

/// The database's own report of a failed statement, for the log: SQLSTATE, message, and the
/// constraint, table, column and detail where Postgres names them.
pub fn describe_db_error(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        return format!("postgres: {e}");
    };
    let mut out = format!(
        "postgres: SQLSTATE {} ({}): {}",
        db.code().code(),
        db.severity(),
        db.message()
    );
    for (label, value) in [
        ("constraint", db.constraint()),
        ("table", db.table()),
        ("column", db.column()),
        ("detail", db.detail()),
        ("where", db.where_()),
    ] {
        if let Some(v) = value {
            out.push_str(&format!("; {label}: {v}"));
        }
    }
    out
}

impl From<tokio_postgres::Error> for ApiError {
    /// A lost or refused connection is the database being unavailable (503, worth retrying),
    /// as is a session the server ended, and so is a transaction it ended to let others go on (a deadlock's victim, a
    /// serialization failure, a lock or statement that ran out of time). A violated constraint or text Postgres cannot hold is the client's input (4xx): the
    /// boundary should have refused it first, so it is logged as a warning. Anything else (a
    /// failing statement, a type mismatch) is a bug (500), logged with the database's report.
    fn from(e: tokio_postgres::Error) -> Self {
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        let transient = e.code().is_some_and(|c| {
            [
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::QUERY_CANCELED,
                // The server ending the session (a restart, a terminated backend, Neon
                // suspending a compute): its FATAL can arrive before the connection is seen
                // closed.
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
            ]
            .contains(c)
        });
        if e.is_closed() || io || transient {
            return Self::Database(describe_db_error(&e));
        }
        let described = describe_db_error(&e);
        let client_error = match e.code() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
                Some(Self::AlreadyExists("this already exists".into()))
            }
            Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => Some(Self::NotFound("resource")),
            Some(c)
                if *c == SqlState::CHECK_VIOLATION
                    || *c == SqlState::NOT_NULL_VIOLATION
                    || *c == SqlState::STRING_DATA_RIGHT_TRUNCATION
                    || *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE
                    || *c == SqlState::UNTRANSLATABLE_CHARACTER
                    || *c == SqlState::INVALID_TEXT_REPRESENTATION
                    || *c == SqlState::NUMERIC_VALUE_OUT_OF_RANGE =>
            {
                Some(Self::Validation("a value is not acceptable".into()))
            }
            _ => None,
        };
        match client_error {
            Some(mapped) => {
                tracing::warn!(error = %described, "client input refused by the database");
                mapped
            }
            None => Self::Internal(described),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serializes_as_its_name() {
        for e in [
            ApiError::Validation(String::new()),
            ApiError::MissingField("x".into()),
            ApiError::MethodNotAllowed("GET".into()),
            ApiError::RateLimited {
                retry_after_secs: 1,
            },
            ApiError::Internal(String::new()),
        ] {
            let json = serde_json::to_value(e.error_code()).unwrap();
            assert_eq!(json, e.code());
        }
    }

    #[test]
    fn server_errors_hide_their_cause() {
        let e = ApiError::Internal("postgres: SQLSTATE 42P01 secret table".into());
        let envelope = serde_json::to_string(&e.envelope("r-1")).unwrap();
        assert!(!envelope.contains("secret"), "{envelope}");
        assert!(envelope.contains("INTERNAL_SERVER_ERROR"));
    }
}
