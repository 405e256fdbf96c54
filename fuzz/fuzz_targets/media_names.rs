//! File names to MIME types: any name, no panic; a type a name suggests maps to an extension
//! that suggests the same type again (the table is consistent both ways).
#![no_main]

use banter_core::media::{extension_for_mime, mime_for_file_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let name = String::from_utf8_lossy(bytes);
    if let Some(mime) = mime_for_file_name(&name) {
        let extension = extension_for_mime(mime);
        assert_ne!(extension, "bin", "{mime} has an extension");
        assert_eq!(mime_for_file_name(&format!("file.{extension}")), Some(mime));
    }
});
