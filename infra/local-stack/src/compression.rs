//! API Gateway's payload compression, as the REST emulation applies it: with the API's
//! `MinimumCompressionSize` set (`template.yaml`), a response body of at least that many bytes is
//! sent gzip- or deflate-encoded when the client's most preferred `Accept-Encoding` is one of
//! them, and a request body sent with `Content-Encoding: gzip` or `deflate` is decoded before the
//! function sees it (never to more than the payload limit, so a small bomb cannot fill memory).

use std::io::{Read, Write};

use flate2::read::{GzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;

/// A content coding API Gateway applies or removes. `deflate` is the zlib format, as HTTP
/// defines it (RFC 9110, 8.4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }

    /// The coding a `Content-Encoding` value names: `Ok(None)` for none (or `identity`),
    /// `Err` for one API Gateway does not decode.
    pub fn of_content_encoding(value: &str) -> Result<Option<Self>, UnsupportedCoding> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(None),
            "gzip" | "x-gzip" => Ok(Some(Coding::Gzip)),
            "deflate" => Ok(Some(Coding::Deflate)),
            _ => Err(UnsupportedCoding(value.to_owned())),
        }
    }

    /// The coding to answer with for an `Accept-Encoding` value: the client's most preferred
    /// one (highest `q`, the first listed on a tie), if it is gzip, deflate or `*` (gzip). As in
    /// API Gateway, a most preferred coding it does not support (br, identity) means no
    /// compression.
    pub fn preferred(accept_encoding: &str) -> Option<Self> {
        let mut best: Option<(f32, &str)> = None;
        for entry in accept_encoding.split(',') {
            let mut parts = entry.split(';');
            let name = parts.next().unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, name));
            }
        }
        match best?.1.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" | "*" => Some(Coding::Gzip),
            "deflate" => Some(Coding::Deflate),
            _ => None,
        }
    }

    pub fn encode(self, body: &[u8]) -> Vec<u8> {
        fn finish<W: Write>(
            mut w: W,
            body: &[u8],
            end: impl FnOnce(W) -> std::io::Result<Vec<u8>>,
        ) -> Vec<u8> {
            w.write_all(body).expect("writing to memory");
            end(w).expect("writing to memory")
        }
        match self {
            Coding::Gzip => finish(
                GzEncoder::new(Vec::new(), Compression::default()),
                body,
                GzEncoder::finish,
            ),
            Coding::Deflate => finish(
                ZlibEncoder::new(Vec::new(), Compression::default()),
                body,
                ZlibEncoder::finish,
            ),
        }
    }

    /// `body` decoded, if it decodes to at most `limit` bytes.
    pub fn decode(self, body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
        let reader: Box<dyn Read + '_> = match self {
            Coding::Gzip => Box::new(GzDecoder::new(body)),
            Coding::Deflate => Box::new(ZlibDecoder::new(body)),
        };
        let mut out = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| DecodeError::Corrupt)?;
        if out.len() > limit {
            return Err(DecodeError::TooLarge);
        }
        Ok(out)
    }
}

/// A `Content-Encoding` API Gateway does not decode.
#[derive(Debug, PartialEq, Eq)]
pub struct UnsupportedCoding(pub String);

#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    Corrupt,
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_preferred_supported_coding_is_chosen() {
        let cases = [
            ("gzip", Some(Coding::Gzip)),
            ("gzip, deflate, br", Some(Coding::Gzip)),
            ("deflate;q=1, gzip;q=0.5", Some(Coding::Deflate)),
            ("br, gzip;q=0.9", None),
            ("identity", None),
            ("gzip;q=0", None),
            ("gzip;q=0, deflate", Some(Coding::Deflate)),
            ("*", Some(Coding::Gzip)),
            ("GZIP ; q=0.8", Some(Coding::Gzip)),
            ("", None),
            (",,;q=", None),
        ];
        for (header, want) in cases {
            assert_eq!(Coding::preferred(header), want, "{header:?}");
        }
    }

    #[test]
    fn bodies_round_trip_and_bombs_stop_at_the_limit() {
        let body = br#"{"data":"hello hello hello hello"}"#.repeat(50);
        for coding in [Coding::Gzip, Coding::Deflate] {
            let encoded = coding.encode(&body);
            assert!(
                encoded.len() < body.len() / 10,
                "{coding:?}: {}",
                encoded.len()
            );
            assert_eq!(coding.decode(&encoded, body.len()).unwrap(), body);
            assert_eq!(
                coding.decode(&encoded, body.len() - 1),
                Err(DecodeError::TooLarge)
            );
            assert_eq!(
                coding.decode(b"not compressed at all", 1_000),
                Err(DecodeError::Corrupt)
            );
        }
    }
}
