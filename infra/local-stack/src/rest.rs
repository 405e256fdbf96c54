//! API Gateway REST emulation: matches the request against `template.yaml`'s routes, builds the
//! REST proxy event API Gateway would send, invokes the function and turns its proxy response
//! back into HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use banter_core::ApiError;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use crate::compression::{Coding, DecodeError, UnsupportedCoding};
use crate::stack::Shared;
use crate::template::{RestCors, RestRoute};

use banter_core::api::limits::MAX_GATEWAY_PAYLOAD_BYTES as MAX_PAYLOAD;

/// The route for a method and path, with its path parameters. As in API Gateway, the resource
/// is chosen first (literal segments win over parameters), then the method on it: `GET
/// /api/users/me` is the `/api/users/me` resource, whatever `/api/users/{userId}` allows.
pub fn match_route<'a>(
    routes: &'a [RestRoute],
    method: &str,
    path: &str,
) -> Option<(&'a RestRoute, HashMap<String, String>)> {
    let (resource, params) = match_resource(routes, path)?;
    routes
        .iter()
        .find(|r| r.path == resource && (r.method == method || r.method == "ANY"))
        .map(|r| (r, params))
}

/// The methods the template declares on the resource a path names (empty: no such resource).
pub fn allowed_methods(routes: &[RestRoute], path: &str) -> Vec<String> {
    let Some((resource, _)) = match_resource(routes, path) else {
        return Vec::new();
    };
    let mut methods: Vec<String> = routes
        .iter()
        .filter(|r| r.path == resource)
        .map(|r| r.method.clone())
        .collect();
    methods.sort();
    methods.dedup();
    methods
}

/// The path template that best matches `path` (most literal segments), and its parameters.
fn match_resource<'a>(
    routes: &'a [RestRoute],
    path: &str,
) -> Option<(&'a str, HashMap<String, String>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(&str, HashMap<String, String>, usize)> = None;
    for route in routes {
        let pattern: Vec<&str> = route.path.trim_end_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut params = HashMap::new();
        let mut literals = 0;
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                params.insert(
                    name.to_owned(),
                    percent_decode_str(s).decode_utf8_lossy().into_owned(),
                );
                !s.is_empty()
            } else {
                literals += 1;
                p == s
            }
        });
        if matched && best.as_ref().is_none_or(|(_, _, l)| literals > *l) {
            best = Some((&route.path, params, literals));
        }
    }
    best.map(|(r, p, _)| (r, p))
}

pub fn query_maps(query: Option<&str>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        single.insert(k.clone(), json!(v));
        multi
            .entry(k)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("array")
            .push(json!(v));
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

pub fn header_maps(headers: &HeaderMap) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single.insert(name.as_str().to_owned(), json!(v));
        multi
            .entry(name.as_str().to_owned())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("array")
            .push(json!(v));
    }
    (Value::Object(single), Value::Object(multi))
}

fn envelope_error(status: StatusCode, error: ApiError) -> Response {
    let body = serde_json::to_string(&error.envelope(&uuid::Uuid::new_v4().to_string()))
        .unwrap_or_default();
    (status, [("content-type", "application/json")], body).into_response()
}

/// The REST API: every request not served by another route of the local stack. With the
/// template's `Cors`, a browser's preflight of a route is answered here, as API Gateway's mock
/// integration does; a refusal carries the headers of the template's `GatewayResponses` (the
/// functions' own answers carry them already; this stack's refusals get them as API Gateway's
/// do).
pub async fn serve(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if let Some(cors) = &shared.template.rest_cors {
        if request.method() == axum::http::Method::OPTIONS
            && !allowed_methods(&shared.template.rest, request.uri().path()).is_empty()
        {
            return preflight(cors);
        }
    }
    let template = shared.template.clone();
    let mut response = answer(shared, peer, request).await;
    let kind = match response.status().as_u16() {
        400..=499 => "DEFAULT_4XX",
        500..=599 => "DEFAULT_5XX",
        _ => return response,
    };
    for (name, value) in template
        .rest_gateway_headers
        .get(kind)
        .into_iter()
        .flatten()
    {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().entry(name).or_insert(value);
        }
    }
    response
}

/// A preflight's answer: 200, no body, the template's `Cors` as headers.
fn preflight(cors: &RestCors) -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (ACCESS_CONTROL_ALLOW_ORIGIN, Some(&cors.allow_origin)),
        (ACCESS_CONTROL_ALLOW_HEADERS, cors.allow_headers.as_ref()),
        (ACCESS_CONTROL_ALLOW_METHODS, cors.allow_methods.as_ref()),
        (ACCESS_CONTROL_MAX_AGE, cors.max_age.as_ref()),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers).into_response()
}

async fn answer(shared: Shared, peer: SocketAddr, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let method = parts.method.as_str().to_owned();
    let Some((route, params)) = match_route(&shared.template.rest, &method, &path) else {
        let allowed = allowed_methods(&shared.template.rest, &path);
        if allowed.is_empty() {
            return envelope_error(StatusCode::NOT_FOUND, ApiError::NotFound("route"));
        }
        let allow = allowed.join(", ");
        let mut response = envelope_error(
            StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MethodNotAllowed(allow.clone()),
        );
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert("allow", value);
        }
        return response;
    };
    let bytes = match to_bytes(body, MAX_PAYLOAD).await {
        Ok(b) => b,
        Err(_) => {
            return envelope_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                ApiError::TooLarge("the request body is larger than 10 MB".into()),
            )
        }
    };
    let compression = shared.template.rest_minimum_compression_size;
    let bytes = match request_coding(&parts.headers, compression) {
        Ok(None) => bytes.to_vec(),
        Ok(Some(coding)) => match coding.decode(&bytes, MAX_PAYLOAD) {
            Ok(decoded) => decoded,
            Err(DecodeError::TooLarge) => {
                return envelope_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ApiError::TooLarge("the request body decodes to more than 10 MB".into()),
                )
            }
            Err(DecodeError::Corrupt) => {
                return envelope_error(
                    StatusCode::BAD_REQUEST,
                    ApiError::InvalidInput(format!(
                        "the request body is not valid {} data",
                        coding.name()
                    )),
                )
            }
        },
        Err(UnsupportedCoding(encoding)) => {
            return envelope_error(
                StatusCode::BAD_REQUEST,
                ApiError::InvalidInput(format!(
                    "unsupported Content-Encoding {encoding:?} (gzip and deflate are decoded)"
                )),
            )
        }
    };
    let (body, is_base64) = if bytes.is_empty() {
        (Value::Null, false)
    } else {
        match std::str::from_utf8(&bytes) {
            Ok(text) => (json!(text), false),
            Err(_) => {
                use base64::Engine;
                (
                    json!(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                    true,
                )
            }
        }
    };
    let (headers, multi_headers) = header_maps(&parts.headers);
    let (query, multi_query) = query_maps(parts.uri.query());
    let request_id = uuid::Uuid::new_v4().to_string();
    let user_agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = chrono::Utc::now();
    let event = json!({
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": format!("/{}{}", shared.stage, path),
            "stage": shared.stage,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "requestTimeEpoch": now.timestamp_millis(),
            "domainName": shared.domain,
            "identity": { "sourceIp": peer.ip().to_string(), "userAgent": user_agent },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    match shared.invoke(&route.function, event).await {
        Ok(response) => {
            let accepted = parts
                .headers
                .get("accept-encoding")
                .and_then(|v| v.to_str().ok())
                .and_then(Coding::preferred);
            compressed(proxy_response(&response), compression, accepted).await
        }
        Err(e) => {
            tracing::error!(function = %route.function, error = %e, "function failed");
            // API Gateway's answer to a failed integration.
            (
                StatusCode::BAD_GATEWAY,
                [("content-type", "application/json")],
                r#"{"message": "Internal server error"}"#,
            )
                .into_response()
        }
    }
}

/// How the request body is encoded, when the API decodes it (compression is on): `Err` names a
/// coding it does not decode. With compression off the body reaches the function as it came.
fn request_coding(
    headers: &HeaderMap,
    compression: Option<usize>,
) -> Result<Option<Coding>, UnsupportedCoding> {
    let Some(value) = headers.get("content-encoding") else {
        return Ok(None);
    };
    if compression.is_none() {
        return Ok(None);
    }
    Coding::of_content_encoding(&String::from_utf8_lossy(value.as_bytes()))
}

/// The response compressed with `coding` when its body is at least `minimum` bytes and the
/// function did not encode it itself.
async fn compressed(
    response: Response,
    minimum: Option<usize>,
    coding: Option<Coding>,
) -> Response {
    let (Some(minimum), Some(coding)) = (minimum, coding) else {
        return response;
    };
    if response.headers().contains_key("content-encoding") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    if bytes.len() < minimum {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let encoded = coding.encode(&bytes);
    parts.headers.remove("content-length");
    parts
        .headers
        .insert("content-encoding", HeaderValue::from_static(coding.name()));
    Response::from_parts(parts, Body::from(encoded))
}

/// An API Gateway proxy response (`statusCode`, `headers`, `multiValueHeaders`, `body`,
/// `isBase64Encoded`) as HTTP.
fn proxy_response(response: &Value) -> Response {
    let status = response["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match (
        response["body"].as_str(),
        response["isBase64Encoded"].as_bool().unwrap_or(false),
    ) {
        (Some(b), true) => {
            use base64::Engine;
            Body::from(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_default(),
            )
        }
        (Some(b), false) => Body::from(b.to_owned()),
        (None, _) => Body::empty(),
    };
    let mut out = Response::builder()
        .status(status)
        .body(body)
        .expect("valid response");
    let headers = out.headers_mut();
    let mut add = |k: &str, v: &str| {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(v)) {
            headers.append(k, v);
        }
    };
    for (k, v) in response["headers"].as_object().into_iter().flatten() {
        if let Some(v) = v.as_str() {
            add(k, v);
        }
    }
    for (k, vs) in response["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for v in vs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            add(k, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> RestRoute {
        RestRoute {
            method: method.into(),
            path: path.into(),
            function: path.into(),
        }
    }

    #[test]
    fn literal_segments_win_and_params_are_extracted() {
        let routes = vec![
            route("GET", "/api/users/{userId}"),
            route("GET", "/api/users/search"),
            route("POST", "/api/users/search"),
        ];
        let (r, p) = match_route(&routes, "GET", "/api/users/search").unwrap();
        assert_eq!(r.path, "/api/users/search");
        assert!(p.is_empty());
        let (r, p) = match_route(&routes, "GET", "/api/users/a%20b").unwrap();
        assert_eq!(r.path, "/api/users/{userId}");
        assert_eq!(p["userId"], "a b");
        assert!(match_route(&routes, "DELETE", "/api/users/x").is_none());
        assert!(match_route(&routes, "GET", "/api/users/x/y").is_none());
        assert!(
            match_route(&routes, "PUT", "/api/users/search").is_none(),
            "the literal resource is chosen before the method"
        );
        assert_eq!(
            allowed_methods(&routes, "/api/users/search"),
            ["GET", "POST"]
        );
        assert_eq!(allowed_methods(&routes, "/api/users/x"), ["GET"]);
        assert!(allowed_methods(&routes, "/api/nothing").is_empty());
    }
}
