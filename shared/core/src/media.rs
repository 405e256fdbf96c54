//! Names and types of uploaded files: the MIME type a file name's extension suggests (when the
//! client declares none), and the extension an object key gets for a MIME type. What a file
//! really is comes from its bytes, in the media function.

/// The MIME types Banter accepts, with their usual extensions (the first is the key's).
const TYPES: &[(&str, &[&str])] = &[
    ("image/jpeg", &["jpg", "jpeg", "jpe"]),
    ("image/png", &["png"]),
    ("image/webp", &["webp"]),
    ("image/gif", &["gif"]),
    ("video/mp4", &["mp4", "m4v"]),
    ("video/webm", &["webm"]),
    ("video/quicktime", &["mov", "qt"]),
    ("audio/mpeg", &["mp3", "mpga"]),
    ("audio/wav", &["wav"]),
    ("audio/ogg", &["ogg", "oga", "opus"]),
    // Not accepted by default (the PRD's list), but what recorders write, for a deployment
    // that allows them (`BANTER_UPLOAD_TYPES_AUDIO`): iOS and Safari (AAC in MP4), Chrome
    // (Opus in WebM: its name says `.webm`, which is a video's unless declared) and ADTS AAC.
    ("audio/mp4", &["m4a"]),
    ("audio/webm", &["webm"]),
    ("audio/aac", &["aac"]),
    ("application/pdf", &["pdf"]),
    ("application/msword", &["doc"]),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
    ),
];

/// The MIME type a file name's extension suggests, if it is one Banter knows.
pub fn mime_for_file_name(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(_, exts)| exts.contains(&ext.as_str()))
        .map(|(mime, _)| *mime)
}

/// The extension an object key gets for a MIME type (`bin` for one Banter does not know).
pub fn extension_for_mime(mime: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(m, _)| *m == mime)
        .map(|(_, exts)| exts[0])
        .unwrap_or("bin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_to_types_and_back() {
        assert_eq!(mime_for_file_name("Holiday.JPEG"), Some("image/jpeg"));
        assert_eq!(
            mime_for_file_name("a.b.docx"),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(mime_for_file_name("noextension"), None);
        assert_eq!(mime_for_file_name("script.exe"), None);
        assert_eq!(extension_for_mime("audio/ogg"), "ogg");
        assert_eq!(extension_for_mime("text/html"), "bin");
    }
}
