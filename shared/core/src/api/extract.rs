//! The one way client input becomes a request type: JSON bodies, WebSocket payloads and query
//! strings (path parameters are ids: `domain::parse_id`). Text Postgres cannot store (U+0000)
//! is refused here, for every string of the input, naming where it was; serde's errors become the API's, naming the field:
//! a missing one is `MISSING_REQUIRED_FIELD`, a wrong type or bad value `VALIDATION_ERROR`.

use serde::de::DeserializeOwned;

use serde_json::Value;

use crate::error::ApiError;

/// A JSON request body: an object. An empty body (or `null`) is no body: a type that is
/// optional (`Option<T>`) reads it as `None`, anything else refuses it.
pub fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(bytes).map_err(|e| unreadable_json("the body", bytes, &e))?
    };
    match value {
        Value::Object(_) => json_value(value),
        Value::Null => T::deserialize(Value::Null)
            .map_err(|_| ApiError::InvalidInput("this request needs a JSON object body".into())),
        _ => Err(ApiError::InvalidInput(
            "the request body must be a JSON object".into(),
        )),
    }
}

/// The error for JSON text (`what`: "the body", "the frame") that serde_json refused with `e`.
/// Text that is well-formed JSON yet holds what no Rust value can is told so: a lone surrogate
/// such as `\ud83d` (what JavaScript's `JSON.stringify` writes for half an emoji), a number
/// out of range, nesting deeper than serde_json's 128 levels.
pub fn unreadable_json(what: &str, text: &[u8], e: &serde_json::Error) -> ApiError {
    // serde_json skips a value without decoding its strings or numbers, at any depth.
    if serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok() {
        ApiError::InvalidInput(format!(
            "{what} cannot be read ({e}): strings must be Unicode text, without a lone \
             surrogate such as \\ud83d; numbers finite; nesting at most 128 deep"
        ))
    } else {
        ApiError::InvalidInput(format!("{what} is not valid JSON: {e}"))
    }
}

/// An already-parsed JSON value (a WebSocket action's `data`).
pub fn json_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if let Some(path) = nul_path(&value, &mut String::new()) {
        return Err(nul_error(&path));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.into_inner().to_string())
    })
}

/// A query string's parameters; unknown names are ignored.
pub fn query<'a, T: DeserializeOwned>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<T, ApiError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if value.contains('\0') || name.contains('\0') {
            return Err(nul_error(name));
        }
        form.append_pair(name, value);
    }
    let encoded = form.finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.into_inner().to_string())
    })
}

fn nul_error(path: &str) -> ApiError {
    ApiError::Validation(format!(
        "`{path}` contains a NUL character (U+0000), which text cannot hold"
    ))
}

/// The path of the first string (or object key) holding U+0000, if any.
fn nul_path(value: &Value, path: &mut String) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| display_path(path)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = nul_path(v, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(k);
            let found = if k.contains('\0') {
                Some(display_path(path))
            } else {
                nul_path(v, path)
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        ".".into()
    } else {
        path.escape_default().to_string()
    }
}

/// serde's message for a field, as the API's error: `missing field `x`` (at `path`) is a
/// missing field `path.x`; anything else is a bad value at `path`.
fn field_error(path: &str, message: &str) -> ApiError {
    let at = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return ApiError::MissingField(at(name));
    }
    let message: String = message.chars().take(300).collect();
    if path == "." || path.is_empty() {
        ApiError::Validation(message)
    } else {
        ApiError::Validation(format!("`{path}`: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::requests::{ChatListQuery, CreateChatRequest, RegisterRequest};

    fn err_of<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> ApiError {
        json_body::<T>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn missing_fields_are_named() {
        let e = err_of::<RegisterRequest>(r#"{"email": "a@b.co"}"#);
        assert!(
            matches!(&e, ApiError::MissingField(f) if f == "password"),
            "{e:?}"
        );
        let e = err_of::<CreateChatRequest>(r#"{"type": "group", "participantIds": []}"#);
        assert!(
            matches!(&e, ApiError::MissingField(f) if f == "name"),
            "{e:?}"
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = err_of::<RegisterRequest>(r#"{"email": 42, "password": "long enough"}"#);
        assert_eq!(e.code(), "VALIDATION_ERROR");
        assert!(e.to_string().starts_with("`email`"), "{e}");
        let e =
            err_of::<CreateChatRequest>(r#"{"type": "individual", "participantIds": ["nope"]}"#);
        assert_eq!(e.code(), "VALIDATION_ERROR");
    }

    #[test]
    fn a_nested_object_names_the_whole_path_and_is_an_object_only() {
        use crate::api::requests::UpdateChatRequest;
        let e = err_of::<UpdateChatRequest>(r#"{"settings": {"muteUntil": "soon"}}"#);
        assert!(e.to_string().starts_with("`settings.muteUntil`: "), "{e}");
        let e = err_of::<UpdateChatRequest>(r#"{"settings": {"pinChat": "yes"}}"#);
        assert!(e.to_string().starts_with("`settings.pinChat`: "), "{e}");
        let e = err_of::<UpdateChatRequest>(r#"{"settings": {"mute": true}}"#);
        assert!(
            e.to_string().starts_with("`settings.mute`: unknown field"),
            "{e}"
        );
        // A struct's fields in order, as an array, are not the object.
        let e = err_of::<UpdateChatRequest>(r#"{"settings": [true, null, true, false, null]}"#);
        assert_eq!(
            e.to_string(),
            "`settings`: invalid type: sequence, expected an object"
        );
        assert!(
            json_body::<UpdateChatRequest>(br#"{"settings": {"pinChat": true}}"#)
                .unwrap()
                .settings
                .is_some_and(|s| s.pin_chat == Some(true))
        );
    }

    #[test]
    fn nul_is_refused_wherever_it_is() {
        let e = err_of::<RegisterRequest>(
            r#"{"email": "a@b.co", "password": "long enough", "username": "a\u0000b"}"#,
        );
        assert!(e.to_string().contains("`username`"), "{e}");
        let e = err_of::<RegisterRequest>(r#"{"x": [{"y": "\u0000"}]}"#);
        assert!(e.to_string().contains("`x[0].y`"), "{e}");
        let e = query::<ChatListQuery>([("limit", "1\0")]).unwrap_err();
        assert!(e.to_string().contains("`limit`"), "{e}");
    }

    #[test]
    fn well_formed_json_that_no_rust_value_holds_is_told_apart_from_broken_json() {
        // Half an emoji, as JavaScript's JSON.stringify writes it.
        let e = err_of::<RegisterRequest>(r#"{"username": "ab\ud83d"}"#);
        assert_eq!(e.code(), "INVALID_INPUT");
        assert!(e.to_string().starts_with("the body cannot be read"), "{e}");
        assert!(e.to_string().contains("lone surrogate"), "{e}");
        let deep = format!(r#"{{"x": {}{}}}"#, "[".repeat(200), "]".repeat(200));
        let e = err_of::<RegisterRequest>(&deep);
        assert!(e.to_string().contains("nesting"), "{e}");
        let e = err_of::<RegisterRequest>(r#"{"username": "ab"#);
        assert!(
            e.to_string().starts_with("the body is not valid JSON"),
            "{e}"
        );
    }

    #[test]
    fn bodies_must_be_objects_and_only_optional_ones_may_be_absent() {
        assert_eq!(err_of::<RegisterRequest>("[1]").code(), "INVALID_INPUT");
        assert_eq!(err_of::<RegisterRequest>("{").code(), "INVALID_INPUT");
        assert_eq!(err_of::<RegisterRequest>("  ").code(), "INVALID_INPUT");
        assert_eq!(err_of::<RegisterRequest>("null").code(), "INVALID_INPUT");
        use crate::api::requests::LogoutRequest;
        assert!(json_body::<Option<LogoutRequest>>(b"").unwrap().is_none());
        assert!(json_body::<Option<LogoutRequest>>(b"null")
            .unwrap()
            .is_none());
        assert!(json_body::<Option<LogoutRequest>>(b"{}").unwrap().is_some());
    }

    #[test]
    fn queries_parse_numbers() {
        let q: ChatListQuery = query([("limit", "7"), ("offset", "3")]).unwrap();
        assert_eq!((q.limit.0, q.offset.0), (7, 3));
        let e = query::<ChatListQuery>([("offset", "")]).unwrap_err();
        assert!(e.to_string().contains("`offset`"), "{e}");
        let e = query::<ChatListQuery>([("limit", "0")]).unwrap_err();
        assert!(e.to_string().contains("`limit`"), "{e}");
        let e = query::<ChatListQuery>([("limit", "ten")]).unwrap_err();
        assert_eq!(e.code(), "VALIDATION_ERROR");
    }
}
