//! The media pipeline end to end through the local stack: presigned and multipart uploads,
//! the virus scan (a real `clamd` with test signatures), the real-type check, pictures,
//! video, audio and documents processed with the tools the Lambda image has, progress over
//! the WebSocket and in sync, and who may see a file. Fixtures are made here, at run time.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use banter_core::ports::BlobStore;
use image::metadata::Orientation;
use img_parts::ImageEXIF;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{spawn_app, wait_until, TestApp, User};

/// A PNG of `width` x `height` pixels all of colour `rgb`.
pub(crate) fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(width, height, image::Rgb(rgb))
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Ask for an upload URL, `PUT` the bytes with the headers it names; the file id.
pub(crate) async fn upload(app: &TestApp, user: &User, request: Value, bytes: &[u8]) -> String {
    let (status, body) = app
        .post("/api/upload/presigned-url", Some(&user.access), request)
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let status = put_upload(app, data, bytes).await;
    assert!(status.is_success(), "PUT {status}");
    data["fileId"].as_str().unwrap().to_owned()
}

/// `PUT` `bytes` to an upload URL (`data` as `POST /api/upload/presigned-url` answers it), with
/// the headers it names; the status.
async fn put_upload(app: &TestApp, data: &Value, bytes: &[u8]) -> reqwest::StatusCode {
    let mut put = app
        .http
        .put(data["uploadUrl"].as_str().unwrap())
        .body(bytes.to_vec());
    for (name, value) in data["headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    put.send().await.unwrap().status()
}

/// Wait until the file is processed (or failed); its `GET /api/media/{id}` data then.
pub(crate) async fn processed(app: &TestApp, user: &User, file: &str) -> Value {
    let path = format!("/api/media/{file}/status");
    wait_until("the file is processed", Duration::from_secs(90), || async {
        let (_, body) = app.get(&path, Some(&user.access)).await;
        matches!(
            body["data"]["status"].as_str(),
            Some("completed" | "failed")
        )
    })
    .await;
    let (status, body) = app
        .get(&format!("/api/media/{file}"), Some(&user.access))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn status_of(app: &TestApp, user: &User, file: &str) -> Value {
    app.get(&format!("/api/media/{file}/status"), Some(&user.access))
        .await
        .1["data"]
        .clone()
}

/// The bytes a signed URL answers with (200).
pub(crate) async fn download(app: &TestApp, url: &Value) -> Vec<u8> {
    fetch(app, url).await.1
}

/// The `Content-Type` a signed URL answers with, and its bytes.
async fn fetch(app: &TestApp, url: &Value) -> (String, Vec<u8>) {
    let answer = app
        .http
        .get(url.as_str().expect("a URL"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{url}");
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, answer.bytes().await.unwrap().to_vec())
}

/// A big-endian EXIF: Orientation 6 (turn 90° clockwise to show) and a GPS IFD (latitude ref).
fn exif_with_orientation_and_gps() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    t.extend_from_slice(&2u16.to_be_bytes());
    // Orientation, SHORT, 1 = 6
    t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    // GPSInfo, LONG, 1 = offset of the GPS IFD (8 + 2 + 24 + 4 = 38)
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    t.extend_from_slice(&0u32.to_be_bytes());
    // GPS IFD: GPSLatitudeRef ASCII "N"
    t.extend_from_slice(&1u16.to_be_bytes());
    t.extend_from_slice(&[0x00, 0x01, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    t.extend_from_slice(&0u32.to_be_bytes());
    t
}

/// A 600x400 JPEG (a gradient) that says to show it turned, with a GPS position.
fn jpeg_with_exif() -> Vec<u8> {
    let picture = image::RgbImage::from_fn(600, 400, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, 90])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&picture)
        .unwrap();
    let mut parts = img_parts::jpeg::Jpeg::from_bytes(jpeg.into()).unwrap();
    parts.set_exif(Some(exif_with_orientation_and_gps().into()));
    parts.encoder().bytes().to_vec()
}

fn decode(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).expect("a picture")
}

/// `ffprobe`'s streams of a file.
fn probe(bytes: &[u8], dir: &Path, name: &str) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Make a fixture with ffmpeg's own sources.
fn ffmpeg(dir: &Path, args: &[&str], name: &str) -> Vec<u8> {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// The media function answers, for each upload it brought to an outcome, what the upload
/// metrics count (`fn_media::metrics`): its kind, its size and how long processing took.
#[tokio::test]
async fn the_media_functions_answer_measures_each_upload() {
    use banter_core::ports::FileBlobStore;
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let picture = png(64, 48, [30, 30, 200]);
    let (status, body) = app
        .post(
            "/api/upload/presigned-url",
            Some(&alice.access),
            json!({ "fileType": "image", "fileName": "p.png", "fileSize": picture.len() }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let file = body["data"]["fileId"].as_str().unwrap().to_owned();
    let key = body["data"]["fileKey"].as_str().unwrap().to_owned();
    // Stored beside the stack's blob store, not through it: the stack is told of nothing and
    // leaves the file to this invocation.
    let beside = FileBlobStore::new(app.data_dir().join("blobs"), "http://x".into(), vec![1; 32]);
    beside
        .put(&key, picture.clone().into(), "image/png")
        .await
        .unwrap();
    // The sample event (events/media.json), for this object.
    let mut event: Value =
        serde_json::from_str(include_str!("../../../../events/media.json")).unwrap();
    event["Records"][0]["s3"]["object"]["key"] = json!(key);
    event["Records"][0]["s3"]["object"]["size"] = json!(picture.len());
    let event = serde_json::from_value(event).unwrap();
    let config = fn_media::MediaConfig {
        clamd_socket: Some(crate::support::clamd_socket().await),
    };
    let answer = fn_media::handle_with(&config, app.app().clone(), event)
        .await
        .unwrap();
    let processed = &answer["processed"][0];
    assert_eq!(
        (
            &processed["fileId"],
            &processed["status"],
            &processed["fileType"]
        ),
        (&json!(file), &json!("completed"), &json!("image")),
        "{answer}"
    );
    assert_eq!(processed["fileSize"], picture.len(), "{answer}");
    assert!(processed["processingMs"].is_u64(), "{answer}");
    app.stop().await;
}

/// With a CDN (`media_cdn`, CloudFront on AWS), every URL of a file, its original and each
/// variant, is the CDN's, signed for the URL lifetime; without one, the blob store's. Either
/// way, the same in every answer of a signing period.
#[tokio::test]
async fn with_a_cdn_every_url_of_a_file_is_the_cdns_signed() {
    use banter_core::media_cdn::MediaCdn;
    use banter_core::ports::SIGNING_PERIOD_SECS;
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let picture = png(64, 48, [30, 30, 200]);
    let file = upload(
        &app,
        &alice,
        json!({ "fileType": "image", "fileName": "p.png", "fileSize": picture.len() }),
        &picture,
    )
    .await;
    // Without a CDN, every answer of one signing period hands out the same URLs (signed from
    // its start), so a client's HTTP cache keeps the file instead of fetching it per answer.
    let period = || {
        chrono::Utc::now()
            .timestamp()
            .div_euclid(SIGNING_PERIOD_SECS)
    };
    let direct = loop {
        let began = period();
        let first = processed(&app, &alice, &file).await;
        // Past the second the embedded store's URLs carry.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let again = processed(&app, &alice, &file).await;
        if period() == began {
            assert_eq!(
                again["urls"], first["urls"],
                "the same period, the same URLs"
            );
            break again;
        }
    };
    assert_eq!(direct["processingStatus"], "completed", "{direct}");
    let original = app.http.get(direct["urls"]["original"].as_str().unwrap());
    assert_eq!(
        original.send().await.unwrap().status(),
        200,
        "signed from the period's start, it works"
    );
    let urls = |media: &banter_core::api::models::MediaFile| -> Vec<String> {
        let v = serde_json::to_value(&media.urls).unwrap();
        let mut found = Vec::new();
        for (_, url) in v.as_object().unwrap() {
            match url {
                Value::String(url) => found.push(url.clone()),
                Value::Object(more) => {
                    found.extend(more.values().map(|u| u.as_str().unwrap().to_owned()))
                }
                _ => {}
            }
        }
        found
    };
    let caller = app.app().tokens.verify_access(&alice.access).unwrap();
    let id: Uuid = file.parse().unwrap();
    let from_store = banter_core::services::media::get(app.app(), caller, id)
        .await
        .unwrap();
    let store_urls = urls(&from_store);
    assert!(
        store_urls.len() >= 4,
        "original and variants: {store_urls:?}"
    );
    assert!(store_urls.iter().all(|u| !u.contains("cloudfront")));

    let key = include_str!("../../../../shared/core/data/media-cdn-test-key.pem");
    let cdn = MediaCdn::new("https://d1.cloudfront.net", "K1", key).unwrap();
    let with_cdn = app.app_with(|s| s.media_cdn = Some(cdn));
    let before = chrono::Utc::now().timestamp();
    let from_cdn = banter_core::services::media::get(&with_cdn, caller, id)
        .await
        .unwrap();
    let cdn_urls = urls(&from_cdn);
    assert_eq!(cdn_urls.len(), store_urls.len(), "{cdn_urls:?}");
    let first_query = cdn_urls[0].split_once('?').unwrap().1;
    for url in &cdn_urls {
        let (resource, query) = url.split_once('?').unwrap();
        assert!(
            resource.starts_with("https://d1.cloudfront.net/uploads/")
                || resource.starts_with(&format!("https://d1.cloudfront.net/processed/{file}/")),
            "{url}"
        );
        assert_eq!(query, first_query, "one signature for the file's URLs");
    }
    // Until the URL lifetime from now, of this file's objects.
    let policy = first_query
        .split('&')
        .find_map(|p| p.strip_prefix("Policy="))
        .unwrap()
        .replace('-', "+")
        .replace('_', "=")
        .replace('~', "/");
    use base64::Engine;
    let policy: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(policy)
            .unwrap(),
    )
    .unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Resource"],
        format!("https://d1.cloudfront.net/*/{file}*")
    );
    let expires = statement["Condition"]["DateLessThan"]["AWS:EpochTime"]
        .as_i64()
        .unwrap();
    let ttl = app.app().settings.uploads.url_ttl.as_secs() as i64;
    assert!(
        (before + ttl..=before + ttl + 300 + 5).contains(&expires) && expires % 300 == 0,
        "the URL lives its TTL, to the end of a five-minute period: {policy}"
    );
    assert!(first_query.ends_with("&Key-Pair-Id=K1&Hash-Algorithm=SHA256"));
    app.stop().await;
}

#[tokio::test]
async fn a_picture_is_oriented_resized_to_webp_and_stripped_of_its_metadata() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut ws = app.ws(&alice.access).await;
    let cursor = app.get("/api/sync", Some(&alice.access)).await.1["data"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let file = upload(
        &app,
        &alice,
        json!({"fileType": "image", "fileName": "holiday.jpg", "fileSize": jpeg_with_exif().len(), "chatId": chat}),
        &jpeg_with_exif(),
    )
    .await;
    // Processing is told over the WebSocket, each step with its progress.
    let started = ws.next_event("media:processing:started").await;
    assert_eq!(started["data"]["fileId"], file.as_str());
    let progress = ws.next_event("media:processing:progress").await;
    assert!(progress["data"]["progress"].as_i64().unwrap() > 0);
    let completed = ws.next_event("media:processing:completed").await;
    assert_eq!(completed["data"]["id"], file.as_str());
    assert!(
        completed["cursor"].is_string(),
        "pushed events carry their cursor"
    );

    let media = processed(&app, &alice, &file).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    assert_eq!(media["mimeType"], "image/jpeg");
    // Shown turned: 400 wide, 600 high.
    assert_eq!(
        (
            media["metadata"]["width"].clone(),
            media["metadata"]["height"].clone()
        ),
        (json!(400), json!(600))
    );
    let urls = &media["urls"];
    // Served as stored (a browser shows an image by its type).
    assert_eq!(fetch(&app, &urls["original"]).await.0, "image/jpeg");
    for (name, size) in [
        ("thumbnail", (150, 150)),
        ("medium", (267, 400)),
        ("large", (400, 600)),
    ] {
        let (content_type, bytes) = fetch(&app, &urls[name]).await;
        assert_eq!(content_type, "image/webp", "{name}");
        assert_eq!(&bytes[..4], b"RIFF", "{name} is WebP");
        assert_eq!(&bytes[8..12], b"WEBP");
        let picture = decode(&bytes);
        assert_eq!(
            (picture.width(), picture.height()),
            size,
            "{name}: never upscaled past 400x600"
        );
        // Lossy (VP8), not lossless (VP8L).
        assert!(
            bytes.windows(4).any(|w| w == b"VP8 "),
            "{name} is lossy WebP"
        );
    }
    // The original: the same picture data, no GPS, no metadata but the orientation.
    let original = download(&app, &urls["original"]).await;
    let parts = img_parts::jpeg::Jpeg::from_bytes(original.clone().into()).unwrap();
    let exif = parts.exif().expect("the orientation is kept");
    assert_eq!(
        Orientation::from_exif_chunk(&exif),
        Some(Orientation::Rotate90)
    );
    assert!(
        !exif.windows(2).any(|w| w == [0x88, 0x25]),
        "no GPS pointer left"
    );
    assert!(
        exif.len() < 40,
        "nothing but the orientation: {} bytes",
        exif.len()
    );
    assert_eq!(
        decode(&original).width(),
        600,
        "stored as taken; viewers turn it"
    );

    // Nobody else sees it until a message shows it; then the chat's members do.
    for outsider in [&bob, &carol] {
        let (status, _) = app
            .get(&format!("/api/media/{file}"), Some(&outsider.access))
            .await;
        assert_eq!(status, 404);
    }
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({"clientMessageId": "m1", "type": "image", "mediaId": file}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, seen) = app
        .get(&format!("/api/media/{file}"), Some(&bob.access))
        .await;
    assert_eq!(status, 200);
    assert!(seen["data"]["urls"]["large"].is_string());
    let (status, _) = app
        .get(&format!("/api/media/{file}"), Some(&carol.access))
        .await;
    assert_eq!(status, 404, "an outsider");
    let (status, _) = app
        .get(&format!("/api/media/{file}/status"), Some(&carol.access))
        .await;
    assert_eq!(status, 404);
    // A signed URL names one object: another variant's path with this signature is refused.
    let large = seen["data"]["urls"]["large"].as_str().unwrap();
    let thumb = seen["data"]["urls"]["thumbnail"].as_str().unwrap();
    let forged = format!(
        "{}?{}",
        thumb.split('?').next().unwrap(),
        large.split_once('?').unwrap().1
    );
    assert_eq!(
        app.http.get(forged).send().await.unwrap().status().as_u16(),
        403
    );

    // Sync holds the same events the socket pushed.
    let (_, sync) = app
        .get(
            &format!("/api/sync?since={cursor}&limit=100"),
            Some(&alice.access),
        )
        .await;
    let names: Vec<&str> = sync["data"]["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["event"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"media:processing:completed"), "{names:?}");

    // Deleted for everyone: the file and its blobs go (housekeeping).
    let message = body["data"]["id"].as_str().unwrap();
    let (status, _) = app
        .delete(
            &format!("/api/chats/{chat}/messages/{message}"),
            &alice.access,
            json!({"deleteForEveryone": true}),
        )
        .await;
    assert_eq!(status, 200);
    let key = format!("processed/{file}/large.webp");
    wait_until(
        "the file's blobs are deleted",
        Duration::from_secs(10),
        || async { app.stack.shared.blobs.get(&key).await.unwrap().is_none() },
    )
    .await;
    let (status, _) = app
        .get(&format!("/api/media/{file}"), Some(&alice.access))
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_profile_pictures_file_is_seen_as_its_privacy_setting_shows_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let jpeg = jpeg_with_exif();
    let file = upload(
        &app,
        &bob,
        json!({ "fileName": "me.jpg", "fileType": "image", "fileSize": jpeg.len() }),
        &jpeg,
    )
    .await;
    processed(&app, &bob, &file).await;
    let show_to = |audience: &'static str| {
        let (app, bob, file) = (&app, &bob, &file);
        async move {
            let (status, body) = app
                .put(
                    "/api/users/profile",
                    &bob.access,
                    json!({ "profilePictureMediaId": file,
                            "privacySettings": { "profilePicture": audience } }),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    };
    let seen_by = |user: &User| {
        let (app, path, token) = (&app, format!("/api/media/{file}"), user.access.clone());
        async move { app.get(&path, Some(&token)).await.0 }
    };
    show_to("everyone").await;
    assert_eq!(seen_by(&alice).await, 200);
    show_to("contacts").await;
    assert_eq!(seen_by(&alice).await, 404, "not his contact");
    let (status, _) = app
        .post(
            "/api/contacts",
            Some(&bob.access),
            json!({ "userId": alice.id }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(seen_by(&alice).await, 200, "his contact now");
    show_to("nobody").await;
    assert_eq!(
        seen_by(&alice).await,
        404,
        "who kept its id sees it no more"
    );
    assert_eq!(seen_by(&bob).await, 200, "its owner does");
    app.stop().await;
}

/// A profile's `profilePictureUrl` (PRD `UserProfile`) downloads its picture's 400-pixel WebP,
/// signed, wherever the profile is answered to someone its privacy setting shows the picture to
/// (their own profile, another's profile, search, contacts, a chat's participants, as the
/// picture of a 1:1 chat with them, listed or opened, and as a listed message's sender); to
/// anyone else it is null, and so it is in events, which the log keeps past a signed URL's
/// expiry.
#[tokio::test]
async fn a_profile_picture_url_downloads_the_picture_for_who_may_see_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let picture = png(900, 600, [200, 30, 30]);
    let request = json!({ "fileName": "me.png", "fileType": "image", "fileSize": picture.len() });
    let file = upload(&app, &bob, request, &picture).await;
    processed(&app, &bob, &file).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, own) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "profilePictureMediaId": file }),
        )
        .await;
    assert_eq!(status, 200, "{own}");
    let shown = download(&app, &own["data"]["profilePictureUrl"]).await;
    let medium = decode(&shown);
    assert_eq!((medium.width(), medium.height()), (400, 267));
    let told = bob_ws.next_event("user:profile:updated").await;
    assert_eq!(
        told["data"]["profilePictureMediaId"],
        file.as_str(),
        "{told}"
    );
    assert!(told["data"]["profilePictureUrl"].is_null(), "{told}");
    let (_, again) = app.get("/api/users/profile", Some(&bob.access)).await;
    assert_eq!(
        download(&app, &again["data"]["profilePictureUrl"]).await,
        shown
    );

    let chat = app.open_chat(&alice, &bob).await;
    let (status, contact) = app
        .post(
            "/api/contacts",
            Some(&alice.access),
            json!({ "userId": bob.id }),
        )
        .await;
    assert_eq!(status, 200, "{contact}");
    let mut alice_ws = app.ws(&alice.access).await;
    app.sent(&bob, &chat, "a message from bob").await;
    let told = alice_ws.next_event("message:received").await;
    let sender = &told["data"]["message"]["sender"];
    assert_eq!(sender["id"], bob.id.as_str(), "{told}");
    assert!(sender.get("profilePictureUrl").is_none(), "{told}");
    let username = own["data"]["username"].as_str().unwrap();
    let urls_alice_gets = || async {
        let (_, profile) = app
            .get(&format!("/api/users/{}", bob.id), Some(&alice.access))
            .await;
        let (_, search) = app
            .get(
                &format!("/api/users/search?query={username}"),
                Some(&alice.access),
            )
            .await;
        let (_, contacts) = app.get("/api/contacts", Some(&alice.access)).await;
        let (_, details) = app
            .get(&format!("/api/chats/{chat}"), Some(&alice.access))
            .await;
        let listed = app.chat_row(&alice, &chat).await;
        let (_, history) = app
            .get(&format!("/api/chats/{chat}/messages"), Some(&alice.access))
            .await;
        let from_bob = history["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["sender"]["id"] == bob.id.as_str())
            .unwrap()
            .clone();
        assert_eq!(listed["otherUserId"], bob.id.as_str(), "{listed}");
        assert_eq!(details["data"]["otherUserId"], bob.id.as_str(), "{details}");
        let participant = details["data"]["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == bob.id.as_str())
            .unwrap()
            .clone();
        [
            ("profile", profile["data"]["profilePictureUrl"].clone()),
            (
                "search",
                search["data"]["users"][0]["profilePictureUrl"].clone(),
            ),
            (
                "contacts",
                contacts["data"][0]["user"]["profilePictureUrl"].clone(),
            ),
            ("participants", participant["profilePictureUrl"].clone()),
            ("chat", details["data"]["avatarUrl"].clone()),
            ("chat list", listed["avatarUrl"].clone()),
            ("sender", from_bob["sender"]["profilePictureUrl"].clone()),
        ]
    };
    for (place, url) in urls_alice_gets().await {
        assert!(url.is_string(), "{place}: {url}");
        assert_eq!(download(&app, &url).await, shown, "{place}");
    }
    assert!(
        contact["data"]["user"]["profilePictureUrl"].is_string(),
        "{contact}"
    );

    let (status, body) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "privacySettings": { "profilePicture": "nobody" } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["profilePictureUrl"].is_string(),
        "his own: {body}"
    );
    for (place, url) in urls_alice_gets().await {
        assert!(url.is_null(), "{place}: {url}");
    }
    app.stop().await;
}

/// A changed or removed profile picture is told (`user:profile_picture_updated`: its file, no
/// URL) to those whom its owner's `profilePicture` setting shows it (a contact), through the log
/// that sync reads, and to nobody else (someone who only shares a group); the same picture set
/// again tells nobody anything; a change of the setting tells the picture to those it now shows
/// it to, and null to those it no longer does.
#[tokio::test]
async fn a_new_profile_picture_is_told_to_who_may_see_it() {
    use crate::sync::{present, sync_all};
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let (status, body) = app
        .post(
            "/api/contacts",
            Some(&bob.access),
            json!({ "userId": alice.id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.open_group(&bob, "bob and carol", &[&carol]).await;
    let picture = png(200, 200, [10, 10, 200]);
    let request = json!({ "fileName": "me.png", "fileType": "image", "fileSize": picture.len() });
    let file = upload(&app, &bob, request, &picture).await;
    processed(&app, &bob, &file).await;
    let (alice_from, carol_from) = (present(&app, &alice).await, present(&app, &carol).await);
    let mut alice_ws = app.ws(&alice.access).await;
    let set_picture = |picture: Value| {
        let (app, bob) = (&app, &bob);
        async move {
            let body = json!({ "profilePictureMediaId": picture });
            let (status, body) = app.put("/api/users/profile", &bob.access, body).await;
            assert_eq!(status, 200, "{body}");
        }
    };

    set_picture(json!(file)).await;
    let told = alice_ws.next_event("user:profile_picture_updated").await;
    assert_eq!(
        (
            &told["data"]["userId"],
            &told["data"]["profilePictureMediaId"]
        ),
        (&json!(bob.id), &json!(file)),
        "{told}"
    );
    assert!(told["data"].get("profilePictureUrl").is_none(), "{told}");
    set_picture(json!(file)).await;
    set_picture(Value::Null).await;
    let told = alice_ws.next_event("user:profile_picture_updated").await;
    assert_eq!(
        told["data"]["profilePictureMediaId"],
        Value::Null,
        "the same picture again told nothing: {told}"
    );

    // The setting moves, and with it who sees the picture: each is told it as they now see it.
    set_picture(json!(file)).await;
    alice_ws.next_event("user:profile_picture_updated").await;
    let show_to = |audience: &'static str| {
        let (app, bob) = (&app, &bob);
        async move {
            let body = json!({ "privacySettings": { "profilePicture": audience } });
            let (status, body) = app.put("/api/users/profile", &bob.access, body).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    show_to("nobody").await;
    let told = alice_ws.next_event("user:profile_picture_updated").await;
    assert_eq!(
        told["data"]["profilePictureMediaId"],
        Value::Null,
        "hidden: {told}"
    );
    show_to("contacts").await;
    let told = alice_ws.next_event("user:profile_picture_updated").await;
    assert_eq!(
        told["data"]["profilePictureMediaId"],
        json!(file),
        "shown: {told}"
    );
    show_to("everyone").await;

    let named = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["event"] == "user:profile_picture_updated")
            .map(|e| e["data"]["profilePictureMediaId"].clone())
            .collect()
    };
    let (alice_log, _) = sync_all(&app, &alice, &alice_from).await;
    assert_eq!(
        named(&alice_log),
        [
            json!(file),
            Value::Null,
            json!(file),
            Value::Null,
            json!(file)
        ],
        "contacts to everyone shows her nothing new"
    );
    let (carol_log, _) = sync_all(&app, &carol, &carol_from).await;
    assert_eq!(
        named(&carol_log),
        Vec::<Value>::new(),
        "a group is not enough"
    );
    app.stop().await;
}

/// A group's picture can be an image uploaded to Banter (`avatarMediaId`): `avatarUrl` then
/// answers a signed URL to its 400-pixel WebP in the chat, the chat list and the invite link's
/// preview; events name the file, not a URL; its members may read the file and nobody else; a
/// former member keeps the picture they left with; and housekeeping leaves the file alone even
/// when the message it was sent in is deleted for everyone.
#[tokio::test]
async fn a_group_picture_uploaded_to_banter_is_shown_by_signed_url() {
    use banter_core::services::media::sweep;
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let first = png(900, 600, [20, 120, 220]);
    let request = json!({ "fileName": "g.png", "fileType": "image", "fileSize": first.len() });
    let first_file = upload(&app, &alice, request, &first).await;
    processed(&app, &alice, &first_file).await;
    let (status, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "Pictures", "participantIds": [bob.id],
                    "avatarUrl": "https://example.com/g.png", "avatarMediaId": first_file }),
        )
        .await;
    assert_eq!(status, 400, "one picture or the other: {body}");
    let (status, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "Pictures", "participantIds": [bob.id],
                    "avatarMediaId": first_file }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let chat = body["data"]["id"].as_str().unwrap().to_owned();
    let shown = download(&app, &body["data"]["avatarUrl"]).await;
    let medium = decode(&shown);
    assert_eq!((medium.width(), medium.height()), (400, 267));
    let listed = app.chat_row(&bob, &chat).await;
    assert_eq!(listed["avatarMediaId"], first_file.as_str(), "{listed}");
    assert_eq!(download(&app, &listed["avatarUrl"]).await, shown);
    let media_status = |user: &User, file: &str| {
        let (app, path, token) = (&app, format!("/api/media/{file}"), user.access.clone());
        async move { app.get(&path, Some(&token)).await.0 }
    };
    assert_eq!(media_status(&bob, &first_file).await, 200, "a member");
    assert_eq!(media_status(&carol, &first_file).await, 404, "nobody else");
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}"),
            &bob.access,
            json!({ "avatarMediaId": first_file }),
        )
        .await;
    assert_eq!(status, 403, "admins edit this group's info: {body}");

    // A picture sent in the chat becomes its picture; the members are told its file.
    let second = png(300, 300, [250, 200, 0]);
    let request = json!({ "fileName": "s.png", "fileType": "image", "fileSize": second.len(),
                          "chatId": chat });
    let second_file = upload(&app, &alice, request, &second).await;
    processed(&app, &alice, &second_file).await;
    let (status, sent) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "pic", "type": "image", "mediaId": second_file }),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}"),
            &alice.access,
            json!({ "avatarMediaId": second_file }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let told = bob_ws.next_event("chat:updated").await;
    assert_eq!(
        told["data"]["avatarMediaId"],
        second_file.as_str(),
        "{told}"
    );
    assert!(told["data"].get("avatarUrl").is_none(), "{told}");
    assert_eq!(told["data"]["changed"], json!(["avatarUrl"]), "{told}");
    let (status, link) = app
        .post(
            &format!("/api/chats/{chat}/invite-link"),
            Some(&alice.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let code = link["data"]["code"].as_str().unwrap();
    let (_, preview) = app
        .get(&format!("/api/invites/{code}"), Some(&carol.access))
        .await;
    let second_shown = download(&app, &preview["data"]["avatarUrl"]).await;
    assert_eq!(decode(&second_shown).width(), 300);

    // Bob leaves with that picture; the group moves on to an outside address.
    let (status, body) = app
        .delete(&format!("/api/chats/{chat}"), &bob.access, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}"),
            &alice.access,
            json!({ "avatarUrl": "https://example.com/group.png" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["avatarUrl"], &body["data"]["avatarMediaId"]),
        (&json!("https://example.com/group.png"), &Value::Null)
    );
    let (_, kept) = app
        .get(&format!("/api/chats/{chat}"), Some(&bob.access))
        .await;
    assert_eq!(
        kept["data"]["avatarMediaId"],
        second_file.as_str(),
        "{kept}"
    );
    assert_eq!(
        download(&app, &kept["data"]["avatarUrl"]).await,
        second_shown
    );
    assert_eq!(media_status(&bob, &second_file).await, 200, "as he left it");
    assert_eq!(
        media_status(&bob, &first_file).await,
        404,
        "no longer his group's"
    );

    let (status, body) = app
        .put(
            &format!("/api/chats/{chat}"),
            &alice.access,
            json!({ "avatarUrl": null, "avatarMediaId": null }),
        )
        .await;
    assert_eq!(status, 200, "both null clear the picture: {body}");
    assert_eq!(body["data"]["avatarUrl"], Value::Null);

    // Its message deleted for everyone, the file stays: it is still a picture.
    let message = sent["data"]["id"].as_str().unwrap();
    let (status, body) = app
        .delete(
            &format!("/api/chats/{chat}/messages/{message}"),
            &alice.access,
            json!({ "deleteForEveryone": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    sweep(app.app()).await.unwrap();
    assert_eq!(media_status(&bob, &second_file).await, 200, "not swept");
    app.stop().await;
}

/// A message's file comes with the answers that show it (the send, history, the gallery,
/// search, starred): `mediaUrl` and `thumbnailUrl` are signed URLs to the file as shown and to
/// its thumbnail, so a client shows a page of pictures without asking for each; the event that
/// delivered it carries none (the log outlives the signature), nor does a view-once picture.
#[tokio::test]
async fn answers_sign_a_messages_file_and_events_do_not() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let picture = png(900, 600, [90, 160, 30]);
    let uploaded = |bytes: Vec<u8>| {
        let (app, alice, chat) = (&app, &alice, &chat);
        async move {
            let request = json!({ "fileName": "p.png", "fileType": "image",
                                  "fileSize": bytes.len(), "chatId": chat });
            let file = upload(app, alice, request, &bytes).await;
            processed(app, alice, &file).await;
            file
        }
    };
    let file = uploaded(picture.clone()).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let (status, sent) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "pic", "type": "image", "mediaId": file,
                    "content": "sunflowers at dusk" }),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let shown = download(&app, &sent["data"]["mediaUrl"]).await;
    assert_eq!(
        decode(&shown).width(),
        900,
        "the picture without its metadata"
    );
    let thumbnail = decode(&download(&app, &sent["data"]["thumbnailUrl"]).await);
    assert_eq!((thumbnail.width(), thumbnail.height()), (150, 150));
    let told = bob_ws.next_event("message:received").await;
    let delivered = &told["data"]["message"];
    assert_eq!(delivered["mediaId"], file.as_str(), "{told}");
    assert!(delivered["mediaUrl"].is_null(), "{told}");
    assert!(delivered["thumbnailUrl"].is_null(), "{told}");

    let message = sent["data"]["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages/{message}/star"),
            Some(&bob.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let once = uploaded(png(40, 40, [1, 2, 3])).await;
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "once", "type": "image", "mediaId": once,
                    "viewOnce": true }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&bob.access))
        .await;
    let (_, gallery) = app
        .get(
            &format!("/api/chats/{chat}/media?type=image"),
            Some(&bob.access),
        )
        .await;
    let (_, found) = app
        .get("/api/messages/search?q=sunflowers", Some(&bob.access))
        .await;
    let (_, starred) = app.get("/api/messages/starred", Some(&bob.access)).await;
    let in_page = |page: &Value, id: &str| -> Value {
        page.as_array()
            .unwrap()
            .iter()
            .map(|m| m.get("message").unwrap_or(m))
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {page}"))
            .clone()
    };
    for (place, page) in [
        ("history", &history),
        ("gallery", &gallery),
        ("search", &found),
        ("starred", &starred),
    ] {
        let seen = in_page(&page["data"], message);
        assert_eq!(download(&app, &seen["mediaUrl"]).await, shown, "{place}");
        assert!(seen["thumbnailUrl"].is_string(), "{place}: {seen}");
    }
    let opened_once = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["clientMessageId"] == "once")
        .unwrap();
    assert!(
        opened_once["mediaUrl"].is_null() && opened_once["thumbnailUrl"].is_null(),
        "a view-once picture is only opened: {opened_once}"
    );
    app.stop().await;
}

/// Before anyone joins, the lists show pictures too: an invitation shows the group's, and a join
/// request its requester's, as their privacy shows it to the admin asking.
#[tokio::test]
async fn invitations_and_join_requests_show_pictures() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let picture_of = |user: &User, rgb: [u8; 3]| {
        let (app, user) = (&app, user.clone());
        async move {
            let bytes = png(500, 500, rgb);
            let request =
                json!({ "fileName": "p.png", "fileType": "image", "fileSize": bytes.len() });
            let file = upload(app, &user, request, &bytes).await;
            processed(app, &user, &file).await;
            file
        }
    };
    let (status, body) = app
        .put(
            "/api/users/profile",
            &bob.access,
            json!({ "privacySettings": { "groups": "nobody" } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let group_picture = picture_of(&alice, [200, 0, 0]).await;
    let (status, body) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "group", "name": "Asked", "participantIds": [bob.id],
                    "avatarMediaId": group_picture }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let chat = body["data"]["id"].as_str().unwrap().to_owned();
    let group_shown = download(&app, &body["data"]["avatarUrl"]).await;
    let (_, invitations) = app.get("/api/chats/invitations", Some(&bob.access)).await;
    let invitation = &invitations["data"][0];
    assert_eq!(invitation["chatId"], chat.as_str(), "{invitations}");
    assert_eq!(download(&app, &invitation["avatarUrl"]).await, group_shown);

    let carols = picture_of(&carol, [0, 0, 200]).await;
    let (status, own) = app
        .put(
            "/api/users/profile",
            &carol.access,
            json!({ "profilePictureMediaId": carols }),
        )
        .await;
    assert_eq!(status, 200, "{own}");
    let carol_shown = download(&app, &own["data"]["profilePictureUrl"]).await;
    let (status, link) = app
        .post(
            &format!("/api/chats/{chat}/invite-link"),
            Some(&alice.access),
            json!({ "requireApproval": true }),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    let code = link["data"]["code"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/invites/{code}/join"),
            Some(&carol.access),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &body["data"]["status"]),
        (200, &json!("requested")),
        "{body}"
    );
    let (_, requests) = app
        .get(
            &format!("/api/chats/{chat}/join-requests"),
            Some(&alice.access),
        )
        .await;
    let request = &requests["data"][0];
    assert_eq!(request["userId"], carol.id.as_str(), "{requests}");
    assert_eq!(
        download(&app, &request["profilePictureUrl"]).await,
        carol_shown
    );
    app.stop().await;
}

/// A file whose worker stopped without an outcome (crashed, or ran out of time or memory) and
/// that no retry took over is failed by the scheduled run once it has said nothing for
/// `media_processing_stale`, and the chat it was sent to is told: it does not show as
/// processing for ever. A retry that comes later finds nothing to take.
#[tokio::test]
async fn processing_that_stopped_without_finishing_fails() {
    use banter_core::db::media;
    use banter_core::services::relay;
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let (status, body) = app
        .post(
            "/api/upload/presigned-url",
            Some(&alice.access),
            json!({ "fileType": "image", "fileName": "p.png", "fileSize": 100, "chatId": chat }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let file = body["data"]["fileId"].as_str().unwrap().to_owned();
    let key = body["data"]["fileKey"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "early", "type": "image", "mediaId": file }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut bob_ws = app.ws(&bob.access).await;
    // A worker takes the file, and is gone.
    let stale = app.app().settings.media_processing_stale.as_secs_f64();
    let taken = media::claim(&app.app().db, &key, stale).await.unwrap();
    assert!(taken.is_some());

    relay::scheduled(app.app()).await.unwrap();
    assert_eq!(
        status_of(&app, &alice, &file).await["status"],
        "processing",
        "within its time, the worker may still be at it"
    );
    let impatient = app.app_with(|s| s.media_processing_stale = Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(20)).await;
    relay::scheduled(&impatient).await.unwrap();
    let status = status_of(&app, &alice, &file).await;
    assert_eq!(
        (&status["status"], &status["error"]),
        (&json!("failed"), &json!("PROCESSING_FAILED")),
        "{status}"
    );
    let told = bob_ws.next_event("media:processing:failed").await;
    assert_eq!(told["data"]["fileId"], file.as_str(), "{told}");
    assert!(
        media::claim(&app.app().db, &key, 0.0)
            .await
            .unwrap()
            .is_none(),
        "a late retry has nothing to take"
    );
    app.stop().await;
}

/// A picture sent before its file is ready (the bytes not even uploaded yet): its recipients
/// are told when it is, through the chat; its uploader once, not twice; and the recipients of a
/// view-once picture not at all (they learn its file only by opening it).
#[tokio::test]
async fn a_file_sent_before_it_is_ready_tells_the_chat_when_it_is() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let since = |user: &User| {
        let user = user.clone();
        let app = &app;
        async move {
            app.get("/api/sync", Some(&user.access)).await.1["data"]["nextCursor"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (alice_since, bob_since) = (since(&alice).await, since(&bob).await);
    let mut bob_ws = app.ws(&bob.access).await;
    let picture = png(8, 8, [30, 30, 200]);
    // Sent first, uploaded after.
    let send_then_upload = |id: &'static str, view_once: bool| {
        let (app, alice, chat, picture) = (&app, &alice, &chat, &picture);
        async move {
            let (status, body) = app
                .post(
                    "/api/upload/presigned-url",
                    Some(&alice.access),
                    json!({ "fileType": "image", "fileName": "p.png",
                            "fileSize": picture.len(), "chatId": chat }),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let target = body["data"].clone();
            let file = target["fileId"].as_str().unwrap().to_owned();
            let (status, body) = app
                .post(
                    &format!("/api/chats/{chat}/messages"),
                    Some(&alice.access),
                    json!({ "clientMessageId": id, "type": "image", "mediaId": file,
                            "viewOnce": view_once }),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let mut put = app
                .http
                .put(target["uploadUrl"].as_str().unwrap())
                .body(picture.clone());
            for (name, value) in target["headers"].as_object().unwrap() {
                put = put.header(name, value.as_str().unwrap());
            }
            assert!(put.send().await.unwrap().status().is_success());
            processed(app, alice, &file).await;
            file
        }
    };
    let file = send_then_upload("early", false).await;
    let told = bob_ws.next_event("media:processing:completed").await;
    assert_eq!(told["data"]["id"], file.as_str(), "{told}");
    let (status, media) = app
        .get(&format!("/api/media/{file}"), Some(&bob.access))
        .await;
    assert_eq!(status, 200);
    assert!(media["data"]["urls"]["thumbnail"].is_string(), "{media}");
    let once = send_then_upload("once", true).await;

    app.relay_caught_up().await;
    let outcomes = |events: &[Value], file: &str| {
        events
            .iter()
            .filter(|e| e["event"] == "media:processing:completed" && e["data"]["id"] == file)
            .count()
    };
    let (alice_events, _) = crate::sync::sync_all(&app, &alice, &alice_since).await;
    let (bob_events, _) = crate::sync::sync_all(&app, &bob, &bob_since).await;
    assert_eq!(
        outcomes(&alice_events, &file),
        1,
        "the uploader is told once"
    );
    assert_eq!(outcomes(&bob_events, &file), 1, "the recipient is told");
    assert_eq!(outcomes(&alice_events, &once), 1);
    assert_eq!(
        outcomes(&bob_events, &once),
        0,
        "a view-once file is not named to its recipients"
    );
    app.stop().await;
}

#[tokio::test]
async fn transparency_animation_and_pixel_bombs() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;

    // A PNG with transparency keeps it.
    let rgba =
        image::RgbaImage::from_fn(300, 200, |x, _| image::Rgba([200, 10, 10, (x % 256) as u8]));
    let mut png = Vec::new();
    rgba.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let file = upload(
        &app,
        &alice,
        json!({"fileType": "image", "fileName": "alpha.png", "fileSize": png.len()}),
        &png,
    )
    .await;
    let media = processed(&app, &alice, &file).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    let thumb = decode(&download(&app, &media["urls"]["thumbnail"]).await);
    assert!(thumb.color().has_alpha(), "transparency kept");
    assert!(thumb.to_rgba8().pixels().any(|p| p.0[3] < 128));

    // An animated GIF: a still thumbnail of its first frame.
    let mut gif = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
        let frames = [[255u8, 0, 0, 255], [0, 0, 255, 255]].map(|colour| {
            image::Frame::new(image::RgbaImage::from_pixel(64, 64, image::Rgba(colour)))
        });
        encoder.encode_frames(frames).unwrap();
    }
    let file = upload(
        &app,
        &alice,
        json!({"fileType": "image", "fileName": "blink.gif", "fileSize": gif.len()}),
        &gif,
    )
    .await;
    let media = processed(&app, &alice, &file).await;
    assert_eq!(media["metadata"]["animated"], true, "{media}");
    let thumb = download(&app, &media["urls"]["thumbnail"]).await;
    assert!(!thumb.windows(4).any(|w| w == b"ANIM"), "a still thumbnail");
    let first = decode(&thumb).to_rgb8();
    assert!(first.get_pixel(10, 10).0[0] > 200, "the first frame (red)");

    // A decompression bomb: a tiny PNG that claims 20000 x 20000 pixels.
    let bomb = {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, 20_000, 20_000);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::One);
            let mut writer = encoder.write_header().unwrap();
            let row = vec![0u8; 20_000 / 8];
            let mut stream = writer.stream_writer().unwrap();
            for _ in 0..20_000 {
                std::io::Write::write_all(&mut stream, &row).unwrap();
            }
            stream.finish().unwrap();
        }
        out
    };
    assert!(bomb.len() < 1_000_000, "small on disk: {}", bomb.len());
    let file = upload(
        &app,
        &alice,
        json!({"fileType": "image", "fileName": "bomb.png", "fileSize": bomb.len()}),
        &bomb,
    )
    .await;
    let media = processed(&app, &alice, &file).await;
    assert_eq!(media["processingStatus"], "failed");
    assert_eq!(media["error"], "PROCESSING_FAILED");
    assert!(
        media["urls"].as_object().unwrap().is_empty(),
        "nothing served"
    );
    app.stop().await;
}

#[tokio::test]
async fn infected_lying_and_oversized_files_are_refused() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;

    // The EICAR test file, declared a PDF: the scan finds it before anything reads it.
    let eicar = fn_media::clamd::EICAR.as_bytes();
    let file = upload(
        &app,
        &alice,
        json!({"fileType": "document", "fileName": "report.pdf", "fileSize": eicar.len(), "chatId": chat}),
        eicar,
    )
    .await;
    wait_until("the scan", Duration::from_secs(30), || async {
        status_of(&app, &alice, &file).await["status"] == "failed"
    })
    .await;
    assert_eq!(status_of(&app, &alice, &file).await["error"], "INFECTED");
    let (status, _) = app
        .get(&format!("/api/media/{file}"), Some(&alice.access))
        .await;
    assert_eq!(
        status, 404,
        "an infected file is never served, not even to its uploader"
    );
    let key = format!("uploads/{}/{file}.pdf", alice.id);
    assert_eq!(
        app.stack.shared.blobs.tags(&key).await.unwrap(),
        vec!["banter-scan=infected".to_owned()]
    );
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({"clientMessageId": "m1", "type": "document", "mediaId": file}),
        )
        .await;
    assert_eq!(status, 400, "an infected file cannot be sent: {body}");

    // A file the signatures know by its MD5 (`sigtool --md5`).
    let sample = banter_local::clamd::TEST_MALWARE;
    let file = upload(
        &app,
        &alice,
        json!({"fileType": "document", "fileName": "invoice.pdf", "fileSize": sample.len()}),
        sample,
    )
    .await;
    wait_until("the scan", Duration::from_secs(30), || async {
        status_of(&app, &alice, &file).await["error"] == "INFECTED"
    })
    .await;

    // Declared a PNG, but a PDF: refused by its bytes.
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    let file = upload(
        &app,
        &alice,
        json!({"fileType": "image", "fileName": "cat.png", "fileSize": pdf.len()}),
        pdf,
    )
    .await;
    wait_until("the type check", Duration::from_secs(30), || async {
        status_of(&app, &alice, &file).await["status"] == "failed"
    })
    .await;
    assert_eq!(
        status_of(&app, &alice, &file).await["error"],
        "INVALID_FILE_TYPE"
    );

    // Too large for its kind, a type its kind may not be, an unknown extension: refused
    // before any URL is issued.
    let refused = [
        (
            json!({"fileType": "image", "fileName": "big.jpg", "fileSize": 10 * 1024 * 1024 + 1}),
            413,
            "FILE_TOO_LARGE",
        ),
        (
            json!({"fileType": "image", "fileName": "clip.mp4", "fileSize": 100}),
            415,
            "INVALID_FILE_TYPE",
        ),
        (
            json!({"fileType": "document", "fileName": "run.exe", "fileSize": 100}),
            415,
            "INVALID_FILE_TYPE",
        ),
        (
            json!({"fileType": "image", "fileName": "a.jpg", "fileSize": 100, "mimeType": "text/html"}),
            415,
            "INVALID_FILE_TYPE",
        ),
        (
            json!({"fileType": "image", "fileName": "../../etc/passwd", "fileSize": 100}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"fileType": "image", "fileName": "a.jpg", "fileSize": 0}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({"fileType": "spreadsheet", "fileName": "a.jpg", "fileSize": 10}),
            400,
            "VALIDATION_ERROR",
        ),
    ];
    for (request, status, code) in refused {
        let (got, body) = app
            .post(
                "/api/upload/presigned-url",
                Some(&alice.access),
                request.clone(),
            )
            .await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{request}"
        );
    }
    // Someone else's chat.
    let carol = app.register("carol").await;
    let (status, _) = app
        .post(
            "/api/upload/presigned-url",
            Some(&carol.access),
            json!({"fileType": "image", "fileName": "a.jpg", "fileSize": 10, "chatId": chat}),
        )
        .await;
    assert_eq!(status, 404);
    // Completing an upload that sent nothing.
    let (_, body) = app
        .post(
            "/api/upload/presigned-url",
            Some(&alice.access),
            json!({"fileType": "image", "fileName": "a.jpg", "fileSize": 10}),
        )
        .await;
    let key = body["data"]["fileKey"].clone();
    let (status, body) = app
        .post(
            "/api/upload/complete",
            Some(&alice.access),
            json!({"fileKey": key}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("UPLOAD_FAILED"))
    );
    let (status, _) = app
        .post(
            "/api/upload/complete",
            Some(&carol.access),
            json!({"fileKey": key}),
        )
        .await;
    assert_eq!(status, 404, "someone else's upload");
    app.stop().await;
}

/// Each accepted audio type as an encoder writes it (an MP3 starts with its ID3 tag) is a voice
/// note: compressed to Opus, with its waveform.
#[tokio::test]
async fn mp3_and_ogg_voice_notes_are_processed() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let tone = ["-f", "lavfi", "-i", "sine=frequency=300:duration=2"];
    for (name, codec) in [("note.mp3", "libmp3lame"), ("note.ogg", "libopus")] {
        let bytes = ffmpeg(dir.path(), &[&tone[..], &["-c:a", codec]].concat(), name);
        let request = json!({"fileType": "audio", "fileName": name, "fileSize": bytes.len()});
        let file = upload(&app, &alice, request, &bytes).await;
        let media = processed(&app, &alice, &file).await;
        assert_eq!(media["processingStatus"], "completed", "{name}: {media}");
        assert!(media["urls"]["compressed"].is_string(), "{name}: {media}");
        assert_eq!(media["metadata"]["waveform"].as_array().unwrap().len(), 300);
    }
    app.stop().await;
}

/// What phones and browsers record voice notes in (AAC in MP4 from iOS and Safari, Opus in
/// WebM from Chrome, ADTS AAC), once a deployment allows them: each is told by its bytes and
/// compressed to Opus; a WebM video declared as sound is refused.
#[tokio::test]
async fn recorders_formats_are_voice_notes_where_a_deployment_allows_them() {
    let app = crate::support::spawn_app_with(|c| {
        let allowed = ["audio/mp4", "audio/webm", "audio/aac"];
        (c.settings.uploads.audio.types).extend(allowed.map(String::from));
    })
    .await;
    let alice = app.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let tone = ["-f", "lavfi", "-i", "sine=frequency=300:duration=2"];
    for (name, mime, codec) in [
        ("note.m4a", "audio/mp4", "aac"),
        ("note.webm", "audio/webm", "libopus"),
        ("note.aac", "audio/aac", "aac"),
    ] {
        let bytes = ffmpeg(dir.path(), &[&tone[..], &["-c:a", codec]].concat(), name);
        let request = json!({"fileType": "audio", "fileName": name, "mimeType": mime,
                             "fileSize": bytes.len()});
        let file = upload(&app, &alice, request, &bytes).await;
        let media = processed(&app, &alice, &file).await;
        assert_eq!(media["processingStatus"], "completed", "{name}: {media}");
        assert!(media["urls"]["compressed"].is_string(), "{name}: {media}");
        let duration = media["metadata"]["durationMs"].as_u64().unwrap();
        assert!((1900..=2200).contains(&duration), "{name}: {duration}");
    }
    let clip = ffmpeg(
        dir.path(),
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x64:rate=10",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:v",
            "libvpx",
            "-c:a",
            "libopus",
        ],
        "clip.webm",
    );
    let request = json!({"fileType": "audio", "fileName": "clip.webm", "mimeType": "audio/webm",
                         "fileSize": clip.len()});
    let file = upload(&app, &alice, request, &clip).await;
    let media = processed(&app, &alice, &file).await;
    assert_eq!(
        (&media["processingStatus"], &media["error"]),
        (&json!("failed"), &json!("INVALID_FILE_TYPE")),
        "{media}"
    );
    app.stop().await;
}

/// An upload's signed URL still writes its key until it expires, and a file is processed once:
/// what is served as its original (and put in backups) is the bytes the scan saw, not whatever
/// a second PUT left there.
#[tokio::test]
async fn a_file_overwritten_after_processing_is_served_as_it_was_scanned() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    // Two WAVs of the same length (the signature fixes it), different sounds.
    let [scanned, swapped] = [300, 900].map(|hz| {
        let tone = format!("sine=frequency={hz}:duration=1");
        ffmpeg(
            dir.path(),
            &["-f", "lavfi", "-i", &tone],
            &format!("{hz}.wav"),
        )
    });
    assert_eq!(scanned.len(), swapped.len());
    assert_ne!(scanned, swapped);
    let (status, body) = app
        .post(
            "/api/upload/presigned-url",
            Some(&alice.access),
            json!({"fileType": "audio", "fileName": "note.wav", "fileSize": scanned.len()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(put_upload(&app, &body["data"], &scanned).await.is_success());
    let file = body["data"]["fileId"].as_str().unwrap();
    let media = processed(&app, &alice, file).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    // The same URL, again (as S3 allows until it expires): stored, never processed.
    assert!(put_upload(&app, &body["data"], &swapped).await.is_success());
    let (_, media) = app
        .get(&format!("/api/media/{file}"), Some(&alice.access))
        .await;
    assert!(
        download(&app, &media["data"]["urls"]["original"]).await == scanned,
        "the original served is the one scanned: {media}"
    );
    app.stop().await;
}

/// A video already smaller than its rendition's bitrate is not made bigger: the "compressed"
/// file a phone on mobile data picks is no larger than the original.
#[tokio::test]
async fn a_low_bitrate_video_is_not_made_bigger() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let clip = ffmpeg(
        dir.path(),
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=15:duration=3",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "60k",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            "-shortest",
        ],
        "small.mp4",
    );
    let request = json!({"fileType": "video", "fileName": "small.mp4", "fileSize": clip.len()});
    let file = upload(&app, &alice, request, &clip).await;
    let media = processed(&app, &alice, &file).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    let compressed = download(&app, &media["urls"]["compressed"]).await;
    // (Rate control is not exact over 3 s: a tenth over, at most.)
    assert!(
        compressed.len() * 10 <= clip.len() * 11,
        "compressed {} bytes from an original of {}",
        compressed.len(),
        clip.len()
    );
    app.stop().await;
}

#[tokio::test]
async fn video_audio_and_documents_are_processed() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let dir = tempfile::tempdir().unwrap();

    // Video: 2 s of 854x480 test pattern with a tone.
    let mp4 = ffmpeg(
        dir.path(),
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=854x480:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ],
        "clip.mp4",
    );
    let video = upload(
        &app,
        &alice,
        json!({"fileType": "video", "fileName": "clip.mp4", "fileSize": mp4.len()}),
        &mp4,
    )
    .await;
    // Audio: 3 s of tone, WAV.
    let wav = ffmpeg(
        dir.path(),
        &["-f", "lavfi", "-i", "sine=frequency=300:duration=3"],
        "tone.wav",
    );
    let audio = upload(
        &app,
        &alice,
        json!({"fileType": "audio", "fileName": "tone.wav", "fileSize": wav.len()}),
        &wav,
    )
    .await;
    // A DOCX, made here (converted with LibreOffice), and a PDF made from it.
    let docx = docx_with_text("Banter quarterly report");
    let document = upload(
        &app,
        &alice,
        json!({"fileType": "document", "fileName": "report.docx", "fileSize": docx.len()}),
        &docx,
    )
    .await;

    let media = processed(&app, &alice, &video).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    assert_eq!(media["metadata"]["width"], 854);
    assert_eq!(media["metadata"]["height"], 480);
    let duration = media["metadata"]["durationMs"].as_u64().unwrap();
    assert!((1900..=2200).contains(&duration), "{duration}");
    assert!(
        media["urls"]["renditions"].get("720").is_none(),
        "never above the source"
    );
    let rendition = probe(
        &download(&app, &media["urls"]["renditions"]["480"]).await,
        dir.path(),
        "480.mp4",
    );
    let streams = rendition["streams"].as_array().unwrap();
    let video_stream = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(video_stream["codec_name"], "h264");
    assert_eq!(video_stream["height"], 480);
    let audio_stream = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    assert_eq!(audio_stream["codec_name"], "aac");
    assert_eq!(
        media["urls"]["compressed"],
        media["urls"]["renditions"]["480"]
    );
    let thumb = decode(&download(&app, &media["urls"]["thumbnail"]).await);
    assert_eq!((thumb.width(), thumb.height()), (320, 180));

    let media = processed(&app, &alice, &audio).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    let opus = probe(
        &download(&app, &media["urls"]["compressed"]).await,
        dir.path(),
        "a.ogg",
    );
    assert_eq!(opus["streams"][0]["codec_name"], "opus");
    assert_eq!(opus["streams"][0]["sample_rate"], "48000");
    let peaks = media["metadata"]["waveform"].as_array().unwrap();
    assert_eq!(peaks.len(), 300);
    // ffmpeg's sine is at 1/8 of full scale: about 32 of 255, the same throughout.
    let peaks: Vec<u64> = peaks.iter().map(|p| p.as_u64().unwrap()).collect();
    assert!(peaks.iter().all(|p| (28..=36).contains(p)), "{peaks:?}");
    let waveform = decode(&download(&app, &media["urls"]["waveform"]).await);
    assert_eq!((waveform.width(), waveform.height()), (300, 60));
    assert!((2900..=3100).contains(&media["metadata"]["durationMs"].as_u64().unwrap()));

    let media = processed(&app, &alice, &document).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    assert_eq!(media["metadata"]["pages"], 1);
    assert_eq!(
        media["mimeType"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    let preview = decode(&download(&app, &media["urls"]["preview"]).await);
    assert!(preview.height() >= preview.width(), "a portrait page");
    assert_eq!(preview.width().max(preview.height()), 800);

    // The same document as a Word 97 file (made from the DOCX by LibreOffice).
    std::fs::write(dir.path().join("report.docx"), &docx).unwrap();
    let converted = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}/lo",
            dir.path().display()
        ))
        .args(["--headless", "--convert-to", "doc", "--outdir"])
        .arg(dir.path())
        .arg(dir.path().join("report.docx"))
        .output()
        .expect("soffice");
    assert!(converted.status.success());
    let doc = std::fs::read(dir.path().join("report.doc")).unwrap();
    let word97 = upload(
        &app,
        &alice,
        json!({"fileType": "document", "fileName": "report.doc", "fileSize": doc.len()}),
        &doc,
    )
    .await;
    let media = processed(&app, &alice, &word97).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    assert_eq!(media["mimeType"], "application/msword");
    assert_eq!(media["metadata"]["pages"], 1);
    app.stop().await;
}

/// A minimal Word document (what `word/document.xml` needs, zipped).
fn docx_with_text(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let files = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_owned()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_owned()),
        ("word/document.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"#)),
    ];
    for (name, content) in files {
        zip.start_file(name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn large_files_upload_in_parts_and_processing_can_be_cancelled() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let dir = tempfile::tempdir().unwrap();
    // 66 s of 48 kHz mono 16-bit tone: 6.3 MB, two parts.
    let wav = ffmpeg(
        dir.path(),
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=500:sample_rate=48000:duration=66",
            "-ac",
            "1",
        ],
        "long.wav",
    );
    let (status, body) = app
        .post(
            "/api/upload/multipart",
            Some(&alice.access),
            json!({"fileType": "audio", "fileName": "long.wav", "fileSize": wav.len()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let upload = &body["data"];
    let file = upload["fileId"].as_str().unwrap();
    let part_size = upload["partSize"].as_u64().unwrap() as usize;
    let urls = upload["parts"].as_array().unwrap();
    assert_eq!(urls.len(), wav.len().div_ceil(part_size));
    let mut parts = Vec::new();
    for (i, part) in urls.iter().enumerate() {
        let chunk = &wav[i * part_size..((i + 1) * part_size).min(wav.len())];
        let answer = app
            .http
            .put(part["uploadUrl"].as_str().unwrap())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
        parts.push(json!({"partNumber": part["partNumber"], "etag": answer.headers()["etag"].to_str().unwrap()}));
    }
    let complete = format!("/api/upload/multipart/{file}/complete");
    let (status, _) = app
        .post(&complete, Some(&bob.access), json!({"parts": parts}))
        .await;
    assert_eq!(status, 404, "someone else's upload");
    // A list missing a part would make a shorter file of it (the blob store completes from
    // what it is given): refused, and the upload is still there to complete.
    let (status, body) = app
        .post(&complete, Some(&alice.access), json!({"parts": parts[..1]}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    let (status, body) = app
        .post(
            &complete,
            Some(&alice.access),
            json!({"parts": [parts[0], parts[0], parts[1]]}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("VALIDATION_ERROR")),
        "{body}"
    );
    // Named in any order, they are joined in order.
    parts.reverse();
    let (status, body) = app
        .post(&complete, Some(&alice.access), json!({"parts": parts}))
        .await;
    assert_eq!(status, 200, "{body}");
    let media = processed(&app, &alice, file).await;
    assert_eq!(media["processingStatus"], "completed", "{media}");
    assert_eq!(media["fileSize"], wav.len());
    assert!((65_900..=66_100).contains(&media["metadata"]["durationMs"].as_u64().unwrap()));

    // An abandoned multipart upload is aborted: its parts and its file are gone.
    let (_, body) = app
        .post(
            "/api/upload/multipart",
            Some(&alice.access),
            json!({"fileType": "audio", "fileName": "other.wav", "fileSize": wav.len()}),
        )
        .await;
    let other = body["data"]["fileId"].as_str().unwrap().to_owned();
    let (status, body) = app
        .delete(
            &format!("/api/upload/multipart/{other}"),
            &alice.access,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"],
        json!({"fileId": other, "status": "failed", "progress": 0, "error": "CANCELLED"}),
        "ended: nothing left to wait for"
    );
    let (status, _) = app
        .get(&format!("/api/media/{other}"), Some(&alice.access))
        .await;
    assert_eq!(status, 404);

    // Cancelled before its bytes arrive: it ends CANCELLED and is never processed.
    let (_, body) = app
        .post(
            "/api/upload/presigned-url",
            Some(&alice.access),
            json!({"fileType": "audio", "fileName": "c.wav", "fileSize": 10}),
        )
        .await;
    let cancelled = body["data"]["fileId"].as_str().unwrap().to_owned();
    let path = format!("/api/media/{cancelled}/processing");
    let (status, _) = app.delete(&path, &bob.access, json!({})).await;
    assert_eq!(status, 404, "only the uploader cancels");
    let (status, body) = app.delete(&path, &alice.access, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["data"]["status"].as_str(),
            body["data"]["error"].as_str()
        ),
        (Some("failed"), Some("CANCELLED"))
    );

    // The socket's media actions answer with the status.
    let mut ws = app.ws(&alice.access).await;
    ws.send_json(
        json!({"action": "media:processing:status", "requestId": "s1", "data": {"fileId": file}}),
    )
    .await;
    let ack = ws.answer_to("s1").await;
    assert_eq!(ack["data"]["status"], "completed", "{ack}");
    ws.send_json(json!({"action": "media:upload:progress", "requestId": "s2", "data": {"fileId": Uuid::now_v7(), "progress": 50}}))
        .await;
    assert_eq!(
        ws.answer_to("s2").await["data"]["code"],
        "RESOURCE_NOT_FOUND"
    );
    app.stop().await;
}

/// A web client uploads and downloads through the signed URLs as the bucket's
/// `CorsConfiguration` (template.yaml) lets it: preflights answered, answers readable, a part's
/// `ETag` exposed (completing a multipart upload needs it); other methods refused.
#[tokio::test]
async fn a_web_page_uploads_and_downloads_through_the_signed_urls() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let page = "http://localhost:5173";
    let jpeg = jpeg_with_exif();
    let (status, body) = app
        .post(
            "/api/upload/presigned-url",
            Some(&alice.access),
            json!({"fileType": "image", "fileName": "p.jpg", "fileSize": jpeg.len()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let url = data["uploadUrl"].as_str().unwrap();
    let signed: Vec<(String, String)> = data["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let preflight = |method: &'static str| {
        let names: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
        app.http
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", page)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", names.join(","))
            .send()
    };
    let answer = preflight("PUT").await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
    let allowed = answer.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("content-type"), "{allowed}");
    assert_eq!(preflight("DELETE").await.unwrap().status(), 403);

    let mut put = app.http.put(url).header("origin", page).body(jpeg.clone());
    for (name, value) in &signed {
        put = put.header(name, value);
    }
    let answer = put.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
    let file = data["fileId"].as_str().unwrap();
    let media = processed(&app, &alice, file).await;
    let answer = app
        .http
        .get(media["urls"]["thumbnail"].as_str().unwrap())
        .header("origin", page)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");

    let (status, body) = app
        .post(
            "/api/upload/multipart",
            Some(&alice.access),
            json!({"fileType": "document", "fileName": "big.pdf", "fileSize": 6 * 1024 * 1024}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let part = body["data"]["parts"][0]["uploadUrl"].as_str().unwrap();
    let answer = app
        .http
        .put(part)
        .header("origin", page)
        .body(vec![b'%'; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(exposed.contains("ETag"), "{exposed}");
    assert!(answer.headers().contains_key("etag"));
    app.stop().await;
}

#[tokio::test]
async fn a_transient_failure_is_retried_three_times_then_fails_with_a_reason() {
    // A scanner that is not there: every attempt fails for a reason of ours, not the file's.
    let app = crate::support::spawn_app_with(|c| {
        c.clamd_socket = Some(std::path::PathBuf::from("/nonexistent/clamd.sock"));
    })
    .await;
    let alice = app.register("alice").await;
    let mut ws = app.ws(&alice.access).await;
    let png = png(20, 20, [1, 2, 3]);
    let file = upload(
        &app,
        &alice,
        json!({"fileType": "image", "fileName": "dot.png", "fileSize": png.len()}),
        &png,
    )
    .await;
    let failed = ws.next_event("media:processing:failed").await;
    assert_eq!(failed["data"]["fileId"], file.as_str());
    assert_eq!(failed["data"]["error"], "PROCESSING_FAILED");
    let row = app
        .app()
        .db
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT attempts, error_detail FROM media_files WHERE id = $1",
            &[&file.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i16>("attempts"),
        3,
        "the event and two retries"
    );
    let detail: String = row.get("error_detail");
    assert!(detail.contains("clamd"), "{detail}");
    app.stop().await;
}
