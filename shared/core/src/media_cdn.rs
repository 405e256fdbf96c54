//! Media downloads through a CDN (CloudFront; PRD "CloudFront Distribution"): a file's URL is
//! the distribution's, signed with a canned policy (the URL and when it stops working) by the
//! private key of a key group the distribution trusts. The edge serves a file only for a URL
//! the API handed out, until it expires, and keeps it cached for the next member who is handed
//! one; the bucket itself stays private (the distribution reads it through origin access
//! control). Signed with RSA and SHA-256 (`Hash-Algorithm=SHA256`). The key is a secret; the
//! `Debug` of [`MediaCdn`] does not show it.

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

/// The distribution media are downloaded from, and the key its URLs are signed with.
#[derive(Clone)]
pub struct MediaCdn {
    /// `https://d111111abcdef8.cloudfront.net` (no trailing `/`): object keys follow it.
    base_url: String,
    /// The id CloudFront gave the public key (`Key-Pair-Id`).
    key_pair_id: String,
    key: Arc<RsaKeyPair>,
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
        })
    }

    /// A URL that downloads the object `key` (one of Banter's keys: letters, digits and
    /// `/_.-`, nothing to escape) until `expires`.
    pub fn signed_url(&self, key: &str, expires: DateTime<Utc>) -> String {
        let resource = format!("{}/{key}", self.base_url);
        let expires = expires.timestamp();
        let signature = self.sign(canned_policy(&resource, expires).as_bytes());
        format!(
            "{resource}?Expires={expires}&Signature={signature}&Key-Pair-Id={}&Hash-Algorithm=SHA256",
            self.key_pair_id
        )
    }

    /// RSA (PKCS#1 v1.5) over SHA-256, in CloudFront's URL-safe base64 (`+` `=` `/` become
    /// `-` `_` `~`).
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
        base64::engine::general_purpose::STANDARD
            .encode(signature)
            .chars()
            .map(|c| match c {
                '+' => '-',
                '=' => '_',
                '/' => '~',
                c => c,
            })
            .collect()
    }
}

/// The canned policy CloudFront rebuilds from a signed URL and checks the signature against:
/// this exact text, without spaces.
fn canned_policy(resource: &str, expires: i64) -> String {
    format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
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

    #[test]
    fn a_signed_url_carries_a_signature_of_the_canned_policy_that_the_public_key_verifies() {
        let cdn = cdn();
        let expires = DateTime::from_timestamp(1_767_290_400, 0).unwrap();
        let url = cdn.signed_url("processed/01a2/thumbnail.webp", expires);
        let resource = "https://d111111abcdef8.cloudfront.net/processed/01a2/thumbnail.webp";
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, resource);
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["Expires", "Signature", "Key-Pair-Id", "Hash-Algorithm"]
        );
        assert_eq!(params[0].1, "1767290400");
        assert_eq!(params[2].1, "K2JCJMDEHXQW5F");
        assert_eq!(params[3].1, "SHA256");
        let signature = &params[1].1;
        assert!(
            !signature.contains(['+', '=', '/']),
            "URL-safe as CloudFront reads it: {signature}"
        );
        let signature = base64::engine::general_purpose::STANDARD
            .decode(
                signature
                    .replace('-', "+")
                    .replace('_', "=")
                    .replace('~', "/"),
            )
            .unwrap();
        // The policy as CloudFront's guide spells it, rebuilt here from the URL's parts.
        let policy = format!(
            "{{\"Statement\":[{{\"Resource\":\"{resource}\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":1767290400}}}}}}]}}"
        );
        let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, cdn.key.public().as_ref());
        public
            .verify(policy.as_bytes(), &signature)
            .expect("the public key verifies the policy's signature");
        assert!(
            public
                .verify(
                    policy.replace("1767290400", "1767290401").as_bytes(),
                    &signature
                )
                .is_err(),
            "a later expiry is not what was signed"
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
