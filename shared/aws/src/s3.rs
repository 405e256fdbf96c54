//! Blob store on S3: presigned PUT and GET URLs for clients, and object reads and writes for the
//! media function. Path-style addressing is used when talking to an emulator.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use banter_core::ports::{BlobStore, PortError};
use bytes::Bytes;

use crate::describe;

pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(
        config: &aws_config::SdkConfig,
        bucket: impl Into<String>,
        path_style: bool,
    ) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Self {
            client: Client::from_conf(conf),
            bucket: bucket.into(),
        }
    }
}

fn err(e: impl std::error::Error) -> PortError {
    PortError::new("s3", describe(&e))
}

fn presigning(expires_secs: u64) -> Result<PresigningConfig, PortError> {
    PresigningConfig::expires_in(Duration::from_secs(expires_secs)).map_err(err)
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_secs: u64,
    ) -> Result<String, PortError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .presigned(presigning(expires_secs)?)
            .await
            .map_err(err)?;
        Ok(req.uri().to_string())
    }

    async fn presign_get(&self, key: &str, expires_secs: u64) -> Result<String, PortError> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(expires_secs)?)
            .await
            .map_err(err)?;
        Ok(req.uri().to_string())
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, PortError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.body.collect().await.map_err(err)?.into_bytes())),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_no_such_key() {
                    Ok(None)
                } else {
                    Err(err(service))
                }
            }
        }
    }

    /// S3's `DeleteObject` succeeds for a missing key too.
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}
