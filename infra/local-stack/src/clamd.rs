//! A private ClamAV daemon for the local stack and the tests, over a signature database made
//! on the spot (real signatures need the network): the EICAR test file as a body signature
//! (`.ndb`), and [`TEST_MALWARE`] by digest, as `sigtool --md5` writes it (`.hdb`). The scan
//! path is the real one; only the signatures are small.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use fn_media::clamd::{write_test_signatures, PrivateClamd};

/// A file the test signatures know by its MD5 digest (the `.hdb` entry): a harmless PDF.
pub const TEST_MALWARE: &[u8] =
    b"%PDF-1.4\n% Banter test sample: the test signatures know this file by its digest.\n%%EOF\n";

/// Write the test signatures under `dir/db` and start `clamd` over them (daemonized, left
/// running for later runs, unless `foreground`: then it is this process's child, returned).
/// Answers its socket.
pub async fn start(
    dir: &Path,
    foreground: bool,
) -> Result<(PathBuf, Option<tokio::process::Child>)> {
    let database = dir.join("db");
    std::fs::create_dir_all(&database)?;
    let sample = dir.join("sample.pdf");
    std::fs::write(&sample, TEST_MALWARE)?;
    let output = tokio::process::Command::new("sigtool")
        .arg("--md5")
        .arg(&sample)
        .output()
        .await
        .context("running sigtool (Debian's clamav package)")?;
    let line = String::from_utf8_lossy(&output.stdout);
    let mut fields = line.trim().split(':');
    let (Some(md5), Some(size)) = (fields.next(), fields.next().and_then(|s| s.parse().ok()))
    else {
        return Err(anyhow!("sigtool --md5 printed {line:?}"));
    };
    write_test_signatures(
        &database,
        &[(md5.to_owned(), size, "Banter.Test.Sample".to_owned())],
    )?;
    let clamd = PrivateClamd::new(dir, &database)?;
    let child = clamd.start(foreground).await.map_err(|e| anyhow!(e))?;
    Ok((clamd.socket, child))
}

/// Stop the daemonized `clamd` under `dir` (by its pid file).
pub fn stop(dir: &Path) -> Result<()> {
    let pid = match std::fs::read_to_string(dir.join("clamd.pid")) {
        Ok(pid) => pid,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let pid: u32 = pid.trim().parse().context("clamd.pid")?;
    std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .context("kill")?;
    let _ = std::fs::remove_file(dir.join("clamd.pid"));
    Ok(())
}

/// Is ClamAV's daemon installed?
pub fn installed() -> bool {
    crate::debian::has_program("clamd")
}
