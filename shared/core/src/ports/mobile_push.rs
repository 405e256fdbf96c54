//! Mobile push: notifications to app devices that have no live connection (SNS platform
//! endpoints for FCM and APNs on AWS; the readable outbox on one machine).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{OutboxItem, OutboxNotifier, PortError};

/// The service that carries a device's notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PushPlatform {
    /// Firebase Cloud Messaging (Android, and web apps through it).
    Fcm,
    /// Apple Push Notification service.
    Apns,
}

impl PushPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fcm => "fcm",
            Self::Apns => "apns",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fcm" => Some(Self::Fcm),
            "apns" => Some(Self::Apns),
            _ => None,
        }
    }
}

/// What a device shows: a title and a line, and what to open when it is tapped (the chat, at
/// the message if there is one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushNotification {
    pub title: String,
    pub body: String,
    pub chat_id: Uuid,
    pub message_id: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum MobilePushError {
    /// This deployment has no application for the platform.
    #[error("push notifications to {} are not set up here", .0.as_str())]
    Unsupported(PushPlatform),
    /// The endpoint no longer takes notifications (the app was removed, the token expired):
    /// forget it.
    #[error("the device endpoint is gone")]
    Gone,
    #[error(transparent)]
    Failed(#[from] PortError),
}

#[async_trait]
pub trait MobilePush: Send + Sync {
    /// Make an endpoint of a device's platform token; the endpoint is what `send` takes.
    async fn register(
        &self,
        platform: PushPlatform,
        token: &str,
    ) -> Result<String, MobilePushError>;
    async fn send(
        &self,
        endpoint: &str,
        notification: &PushNotification,
    ) -> Result<(), MobilePushError>;
    /// Forget an endpoint (sending to it afterwards is `Gone`).
    async fn unregister(&self, endpoint: &str) -> Result<(), PortError>;
}

const OUTBOX_ENDPOINT: &str = "outbox:";

/// On one machine a notification lands in the outbox (`GET /local/outbox`), addressed to
/// `outbox:{platform}:{token}`; its body is never logged, as previews are private.
#[async_trait]
impl MobilePush for OutboxNotifier {
    async fn register(
        &self,
        platform: PushPlatform,
        token: &str,
    ) -> Result<String, MobilePushError> {
        let endpoint = format!("{OUTBOX_ENDPOINT}{}:{token}", platform.as_str());
        self.forget_unregistered(&endpoint);
        Ok(endpoint)
    }

    async fn send(
        &self,
        endpoint: &str,
        notification: &PushNotification,
    ) -> Result<(), MobilePushError> {
        if !endpoint.starts_with(OUTBOX_ENDPOINT) || self.was_unregistered(endpoint) {
            return Err(MobilePushError::Gone);
        }
        self.push(OutboxItem {
            channel: "push",
            to: endpoint.to_owned(),
            subject: Some(notification.title.clone()),
            body: serde_json::to_string(notification).expect("notifications serialize"),
        });
        Ok(())
    }

    async fn unregister(&self, endpoint: &str) -> Result<(), PortError> {
        self.remember_unregistered(endpoint);
        Ok(())
    }
}
