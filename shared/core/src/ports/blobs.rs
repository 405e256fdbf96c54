//! Blob store: media bytes, uploaded and downloaded by clients through short-lived signed URLs
//! (S3 presigned URLs on AWS; files under a data directory with HMAC-signed URLs that the local
//! stack serves on one machine).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::PortError;
use crate::auth::tokens::constant_time_eq;

/// The smallest part of a multipart upload but the last (S3's limit).
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

/// Download URLs handed to many answers are signed per period of this many seconds, so that
/// every answer in a period hands out the same URL for an object (see [`UrlValidity::shared`]).
pub const SIGNING_PERIOD_SECS: i64 = 300;
/// The longest a SigV4 presigned URL may be valid (S3 refuses to sign for longer).
const LONGEST_VALIDITY_SECS: u64 = 7 * 24 * 3600;

/// When a signed download URL works: from `from` (at or before now) for `secs` seconds. The
/// same object and validity always sign the same URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlValidity {
    pub from: DateTime<Utc>,
    pub secs: u64,
}

impl UrlValidity {
    /// From now for `secs`: a URL one answer hands out once (a backup's, an export's).
    pub fn from_now(secs: u64) -> Self {
        Self {
            from: Utc::now(),
            secs,
        }
    }

    /// For at least `ttl` after `now`, and the same for every `now` of one period of
    /// [`SIGNING_PERIOD_SECS`], its first second too: from the period's start until `ttl`
    /// (rounded up to a whole period) after the period's end, the latest `now + ttl` of the
    /// period (at most a week, the longest S3 signs for). Every answer of the period hands out
    /// the same URL for an object, so a client's HTTP cache, and a CDN's, sees one URL for it,
    /// not one per answer.
    pub fn shared(now: DateTime<Utc>, ttl: Duration) -> Self {
        let step = SIGNING_PERIOD_SECS;
        let start = now.timestamp() - now.timestamp().rem_euclid(step);
        let ttl = ttl.as_secs().min(LONGEST_VALIDITY_SECS) as i64;
        let until = start + step + ttl + (step - ttl.rem_euclid(step)) % step;
        Self {
            from: DateTime::from_timestamp(start, 0).unwrap_or(now),
            secs: ((until - start) as u64).min(LONGEST_VALIDITY_SECS),
        }
    }

    /// The moment the URL stops working.
    pub fn until(&self) -> DateTime<Utc> {
        self.from + chrono::TimeDelta::seconds(self.secs as i64)
    }
}

/// One uploaded part of a multipart upload, as the client reports it after its `PUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: i32,
    /// The part's `ETag` response header, as sent (quoted or not).
    pub etag: String,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// A URL the client may `PUT` exactly `content_length` bytes to, with this `Content-Type`
    /// and no x-amz- header (the store encrypts what it keeps by default).
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_secs: u64,
    ) -> Result<String, PortError>;
    /// A URL the client may `GET` the object from while `valid` says; the same key and
    /// validity answer the same URL.
    async fn presign_get(&self, key: &str, valid: UrlValidity) -> Result<String, PortError>;
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<Bytes>, PortError>;
    /// The object's size, or `None` when there is no such object.
    async fn size(&self, key: &str) -> Result<Option<u64>, PortError>;
    /// Remove the object; removing one that does not exist succeeds.
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Tag the object (S3 object tagging; lifecycle rules act on tags).
    async fn tag(&self, key: &str, name: &str, value: &str) -> Result<(), PortError>;
    /// Start a multipart upload; the answer is its upload id.
    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError>;
    /// A URL the client may `PUT` part `part_number` (1-10,000) to; its answer's `ETag` header
    /// names the part in [`BlobStore::complete_multipart`].
    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        expires_secs: u64,
    ) -> Result<String, PortError>;
    /// Join the parts into the object (which then exists, and triggers what an object creation
    /// triggers). Fails when a part is missing, its ETag differs, or a part but the last is
    /// smaller than [`MIN_PART_BYTES`].
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), PortError>;
    /// Drop an unfinished multipart upload and its parts; an unknown one succeeds.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), PortError>;
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

/// Called with each object's key and size when it is created (the local stack's S3 event
/// notifications).
pub type ObjectCreated = Box<dyn Fn(&str, u64) + Send + Sync>;

/// The embedded blob store.
pub struct FileBlobStore {
    root: PathBuf,
    /// Where the local stack serves blobs, e.g. `http://127.0.0.1:3001/blobs`.
    base_url: String,
    secret: Vec<u8>,
    on_created: OnceLock<ObjectCreated>,
}

/// A signed request that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBlobRequest {
    Get {
        key: String,
    },
    Put {
        key: String,
        content_type: String,
        content_length: u64,
    },
    Part {
        key: String,
        upload_id: String,
        part_number: i32,
    },
}

/// Where the embedded store keeps unfinished multipart uploads, object tags and the
/// `Content-Type` each object was stored with, beside the objects (no object key starts with a
/// dot).
const MULTIPART_DIR: &str = ".multipart";
const TAGS_DIR: &str = ".tags";
const TYPES_DIR: &str = ".types";
/// An object stored without a valid type is served as S3 serves one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

fn io_error(e: std::io::Error) -> PortError {
    PortError::new("blobs", e)
}

fn is_valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The ETag the embedded store gives a part: a digest of its bytes, quoted as S3 quotes it.
fn part_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &hex(&Sha256::digest(bytes))[..32])
}

impl FileBlobStore {
    pub fn new(root: PathBuf, base_url: String, secret: Vec<u8>) -> Self {
        Self {
            root,
            base_url,
            secret,
            on_created: OnceLock::new(),
        }
    }

    /// Call `notify` for every object created from now on (set once).
    pub fn on_object_created(&self, notify: ObjectCreated) {
        let _ = self.on_created.set(notify);
    }

    fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        Self::checked_key(key)?;
        Ok(self.root.join(key))
    }

    /// Where an object's tags are kept.
    fn tags_path(&self, key: &str) -> Result<PathBuf, PortError> {
        Self::checked_key(key)?;
        Ok(self.root.join(TAGS_DIR).join(key))
    }

    fn type_path(&self, key: &str) -> Result<PathBuf, PortError> {
        Self::checked_key(key)?;
        Ok(self.root.join(TYPES_DIR).join(key))
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, PortError> {
        if !is_valid_upload_id(upload_id) {
            return Err(PortError::new("blobs", "invalid upload id"));
        }
        Ok(self.root.join(MULTIPART_DIR).join(upload_id))
    }

    fn signature(&self, fields: &[&str]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(fields.join("\n").as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    fn expiry(expires_secs: u64) -> String {
        (chrono::Utc::now().timestamp() + expires_secs as i64).to_string()
    }

    fn checked_key(key: &str) -> Result<(), PortError> {
        if is_valid_key(key) {
            Ok(())
        } else {
            Err(PortError::new(
                "blobs",
                format!("invalid object key {key:?}"),
            ))
        }
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
        let field = |name: &str| {
            query
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| format!("missing {name}"))
        };
        let expires = field("expires")?;
        if expires.parse::<i64>().map_err(|_| "bad expiry")? < chrono::Utc::now().timestamp() {
            return Err("the signed URL has expired".into());
        }
        let (fields, request) = match (method, query.get("uploadId")) {
            ("GET", None) => (
                vec!["GET", key, expires],
                SignedBlobRequest::Get { key: key.into() },
            ),
            ("PUT", None) => {
                let (content_type, length) = (field("contentType")?, field("contentLength")?);
                let request = SignedBlobRequest::Put {
                    key: key.into(),
                    content_type: content_type.into(),
                    content_length: length.parse().map_err(|_| "bad content length")?,
                };
                (vec!["PUT", key, expires, content_type, length], request)
            }
            ("PUT", Some(upload_id)) => {
                let part = field("partNumber")?;
                let request = SignedBlobRequest::Part {
                    key: key.into(),
                    upload_id: upload_id.clone(),
                    part_number: part.parse().map_err(|_| "bad part number")?,
                };
                (vec!["PART", key, upload_id, part, expires], request)
            }
            _ => return Err("this URL is not signed for that method".into()),
        };
        let given = field("signature")?;
        if !constant_time_eq(self.signature(&fields).as_bytes(), given.as_bytes()) {
            return Err("bad signature".into());
        }
        Ok(request)
    }

    /// Store one part of a multipart upload; the answer is its ETag.
    pub async fn put_part(
        &self,
        upload_id: &str,
        part_number: i32,
        bytes: &[u8],
    ) -> Result<String, PortError> {
        let dir = self.upload_dir(upload_id)?;
        if !tokio::fs::try_exists(&dir).await.map_err(io_error)? {
            return Err(PortError::new("blobs", "no such upload"));
        }
        tokio::fs::write(dir.join(part_number.to_string()), bytes)
            .await
            .map_err(io_error)?;
        Ok(part_etag(bytes))
    }

    /// The object's tags, `name=value` (for tests and the developer).
    pub async fn tags(&self, key: &str) -> Result<Vec<String>, PortError> {
        match tokio::fs::read_to_string(self.tags_path(key)?).await {
            Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_error(e)),
        }
    }

    /// The `Content-Type` the object was stored with, as S3 serves it back.
    pub async fn content_type(&self, key: &str) -> Result<String, PortError> {
        match tokio::fs::read_to_string(self.type_path(key)?).await {
            Ok(t) if is_valid_content_type(&t) => Ok(t),
            Ok(_) => Ok(DEFAULT_CONTENT_TYPE.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULT_CONTENT_TYPE.into()),
            Err(e) => Err(io_error(e)),
        }
    }

    /// Write then rename, so a reader never sees half an object (its type first, so it has
    /// one once it is there); then tell who listens.
    async fn write_object(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), PortError> {
        let path = self.path(key)?;
        let type_path = self.type_path(key)?;
        for dir in [path.parent(), type_path.parent()].into_iter().flatten() {
            tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
        }
        tokio::fs::write(&type_path, content_type)
            .await
            .map_err(io_error)?;
        let tmp = path.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, bytes).await.map_err(io_error)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io_error)?;
        if let Some(notify) = self.on_created.get() {
            notify(key, bytes.len() as u64);
        }
        Ok(())
    }
}

#[async_trait]
impl BlobStore for FileBlobStore {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_secs: u64,
    ) -> Result<String, PortError> {
        Self::checked_key(key)?;
        if !is_valid_content_type(content_type) {
            return Err(PortError::new(
                "blobs",
                format!("invalid content type {content_type:?}"),
            ));
        }
        let (expires, length) = (Self::expiry(expires_secs), content_length.to_string());
        let signature = self.signature(&["PUT", key, &expires, content_type, &length]);
        Ok(format!(
            "{}/{key}?expires={expires}&contentType={content_type}&contentLength={length}&signature={signature}",
            self.base_url
        ))
    }

    async fn presign_get(&self, key: &str, valid: UrlValidity) -> Result<String, PortError> {
        Self::checked_key(key)?;
        let expires = valid.until().timestamp().to_string();
        let signature = self.signature(&["GET", key, &expires]);
        Ok(format!(
            "{}/{key}?expires={expires}&signature={signature}",
            self.base_url
        ))
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), PortError> {
        self.write_object(key, &bytes, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, PortError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, PortError> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let path = self.path(key)?;
        let _ = tokio::fs::remove_file(self.tags_path(key)?).await;
        let _ = tokio::fs::remove_file(self.type_path(key)?).await;
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn tag(&self, key: &str, name: &str, value: &str) -> Result<(), PortError> {
        if self.size(key).await?.is_none() {
            return Err(PortError::new("blobs", "no such object"));
        }
        let path = self.tags_path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
        }
        let mut tags = self.tags(key).await?;
        tags.retain(|t| t.split_once('=').map(|(n, _)| n) != Some(name));
        tags.push(format!("{name}={value}"));
        tokio::fs::write(path, tags.join("\n"))
            .await
            .map_err(io_error)
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError> {
        Self::checked_key(key)?;
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.upload_dir(&upload_id)?;
        tokio::fs::create_dir_all(&dir).await.map_err(io_error)?;
        tokio::fs::write(dir.join("key"), key)
            .await
            .map_err(io_error)?;
        tokio::fs::write(dir.join("type"), content_type)
            .await
            .map_err(io_error)?;
        Ok(upload_id)
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        expires_secs: u64,
    ) -> Result<String, PortError> {
        Self::checked_key(key)?;
        self.upload_dir(upload_id)?;
        let (expires, part) = (Self::expiry(expires_secs), part_number.to_string());
        let signature = self.signature(&["PART", key, upload_id, &part, &expires]);
        Ok(format!(
            "{}/{key}?uploadId={upload_id}&partNumber={part}&expires={expires}&signature={signature}",
            self.base_url
        ))
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), PortError> {
        let dir = self.upload_dir(upload_id)?;
        let refuse = |why: String| Err(PortError::new("blobs", why));
        match tokio::fs::read_to_string(dir.join("key")).await {
            Ok(k) if k == key => {}
            _ => return refuse("no such upload".into()),
        }
        if parts.is_empty()
            || !parts
                .windows(2)
                .all(|w| w[0].part_number < w[1].part_number)
        {
            return refuse("parts must be given in ascending order".into());
        }
        let mut object = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let bytes = match tokio::fs::read(dir.join(part.part_number.to_string())).await {
                Ok(b) => b,
                Err(_) => return refuse(format!("part {} was not uploaded", part.part_number)),
            };
            if part_etag(&bytes).trim_matches('"') != part.etag.trim_matches('"') {
                return refuse(format!("part {}: the ETag differs", part.part_number));
            }
            if i + 1 < parts.len() && (bytes.len() as u64) < MIN_PART_BYTES {
                return refuse(format!("part {} is smaller than 5 MiB", part.part_number));
            }
            object.extend_from_slice(&bytes);
        }
        let content_type = tokio::fs::read_to_string(dir.join("type"))
            .await
            .unwrap_or_else(|_| DEFAULT_CONTENT_TYPE.into());
        self.write_object(key, &object, &content_type).await?;
        tokio::fs::remove_dir_all(dir).await.map_err(io_error)
    }

    async fn abort_multipart(&self, _key: &str, upload_id: &str) -> Result<(), PortError> {
        match tokio::fs::remove_dir_all(self.upload_dir(upload_id)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(e)),
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

    #[test]
    fn a_shared_url_is_valid_from_its_periods_start_until_the_ttl_past_the_periods_end() {
        let at = |secs: i64| {
            UrlValidity::shared(
                DateTime::from_timestamp(secs, 0).unwrap(),
                Duration::from_secs(3600),
            )
        };
        let first = at(1_767_290_401);
        assert_eq!(first.from.timestamp(), 1_767_290_400, "the period's start");
        assert_eq!(
            first.until().timestamp(),
            1_767_294_300,
            "the TTL, rounded up to the period"
        );
        assert_eq!(
            at(1_767_290_650),
            first,
            "the same period, the same validity"
        );
        assert_eq!(at(1_767_290_400), first, "its first second too");
        assert_eq!(at(1_767_290_699), first, "and its last");
        let next = at(1_767_290_700);
        assert_eq!(next.from.timestamp(), 1_767_290_700);
        assert_eq!(next.until().timestamp(), 1_767_294_600);
        assert_eq!(at(1_767_290_701), next);
        let unrounded = UrlValidity::shared(
            DateTime::from_timestamp(1_767_290_401, 0).unwrap(),
            Duration::from_secs(3601),
        );
        assert_eq!(unrounded.until().timestamp(), 1_767_294_600, "rounded up");
        let long = UrlValidity::shared(Utc::now(), Duration::from_secs(30 * 24 * 3600));
        assert_eq!(long.secs, 7 * 24 * 3600, "no longer than S3 signs for");
    }
}
