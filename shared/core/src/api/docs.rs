//! The API documents, generated from the types: `openapi.json` (REST, from the services'
//! `#[utoipa::path]` descriptions and the request and response types) and `asyncapi.json`
//! (the WebSocket protocol, from `api::ws`). Both are committed at the repository root; a test
//! fails when they differ from what the code generates (`BANTER_WRITE_DOCS=1` rewrites them).

use serde_json::{json, Value};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorEnvelope;
use crate::services::{
    accounts, backups, blocking, calls, chats, contacts, credentials, data_rights, encryption_keys,
    health, invite_links, media, message_changes, message_marks, messaging, notifications,
    participants, polls, profiles, receipts, reports, search, sync, two_factor, verification,
};

const DESCRIPTION: &str = "Banter's REST API. Every answer is the PRD envelope: \
`{success: true, data, meta}` or `{success: false, error: {code, message, details, timestamp, requestId}}`. \
Bodies are JSON objects; fields this document does not name are ignored (except where a schema \
says `additionalProperties: false`). Text never holds U+0000: a string carrying it is refused with \
400 `VALIDATION_ERROR` naming the field. A missing required field answers 400 \
`MISSING_REQUIRED_FIELD`, a wrong type or bad value 400 `VALIDATION_ERROR`, both naming the field. \
A method a path does not declare answers 405 `METHOD_NOT_ALLOWED`.";

/// The REST API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Banter", version = "0.1.0", description = DESCRIPTION),
    servers((url = "http://127.0.0.1:3001", description = "the local stack")),
    paths(
        health::check,
        openapi_document,
        asyncapi_document,
        accounts::register,
        accounts::login,
        accounts::refresh,
        accounts::logout,
        verification::verify_email,
        verification::forgot_password,
        verification::reset_password,
        credentials::change_password,
        credentials::start_email_change,
        credentials::confirm_email_change,
        credentials::undo_email_change,
        verification::start_phone,
        verification::verify_phone,
        accounts::list_sessions,
        accounts::list_activity,
        accounts::revoke_session,
        accounts::revoke_other_sessions,
        two_factor::setup,
        two_factor::enable,
        two_factor::disable,
        two_factor::request_reset,
        two_factor::confirm_reset,
        profiles::own,
        profiles::update,
        profiles::search,
        blocking::list,
        blocking::block,
        reports::file,
        blocking::unblock,
        notifications::register_device,
        notifications::device,
        notifications::unregister_device,
        encryption_keys::publish,
        encryption_keys::add_one_time,
        encryption_keys::own,
        encryption_keys::claim,
        data_rights::export,
        data_rights::delete_account,
        profiles::public,
        chats::create,
        chats::list,
        chats::get,
        chats::update,
        chats::delete,
        chats::invitations,
        chats::accept_invitation,
        chats::decline_invitation,
        participants::add,
        participants::remove,
        participants::set_role,
        participants::past,
        chats::clear,
        invite_links::create,
        invite_links::current,
        invite_links::revoke,
        invite_links::qr,
        invite_links::preview,
        invite_links::join,
        invite_links::requests,
        invite_links::approve,
        invite_links::reject,
        invite_links::withdraw,
        messaging::history,
        messaging::send,
        messaging::forward,
        messaging::open_view_once,
        messaging::gallery,
        messaging::move_live_location,
        messaging::stop_live_location,
        message_changes::edit,
        message_changes::edits,
        message_changes::delete,
        message_changes::react,
        polls::vote,
        message_marks::keep,
        message_marks::unkeep,
        polls::results,
        message_changes::unreact,
        receipts::read,
        receipts::info,
        receipts::played,
        message_marks::pin,
        message_marks::unpin,
        message_marks::star,
        message_marks::unstar,
        message_marks::starred,
        calls::history,
        calls::ice_servers,
        sync::sync,
        search::messages,
        contacts::list,
        contacts::add,
        contacts::update,
        contacts::remove,
        contacts::groups,
        contacts::create_group,
        contacts::rename_group,
        contacts::delete_group,
        contacts::add_group_members,
        contacts::remove_group_member,
        contacts::qr,
        contacts::contact_link,
        contacts::reset_qr,
        contacts::resolve,
        contacts::sync,
        contacts::import,
        contacts::export,
        backups::create,
        backups::get,
        media::upload_url,
        media::complete_upload,
        media::start_multipart,
        media::complete_multipart,
        media::abort_multipart,
        media::get,
        media::status,
        media::cancel,
    ),
    components(schemas(ErrorEnvelope)),
    modifiers(&Conventions),
)]
struct RestApi;

/// `GET /api/openapi.json`, served by the health function. (Described here; the function
/// serves the committed file.)
#[utoipa::path(get, path = "/api/openapi.json", tag = "health",
    responses((status = 200, description = "This document", body = Object)))]
#[allow(dead_code)]
fn openapi_document() {}

/// `GET /api/asyncapi.json`, served by the health function.
#[utoipa::path(get, path = "/api/asyncapi.json", tag = "health",
    responses((status = 200, description = "The WebSocket protocol's AsyncAPI 3 document", body = Object)))]
#[allow(dead_code)]
fn asyncapi_document() {}

/// What every operation shares: bearer authentication where it says so, and the error envelope
/// for every failure status.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from register, login or refresh"))
                    .build(),
            ),
        );
        let error = ResponseBuilder::new()
            .description("Any failure: the error envelope (`Retry-After` on 429)")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorEnvelope",
                    ))))
                    .build(),
            )
            .build();
        for item in api.paths.paths.values_mut() {
            let operations: [&mut Option<Operation>; 4] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .insert("default".into(), RefOr::T(error.clone()));
            }
        }
    }
}

/// Every form of UUID the server parses (`uuid::Uuid::parse_str`: hyphenated, simple, braced,
/// URN). JSON Schema's `format` is only an annotation, so the forms are stated as a pattern.
const UUID_PATTERN: &str = concat!(
    r"^([0-9a-fA-F]{32}|(urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|",
    r"\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\})$"
);

/// Give every `format: uuid` string its pattern.
fn add_uuid_patterns(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("uuid") {
                map.insert("pattern".into(), json!(UUID_PATTERN));
            }
            map.values_mut().for_each(add_uuid_patterns);
        }
        Value::Array(items) => items.iter_mut().for_each(add_uuid_patterns),
        _ => {}
    }
}

/// The OpenAPI document.
pub fn openapi() -> Value {
    let mut doc = serde_json::to_value(RestApi::openapi()).expect("the document serializes");
    add_uuid_patterns(&mut doc);
    doc
}

/// The OpenAPI document as committed (`openapi.json`).
pub fn openapi_json() -> String {
    let mut text = serde_json::to_string_pretty(&openapi()).expect("the document serializes");
    text.push('\n');
    text
}

/// The WebSocket frames' schemas.
#[derive(OpenApi)]
#[openapi(components(schemas(
    crate::api::ws::ClientFrameDoc,
    crate::api::ws::ReplyFrame,
    crate::api::ws::EventFrame
)))]
struct WebSocketSchemas;

/// The AsyncAPI 3 document of the WebSocket API, its payload schemas generated from `api::ws`.
pub fn asyncapi() -> Value {
    let mut schemas = WebSocketSchemas::openapi()
        .components
        .map(|c| serde_json::to_value(c.schemas).expect("schemas serialize"))
        .unwrap_or_else(|| json!({}));
    add_uuid_patterns(&mut schemas);
    let message = |name: &str, title: &str, schema: &str, summary: &str| {
        json!({
            "name": name,
            "title": title,
            "summary": summary,
            "contentType": "application/json",
            "payload": { "$ref": format!("#/components/schemas/{schema}") },
        })
    };
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Banter WebSocket API",
            "version": "0.1.0",
            "description": "Connect with `/ws?token=<accessToken>` (a bad token is refused with 401 at the handshake). \
    Frames are JSON text. Every client frame carrying a `requestId` gets exactly one answer on the same connection: \
    `ack` or `error:general`. A malformed frame, an unknown action or an oversized frame (over 128 KB) gets \
    `error:general` and the connection stays open. The server pushes events as `{event, cursor, data}`, \
    in cursor order; `/ws?token=...&since=<cursor>` first replays every event after the cursor, then goes on live. \
    `GET /api/sync` lists the same events with the same cursors. Typing indicators (`message:typing`, \
    `message:stop_typing`) are ephemeral: pushed as `{event, data}` without a cursor, never replayed or synced.",
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:3001",
                "pathname": "/ws",
                "protocol": "ws",
                "description": "the local stack",
            },
        },
        "channels": {
            "connection": {
                "address": "/ws",
                "messages": {
                    "clientFrame": { "$ref": "#/components/messages/clientFrame" },
                    "reply": { "$ref": "#/components/messages/reply" },
                    "event": { "$ref": "#/components/messages/event" },
                    "ephemeral": { "$ref": "#/components/messages/ephemeral" },
                },
            },
        },
        "operations": {
            "act": {
                "action": "receive",
                "summary": "A client asks for an action",
                "channel": { "$ref": "#/channels/connection" },
                "messages": [{ "$ref": "#/channels/connection/messages/clientFrame" }],
                "reply": {
                    "channel": { "$ref": "#/channels/connection" },
                    "messages": [{ "$ref": "#/channels/connection/messages/reply" }],
                },
            },
            "push": {
                "action": "send",
                "summary": "The server pushes an event",
                "channel": { "$ref": "#/channels/connection" },
                "messages": [
                    { "$ref": "#/channels/connection/messages/event" },
                    { "$ref": "#/channels/connection/messages/ephemeral" },
                ],
            },
        },
        "components": {
            "messages": {
                "clientFrame": message("clientFrame", "Client action", "ClientFrameDoc",
                    "{action, requestId, data}: one payload type per action"),
                "reply": message("reply", "Answer to an action", "ReplyFrame",
                    "ack (the action's result) or error:general"),
                "event": message("event", "Server event", "EventFrame",
                    "{event, cursor, data}, one payload type per event"),
                "ephemeral": message("ephemeral", "Ephemeral server event", "ServerEvent",
                    "{event, data} without a cursor: typing indicators, never stored or synced"),
            },
            "schemas": schemas,
        },
    })
}

/// The AsyncAPI document as committed (`asyncapi.json`).
pub fn asyncapi_json() -> String {
    let mut text = serde_json::to_string_pretty(&asyncapi()).expect("the document serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed documents are what the code generates. `BANTER_WRITE_DOCS=1 cargo test -p
    /// banter-core committed_documents` rewrites them.
    #[test]
    fn committed_documents_are_current() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (file, generated) in [
            ("openapi.json", openapi_json()),
            ("asyncapi.json", asyncapi_json()),
        ] {
            let path = root.join(file);
            if std::env::var_os("BANTER_WRITE_DOCS").is_some() {
                std::fs::write(&path, &generated).expect("write the document");
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "{file} is not what the code generates: run `BANTER_WRITE_DOCS=1 cargo test -p banter-core committed_documents` and commit it"
            );
        }
    }

    #[test]
    fn the_document_states_the_limits() {
        use crate::api::limits::{DEFAULT_MAX_GROUP_MEMBERS, MAX_MESSAGE_CHARS};
        let doc = openapi();
        let schemas = &doc["components"]["schemas"];
        let content = &schemas["SendMessageRequest"]["oneOf"][0]["properties"]["content"];
        assert_eq!(content["maxLength"], MAX_MESSAGE_CHARS);
        let group = &schemas["CreateChatRequest"]["oneOf"][1]["properties"]["participantIds"];
        assert_eq!(
            group["maxItems"],
            DEFAULT_MAX_GROUP_MEMBERS - 1,
            "others than the creator"
        );
    }

    #[test]
    fn every_operation_declares_the_error_envelope() {
        let doc: Value = serde_json::from_str(&openapi_json()).unwrap();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                assert!(
                    op["responses"]["default"].is_object(),
                    "{method} {path} has no error response"
                );
            }
        }
        assert!(operations >= 29, "only {operations} operations");
    }
}
