//! REST proxy events in, envelopes out. A REST function's handler is
//! `rest::respond(&event, route(&app, &Request::new(&event)).await)`: routing by the event's
//! `resource` (the path template from `template.yaml`) and method, errors mapped in one place.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use banter_core::auth::tokens::Caller;
use banter_core::config::Limit;
use banter_core::error::success_envelope;
use banter_core::services::accounts::DeviceInfo;
use banter_core::services::rate_limit;
use banter_core::{ApiError, App};
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

/// A successful answer: status, `data`, and optional `meta` entries (pagination).
pub struct Reply {
    pub status: u16,
    pub data: Value,
    pub meta: Option<Value>,
}

impl Reply {
    pub fn ok(data: Value) -> Self {
        Self {
            status: 200,
            data,
            meta: None,
        }
    }

    pub fn created(data: Value) -> Self {
        Self {
            status: 201,
            data,
            meta: None,
        }
    }

    pub fn with_meta(mut self, meta: Value) -> Self {
        self.meta = Some(meta);
        self
    }
}

/// Read access to one REST event.
pub struct Request<'a> {
    pub event: &'a ApiGatewayProxyRequest,
}

impl<'a> Request<'a> {
    pub fn new(event: &'a ApiGatewayProxyRequest) -> Self {
        Self { event }
    }

    /// `"POST /api/auth/register"`: the method and the route's path template.
    pub fn route(&self) -> String {
        format!(
            "{} {}",
            self.event.http_method,
            self.event.resource.as_deref().unwrap_or("")
        )
    }

    /// The JSON body; an absent body reads as `{}`. Too large answers 413, not JSON 400.
    pub fn json(&self, max_bytes: usize) -> Result<Value, ApiError> {
        let Some(body) = self.event.body.as_deref() else {
            return Ok(Value::Object(Default::default()));
        };
        if body.len() > max_bytes * 4 / 3 + 4 {
            return Err(ApiError::TooLarge(format!(
                "the request body is larger than {max_bytes} bytes"
            )));
        }
        let bytes = if self.event.is_base64_encoded {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| ApiError::InvalidInput("the body is not valid base64".into()))?
        } else {
            body.as_bytes().to_vec()
        };
        if bytes.len() > max_bytes {
            return Err(ApiError::TooLarge(format!(
                "the request body is larger than {max_bytes} bytes"
            )));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::InvalidInput(format!("the body is not valid JSON: {e}")))
    }

    pub fn path_param(&self, name: &'static str) -> Result<&str, ApiError> {
        self.event
            .path_parameters
            .get(name)
            .map(String::as_str)
            .ok_or(ApiError::MissingField(name))
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.event.query_string_parameters.first(name)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.event.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The caller, from `Authorization: Bearer <accessToken>`.
    pub fn caller(&self, app: &App) -> Result<Caller, ApiError> {
        let header = self.header("authorization").ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::InvalidToken)?;
        app.tokens.verify_access(token.trim())
    }

    pub fn device(&self) -> DeviceInfo {
        DeviceInfo {
            user_agent: self.header("user-agent").map(str::to_owned),
            ip_address: self.event.request_context.identity.source_ip.clone(),
        }
    }

    /// Count this request against a per-client-IP limit (`429` with `Retry-After` beyond it).
    pub async fn limit_by_ip(&self, app: &App, name: &str, limit: Limit) -> Result<(), ApiError> {
        let ip = self
            .event
            .request_context
            .identity
            .source_ip
            .as_deref()
            .unwrap_or("unknown");
        rate_limit::hit(&app.db, &format!("{name}:ip:{ip}"), limit).await
    }

    pub fn request_id(&self) -> String {
        self.event
            .request_context
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

/// The response for a handler's result: the success or error envelope, JSON content type,
/// `Retry-After` on 429.
pub fn respond(request: &Request<'_>, result: Result<Reply, ApiError>) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let (status, body) = match result {
        Ok(reply) => {
            let mut body = success_envelope(reply.data);
            if let (Some(Value::Object(extra)), Some(meta)) = (
                reply.meta,
                body.get_mut("meta").and_then(Value::as_object_mut),
            ) {
                meta.extend(extra);
            }
            (reply.status, body)
        }
        Err(e) => {
            if let Some(secs) = e.retry_after() {
                headers.insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            (e.status(), e.envelope(&request.request_id()))
        }
    };
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}
