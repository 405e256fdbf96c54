//! Access tokens are JWTs signed with Ed25519 (`EdDSA`): the signing key stays with the
//! functions that issue tokens, while the WebSocket authorizer and the REST functions verify
//! with the public key only. The algorithm is pinned, so `alg: none` or an HMAC token forged
//! with the public key is refused; `exp`, `iss` and `aud` are checked.
//!
//! Refresh tokens are opaque 256-bit random values; only their SHA-256 is stored.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Settings;
use crate::error::ApiError;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The device session id.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// Who is calling: the user and their device session, from a verified access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

pub struct TokenKeys {
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl TokenKeys {
    /// A new random Ed25519 key pair, as PKCS#8 DER (for development and tests).
    pub fn generate_pkcs8() -> Vec<u8> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("ring key generation")
            .as_ref()
            .to_vec()
    }

    /// Keys that can issue and verify tokens, from a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8], settings: &Settings) -> Result<Self, String> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| format!("bad Ed25519 key: {e}"))?;
        let mut keys = Self::verify_only(pair.public_key().as_ref(), settings)?;
        keys.encoding = Some(EncodingKey::from_ed_der(der));
        Ok(keys)
    }

    /// Keys that can only verify tokens, from the 32-byte Ed25519 public key.
    pub fn verify_only(public_key: &[u8], settings: &Settings) -> Result<Self, String> {
        if public_key.len() != 32 {
            return Err("an Ed25519 public key is 32 bytes".into());
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&settings.token_issuer]);
        validation.set_audience(&[&settings.token_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding: None,
            decoding: DecodingKey::from_ed_der(public_key),
            validation,
            issuer: settings.token_issuer.clone(),
            audience: settings.token_audience.clone(),
        })
    }

    /// From `JWT_PRIVATE_KEY` (base64 PKCS#8 DER) or, for verify-only functions,
    /// `JWT_PUBLIC_KEY` (base64 of the 32-byte key).
    /// Signing keys from the base64 of a PKCS#8 Ed25519 key (as `JWT_PRIVATE_KEY` or its secret
    /// holds it).
    pub fn from_private_key_base64(private: &str, settings: &Settings) -> Result<Self, String> {
        let der = STANDARD
            .decode(private.trim())
            .map_err(|_| "the JWT private key is not base64")?;
        Self::from_pkcs8(&der, settings)
    }

    pub fn from_env(settings: &Settings) -> Result<Self, String> {
        if let Ok(private) = std::env::var("JWT_PRIVATE_KEY") {
            return Self::from_private_key_base64(&private, settings);
        }
        Self::verify_only_base64(&crate::config::env_required("JWT_PUBLIC_KEY")?, settings)
    }

    /// Verify-only keys from the base64 of the 32-byte public key (as `JWT_PUBLIC_KEY` holds it).
    pub fn verify_only_base64(public: &str, settings: &Settings) -> Result<Self, String> {
        let raw = STANDARD
            .decode(public.trim())
            .map_err(|_| "JWT_PUBLIC_KEY is not base64")?;
        Self::verify_only(&raw, settings)
    }

    /// The base64 public key matching a PKCS#8 private key (what `JWT_PUBLIC_KEY` holds).
    pub fn public_key_base64(pkcs8: &[u8]) -> Result<String, String> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| format!("bad Ed25519 key: {e}"))?;
        Ok(STANDARD.encode(pair.public_key().as_ref()))
    }

    pub fn issue_access(&self, caller: Caller, ttl_secs: i64) -> Result<String, ApiError> {
        let Some(key) = &self.encoding else {
            return Err(ApiError::Internal(
                "this function holds no signing key".into(),
            ));
        };
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: caller.user_id,
            sid: caller.session_id,
            iat: now,
            exp: now + ttl_secs,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, key)
            .map_err(|e| ApiError::Internal(format!("jwt encode: {e}")))
    }

    /// Verify an access token: signature (EdDSA only), `exp`, `iss`, `aud`.
    pub fn verify_access(&self, token: &str) -> Result<Caller, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        if token.len() > 4096 {
            return Err(ApiError::InvalidToken);
        }
        match jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(Caller {
                user_id: data.claims.sub,
                session_id: data.claims.sid,
            }),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
                Err(ApiError::TokenExpired)
            }
            Err(_) => Err(ApiError::InvalidToken),
        }
    }
}

/// A new opaque token (refresh, email link): 32 random bytes, base64url. Returns the token and
/// the hash to store.
pub fn new_opaque_token() -> (String, Vec<u8>) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Compare secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
