//! Connection registry on DynamoDB. Table: partition key `userId`, sort key `connectionId`, and
//! TTL on `expiresAt` (API Gateway closes every connection within 2 hours, so a record missed by
//! `$disconnect` expires). Every access is by key: `$disconnect` knows the user from the
//! authorizer's context, so no eventually consistent index is involved.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use banter_core::ports::{ConnectionRecord, ConnectionRegistry, PortError};
use uuid::Uuid;

use crate::describe;

/// Records outlive API Gateway's 2-hour connection limit by a margin, then expire.
const RECORD_TTL_SECS: i64 = 3 * 3600;

pub struct DynamoConnectionRegistry {
    client: Client,
    table: String,
}

impl DynamoConnectionRegistry {
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            table: table.into(),
        }
    }
}

fn err(e: impl std::error::Error) -> PortError {
    PortError::new("dynamodb", describe(&e))
}

fn s(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn record(item: &HashMap<String, AttributeValue>) -> Option<ConnectionRecord> {
    Some(ConnectionRecord {
        connection_id: s(item, "connectionId")?,
        user_id: Uuid::parse_str(&s(item, "userId")?).ok()?,
        session_id: Uuid::parse_str(&s(item, "sessionId")?).ok()?,
        connected_at: n(item, "connectedAt")?,
    })
}

#[async_trait]
impl ConnectionRegistry for DynamoConnectionRegistry {
    async fn register(&self, r: &ConnectionRecord) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("userId", AttributeValue::S(r.user_id.to_string()))
            .item("connectionId", AttributeValue::S(r.connection_id.clone()))
            .item("sessionId", AttributeValue::S(r.session_id.to_string()))
            .item("connectedAt", AttributeValue::N(r.connected_at.to_string()))
            .item(
                "expiresAt",
                AttributeValue::N((r.connected_at + RECORD_TTL_SECS).to_string()),
            )
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn unregister(
        &self,
        user_id: Uuid,
        connection_id: &str,
    ) -> Result<Option<ConnectionRecord>, PortError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("userId", AttributeValue::S(user_id.to_string()))
            .key("connectionId", AttributeValue::S(connection_id.to_owned()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(err)?;
        Ok(deleted.attributes().and_then(record))
    }

    async fn connections_of(&self, user_id: Uuid) -> Result<Vec<ConnectionRecord>, PortError> {
        let now = unix_now();
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("userId = :u")
                .expression_attribute_values(":u", AttributeValue::S(user_id.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(err)?;
            // TTL deletion lags; an expired record is treated as gone.
            out.extend(
                page.items()
                    .iter()
                    .filter(|i| n(i, "expiresAt").is_none_or(|e| e > now))
                    .filter_map(record),
            );
            match page.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        Ok(out)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Create the connections table as `template.yaml` declares it (for emulators and tests).
pub async fn create_connections_table(
    config: &aws_config::SdkConfig,
    table: &str,
) -> Result<(), PortError> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(err)
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(err)
    };
    Client::new(config)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("userId", KeyType::Hash)?)
        .key_schema(key("connectionId", KeyType::Range)?)
        .attribute_definitions(attr("userId")?)
        .attribute_definitions(attr("connectionId")?)
        .send()
        .await
        .map_err(err)?;
    Ok(())
}
