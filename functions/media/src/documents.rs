//! Documents: a PDF's page count (`pdfinfo`) and a picture of its first page (`pdftoppm`,
//! poppler); a Word document (DOC, DOCX) is converted to PDF with LibreOffice headless first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::tools::{run, ToolFailure};

const LIMIT: Duration = Duration::from_secs(120);
/// The preview's longer side.
const PREVIEW_EDGE: &str = "800";

/// Convert a Word document to PDF in `dir`; the PDF's path. LibreOffice keeps its profile in
/// `dir` (writable, and private to this conversion).
pub async fn word_to_pdf(input: &Path, dir: &Path) -> Result<PathBuf, ToolFailure> {
    let profile = format!(
        "-env:UserInstallation=file://{}",
        dir.join("lo-profile").display()
    );
    run(
        "soffice",
        [
            profile.as_ref(),
            "--headless".as_ref(),
            "--norestore".as_ref(),
            "--convert-to".as_ref(),
            "pdf".as_ref(),
            "--outdir".as_ref(),
            dir.as_os_str(),
            input.as_os_str(),
        ],
        LIMIT,
    )
    .await?;
    let pdf = dir.join(input.with_extension("pdf").file_name().unwrap_or_default());
    if pdf.exists() {
        Ok(pdf)
    } else {
        Err(ToolFailure::Failed(
            "soffice".into(),
            "the document was not converted".into(),
        ))
    }
}

/// How many pages a PDF has.
pub async fn pages(pdf: &Path) -> Result<u32, ToolFailure> {
    let info = run("pdfinfo", [pdf.as_os_str()], LIMIT).await?;
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").and_then(|n| n.trim().parse().ok()))
        .ok_or_else(|| ToolFailure::Failed("pdfinfo".into(), "no page count".into()))
}

/// The first page as PNG, its longer side 800 pixels.
pub async fn first_page(pdf: &Path, dir: &Path) -> Result<Vec<u8>, ToolFailure> {
    let stem = dir.join("preview");
    run(
        "pdftoppm",
        [
            "-png".as_ref(),
            "-f".as_ref(),
            "1".as_ref(),
            "-l".as_ref(),
            "1".as_ref(),
            "-scale-to".as_ref(),
            PREVIEW_EDGE.as_ref(),
            "-singlefile".as_ref(),
            pdf.as_os_str(),
            stem.as_os_str(),
        ],
        LIMIT,
    )
    .await?;
    tokio::fs::read(stem.with_extension("png"))
        .await
        .map_err(|e| ToolFailure::Failed("pdftoppm".into(), e.to_string()))
}
