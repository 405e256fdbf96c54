//! Virus scanning with ClamAV's daemon: `INSTREAM` over its Unix socket, and starting a
//! private `clamd` over a signature directory (the media Lambda's container does this at cold
//! start with the signatures a scheduled `freshclam` keeps in the bucket; the local stack and
//! the tests with a signature database made on the spot).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The name of the signature that matched.
    Infected(String),
}

/// How much `clamd` accepts in one stream (its `StreamMaxLength`): above the largest upload.
pub const STREAM_MAX_BYTES: u64 = 150 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;
const SCAN_TIMEOUT: Duration = Duration::from_secs(120);

/// Scan `bytes` with the `clamd` listening on `socket`.
pub async fn scan(socket: &Path, bytes: &[u8]) -> Result<Verdict, String> {
    let answer = tokio::time::timeout(SCAN_TIMEOUT, async {
        let mut stream = UnixStream::connect(socket)
            .await
            .map_err(|e| format!("connecting to clamd at {}: {e}", socket.display()))?;
        stream
            .write_all(b"zINSTREAM\0")
            .await
            .map_err(|e| e.to_string())?;
        for chunk in bytes.chunks(CHUNK) {
            stream
                .write_all(&(chunk.len() as u32).to_be_bytes())
                .await
                .map_err(|e| e.to_string())?;
            stream.write_all(chunk).await.map_err(|e| e.to_string())?;
        }
        stream
            .write_all(&0u32.to_be_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(answer)
    })
    .await
    .map_err(|_| "clamd did not answer in time".to_string())??;
    verdict(&String::from_utf8_lossy(&answer))
}

/// `stream: OK`, `stream: <signature> FOUND`, or an error.
fn verdict(answer: &str) -> Result<Verdict, String> {
    let answer = answer.trim_end_matches(['\0', '\n']);
    let result = answer.strip_prefix("stream: ").unwrap_or(answer);
    if result == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(signature) = result.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(signature.to_owned()))
    } else {
        Err(format!("clamd answered {answer:?}"))
    }
}

/// Does a `clamd` answer `PING` on `socket`?
pub async fn ping(socket: &Path) -> bool {
    let attempt = async {
        let mut stream = UnixStream::connect(socket).await.ok()?;
        stream.write_all(b"zPING\0").await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer.starts_with(b"PONG"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// A signature database for development and tests, written to `dir`: the EICAR test file
/// (an `.ndb` body signature) and `extra_md5` files by digest (`.hdb`, as `sigtool --md5`
/// writes them: `md5:size:name`). Real signatures need the network (`freshclam`).
pub fn write_test_signatures(
    dir: &Path,
    extra_md5: &[(String, u64, String)],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // The 68-byte EICAR string, hex; any file containing it matches.
    let eicar_hex: String = EICAR.bytes().map(|b| format!("{b:02x}")).collect();
    std::fs::write(
        dir.join("banter-test.ndb"),
        format!("Banter.Test.EICAR:0:*:{eicar_hex}\n"),
    )?;
    let hdb: String = extra_md5
        .iter()
        .map(|(md5, size, name)| format!("{md5}:{size}:{name}\n"))
        .collect();
    std::fs::write(
        dir.join("banter-test.hdb"),
        if hdb.is_empty() {
            // clamd refuses an empty database file; this digest matches nothing real.
            "00000000000000000000000000000000:1:Banter.Test.Nothing\n".to_owned()
        } else {
            hdb
        },
    )
}

/// The antivirus test file every scanner detects (not a virus).
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A `clamd` of our own: its configuration and socket under `dir`, its signatures in
/// `database`. `foreground` keeps it a child of this process (Lambda); otherwise it
/// daemonizes and outlives us (the tests' shared one, like their PostgreSQL).
pub struct PrivateClamd {
    pub socket: PathBuf,
    config: PathBuf,
}

impl PrivateClamd {
    pub fn new(dir: &Path, database: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let socket = dir.join("clamd.sock");
        let config = dir.join("clamd.conf");
        std::fs::write(
            &config,
            format!(
                "LocalSocket {}\nDatabaseDirectory {}\nPidFile {}\nTemporaryDirectory {}\n\
                 StreamMaxLength {}M\nMaxFileSize {}M\nMaxScanSize {}M\nLogFile {}\n\
                 LogTime yes\nForeground no\nMaxThreads 4\nCommandReadTimeout 120\n",
                socket.display(),
                database.display(),
                dir.join("clamd.pid").display(),
                std::env::temp_dir().display(),
                STREAM_MAX_BYTES / (1024 * 1024),
                STREAM_MAX_BYTES / (1024 * 1024),
                STREAM_MAX_BYTES / (1024 * 1024),
                dir.join("clamd.log").display(),
            ),
        )?;
        Ok(Self { socket, config })
    }

    /// Start it (unless one already answers on the socket) and wait until it answers.
    pub async fn start(&self, foreground: bool) -> Result<Option<tokio::process::Child>, String> {
        if ping(&self.socket).await {
            return Ok(None);
        }
        let _ = std::fs::remove_file(&self.socket);
        let mut command = tokio::process::Command::new(clamd_binary());
        command
            .arg("--config-file")
            .arg(&self.config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        if foreground {
            command.arg("--foreground").kill_on_drop(true);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting clamd ({}): {e}", clamd_binary()))?;
        if !foreground {
            // It forks once the database is loaded; the parent's exit says whether it did.
            let status = child.wait().await.map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!(
                    "clamd exited with {status}; see its log beside {}",
                    self.config.display()
                ));
            }
        }
        for _ in 0..600 {
            if ping(&self.socket).await {
                return Ok(foreground.then_some(child));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("clamd did not answer within a minute".into())
    }
}

/// `clamd` on the PATH, or Debian's `/usr/sbin/clamd`.
fn clamd_binary() -> String {
    if Path::new("/usr/sbin/clamd").exists() {
        "/usr/sbin/clamd".into()
    } else {
        "clamd".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_clamd_answers() {
        assert_eq!(verdict("stream: OK\0"), Ok(Verdict::Clean));
        assert_eq!(
            verdict("stream: Banter.Test.EICAR.UNOFFICIAL FOUND\0"),
            Ok(Verdict::Infected("Banter.Test.EICAR.UNOFFICIAL".into()))
        );
        assert!(verdict("INSTREAM size limit exceeded. ERROR\0").is_err());
    }
}
