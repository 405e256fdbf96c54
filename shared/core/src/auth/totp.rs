//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), as
//! authenticator apps use them, and the base32 their secrets are shown in.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const STEP: i64 = 30;

/// A new 160-bit secret, base32.
pub fn new_secret() -> String {
    let mut raw = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    base32_encode(&raw)
}

pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The code for a secret at a Unix time.
pub fn code_at(secret: &[u8], unix: i64) -> String {
    let counter = (unix.div_euclid(STEP)) as u64;
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

/// Does `code` match the secret now, allowing one step of clock drift either way?
pub fn verify(secret_base32: &str, code: &str, unix: i64) -> bool {
    matching_step(secret_base32, code, unix).is_some()
}

/// The time step (`unix / 30`) whose code `code` is, within one step of now, if any: what a
/// login records so the same code cannot be spent twice.
pub fn matching_step(secret_base32: &str, code: &str, unix: i64) -> Option<i64> {
    let secret = base32_decode(secret_base32)?;
    if code.len() != 6 {
        return None;
    }
    (-1..=1).map(|d| unix + d * STEP).find_map(|t| {
        super::tokens::constant_time_eq(code_at(&secret, t).as_bytes(), code.as_bytes())
            .then_some(t.div_euclid(STEP))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, truncated to 6 digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59), "287082");
        assert_eq!(code_at(secret, 1111111109), "081804");
        assert_eq!(code_at(secret, 2000000000), "279037");
    }

    #[test]
    fn base32_round_trips_and_verification_allows_one_step() {
        let secret = new_secret();
        let raw = base32_decode(&secret).unwrap();
        assert_eq!(base32_encode(&raw), secret);
        let now = 1_800_000_000;
        assert!(verify(&secret, &code_at(&raw, now - 30), now));
        assert!(!verify(&secret, &code_at(&raw, now - 90), now));
        assert!(!verify(&secret, "12345", now));
    }
}
