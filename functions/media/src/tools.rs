//! Running the media tools (ffmpeg, ffprobe, pdfinfo, pdftoppm, LibreOffice): arguments as a
//! list (never a shell), no input, a time limit, killed when abandoned, and what they printed
//! on failure.

use std::ffi::OsStr;
use std::process::Stdio;
use std::time::Duration;

/// Why a tool failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolFailure {
    /// It is not installed, or the machine could not start it: worth another attempt
    /// elsewhere.
    #[error("could not start {0}: {1}")]
    NotStarted(String, String),
    #[error("{0} took longer than {1:?}")]
    TimedOut(String, Duration),
    /// It ran and refused the input.
    #[error("{0} failed: {1}")]
    Failed(String, String),
}

/// Run `program` with `args`; its standard output on success.
pub async fn run<I, S>(program: &str, args: I, limit: Duration) -> Result<Vec<u8>, ToolFailure>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ToolFailure::NotStarted(program.into(), e.to_string()))?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| ToolFailure::TimedOut(program.into(), limit))?
        .map_err(|e| ToolFailure::NotStarted(program.into(), e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(ToolFailure::Failed(
            program.into(),
            format!("{}: {tail}", output.status),
        ));
    }
    Ok(output.stdout)
}
