//! The port a function was built without: every call fails, naming the port. Functions enable
//! only the AWS adapters they use (`banter-lambda`'s features), so the SDK clients of the others
//! are not linked into their binaries; calling one of those is a deployment bug, and says so.

use async_trait::async_trait;
use bytes::Bytes;
use uuid::Uuid;

use super::*;

pub struct Absent(pub &'static str);

impl Absent {
    fn error(&self) -> PortError {
        PortError::new(
            "absent",
            format!("this function is built without the {} port", self.0),
        )
    }
}

#[async_trait]
impl ConnectionRegistry for Absent {
    async fn register(&self, _: &ConnectionRecord) -> Result<(), PortError> {
        Err(self.error())
    }
    async fn unregister(&self, _: Uuid, _: &str) -> Result<Option<ConnectionRecord>, PortError> {
        Err(self.error())
    }
    async fn connections_of(&self, _: Uuid) -> Result<Vec<ConnectionRecord>, PortError> {
        Err(self.error())
    }
}

#[async_trait]
impl DeliveryQueue for Absent {
    async fn enqueue(&self, _: &DeliveryJob) -> Result<(), PortError> {
        Err(self.error())
    }
}

#[async_trait]
impl ConnectionPush for Absent {
    async fn post(&self, _: &str, _: &[u8]) -> Result<(), PushError> {
        Err(PushError::Failed(self.error().to_string()))
    }
    async fn disconnect(&self, _: &str) -> Result<(), PushError> {
        Err(PushError::Failed(self.error().to_string()))
    }
}

#[async_trait]
impl BlobStore for Absent {
    async fn presign_put(&self, _: &str, _: &str, _: u64, _: u64) -> Result<String, PortError> {
        Err(self.error())
    }
    async fn presign_get(&self, _: &str, _: UrlValidity) -> Result<String, PortError> {
        Err(self.error())
    }
    async fn put(&self, _: &str, _: Bytes, _: &str) -> Result<(), PortError> {
        Err(self.error())
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>, PortError> {
        Err(self.error())
    }
    async fn size(&self, _: &str) -> Result<Option<u64>, PortError> {
        Err(self.error())
    }
    async fn delete(&self, _: &str) -> Result<(), PortError> {
        Err(self.error())
    }
    async fn tag(&self, _: &str, _: &str, _: &str) -> Result<(), PortError> {
        Err(self.error())
    }
    async fn create_multipart(&self, _: &str, _: &str) -> Result<String, PortError> {
        Err(self.error())
    }
    async fn presign_part(&self, _: &str, _: &str, _: i32, _: u64) -> Result<String, PortError> {
        Err(self.error())
    }
    async fn complete_multipart(
        &self,
        _: &str,
        _: &str,
        _: &[UploadedPart],
    ) -> Result<(), PortError> {
        Err(self.error())
    }
    async fn abort_multipart(&self, _: &str, _: &str) -> Result<(), PortError> {
        Err(self.error())
    }
}

#[async_trait]
impl Notifier for Absent {
    async fn send_email(&self, _: &str, _: &str, _: &str) -> Result<(), PortError> {
        Err(self.error())
    }
    async fn send_sms(&self, _: &str, _: &str) -> Result<(), PortError> {
        Err(self.error())
    }
}

#[async_trait]
impl MobilePush for Absent {
    async fn register(&self, _: PushPlatform, _: &str) -> Result<String, MobilePushError> {
        Err(self.error().into())
    }
    async fn send(&self, _: &str, _: &PushNotification) -> Result<(), MobilePushError> {
        Err(self.error().into())
    }
    async fn unregister(&self, _: &str) -> Result<(), PortError> {
        Err(self.error())
    }
}
