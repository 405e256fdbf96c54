//! Blob store: media bytes, uploaded and downloaded by clients through short-lived signed URLs
//! (S3 presigned URLs on AWS; files under a data directory with HMAC-signed URLs that the local
//! stack serves on one machine).

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::PortError;
use crate::auth::tokens::constant_time_eq;

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// A URL the client may `PUT` the object's bytes to, with this `Content-Type`.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_secs: u64,
    ) -> Result<String, PortError>;
    /// A URL the client may `GET` the object from.
    async fn presign_get(&self, key: &str, expires_secs: u64) -> Result<String, PortError>;
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<Bytes>, PortError>;
    /// Remove the object; removing one that does not exist succeeds.
    async fn delete(&self, key: &str) -> Result<(), PortError>;
}

/// Object keys Banter creates: letters, digits and `/_.-`, no `..`, at most 512 bytes. Keys are
/// always server-generated; the check keeps a file-backed store inside its directory.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && !key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b))
}

fn is_valid_content_type(ct: &str) -> bool {
    !ct.is_empty()
        && ct.len() <= 100
        && ct
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b))
}

/// The embedded blob store.
pub struct FileBlobStore {
    root: PathBuf,
    /// Where the local stack serves blobs, e.g. `http://127.0.0.1:3001/blobs`.
    base_url: String,
    secret: Vec<u8>,
}

/// A signed request that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBlobRequest {
    pub key: String,
    pub content_type: Option<String>,
}

impl FileBlobStore {
    pub fn new(root: PathBuf, base_url: String, secret: Vec<u8>) -> Self {
        Self {
            root,
            base_url,
            secret,
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        if !is_valid_key(key) {
            return Err(PortError::new(
                "blobs",
                format!("invalid object key {key:?}"),
            ));
        }
        Ok(self.root.join(key))
    }

    fn signature(&self, method: &str, key: &str, expires: i64, content_type: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(format!("{method}\n{key}\n{expires}\n{content_type}").as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    fn sign(
        &self,
        method: &str,
        key: &str,
        content_type: &str,
        expires_secs: u64,
    ) -> Result<String, PortError> {
        if !is_valid_key(key) {
            return Err(PortError::new(
                "blobs",
                format!("invalid object key {key:?}"),
            ));
        }
        if method == "PUT" && !is_valid_content_type(content_type) {
            return Err(PortError::new(
                "blobs",
                format!("invalid content type {content_type:?}"),
            ));
        }
        let expires = chrono::Utc::now().timestamp() + expires_secs as i64;
        let sig = self.signature(method, key, expires, content_type);
        let mut url = format!("{}/{key}?expires={expires}&signature={sig}", self.base_url);
        if method == "PUT" {
            url.push_str("&contentType=");
            url.push_str(content_type);
        }
        Ok(url)
    }

    /// Check a request to a signed URL: method, key, expiry and signature. `query` holds the
    /// URL's query parameters.
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        query: &HashMap<String, String>,
    ) -> Result<SignedBlobRequest, String> {
        if !is_valid_key(key) {
            return Err("invalid object key".into());
        }
        let expires: i64 = query
            .get("expires")
            .and_then(|e| e.parse().ok())
            .ok_or("missing expiry")?;
        if expires < chrono::Utc::now().timestamp() {
            return Err("the signed URL has expired".into());
        }
        let content_type = if method == "PUT" {
            query.get("contentType").cloned()
        } else {
            None
        };
        let expected = self.signature(method, key, expires, content_type.as_deref().unwrap_or(""));
        let given = query.get("signature").ok_or("missing signature")?;
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err("bad signature".into());
        }
        Ok(SignedBlobRequest {
            key: key.to_owned(),
            content_type,
        })
    }
}

#[async_trait]
impl BlobStore for FileBlobStore {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_secs: u64,
    ) -> Result<String, PortError> {
        self.sign("PUT", key, content_type, expires_secs)
    }

    async fn presign_get(&self, key: &str, expires_secs: u64) -> Result<String, PortError> {
        self.sign("GET", key, "", expires_secs)
    }

    async fn put(&self, key: &str, bytes: Bytes, _content_type: &str) -> Result<(), PortError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| PortError::new("blobs", e))?;
        }
        // Write then rename, so a reader never sees half an object.
        let tmp = path.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, &bytes)
            .await
            .map_err(|e| PortError::new("blobs", e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| PortError::new("blobs", e))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, PortError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PortError::new("blobs", e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PortError::new("blobs", e)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_store() {
        assert!(is_valid_key("uploads/u1/abc.jpg"));
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "a/./b",
            "a b",
            "a\\b",
            "..",
            "a/",
        ] {
            assert!(!is_valid_key(bad), "{bad:?} accepted");
        }
    }
}
