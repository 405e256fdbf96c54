//! One upload through processing: claimed (so a repeated S3 event does nothing), scanned for
//! viruses before anything else reads it, its real type checked against the declared one,
//! then the work of its kind; every step recorded and told to the uploader
//! (`media:processing:progress`), and the attempt stopped when the uploader cancels.

use std::path::Path;

use banter_core::api::models::{MediaMetadata, MediaProcessingStatus};
use banter_core::api::ws::ServerEvent;
use banter_core::db::media::{self, MediaRow, Processed};
use banter_core::services::media::{describe, publish_status, status_of, PROCESSED_PREFIX};
use banter_core::services::relay;
use banter_core::App;
use bytes::Bytes;
use serde_json::json;

use crate::clamd::{self, Verdict};
use crate::tools::ToolFailure;
use crate::{audio, detect, documents, images, video, MediaConfig};

/// Attempts at one file before it fails for good (S3's event and two retries).
pub const MAX_ATTEMPTS: i16 = 3;

/// How an attempt ended, when not with success.
#[derive(Debug)]
pub enum Failure {
    /// The file's fault: fails now with this code.
    Fatal(&'static str, String),
    /// The virus scan matched this signature.
    Infected(String),
    /// Ours (a tool, the store, the scanner): worth another attempt.
    Transient(String),
    /// The uploader cancelled, or another worker took the file over.
    Stopped,
}

fn transient(e: impl std::fmt::Display) -> Failure {
    Failure::Transient(e.to_string())
}

impl From<banter_core::ApiError> for Failure {
    fn from(e: banter_core::ApiError) -> Self {
        Self::Transient(e.to_string())
    }
}

impl From<banter_core::ports::PortError> for Failure {
    fn from(e: banter_core::ports::PortError) -> Self {
        Self::Transient(e.to_string())
    }
}

impl From<ToolFailure> for Failure {
    fn from(e: ToolFailure) -> Self {
        match e {
            // The tool read the file and refused it: the file is at fault.
            ToolFailure::Failed(..) => Self::Fatal("PROCESSING_FAILED", e.to_string()),
            _ => Self::Transient(e.to_string()),
        }
    }
}

/// What the outcome of one object-created event was, for the function's answer.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub file_id: uuid::Uuid,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the upload metrics count it by (`metrics`).
    pub file_type: String,
    pub file_size: i64,
    /// From taking the file to its outcome.
    pub processing_ms: u64,
}

impl Outcome {
    fn of(row: &MediaRow, status: &str, error: Option<&str>) -> Self {
        Self {
            file_id: row.id,
            status: status.into(),
            error: error.map(Into::into),
            file_type: row.file_type.clone(),
            file_size: row.file_size,
            processing_ms: 0,
        }
    }
}

/// Process the uploaded object `key`. `Ok(None)` when there is nothing to do (no such upload,
/// or already processed); `Err` when the attempt failed transiently and the event should be
/// retried.
pub async fn process_upload(
    app: &App,
    config: &MediaConfig,
    key: &str,
) -> Result<Option<Outcome>, String> {
    let started = std::time::Instant::now();
    let Some(row) = media::claim(
        &app.db,
        key,
        app.settings.media_processing_stale.as_secs_f64(),
    )
    .await
    .map_err(|e| e.to_string())?
    else {
        tracing::info!(%key, "nothing to process for this object (unknown, or done)");
        return Ok(None);
    };
    let job = Job {
        app,
        row: &row,
        written: Default::default(),
    };
    let result = match job.step(0, "started").await {
        Ok(()) => job.run(config).await,
        Err(f) => Err(f),
    };
    let outcome = match result {
        Ok(()) => Outcome::of(&row, "completed", None),
        Err(Failure::Stopped) => {
            job.discard_outputs().await;
            tracing::info!(file = %row.id, "processing stopped (cancelled or taken over)");
            return Ok(None);
        }
        Err(Failure::Infected(signature)) => {
            tracing::warn!(file = %row.id, %signature, "an upload is infected");
            if let Err(e) = app
                .ports
                .blobs
                .tag(&row.file_key, "banter-scan", "infected")
                .await
            {
                tracing::error!(error = %e, "could not tag an infected object");
            }
            job.fail("INFECTED", &signature).await?
        }
        Err(Failure::Transient(why)) if row.attempts < MAX_ATTEMPTS => {
            job.discard_outputs().await;
            tracing::warn!(file = %row.id, attempt = row.attempts, %why, "processing failed; it will be retried");
            media::release(&app.db, row.id, row.attempts, &why)
                .await
                .map_err(|e| e.to_string())?;
            return Err(why);
        }
        Err(Failure::Transient(why)) => job.fail("PROCESSING_FAILED", &why).await?,
        Err(Failure::Fatal(code, why)) => job.fail(code, &why).await?,
    };
    Ok(Some(Outcome {
        processing_ms: started.elapsed().as_millis() as u64,
        ..outcome
    }))
}

struct Job<'a> {
    app: &'a App,
    row: &'a MediaRow,
    /// Keys written so far (deleted if the attempt does not complete).
    written: std::sync::Mutex<Vec<String>>,
}

impl Job<'_> {
    /// Record progress and tell the uploader; `Stopped` if the file is no longer ours.
    async fn step(&self, progress: i16, step: &str) -> Result<(), Failure> {
        self.step_detected(progress, step, None).await
    }

    async fn step_detected(
        &self,
        progress: i16,
        step: &str,
        detected: Option<&str>,
    ) -> Result<(), Failure> {
        let mut client = self.app.db.get().await.map_err(transient)?;
        let tx = client.transaction().await.map_err(transient)?;
        if !media::progress(&tx, self.row.id, self.row.attempts, progress, detected).await? {
            return Err(Failure::Stopped);
        }
        let status = MediaProcessingStatus {
            progress,
            step: Some(step.to_owned()),
            status: banter_core::api::models::ProcessingStatus::Processing,
            ..status_of(self.row)
        };
        let event = if progress == 0 {
            ServerEvent::MediaProcessingStarted(status)
        } else {
            ServerEvent::MediaProcessingProgress(status)
        };
        publish_status(&tx, self.row, event).await?;
        tx.commit().await.map_err(transient)?;
        relay::wake(self.app, "media:processing:progress").await;
        Ok(())
    }

    /// Process the file; completed, with `media:processing:completed` in the same transaction.
    async fn run(&self, config: &MediaConfig) -> Result<(), Failure> {
        let app = self.app;
        let row = self.row;
        if row.file_type == "encrypted" {
            // Ciphertext: nothing to scan, check or make of it. Stored as it came.
            return self
                .finish(
                    banter_core::config::ENCRYPTED_MIME,
                    MediaMetadata::default(),
                    Default::default(),
                )
                .await;
        }
        let bytes = app.ports.blobs.get(&row.file_key).await?.ok_or_else(|| {
            Failure::Fatal("PROCESSING_FAILED", "the uploaded object is gone".into())
        })?;

        // Nothing reads the bytes before the scanner has.
        self.step(10, "scanning").await?;
        let socket = config.clamd_socket.as_deref().ok_or_else(|| {
            Failure::Transient("no virus scanner is configured (CLAMD_SOCKET)".into())
        })?;
        match clamd::scan(socket, &bytes)
            .await
            .map_err(Failure::Transient)?
        {
            Verdict::Clean => {}
            Verdict::Infected(signature) => return Err(Failure::Infected(signature)),
        }

        let detected = detect::real_type(&bytes);
        if !detect::is_declared(&row.declared_mime, detected) {
            return Err(Failure::Fatal(
                "INVALID_FILE_TYPE",
                format!(
                    "declared {}, but the content is {}",
                    row.declared_mime,
                    detected.unwrap_or("of no accepted type")
                ),
            ));
        }
        let mime = row.declared_mime.as_str();
        self.step_detected(25, "checking", Some(mime)).await?;

        let work = tempfile::Builder::new()
            .prefix("banter-media-")
            .tempdir()
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let input = work.path().join(format!(
            "input.{}",
            banter_core::media::extension_for_mime(mime)
        ));
        let (mut metadata, mut variants) = (MediaMetadata::default(), serde_json::Map::new());
        match row.file_type.as_str() {
            "image" | "sticker" => {
                self.step(40, "thumbnails").await?;
                let owned = bytes.clone();
                let mime_owned = mime.to_owned();
                let pictures =
                    tokio::task::spawn_blocking(move || images::process(&owned, &mime_owned))
                        .await
                        .map_err(|e| Failure::Transient(e.to_string()))?
                        .map_err(|e| Failure::Fatal("PROCESSING_FAILED", e.to_string()))?;
                metadata.width = Some(pictures.width);
                metadata.height = Some(pictures.height);
                metadata.animated = Some(pictures.animated);
                self.step(80, "storing").await?;
                for v in pictures.variants {
                    let key = self
                        .put(v.name, ext_of(v.content_type), v.bytes, v.content_type)
                        .await?;
                    variants.insert(v.name.into(), json!(key));
                }
            }
            "video" => {
                tokio::fs::write(&input, &bytes)
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                let probe = video::probe(&input).await?;
                let (Some(w), Some(h), true) = (probe.width, probe.height, probe.has_video) else {
                    return Err(Failure::Fatal(
                        "PROCESSING_FAILED",
                        "no video stream".into(),
                    ));
                };
                metadata.width = Some(w);
                metadata.height = Some(h);
                set_duration(&mut metadata, probe.duration_ms);
                self.step(30, "thumbnail").await?;
                let frame = video::thumbnail_frame(&input, probe.duration_ms).await?;
                let thumbnail = picture_to_webp("thumbnail", frame).await?;
                let key = self
                    .put("thumbnail", "webp", thumbnail.bytes, "image/webp")
                    .await?;
                variants.insert("thumbnail".into(), json!(key));
                variants.insert("preview".into(), json!(key));
                let renditions = video::renditions_for(w, h, probe.video_bitrate);
                let audio = video::rendition_audio(&probe);
                let n = renditions.len() as i16;
                for (i, (lines, bitrate)) in renditions.into_iter().enumerate() {
                    self.step(40 + 50 * i as i16 / n, "transcoding").await?;
                    let out = work.path().join(format!("{lines}.mp4"));
                    video::transcode(&input, &out, w >= h, lines, bitrate, audio).await?;
                    let encoded = read(&out).await?;
                    let name = format!("video_{lines}");
                    let key = self.put(&name, "mp4", encoded, "video/mp4").await?;
                    variants.insert(name, json!(key.clone()));
                    variants.insert("compressed".into(), json!(key));
                }
            }
            "audio" => {
                tokio::fs::write(&input, &bytes)
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                let probe = video::probe(&input).await?;
                if !probe.has_audio {
                    return Err(Failure::Fatal(
                        "PROCESSING_FAILED",
                        "no audio stream".into(),
                    ));
                }
                if mime == "audio/webm" && probe.has_video {
                    return Err(Failure::Fatal(
                        "INVALID_FILE_TYPE",
                        "declared audio/webm, but the content is a video".into(),
                    ));
                }
                set_duration(&mut metadata, probe.duration_ms);
                self.step(40, "transcoding").await?;
                let out = work.path().join("compressed.ogg");
                audio::to_opus(&input, &out).await?;
                let key = self
                    .put("compressed", "ogg", read(&out).await?, "audio/ogg")
                    .await?;
                variants.insert("compressed".into(), json!(key));
                self.step(75, "waveform").await?;
                let peaks = audio::peaks(&input).await?;
                let key = self
                    .put("waveform", "png", audio::picture(&peaks), "image/png")
                    .await?;
                variants.insert("waveform".into(), json!(key));
                metadata.waveform = Some(peaks);
            }
            _ => {
                tokio::fs::write(&input, &bytes)
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                let pdf = if mime == "application/pdf" {
                    input.clone()
                } else {
                    self.step(35, "converting").await?;
                    documents::word_to_pdf(&input, work.path()).await?
                };
                self.step(60, "preview").await?;
                metadata.pages = Some(documents::pages(&pdf).await?);
                let page = documents::first_page(&pdf, work.path()).await?;
                let preview = picture_to_webp("preview", page).await?;
                metadata.width = Some(preview.width);
                metadata.height = Some(preview.height);
                let key = self
                    .put("preview", "webp", preview.bytes, "image/webp")
                    .await?;
                variants.insert("preview".into(), json!(key));
            }
        }
        // What is served as the original is the bytes scanned here, under `processed/`: the
        // upload's own key stays writable through its signed URL until that expires, and a
        // second PUT there (another file of the same size) is never processed again, so
        // serving that key would serve what no scan saw. (A picture's original is already its
        // copy without metadata.)
        if !variants.contains_key("original") {
            let ext = banter_core::media::extension_for_mime(mime);
            let key = self.put("original", ext, bytes, mime).await?;
            variants.insert("original".into(), json!(key));
        }
        self.step(95, "finishing").await?;
        self.finish(mime, metadata, variants).await
    }

    /// End the file completed, with `media:processing:completed` in the same transaction.
    async fn finish(
        &self,
        mime: &str,
        metadata: MediaMetadata,
        variants: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Failure> {
        let (app, row) = (self.app, self.row);
        let variants = serde_json::Value::Object(variants);
        let metadata_json = serde_json::to_value(&metadata).unwrap_or_default();
        let processed = Processed {
            detected_mime: mime,
            width: metadata.width.map(|w| w as i32),
            height: metadata.height.map(|h| h as i32),
            duration_ms: metadata.duration_ms.map(|d| d.min(i32::MAX as u64) as i32),
            variants: &variants,
            metadata: &metadata_json,
        };
        let mut client = app.db.get().await.map_err(transient)?;
        let tx = client.transaction().await.map_err(transient)?;
        let done = media::complete(&tx, row.id, row.attempts, &processed)
            .await?
            .ok_or(Failure::Stopped)?;
        let event = ServerEvent::MediaProcessingCompleted(Box::new(describe(&done)));
        publish_status(&tx, &done, event).await?;
        tx.commit().await.map_err(transient)?;
        relay::wake(app, "media:processing:completed").await;
        Ok(())
    }

    /// Store an output under `processed/{fileId}/`, outside the trigger's prefix.
    async fn put(
        &self,
        name: &str,
        ext: &str,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<String, Failure> {
        let key = format!("{PROCESSED_PREFIX}{}/{name}.{ext}", self.row.id);
        self.written.lock().expect("not poisoned").push(key.clone());
        self.app
            .ports
            .blobs
            .put(&key, bytes.into(), content_type)
            .await?;
        Ok(key)
    }

    async fn discard_outputs(&self) {
        let keys = std::mem::take(&mut *self.written.lock().expect("not poisoned"));
        for key in keys {
            if let Err(e) = self.app.ports.blobs.delete(&key).await {
                tracing::warn!(error = %e, %key, "could not delete an abandoned output");
            }
        }
    }

    /// End the file failed with `code` (`INFECTED` also marks it infected) and tell the
    /// uploader, in one transaction.
    async fn fail(&self, code: &'static str, why: &str) -> Result<Outcome, String> {
        self.discard_outputs().await;
        tracing::info!(file = %self.row.id, code, %why, "processing failed");
        let id = self.row.id;
        let record = async {
            let mut client = self.app.db.get().await?;
            let tx = client.transaction().await?;
            let failed = if code == "INFECTED" {
                media::mark_infected(&tx, id, why).await?
            } else {
                media::fail(&tx, id, code, why).await?
            };
            if let Some(row) = &failed {
                let event = ServerEvent::MediaProcessingFailed(status_of(row));
                publish_status(&tx, row, event).await?;
            }
            tx.commit().await?;
            Ok::<_, banter_core::ApiError>(())
        };
        record.await.map_err(|e| e.to_string())?;
        relay::wake(self.app, "media:processing:failed").await;
        Ok(Outcome::of(self.row, "failed", Some(code)))
    }
}

fn set_duration(metadata: &mut MediaMetadata, duration_ms: Option<u64>) {
    metadata.duration_ms = duration_ms;
    metadata.duration = duration_ms.map(|d| d as f64 / 1000.0);
}

fn ext_of(content_type: &str) -> &'static str {
    match content_type {
        "image/webp" => "webp",
        "image/png" => "png",
        _ => "jpg",
    }
}

async fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    tokio::fs::read(path)
        .await
        .map_err(|e| Failure::Transient(format!("reading {}: {e}", path.display())))
}

/// A PNG a tool made, as a WebP variant of its own size.
async fn picture_to_webp(name: &'static str, png: Vec<u8>) -> Result<images::Variant, Failure> {
    tokio::task::spawn_blocking(move || {
        let picture = image::load_from_memory(&png)
            .map_err(|e| Failure::Fatal("PROCESSING_FAILED", e.to_string()))?;
        Ok(images::webp_variant(name, &picture))
    })
    .await
    .map_err(|e| Failure::Transient(e.to_string()))?
}
