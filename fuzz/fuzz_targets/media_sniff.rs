//! The magic-byte sniffer: any bytes, no panic; a type is decided by the file's first bytes
//! (every signature lies within 16), so what follows them never changes it.
#![no_main]

use banter_core::media::sniff;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let kind = sniff(bytes);
    if let Some(kind) = kind {
        assert!(kind.contains('/'));
    }
    if bytes.len() >= 16 {
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(b"trailing bytes do not change what a file is");
        assert_eq!(sniff(&longer), kind);
    }
});
