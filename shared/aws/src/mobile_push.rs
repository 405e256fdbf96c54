//! Mobile push on SNS: a device token becomes a platform endpoint of the deployment's FCM or
//! APNs platform application, and a notification is one `Publish` to it, shaped for each
//! platform (`MessageStructure: json`).

use async_trait::async_trait;
use banter_core::ports::{MobilePush, MobilePushError, PortError, PushNotification, PushPlatform};
use serde_json::json;

use crate::describe;

pub struct SnsMobilePush {
    sns: aws_sdk_sns::Client,
    /// Platform application ARNs; a platform without one is not pushed to.
    fcm: Option<String>,
    apns: Option<String>,
}

impl SnsMobilePush {
    pub fn new(config: &aws_config::SdkConfig, fcm: Option<String>, apns: Option<String>) -> Self {
        Self {
            sns: aws_sdk_sns::Client::new(config),
            fcm: fcm.filter(|arn| !arn.is_empty()),
            apns: apns.filter(|arn| !arn.is_empty()),
        }
    }
}

fn err(e: impl std::error::Error) -> PortError {
    PortError::new("mobile push", describe(&e))
}

/// The `Publish` message: a default text, and each platform's own payload as a JSON string.
fn message(n: &PushNotification) -> String {
    let data = json!({ "chatId": n.chat_id, "messageId": n.message_id });
    let fcm = json!({
        "notification": { "title": n.title, "body": n.body, "tag": n.chat_id },
        "data": data,
    });
    let apns = json!({
        "aps": { "alert": { "title": n.title, "body": n.body }, "thread-id": n.chat_id, "sound": "default" },
        "chatId": n.chat_id,
        "messageId": n.message_id,
    });
    json!({
        "default": format!("{}: {}", n.title, n.body),
        "GCM": fcm.to_string(),
        "APNS": apns.to_string(),
        "APNS_SANDBOX": apns.to_string(),
    })
    .to_string()
}

/// The endpoint named by SNS's "Endpoint {arn} already exists with the same Token, but
/// different attributes".
fn existing_endpoint(message: &str) -> Option<String> {
    let rest = message.split("Endpoint ").nth(1)?;
    let (arn, _) = rest.split_once(" already exists")?;
    arn.starts_with("arn:").then(|| arn.to_owned())
}

#[async_trait]
impl MobilePush for SnsMobilePush {
    async fn register(
        &self,
        platform: PushPlatform,
        token: &str,
    ) -> Result<String, MobilePushError> {
        let application = match platform {
            PushPlatform::Fcm => &self.fcm,
            PushPlatform::Apns => &self.apns,
        }
        .as_ref()
        .ok_or(MobilePushError::Unsupported(platform))?;
        let created = self
            .sns
            .create_platform_endpoint()
            .platform_application_arn(application)
            .token(token)
            .send()
            .await;
        match created {
            Ok(created) => Ok(created
                .endpoint_arn
                .ok_or_else(|| PortError::new("mobile push", "SNS answered no endpoint ARN"))?),
            Err(e) => {
                // The token has an endpoint already, with other attributes (SNS disabled it
                // when the token stopped working once): that endpoint, enabled again.
                let Some(endpoint) = e
                    .as_service_error()
                    .and_then(|s| s.meta().message())
                    .and_then(existing_endpoint)
                else {
                    return Err(err(e).into());
                };
                self.sns
                    .set_endpoint_attributes()
                    .endpoint_arn(&endpoint)
                    .attributes("Enabled", "true")
                    .send()
                    .await
                    .map_err(err)?;
                Ok(endpoint)
            }
        }
    }

    async fn send(
        &self,
        endpoint: &str,
        notification: &PushNotification,
    ) -> Result<(), MobilePushError> {
        match self
            .sns
            .publish()
            .target_arn(endpoint)
            .message_structure("json")
            .message(message(notification))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(s) if s.is_endpoint_disabled_exception() || s.is_not_found_exception() => {
                    Err(MobilePushError::Gone)
                }
                _ => Err(err(e).into()),
            },
        }
    }

    async fn unregister(&self, endpoint: &str) -> Result<(), PortError> {
        self.sns
            .delete_endpoint()
            .endpoint_arn(endpoint)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_endpoint_a_token_has_is_read_from_snss_answer() {
        let arn = "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/banter/5f1c";
        assert_eq!(
            super::existing_endpoint(&format!(
                "Invalid parameter: Token Reason: Endpoint {arn} already exists with the same Token, but different attributes."
            ))
            .as_deref(),
            Some(arn)
        );
        assert_eq!(super::existing_endpoint("Invalid parameter: Token"), None);
    }
}
