//! What a file really is, from its bytes (the `file-format` crate, with its readers for the
//! containers: ZIP tells DOCX from other ZIPs, CFB tells DOC from other OLE files, MP4 and
//! EBML tell video from audio, ID3v2 finds the MP3 behind its tag), as the MIME types Banter
//! accepts.

use file_format::FileFormat;

/// The accepted MIME type the bytes are, or `None` for anything else.
pub fn real_type(bytes: &[u8]) -> Option<&'static str> {
    use FileFormat as F;
    Some(match FileFormat::from_bytes(bytes) {
        F::JointPhotographicExpertsGroup => "image/jpeg",
        F::PortableNetworkGraphics | F::AnimatedPortableNetworkGraphics => "image/png",
        F::Webp => "image/webp",
        F::GraphicsInterchangeFormat => "image/gif",
        F::Mpeg4Part14 | F::Mpeg4Part14Video => "video/mp4",
        F::AppleQuicktime => "video/quicktime",
        F::Webm => "video/webm",
        F::Mpeg12AudioLayer3 => "audio/mpeg",
        F::WaveformAudio => "audio/wav",
        F::OggOpus | F::OggVorbis | F::OggFlac | F::OggSpeex => "audio/ogg",
        F::Mpeg4Part14Audio | F::AppleItunesAudio => "audio/mp4",
        F::AdvancedAudioCoding => "audio/aac",
        F::PortableDocumentFormat => "application/pdf",
        F::MicrosoftWordDocument => "application/msword",
        F::OfficeOpenXmlDocument => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
        _ => return None,
    })
}

/// Whether bytes `detected` as a type are the type a file was `declared`: the same, or a WebM
/// declared as sound (WebM's header does not say whether it holds pictures: processing a sound
/// checks that it holds none).
pub fn is_declared(declared: &str, detected: Option<&str>) -> bool {
    detected == Some(declared) || (declared == "audio/webm" && detected == Some("video/webm"))
}

#[cfg(test)]
mod tests {
    use super::real_type;

    /// A ZIP that is not a Word document: one file, `hello.txt`.
    fn plain_zip() -> Vec<u8> {
        let mut zip = Vec::new();
        let name = b"hello.txt";
        let data = b"hello";
        let crc = 0x3610a686u32; // CRC-32 of "hello"
        let local = |zip: &mut Vec<u8>| {
            zip.extend_from_slice(b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0");
            zip.extend_from_slice(&crc.to_le_bytes());
            zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
            zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
            zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
            zip.extend_from_slice(&0u16.to_le_bytes());
            zip.extend_from_slice(name);
            zip.extend_from_slice(data);
        };
        local(&mut zip);
        let central_at = zip.len() as u32;
        zip.extend_from_slice(b"PK\x01\x02\x14\0\x14\0\0\0\0\0\0\0\0\0");
        zip.extend_from_slice(&crc.to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(data.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0; 12]);
        zip.extend_from_slice(&0u32.to_le_bytes());
        zip.extend_from_slice(name);
        let central_len = zip.len() as u32 - central_at;
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
        zip.extend_from_slice(&central_len.to_le_bytes());
        zip.extend_from_slice(&central_at.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip
    }

    #[test]
    fn tells_types_from_bytes_and_a_zip_is_not_a_docx() {
        assert_eq!(
            real_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(real_type(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(real_type(b"<html>"), None);
        // An MP3 as encoders write it: an ID3v2 tag (here an empty one), then MPEG frames.
        let mut mp3 = b"ID3\x04\0\0\0\0\0\0".to_vec();
        mp3.extend_from_slice(b"\xff\xfb\x90\x64");
        mp3.resize(512, 0);
        assert_eq!(real_type(&mp3), Some("audio/mpeg"));
        assert_eq!(
            real_type(&mp3[10..]),
            Some("audio/mpeg"),
            "and without a tag"
        );
        assert_eq!(real_type(b""), None);
        assert_eq!(
            real_type(&plain_zip()),
            None,
            "any ZIP passed as DOCX before"
        );
    }
}
