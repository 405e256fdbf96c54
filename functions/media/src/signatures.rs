//! ClamAV signatures on AWS: a scheduled run of this image (`MEDIA_TASK=update-signatures`)
//! lets `freshclam` bring the databases up to date and stores them in the media bucket under
//! `clamav/`; the media function, at its first event, fetches them into `/tmp` and starts a
//! `clamd` of its own in the container (it lives as long as the container does).

use std::path::{Path, PathBuf};

use banter_core::App;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::clamd::PrivateClamd;
use crate::tools::run;

/// Where the signature files are kept in the bucket, and the list of their names.
pub const PREFIX: &str = "clamav/";
const MANIFEST: &str = "clamav/manifest.json";

/// The scheduled task: run `freshclam` into a scratch directory and store what it fetched.
pub async fn update(app: App, _event: Value) -> Result<Value, banter_lambda::Error> {
    let dir = std::env::temp_dir().join("clamav-update");
    tokio::fs::create_dir_all(&dir).await?;
    // Start from what the bucket has, so freshclam downloads only the differences.
    fetch(&app, &dir).await?;
    let config = dir.join("freshclam.conf");
    tokio::fs::write(
        &config,
        format!(
            "DatabaseDirectory {}\nDatabaseMirror database.clamav.net\nForeground yes\n\
             DatabaseOwner {}\n",
            dir.display(),
            // freshclam drops root for this user; a Lambda runs as a user already.
            std::env::var("USER").unwrap_or_else(|_| "root".into()),
        ),
    )
    .await?;
    run(
        "freshclam",
        [
            "--config-file".as_ref(),
            config.as_os_str(),
            "--stdout".as_ref(),
        ],
        std::time::Duration::from_secs(600),
    )
    .await?;
    let mut names = Vec::new();
    let mut entries = tokio::fs::read_dir(&dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if [".cvd", ".cld", ".cud"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            let bytes = tokio::fs::read(entry.path()).await?;
            app.ports
                .blobs
                .put(
                    &format!("{PREFIX}{name}"),
                    Bytes::from(bytes),
                    "application/octet-stream",
                )
                .await?;
            names.push(name);
        }
    }
    let manifest = serde_json::to_vec(&names)?;
    app.ports
        .blobs
        .put(MANIFEST, Bytes::from(manifest), "application/json")
        .await?;
    Ok(json!({ "stored": names }))
}

/// Copy the bucket's signatures into `dir`.
async fn fetch(app: &App, dir: &Path) -> Result<usize, banter_lambda::Error> {
    let Some(manifest) = app.ports.blobs.get(MANIFEST).await? else {
        return Ok(0);
    };
    let names: Vec<String> = serde_json::from_slice(&manifest)?;
    let mut fetched = 0;
    for name in names
        .iter()
        .filter(|n| !n.contains('/') && !n.starts_with('.'))
    {
        if let Some(bytes) = app.ports.blobs.get(&format!("{PREFIX}{name}")).await? {
            tokio::fs::write(dir.join(name), bytes).await?;
            fetched += 1;
        }
    }
    Ok(fetched)
}

/// The container's `clamd`, started at the first event from the bucket's signatures; its
/// socket. Fails (and is tried again at the next event) when there are no signatures yet.
pub async fn container_scanner(app: &App) -> Result<PathBuf, String> {
    static STARTED: OnceCell<(PathBuf, Option<tokio::process::Child>)> = OnceCell::const_new();
    let (socket, _child) = STARTED
        .get_or_try_init(|| async {
            let root = std::env::temp_dir().join("clamav");
            let database = root.join("db");
            tokio::fs::create_dir_all(&database)
                .await
                .map_err(|e| e.to_string())?;
            let fetched = fetch(app, &database).await.map_err(|e| e.to_string())?;
            if fetched == 0 {
                return Err(
                    "no ClamAV signatures in the bucket yet (the update task stores them)".into(),
                );
            }
            let clamd = PrivateClamd::new(&root, &database).map_err(|e| e.to_string())?;
            let child = clamd.start(true).await?;
            Ok::<_, String>((clamd.socket, child))
        })
        .await?;
    Ok(socket.clone())
}
