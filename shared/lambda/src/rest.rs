//! REST proxy events in, envelopes out. A REST function's handler is
//! `rest::respond(&event, route(&app, &Request::new(&event)).await)`: routing by the event's
//! `resource` (the path template from `template.yaml`) and method, errors mapped in one place.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use banter_core::api::extract;
use banter_core::api::models::{Envelope, Meta, Page, PageEnvelope, PageMeta, Timestamp};
use banter_core::auth::tokens::Caller;
use banter_core::config::Limit;
use banter_core::services::accounts::DeviceInfo;
use banter_core::services::rate_limit;
use banter_core::{ApiError, App};
use http::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS,
    CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// A successful answer: status, `data`, and for a page its `meta.pagination`.
pub struct Reply {
    pub status: u16,
    pub data: Value,
    pub pagination: Option<Value>,
    /// A redirect's target (`303 See Other`), answered with no body.
    pub location: Option<String>,
    /// A file answered as it is, outside the envelope (a QR code).
    pub file: Option<banter_core::api::models::RawFile>,
}

fn to_json(data: impl Serialize) -> Value {
    serde_json::to_value(data).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a response did not serialize");
        Value::Null
    })
}

impl Reply {
    pub fn ok(data: impl Serialize) -> Self {
        Self {
            status: 200,
            data: to_json(data),
            pagination: None,
            location: None,
            file: None,
        }
    }

    /// `303 See Other`: the answer is at `url` (a signed download).
    pub fn see_other(url: String) -> Self {
        Self {
            status: 303,
            data: Value::Null,
            pagination: None,
            location: Some(url),
            file: None,
        }
    }

    /// A file answered as it is (its own content type, base64 to API Gateway).
    pub fn file(image: banter_core::api::models::RawFile) -> Self {
        Self {
            status: 200,
            data: Value::Null,
            pagination: None,
            location: None,
            file: Some(image),
        }
    }

    pub fn created(data: impl Serialize) -> Self {
        Self {
            status: 201,
            ..Self::ok(data)
        }
    }

    /// `202 Accepted`: the work goes on in the background.
    pub fn accepted(data: impl Serialize) -> Self {
        Self {
            status: 202,
            ..Self::ok(data)
        }
    }

    /// A page: its items as `data`, how it was cut as `meta.pagination`.
    pub fn page<T: Serialize, P: Serialize>(page: Page<T, P>) -> Self {
        Self {
            status: 200,
            data: to_json(page.items),
            pagination: Some(to_json(page.pagination)),
            location: None,
            file: None,
        }
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

    /// The JSON body as a request type (`api::extract::json_body`); an absent body reads as
    /// `{}`. Too large answers 413, before it is decoded.
    pub fn body<T: DeserializeOwned>(&self, max_bytes: usize) -> Result<T, ApiError> {
        extract::json_body(&self.raw_body(max_bytes)?)
    }

    /// The body as UTF-8 text (a `text/vcard` upload); too large answers 413.
    pub fn text_body(&self, max_bytes: usize) -> Result<String, ApiError> {
        String::from_utf8(self.raw_body(max_bytes)?)
            .map_err(|_| ApiError::InvalidInput("the body is not UTF-8 text".into()))
    }

    /// The body's bytes (empty when absent), base64-decoded if API Gateway encoded it.
    fn raw_body(&self, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
        let Some(body) = self.event.body.as_deref() else {
            return Ok(Vec::new());
        };
        let too_large =
            || ApiError::TooLarge(format!("the request body is larger than {max_bytes} bytes"));
        if body.len() > max_bytes * 4 / 3 + 4 {
            return Err(too_large());
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
            return Err(too_large());
        }
        Ok(bytes)
    }

    /// A text path parameter (`{code}`), as API Gateway decoded it.
    pub fn path(&self, name: &str) -> Result<&str, ApiError> {
        self.event
            .path_parameters
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::MissingField(name.to_owned()))
    }

    /// A UUID path parameter (`{chatId}`...).
    pub fn path_id(&self, name: &str) -> Result<Uuid, ApiError> {
        let raw = self
            .event
            .path_parameters
            .get(name)
            .ok_or_else(|| ApiError::MissingField(name.to_owned()))?;
        banter_core::domain::parse_id(raw, name)
    }

    /// The query string as a request type (`api::extract::query`).
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        extract::query(self.event.query_string_parameters.iter())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.event.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The caller, from `Authorization: Bearer <accessToken>`, whose device session is live.
    pub async fn caller(&self, app: &App) -> Result<Caller, ApiError> {
        let header = self.header("authorization").ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::InvalidToken)?;
        let caller = app.tokens.verify_access(token.trim())?;
        banter_core::services::accounts::ensure_live(app, caller).await
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

    /// Count this request against a per-user limit (`429` with `Retry-After` beyond it).
    pub async fn limit_by_user(
        &self,
        app: &App,
        name: &str,
        caller: Caller,
        limit: Limit,
    ) -> Result<(), ApiError> {
        rate_limit::hit(&app.db, &format!("{name}:user:{}", caller.user_id), limit).await
    }

    /// A span for handling this request: every log line inside it names the route and the
    /// request id (a database error's SQLSTATE line among them).
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!("request", route = %self.route(), request_id = %self.request_id())
    }

    pub fn request_id(&self) -> String {
        self.event
            .request_context
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

/// What every answer of the REST API tells a browser besides CORS: keep no copy of it (answers
/// hold tokens and messages), never guess its type, render it in no frame and run nothing it
/// holds (the API serves data, not pages), send no referrer from it, and reach the API over
/// HTTPS only. template.yaml's `GatewayResponses` give API Gateway's own refusals those whose
/// values it can state (a gateway value cannot hold the quotes of `'none'`).
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("cache-control", "no-store"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
];

/// The headers every answer carries: [`SECURITY_HEADERS`], and CORS for a browser on any origin
/// (a web client; the REST API's `Cors` in template.yaml answers its preflight) with the
/// headers a client acts on, `Retry-After` and a redirect's `Location`. Any origin, as the API
/// takes bearer tokens and no cookies.
pub fn common_headers(headers: &mut HeaderMap) {
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after, location"),
    );
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// The response for a handler's result: the success or error envelope, JSON content type,
/// `Retry-After` on 429, with the [`common_headers`]. A server-side failure is
/// logged with the route and request id.
pub fn respond(request: &Request<'_>, result: Result<Reply, ApiError>) -> ApiGatewayProxyResponse {
    let mut response = response_for(request, result);
    common_headers(&mut response.headers);
    response
}

fn response_for(request: &Request<'_>, result: Result<Reply, ApiError>) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let timestamp = Timestamp::now();
    let (status, body) = match result {
        Ok(Reply {
            status,
            location: Some(url),
            ..
        }) => {
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = i64::from(status);
            if let Ok(location) = HeaderValue::from_str(&url) {
                response.headers.insert(LOCATION, location);
            }
            return response;
        }
        Ok(Reply {
            status,
            file: Some(image),
            ..
        }) => {
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = i64::from(status);
            response
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static(image.content_type));
            response.body = Some(Body::Binary(image.bytes));
            response.is_base64_encoded = true;
            return response;
        }
        Ok(Reply {
            status,
            data,
            pagination: None,
            ..
        }) => (
            status,
            to_json(Envelope {
                success: true,
                data,
                meta: Meta { timestamp },
            }),
        ),
        Ok(Reply {
            status,
            data,
            pagination: Some(pagination),
            ..
        }) => (
            status,
            to_json(PageEnvelope {
                success: true,
                data,
                meta: PageMeta {
                    timestamp,
                    pagination,
                },
            }),
        ),
        Err(e) => {
            if let Some(secs) = e.retry_after() {
                headers.insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            let request_id = request.request_id();
            e.log(&request.route(), &request_id);
            (e.status(), to_json(e.envelope(&request_id)))
        }
    };
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}
