//! The AWS APIs Banter's functions call, served under `/aws` on the local stack's own ports, so
//! that a function run outside the stack (by `cargo lambda watch` or `sam local`) with the real
//! AWS adapters and `AWS_ENDPOINT_URL={stack}/aws/` shares the stack's state: the connections it
//! registers are the ones the stack pushes to, the jobs it queues run the stack's delivery, the
//! objects it writes are the stack's blobs, the mail it sends lands in `/local/outbox`.
//!
//! Only the operations the adapters in `banter-aws` use, in their wire formats:
//!
//! | service | operations | protocol |
//! |---|---|---|
//! | DynamoDB | `PutItem`, `DeleteItem` (`ALL_OLD`), `Query` on `userId` | JSON 1.0, `x-amz-target` |
//! | SQS | `SendMessage` | JSON 1.0, `x-amz-target` |
//! | S3 | `PutObject`, `GetObject`, `DeleteObject`, path-style (presigned URLs too) | REST |
//! | SES / SNS | `SendEmail` / `Publish` (SMS) | query (form in, XML out) |
//! | SNS mobile push | `CreatePlatformEndpoint` on [`PUSH_APPLICATION_FCM`] / [`PUSH_APPLICATION_APNS`], `SetEndpointAttributes`, `DeleteEndpoint`, `Publish` to an endpoint (its `GCM` or `APNS` payload) | query |
//!
//! `@connections` is served at the root already (`connections.rs`). Like moto, the emulation
//! does not check request signatures: the stack listens on 127.0.0.1 only, and refuses requests
//! addressed to any other host name (DNS rebinding).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use banter_core::ports::{
    BlobStore, ConnectionRecord, DeliveryJob, MobilePushError, PushNotification, PushPlatform,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::stack::Shared;

/// The names the emulated resources answer to (what `.banter/lambda.env` gives the functions).
pub const CONNECTIONS_TABLE: &str = "banter-local-connections";
pub const DELIVERY_QUEUE: &str = "banter-local-delivery";
pub const MEDIA_BUCKET: &str = "banter-local-media";
/// The platform applications functions are given (`PUSH_PLATFORM_APPLICATION_*`): endpoints
/// made on them are the stack's own mobile push endpoints (notifications land in the outbox).
pub const PUSH_APPLICATION_FCM: &str = "arn:aws:sns:us-east-1:000000000000:app/GCM/banter-local";
pub const PUSH_APPLICATION_APNS: &str = "arn:aws:sns:us-east-1:000000000000:app/APNS/banter-local";

/// `POST /aws/`: DynamoDB and SQS (by `x-amz-target`), SES and SNS (by the form's `Action`).
pub async fn aws_api(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !crate::stack::loopback_host(&headers) {
        return crate::stack::misdirected();
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or("");
    if let Some((service, operation)) = target.split_once('.') {
        let Ok(request) = serde_json::from_slice::<Value>(&body) else {
            return json_error("SerializationException", "the body is not JSON");
        };
        return match service {
            "DynamoDB_20120810" => dynamodb(&shared, operation, &request).await,
            "AmazonSQS" => sqs(&shared, operation, &request).await,
            _ => json_error("UnknownOperationException", "not emulated here"),
        };
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let notifier = &shared.app.ports.notifier;
    if let Some(answer) = mobile_push(&shared, field).await {
        return answer;
    }
    let (action, sent) = match field("Action") {
        "SendEmail" => (
            "SendEmail",
            notifier
                .send_email(
                    field("Destination.ToAddresses.member.1"),
                    field("Message.Subject.Data"),
                    field("Message.Body.Text.Data"),
                )
                .await,
        ),
        "Publish" if !field("PhoneNumber").is_empty() => (
            "Publish",
            notifier
                .send_sms(field("PhoneNumber"), field("Message"))
                .await,
        ),
        _ => return xml_error("InvalidAction", "not emulated here"),
    };
    if let Err(e) = sent {
        return xml_error("InternalFailure", &e.to_string());
    }
    let namespace = match action {
        "SendEmail" => "http://ses.amazonaws.com/doc/2010-12-01/",
        _ => "http://sns.amazonaws.com/doc/2010-03-31/",
    };
    xml(
        StatusCode::OK,
        format!(
            "<{action}Response xmlns=\"{namespace}\"><{action}Result><MessageId>{}</MessageId>\
             </{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
             </{action}Response>",
            Uuid::new_v4(),
            Uuid::new_v4()
        ),
    )
}

/// SNS's mobile push operations on the stack's own `MobilePush`; `None` for other actions.
async fn mobile_push<'a>(shared: &Shared, field: impl Fn(&str) -> &'a str) -> Option<Response> {
    let push = &shared.app.ports.mobile_push;
    let sns_error = |e: MobilePushError| match e {
        MobilePushError::Gone => xml_error("EndpointDisabled", "Endpoint is disabled"),
        other => xml_error("InternalFailure", &other.to_string()),
    };
    let (action, result) = match field("Action") {
        "CreatePlatformEndpoint" => {
            let platform = match field("PlatformApplicationArn") {
                PUSH_APPLICATION_FCM => PushPlatform::Fcm,
                PUSH_APPLICATION_APNS => PushPlatform::Apns,
                _ => return Some(xml_error("NotFound", "PlatformApplication does not exist")),
            };
            match push.register(platform, field("Token")).await {
                Ok(endpoint) => (
                    "CreatePlatformEndpoint",
                    format!("<EndpointArn>{}</EndpointArn>", xml_text(&endpoint)),
                ),
                Err(e) => return Some(sns_error(e)),
            }
        }
        "SetEndpointAttributes" => ("SetEndpointAttributes", String::new()),
        "DeleteEndpoint" => match push.unregister(field("EndpointArn")).await {
            Ok(()) => ("DeleteEndpoint", String::new()),
            Err(e) => return Some(xml_error("InternalFailure", &e.to_string())),
        },
        "Publish" if !field("TargetArn").is_empty() => {
            let Some(notification) = notification_of(field("Message")) else {
                return Some(xml_error("InvalidParameter", "no GCM or APNS payload"));
            };
            match push.send(field("TargetArn"), &notification).await {
                Ok(()) => (
                    "Publish",
                    format!("<MessageId>{}</MessageId>", Uuid::new_v4()),
                ),
                Err(e) => return Some(sns_error(e)),
            }
        }
        _ => return None,
    };
    Some(xml(
        StatusCode::OK,
        format!(
            "<{action}Response xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><{action}Result>{result}\
             </{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
             </{action}Response>",
            Uuid::new_v4()
        ),
    ))
}

/// The notification a `Publish` carries (`MessageStructure: json`), from its `GCM` payload or
/// else its `APNS` one.
fn notification_of(message: &str) -> Option<PushNotification> {
    let message: Value = serde_json::from_str(message).ok()?;
    let payload =
        |key: &str| -> Option<Value> { serde_json::from_str(message[key].as_str()?).ok() };
    let (alert, ids) = match payload("GCM") {
        Some(fcm) => (fcm["notification"].clone(), fcm["data"].clone()),
        None => {
            let apns = payload("APNS")?;
            (apns["aps"]["alert"].clone(), apns)
        }
    };
    Some(PushNotification {
        title: alert["title"].as_str()?.to_owned(),
        body: alert["body"].as_str()?.to_owned(),
        chat_id: ids["chatId"].as_str()?.parse().ok()?,
        message_id: ids["messageId"].as_str().and_then(|id| id.parse().ok()),
    })
}

async fn dynamodb(shared: &Shared, operation: &str, request: &Value) -> Response {
    if request["TableName"] != CONNECTIONS_TABLE {
        return json_error(
            "ResourceNotFoundException",
            "the local stack has one table: banter-local-connections",
        );
    }
    let registry = &shared.app.ports.connections;
    let s = |item: &Value, name: &str| item[name]["S"].as_str().map(str::to_owned);
    let answer = match operation {
        "PutItem" => {
            let item = &request["Item"];
            let record = (|| {
                Some(ConnectionRecord {
                    connection_id: s(item, "connectionId")?,
                    user_id: s(item, "userId")?.parse().ok()?,
                    session_id: s(item, "sessionId")?.parse().ok()?,
                    connected_at: item["connectedAt"]["N"].as_str()?.parse().ok()?,
                })
            })();
            let Some(record) = record else {
                return json_error("ValidationException", "not a connection record");
            };
            registry.register(&record).await.map(|()| json!({}))
        }
        "DeleteItem" => {
            let key = &request["Key"];
            let (Some(user), Some(connection)) = (
                s(key, "userId").and_then(|u| u.parse().ok()),
                s(key, "connectionId"),
            ) else {
                return json_error("ValidationException", "the key is userId and connectionId");
            };
            registry
                .unregister(user, &connection)
                .await
                .map(|old| match old {
                    Some(record) if request["ReturnValues"] == "ALL_OLD" => {
                        json!({ "Attributes": item(&record) })
                    }
                    _ => json!({}),
                })
        }
        "Query" => {
            let user = request["ExpressionAttributeValues"][":u"]["S"]
                .as_str()
                .and_then(|u| u.parse().ok());
            let (Some(user), "userId = :u") = (
                user,
                request["KeyConditionExpression"].as_str().unwrap_or(""),
            ) else {
                return json_error("ValidationException", "only userId = :u is emulated");
            };
            registry.connections_of(user).await.map(|records| {
                let items: Vec<Value> = records.iter().map(item).collect();
                json!({ "Count": items.len(), "ScannedCount": items.len(), "Items": items })
            })
        }
        _ => return json_error("UnknownOperationException", "not emulated here"),
    };
    match answer {
        Ok(body) => json_ok(body),
        Err(e) => json_error("InternalServerError", &e.to_string()),
    }
}

/// A connection record as a DynamoDB item.
fn item(record: &ConnectionRecord) -> Value {
    json!({
        "userId": { "S": record.user_id.to_string() },
        "connectionId": { "S": record.connection_id },
        "sessionId": { "S": record.session_id.to_string() },
        "connectedAt": { "N": record.connected_at.to_string() },
    })
}

async fn sqs(shared: &Shared, operation: &str, request: &Value) -> Response {
    if operation != "SendMessage" {
        return json_error("UnsupportedOperation", "not emulated here");
    }
    let queue_url = request["QueueUrl"].as_str().unwrap_or("");
    if queue_url.rsplit('/').next() != Some(DELIVERY_QUEUE) {
        return json_error(
            "QueueDoesNotExist",
            "the local stack has one queue: banter-local-delivery",
        );
    }
    let Some(job) = request["MessageBody"]
        .as_str()
        .and_then(|body| serde_json::from_str::<DeliveryJob>(body).ok())
    else {
        return json_error("InvalidMessageContents", "not a delivery job");
    };
    match shared.app.ports.queue.enqueue(&job).await {
        Ok(()) => json_ok(json!({ "MessageId": Uuid::new_v4().to_string() })),
        Err(e) => json_error("InternalError", &e.to_string()),
    }
}

/// `PUT|GET|HEAD|DELETE /aws/{bucket}/{key}`: S3 objects, path-style, on the stack's blob
/// store, and their tags (`?tagging`). A `PUT` under a trigger's prefix invokes the function
/// as the bucket's notification would. (Multipart uploads are the stack's own signed URLs.)
pub async fn s3_object(
    State(shared): State<Shared>,
    method: Method,
    Path((bucket, key)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !crate::stack::loopback_host(&headers) {
        return crate::stack::misdirected();
    }
    if bucket != MEDIA_BUCKET {
        return s3_error(StatusCode::NOT_FOUND, "NoSuchBucket");
    }
    let blobs = &shared.blobs;
    if query.contains_key("tagging") {
        return s3_tagging(&shared, method, &key, &body).await;
    }
    let outcome = match method {
        Method::PUT => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream");
            blobs
                .put(&key, body, content_type)
                .await
                .map(|()| StatusCode::OK.into_response())
        }
        Method::GET | Method::HEAD => match blobs.get(&key).await {
            Ok(Some(bytes)) if method == Method::HEAD => Ok((
                StatusCode::OK,
                [("content-length", bytes.len().to_string())],
            )
                .into_response()),
            Ok(Some(bytes)) => Ok(bytes.into_response()),
            Ok(None) => return s3_error(StatusCode::NOT_FOUND, "NoSuchKey"),
            Err(e) => Err(e),
        },
        Method::DELETE => blobs
            .delete(&key)
            .await
            .map(|()| StatusCode::NO_CONTENT.into_response()),
        _ => return s3_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    };
    outcome.unwrap_or_else(|e| {
        tracing::error!(error = %e, "emulated S3 call failed");
        s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
    })
}

fn json_ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

/// An error in the JSON protocols' shape (the SDK reads the code from `__type`).
fn json_error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.0")],
        json!({ "__type": code, "message": message }).to_string(),
    )
        .into_response()
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml")], body).into_response()
}

/// Text as XML character data.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An error in the query protocol's shape (SES, SNS). Messages are this module's own text.
fn xml_error(code: &str, message: &str) -> Response {
    xml(
        StatusCode::BAD_REQUEST,
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message>\
             </Error><RequestId>{}</RequestId></ErrorResponse>",
            xml_text(message),
            Uuid::new_v4()
        ),
    )
}

/// `GET|PUT /aws/{bucket}/{key}?tagging`: an object's tags (`PutObjectTagging` replaces them).
async fn s3_tagging(shared: &Shared, method: Method, key: &str, body: &[u8]) -> Response {
    let blobs = &shared.blobs;
    match blobs.size(key).await {
        Ok(Some(_)) => {}
        Ok(None) => return s3_error(StatusCode::NOT_FOUND, "NoSuchKey"),
        Err(_) => return s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    }
    if method == Method::PUT {
        let text = String::from_utf8_lossy(body);
        let between = |s: &str, open: &str, close: &str| -> Option<String> {
            let start = s.find(open)? + open.len();
            Some(s[start..start + s[start..].find(close)?].to_owned())
        };
        for tag in text.split("<Tag>").skip(1) {
            if let (Some(k), Some(v)) = (
                between(tag, "<Key>", "</Key>"),
                between(tag, "<Value>", "</Value>"),
            ) {
                if blobs.tag(key, &k, &v).await.is_err() {
                    return s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
                }
            }
        }
        return StatusCode::OK.into_response();
    }
    let tags = blobs.tags(key).await.unwrap_or_default();
    let set: String = tags
        .iter()
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"))
        .collect();
    xml(
        StatusCode::OK,
        format!("<Tagging><TagSet>{set}</TagSet></Tagging>"),
    )
}

/// An error in S3's shape.
fn s3_error(status: StatusCode, code: &str) -> Response {
    xml(
        status,
        format!("<Error><Code>{code}</Code><Message>{code}</Message></Error>"),
    )
}
