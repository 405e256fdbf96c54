//! Notifier: email and SMS (SES and SNS on AWS; a readable outbox on one machine).

use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;

use super::PortError;

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), PortError>;
    async fn send_sms(&self, to: &str, body: &str) -> Result<(), PortError>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    /// "email" or "sms".
    pub channel: &'static str,
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
}

/// The embedded notifier: keeps every message (newest last) and logs it, so a developer can
/// complete verification flows by hand (`GET /local/outbox`) and tests can read codes.
#[derive(Default)]
pub struct OutboxNotifier {
    items: Mutex<Vec<OutboxItem>>,
}

impl OutboxNotifier {
    pub fn items(&self) -> Vec<OutboxItem> {
        self.items.lock().expect("outbox lock").clone()
    }

    fn push(&self, item: OutboxItem) {
        tracing::info!(channel = item.channel, to = %item.to, subject = ?item.subject, body = %item.body, "outbox");
        self.items.lock().expect("outbox lock").push(item);
    }
}

#[async_trait]
impl Notifier for OutboxNotifier {
    async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<(), PortError> {
        self.push(OutboxItem {
            channel: "email",
            to: to.into(),
            subject: Some(subject.into()),
            body: body.into(),
        });
        Ok(())
    }

    async fn send_sms(&self, to: &str, body: &str) -> Result<(), PortError> {
        self.push(OutboxItem {
            channel: "sms",
            to: to.into(),
            subject: None,
            body: body.into(),
        });
        Ok(())
    }
}
