//! What the media bucket's `CorsConfiguration` (template.yaml) lets a web page do with the
//! signed upload and download URLs, as S3 applies it: a preflight (`OPTIONS`) is answered by
//! the first rule allowing its origin, method and headers, or refused (403); an answer to a
//! request from an allowed origin names that origin and exposes the rule's headers (`ETag`,
//! which a browser needs to complete a multipart upload).

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One of a bucket's `CorsRules`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsRule {
    pub allowed_methods: Vec<String>,
    /// Origins, each may hold one `*` (`https://*.example.com`, or `*` for any).
    pub allowed_origins: Vec<String>,
    /// Request headers, lower-cased, each may hold one `*`.
    pub allowed_headers: Vec<String>,
    pub exposed_headers: Vec<String>,
    pub max_age: Option<u64>,
}

/// `pattern` with at most one `*` matching any run of characters.
fn matches(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

impl CorsRule {
    fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.allowed_origins.iter().any(|o| matches(o, origin))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| {
                self.allowed_headers
                    .iter()
                    .any(|allowed| matches(allowed, h))
            })
    }

    /// The origin an answer names: `*` when the rule allows any, else the caller's.
    fn allow_origin(&self, origin: &str) -> Option<HeaderValue> {
        if self.allowed_origins.iter().any(|o| o == "*") {
            Some(HeaderValue::from_static("*"))
        } else {
            HeaderValue::from_str(origin).ok()
        }
    }
}

fn header(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The answer to a preflight of a blob URL.
pub fn preflight(rules: &[CorsRule], request: &HeaderMap) -> Response {
    let refused = || {
        (
            StatusCode::FORBIDDEN,
            "CORSResponse: This CORS request is not allowed.",
        )
            .into_response()
    };
    let (Some(origin), Some(method)) = (
        header(request, ORIGIN),
        header(request, ACCESS_CONTROL_REQUEST_METHOD),
    ) else {
        return refused();
    };
    let asked: Vec<String> = header(request, ACCESS_CONTROL_REQUEST_HEADERS)
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let Some(rule) = rules.iter().find(|r| r.allows(origin, method, &asked)) else {
        return refused();
    };
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    if let Some(allowed) = rule.allow_origin(origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    }
    for (name, value) in [
        (
            ACCESS_CONTROL_ALLOW_METHODS,
            rule.allowed_methods.join(", "),
        ),
        (ACCESS_CONTROL_ALLOW_HEADERS, asked.join(", ")),
        (
            ACCESS_CONTROL_EXPOSE_HEADERS,
            rule.exposed_headers.join(", "),
        ),
        (
            ACCESS_CONTROL_MAX_AGE,
            rule.max_age.map(|s| s.to_string()).unwrap_or_default(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            if !value.is_empty() {
                headers.insert(name, value);
            }
        }
    }
    headers.insert(VARY, HeaderValue::from_static("Origin"));
    response
}

/// Mark `response` to a `method` request as readable by the page that sent it, when a rule
/// allows its origin (a request without `Origin` is no browser's cross-origin one).
pub fn mark(rules: &[CorsRule], method: &str, request: &HeaderMap, response: &mut Response) {
    let Some(origin) = header(request, ORIGIN) else {
        return;
    };
    let Some(rule) = rules.iter().find(|r| r.allows(origin, method, &[])) else {
        return;
    };
    let headers = response.headers_mut();
    if let Some(allowed) = rule.allow_origin(origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    }
    if let Ok(exposed) = HeaderValue::from_str(&rule.exposed_headers.join(", ")) {
        if !exposed.is_empty() {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
        }
    }
    headers.insert(VARY, HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> CorsRule {
        CorsRule {
            allowed_methods: vec!["GET".into(), "PUT".into()],
            allowed_origins: vec!["https://*.example.com".into()],
            allowed_headers: vec!["content-type".into(), "x-amz-*".into()],
            exposed_headers: vec!["ETag".into()],
            max_age: Some(600),
        }
    }

    fn asking(origin: &str, method: &str, headers: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        h.insert(
            ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_str(method).unwrap(),
        );
        h.insert(
            ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_str(headers).unwrap(),
        );
        h
    }

    #[test]
    fn a_preflight_is_answered_by_a_rule_allowing_origin_method_and_headers() {
        let rules = [rule()];
        let ok = preflight(
            &rules,
            &asking(
                "https://web.example.com",
                "PUT",
                "Content-Type, x-amz-server-side-encryption",
            ),
        );
        assert_eq!(ok.status(), 200);
        assert_eq!(
            ok.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://web.example.com"
        );
        assert_eq!(ok.headers()[ACCESS_CONTROL_MAX_AGE], "600");
        for (origin, method, headers) in [
            ("https://evil.test", "PUT", "content-type"),
            ("https://web.example.com", "DELETE", "content-type"),
            ("https://web.example.com", "PUT", "authorization"),
        ] {
            let refused = preflight(&rules, &asking(origin, method, headers));
            assert_eq!(refused.status(), 403, "{origin} {method} {headers}");
        }
    }
}
