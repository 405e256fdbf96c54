//! Media downloads through a CDN (CloudFront; PRD "CloudFront Distribution"): a file's URLs are
//! the distribution's, signed with a policy (which of the file's objects, and until when) by the
//! private key of a key group the distribution trusts. The edge serves a file only for a URL
//! the API handed out, until it expires, and keeps it cached for the next member who is handed
//! one; the bucket itself stays private (the distribution reads it through origin access
//! control). Signed with RSA and SHA-256 (`Hash-Algorithm=SHA256`). The key is a secret; the
//! `Debug` of [`MediaCdn`] does not show it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use uuid::Uuid;

/// Signed queries kept for the current period; past this many files the memo starts over.
const MEMO_CAPACITY: usize = 65_536;

/// The distribution media are downloaded from, and the key its URLs are signed with.
#[derive(Clone)]
pub struct MediaCdn {
    /// `https://d111111abcdef8.cloudfront.net` (no trailing `/`): object keys follow it.
    base_url: String,
    /// The id CloudFront gave the public key (`Key-Pair-Id`).
    key_pair_id: String,
    key: Arc<RsaKeyPair>,
    memo: Arc<Mutex<Memo>>,
}

/// Each file's signed query for the period ending `expires` (epoch seconds).
#[derive(Default)]
struct Memo {
    expires: i64,
    queries: HashMap<Uuid, Arc<str>>,
}

impl MediaCdn {
    /// `private_key_pem`: the RSA key whose public half is in the distribution's key group
    /// (PKCS#1 or PKCS#8 PEM, as `openssl genrsa` writes it).
    pub fn new(base_url: &str, key_pair_id: &str, private_key_pem: &str) -> Result<Self, String> {
        let base_url = base_url.trim_end_matches('/');
        if !base_url.starts_with("https://") {
            return Err(format!("the CDN URL must be https://..., not {base_url}"));
        }
        if key_pair_id.is_empty() {
            return Err("the CDN's key pair id is empty".into());
        }
        let key = match PrivateKeyDer::from_pem_slice(private_key_pem.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs1(der)) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            Ok(PrivateKeyDer::Pkcs8(der)) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            _ => return Err("the CDN signing key is not an RSA private key in PEM".into()),
        }
        .map_err(|e| format!("the CDN signing key is not a usable RSA key: {e}"))?;
        Ok(Self {
            base_url: base_url.to_owned(),
            key_pair_id: key_pair_id.to_owned(),
            key: Arc::new(key),
            memo: Arc::default(),
        })
    }

    /// URLs that download each of a file's objects, `keys` (Banter's keys: letters, digits and
    /// `/_.-`, nothing to escape; each holds `/{file}`), until `expires`, all under one
    /// signature: a custom policy whose resource, `{base}/*/{file}*`, matches the keys that hold
    /// the file's id and no other file's. Answers sign until the end of their period
    /// ([`UrlValidity::shared`](crate::ports::blobs::UrlValidity::shared)), so a file costs one
    /// RSA signature (about half a millisecond here) per period, not one per URL or answer: a
    /// picture has four URLs, a video seven.
    pub fn signed_urls(&self, file: Uuid, keys: &[&str], expires: DateTime<Utc>) -> Vec<String> {
        debug_assert!(keys.iter().all(|k| k.contains(&format!("/{file}"))));
        let query = self.query(file, expires.timestamp());
        keys.iter()
            .map(|key| format!("{}/{key}?{query}", self.base_url))
            .collect()
    }

    /// The signed query of `file`'s URLs until `expires`: the memo's, or signed now.
    fn query(&self, file: Uuid, expires: i64) -> Arc<str> {
        let known = self.memo(expires).queries.get(&file).cloned();
        if let Some(query) = known {
            return query;
        }
        // Signed outside the lock: other answers need not wait for this one's RSA.
        let policy = format!(
            r#"{{"Statement":[{{"Resource":"{}/*/{file}*","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#,
            self.base_url,
        );
        let query: Arc<str> = format!(
            "Policy={}&Signature={}&Key-Pair-Id={}&Hash-Algorithm=SHA256",
            url_safe_base64(policy.as_bytes()),
            self.sign(policy.as_bytes()),
            self.key_pair_id
        )
        .into();
        self.memo(expires).queries.insert(file, query.clone());
        query
    }

    /// The memo of the period ending `expires` (emptied when a new period begins, or when full).
    fn memo(&self, expires: i64) -> MutexGuard<'_, Memo> {
        // (Entries go in whole: a panic elsewhere leaves nothing half-made to recover from.)
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if memo.expires != expires || memo.queries.len() >= MEMO_CAPACITY {
            *memo = Memo {
                expires,
                queries: HashMap::new(),
            };
        }
        memo
    }

    /// RSA (PKCS#1 v1.5) over SHA-256, in CloudFront's URL-safe base64.
    fn sign(&self, message: &[u8]) -> String {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("an RSA key signs a message of any length");
        url_safe_base64(&signature)
    }
}

/// Base64 as CloudFront reads it in a URL: `+` `=` `/` become `-` `_` `~`.
fn url_safe_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

impl std::fmt::Debug for MediaCdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaCdn")
            .field("base_url", &self.base_url)
            .field("key_pair_id", &self.key_pair_id)
            .field("key", &"redacted")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    use super::*;

    /// A key made for the tests alone (`openssl genrsa 2048`), signing nothing anywhere else.
    const TEST_KEY: &str = include_str!("../data/media-cdn-test-key.pem");

    fn cdn() -> MediaCdn {
        MediaCdn::new(
            "https://d111111abcdef8.cloudfront.net/",
            "K2JCJMDEHXQW5F",
            TEST_KEY,
        )
        .unwrap()
    }

    /// CloudFront's wildcards in a policy's resource: `*` any run of characters, `?` one.
    fn matches(pattern: &str, url: &str) -> bool {
        match (pattern.chars().next(), url.chars().next()) {
            (None, None) => true,
            (Some('*'), _) => {
                matches(&pattern[1..], url)
                    || (!url.is_empty()
                        && matches(pattern, &url[url.chars().next().unwrap().len_utf8()..]))
            }
            (Some(p), Some(u)) if p == '?' || p == u => {
                matches(&pattern[p.len_utf8()..], &url[u.len_utf8()..])
            }
            _ => false,
        }
    }

    fn decode(text: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(text.replace('-', "+").replace('_', "=").replace('~', "/"))
            .unwrap()
    }

    #[test]
    fn a_files_urls_share_one_signed_policy_that_covers_its_objects_alone() {
        let cdn = cdn();
        let file: Uuid = "01a247c3-8c15-7625-960d-47c24b86ce03".parse().unwrap();
        let keys = [
            format!("uploads/01a247c3-0000-7000-8000-000000000001/{file}.mp4"),
            format!("processed/{file}/video_720.mp4"),
            format!("processed/{file}/preview.webp"),
        ];
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let expires = DateTime::from_timestamp(1_767_290_400, 0).unwrap();
        let urls = cdn.signed_urls(file, &keys, expires);
        assert_eq!(urls.len(), 3);
        let mut queries = Vec::new();
        for (url, key) in urls.iter().zip(&keys) {
            let (resource, query) = url.split_once('?').unwrap();
            assert_eq!(
                resource,
                format!("https://d111111abcdef8.cloudfront.net/{key}")
            );
            queries.push(query.to_owned());
        }
        assert!(
            queries.iter().all(|q| *q == queries[0]),
            "one signature for all"
        );
        let params: Vec<(String, String)> = form_urlencoded::parse(queries[0].as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"]
        );
        assert_eq!(
            (params[2].1.as_str(), params[3].1.as_str()),
            ("K2JCJMDEHXQW5F", "SHA256")
        );
        for raw in queries[0].split('&') {
            let (_, value) = raw.split_once('=').unwrap();
            assert!(
                !value.contains(['+', '=', '/']),
                "URL-safe as CloudFront reads it: {raw}"
            );
        }

        // The policy CloudFront decodes: the file's objects, until then.
        let policy: serde_json::Value = serde_json::from_slice(&decode(&params[0].1)).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(
            statement["Condition"]["DateLessThan"]["AWS:EpochTime"],
            1_767_290_400
        );
        let resource = statement["Resource"].as_str().unwrap();
        for url in &urls {
            assert!(
                matches(resource, url.split_once('?').unwrap().0),
                "{resource} ~ {url}"
            );
        }
        for other in [
            "https://d111111abcdef8.cloudfront.net/processed/01a247c3-8c15-7625-960d-47c24b86ce04/preview.webp",
            "https://d111111abcdef8.cloudfront.net/exports/01a247c3-0000-7000-8000-000000000001.zip",
            "https://d111111abcdef8.cloudfront.net/backups/x.zip",
        ] {
            assert!(!matches(resource, other), "{resource} must not match {other}");
        }

        // Signed by the key whose public half the distribution trusts.
        let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, cdn.key.public().as_ref());
        let signed = decode(&params[0].1);
        public
            .verify(&signed, &decode(&params[1].1))
            .expect("the public key verifies the policy's signature");
        let later = String::from_utf8(signed)
            .unwrap()
            .replace("1767290400", "1767290401");
        assert!(
            public
                .verify(later.as_bytes(), &decode(&params[1].1))
                .is_err(),
            "a later expiry is not what was signed"
        );
    }

    /// The expiry a URL's policy signs.
    fn expiry_of(url: &str) -> i64 {
        let (_, query) = url.split_once('?').unwrap();
        let (_, policy) = form_urlencoded::parse(query.as_bytes()).next().unwrap();
        let policy: serde_json::Value = serde_json::from_slice(&decode(&policy)).unwrap();
        policy["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"]
            .as_i64()
            .unwrap()
    }

    #[test]
    fn a_files_urls_are_the_same_for_one_expiry_and_signed_for_it_alone() {
        let cdn = cdn();
        let file: Uuid = "01a247c3-8c15-7625-960d-47c24b86ce03".parse().unwrap();
        let key = format!("processed/{file}/medium.webp");
        let at =
            |secs: i64| cdn.signed_urls(file, &[&key], DateTime::from_timestamp(secs, 0).unwrap());
        let first = at(1_767_290_700);
        assert_eq!(expiry_of(&first[0]), 1_767_290_700, "signed as asked");
        assert_eq!(at(1_767_290_700), first, "the same expiry, the same URL");
        let next = at(1_767_291_000);
        assert_ne!(next, first);
        assert_eq!(expiry_of(&next[0]), 1_767_291_000);
        let other: Uuid = "01a247c3-8c15-7625-960d-47c24b86ce04".parse().unwrap();
        let other_key = format!("processed/{other}/medium.webp");
        let expires = DateTime::from_timestamp(1_767_291_000, 0).unwrap();
        let others = cdn.signed_urls(other, &[&other_key], expires);
        assert_ne!(
            others[0].split_once('?').unwrap().1,
            next[0].split_once('?').unwrap().1,
            "each file its own signature"
        );
    }

    #[test]
    fn the_key_must_be_rsa_and_never_shows() {
        let cdn = cdn();
        assert!(!format!("{cdn:?}").contains("PRIVATE"));
        assert!(format!("{cdn:?}").contains("redacted"));
        assert!(MediaCdn::new("http://d1.cloudfront.net", "K1", TEST_KEY).is_err());
        assert!(MediaCdn::new("https://d1.cloudfront.net", "", TEST_KEY).is_err());
        assert!(MediaCdn::new("https://d1.cloudfront.net", "K1", "not a key").is_err());
    }
}
