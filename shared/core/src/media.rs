//! What a file really is, from its first bytes, so a declared type can be checked against it.

/// The MIME type that the file's signature shows, for the types the PRD allows.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    let at = |offset: usize, sig: &[u8]| bytes.get(offset..offset + sig.len()) == Some(sig);
    Some(match () {
        _ if starts(&[0xFF, 0xD8, 0xFF]) => "image/jpeg",
        _ if starts(b"\x89PNG\r\n\x1a\n") => "image/png",
        _ if starts(b"GIF87a") || starts(b"GIF89a") => "image/gif",
        _ if starts(b"RIFF") && at(8, b"WEBP") => "image/webp",
        _ if starts(b"RIFF") && at(8, b"WAVE") => "audio/wav",
        _ if starts(b"%PDF-") => "application/pdf",
        _ if starts(b"OggS") => "audio/ogg",
        _ if starts(b"ID3")
            || starts(&[0xFF, 0xFB])
            || starts(&[0xFF, 0xF3])
            || starts(&[0xFF, 0xF2]) =>
        {
            "audio/mpeg"
        }
        _ if starts(&[0x1A, 0x45, 0xDF, 0xA3]) => "video/webm",
        _ if at(4, b"ftypqt") => "video/quicktime",
        _ if at(4, b"ftyp") => "video/mp4",
        _ if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) => "application/msword",
        _ if starts(b"PK\x03\x04") => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn recognises_signatures_and_refuses_the_rest() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Some("video/mp4"));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
    }
}
