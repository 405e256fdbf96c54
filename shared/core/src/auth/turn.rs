//! Short-lived TURN credentials for calls, which a TURN server checks without a user database
//! (the "TURN REST API", draft-uberti-behave-turn-rest-00, as coturn's `use-auth-secret` and
//! most hosted TURN services take it): the username is `{expiry}:{userId}` (Unix seconds), the
//! password base64(HMAC-SHA1(shared key, username)). The key is a secret; it never leaves the
//! server, and its `Debug` does not show it.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use uuid::Uuid;

/// The key shared with the TURN servers.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnKey(Vec<u8>);

impl TurnKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self(key.into())
    }

    /// `user`'s username and password, valid until `expires`.
    pub fn credential(&self, user: Uuid, expires: DateTime<Utc>) -> (String, String) {
        let username = format!("{}:{user}", expires.timestamp());
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(username.as_bytes());
        let password =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        (username, password)
    }
}

impl std::fmt::Debug for TurnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_keyed_hash_of_the_username_and_the_key_never_shows() {
        let key = TurnKey::new("north");
        let user: Uuid = "01a24061-69b2-7016-b680-7c0fc5a5c33c".parse().unwrap();
        let expires = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (username, password) = key.credential(user, expires);
        assert_eq!(username, format!("1800000000:{user}"));
        // `printf %s "$username" | openssl dgst -sha1 -hmac north -binary | base64`
        assert_eq!(password, "jTA8XNTVH31/xDlaW2PJvQPCpjg=");
        assert_ne!(TurnKey::new("south").credential(user, expires).1, password);
        assert_eq!(format!("{key:?}"), "TurnKey(redacted)");
    }
}
