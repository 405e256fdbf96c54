//! Blob store on S3: presigned PUT and GET URLs for clients, and object reads and writes for the
//! media function. Path-style addressing is used when talking to an emulator.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, Tag, Tagging,
};
use aws_sdk_s3::Client;
use banter_core::ports::{BlobStore, PortError, UploadedPart, UrlValidity};
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
        content_length: u64,
        expires_secs: u64,
    ) -> Result<String, PortError> {
        // Content-Type and Content-Length are signed: S3 refuses a PUT whose headers differ.
        // No encryption header: the bucket's default encryption (SSE-S3, `template.yaml`)
        // encrypts the upload, so a client needs nothing but the URL and its file's type (the
        // PRD's upload answers no headers), and S3 refuses any x-amz- header it was not signed
        // for.
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(content_length as i64)
            .presigned(presigning(expires_secs)?)
            .await
            .map_err(err)?;
        Ok(req.uri().to_string())
    }

    async fn presign_get(&self, key: &str, valid: UrlValidity) -> Result<String, PortError> {
        // Signed as at `valid.from`: SigV4 has no nonce, so the same validity signs the same URL.
        let signing = PresigningConfig::builder()
            .start_time(valid.from.into())
            .expires_in(Duration::from_secs(valid.secs))
            .build()
            .map_err(err)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(signing)
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
            .server_side_encryption(ServerSideEncryption::Aes256)
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

    async fn size(&self, key: &str) -> Result<Option<u64>, PortError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_not_found() {
                    Ok(None)
                } else {
                    Err(err(service))
                }
            }
        }
    }

    /// Adds or replaces one tag, keeping the others (S3 replaces the whole set).
    async fn tag(&self, key: &str, name: &str, value: &str) -> Result<(), PortError> {
        let current = self
            .client
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(err)?;
        let mut tags: Vec<Tag> = current
            .tag_set()
            .iter()
            .filter(|t| t.key() != name)
            .cloned()
            .collect();
        tags.push(Tag::builder().key(name).value(value).build().map_err(err)?);
        self.client
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(
                Tagging::builder()
                    .set_tag_set(Some(tags))
                    .build()
                    .map_err(err)?,
            )
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .map_err(err)?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| PortError::new("s3", "CreateMultipartUpload gave no upload id"))
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        expires_secs: u64,
    ) -> Result<String, PortError> {
        let req = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .presigned(presigning(expires_secs)?)
            .await
            .map_err(err)?;
        Ok(req.uri().to_string())
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), PortError> {
        let parts = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.part_number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Aborting an upload S3 no longer knows succeeds (it was completed or aborted already).
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), PortError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_no_such_upload() {
                    Ok(())
                } else {
                    Err(err(service))
                }
            }
        }
    }
}
