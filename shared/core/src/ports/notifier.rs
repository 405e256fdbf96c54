//! Notifier: email and SMS (SES and SNS on AWS; a readable outbox on one machine).

use std::collections::HashSet;
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
    /// "email", "sms" or "push" (`MobilePush`).
    pub channel: &'static str,
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
}

/// The embedded notifier: keeps every message (newest last), so a developer can complete
/// verification flows by hand (`GET /local/outbox`, loopback only) and tests can read codes. Its
/// log line says that a message went out, never what it says: bodies carry codes and tokens.
#[derive(Default)]
pub struct OutboxNotifier {
    items: Mutex<Vec<OutboxItem>>,
    /// Mobile push endpoints unregistered since (`MobilePush`): sending to one is `Gone`.
    unregistered: Mutex<HashSet<String>>,
}

impl OutboxNotifier {
    pub fn items(&self) -> Vec<OutboxItem> {
        self.items.lock().expect("outbox lock").clone()
    }

    pub(super) fn remember_unregistered(&self, endpoint: &str) {
        let mut gone = self.unregistered.lock().expect("outbox lock");
        gone.insert(endpoint.to_owned());
    }

    pub(super) fn forget_unregistered(&self, endpoint: &str) {
        self.unregistered
            .lock()
            .expect("outbox lock")
            .remove(endpoint);
    }

    pub(super) fn was_unregistered(&self, endpoint: &str) -> bool {
        self.unregistered
            .lock()
            .expect("outbox lock")
            .contains(endpoint)
    }

    pub(super) fn push(&self, item: OutboxItem) {
        tracing::info!("{}", log_line(&item));
        self.items.lock().expect("outbox lock").push(item);
    }
}

/// What the log says of a message: channel, recipient and subject, not the body.
fn log_line(item: &OutboxItem) -> String {
    format!(
        "outbox: {} to {}{} (read it at GET /local/outbox)",
        item.channel,
        item.to,
        item.subject
            .as_deref()
            .map(|s| format!(", \"{s}\""))
            .unwrap_or_default()
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_never_carries_codes_or_tokens() {
        let sms = OutboxItem {
            channel: "sms",
            to: "+14155550123".into(),
            subject: None,
            body: "Your Banter code is 482913. It expires in 10 minutes.".into(),
        };
        let email = OutboxItem {
            channel: "email",
            to: "a@example.com".into(),
            subject: Some("Reset your Banter password".into()),
            body: "http://127.0.0.1:3001/reset-password?token=Zk3x9Q_secret".into(),
        };
        assert!(!log_line(&sms).contains("482913"));
        assert!(!log_line(&email).contains("Zk3x9Q_secret"));
        assert!(log_line(&email).contains("Reset your Banter password"));
    }
}
