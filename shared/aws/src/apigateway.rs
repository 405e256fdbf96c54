//! Connection push through API Gateway's Management API (`@connections`). A 410 Gone answer
//! becomes [`PushError::Gone`], so the caller drops the connection from the registry.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use banter_core::ports::{ConnectionPush, PushError};

use crate::describe;

pub struct ApiGatewayPush {
    client: Client,
}

impl ApiGatewayPush {
    /// `endpoint` is the WebSocket stage's management URL, `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`
    /// (or the local stack's `http://127.0.0.1:3001`).
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(conf),
        }
    }
}

#[async_trait]
impl ConnectionPush for ApiGatewayPush {
    async fn post(&self, connection_id: &str, frame: &[u8]) -> Result<(), PushError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(frame))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PostToConnectionError::GoneException(_)) =>
            {
                Err(PushError::Gone)
            }
            Err(e) => Err(PushError::Failed(describe(&e))),
        }
    }

    async fn disconnect(&self, connection_id: &str) -> Result<(), PushError> {
        match self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteConnectionError::GoneException(_)) =>
            {
                Err(PushError::Gone)
            }
            Err(e) => Err(PushError::Failed(describe(&e))),
        }
    }
}
