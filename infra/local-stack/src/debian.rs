//! Debian packages the local stack runs, installed when missing (as root, with apt-get), so
//! `cargo run -p banter-local` works on a fresh machine: PostgreSQL, and the media function's
//! tools (ffmpeg, poppler, LibreOffice Writer, ClamAV).

use anyhow::{bail, Result};
use tokio::process::Command;

/// The media function's tools: the programs it runs, and the packages that bring them.
pub const MEDIA_PROGRAMS: &[&str] = &[
    "ffmpeg", "ffprobe", "pdftoppm", "pdfinfo", "soffice", "clamd", "sigtool",
];
pub const MEDIA_PACKAGES: &[&str] = &[
    "ffmpeg",
    "poppler-utils",
    "libreoffice-writer-nogui",
    "clamav",
    "clamav-daemon",
];

/// Is `program` on the PATH (or in `/usr/sbin`, where Debian puts daemons)?
pub fn has_program(program: &str) -> bool {
    std::path::Path::new("/usr/sbin").join(program).exists()
        || std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).exists()))
}

pub async fn is_root() -> bool {
    match Command::new("id").arg("-u").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim() == "0",
        Err(_) => false,
    }
}

/// `apt-get install` the packages (after an `apt-get update`); root only.
pub async fn install(packages: &[&str]) -> Result<()> {
    if !is_root().await {
        bail!(
            "not root: install them yourself (sudo apt-get install -y {})",
            packages.join(" ")
        );
    }
    tracing::info!(?packages, "installing Debian packages");
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend_from_slice(packages);
    for args in [vec!["update"], install] {
        let status = Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .await?;
        if !status.success() {
            bail!("apt-get {} failed", args.join(" "));
        }
    }
    Ok(())
}

/// Install the media tools if any is missing. Without them the stack still runs; uploads are
/// then not processed (and say so).
pub async fn ensure_media_tools() {
    let missing: Vec<_> = MEDIA_PROGRAMS.iter().filter(|p| !has_program(p)).collect();
    if missing.is_empty() {
        return;
    }
    tracing::info!(?missing, "the media function's tools are missing");
    if let Err(e) = install(MEDIA_PACKAGES).await {
        tracing::warn!(error = %e, "uploads will not be processed without the media tools");
    }
}
