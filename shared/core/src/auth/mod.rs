//! Authentication: password hashing and verification, access tokens (JWT) and opaque refresh
//! tokens, and the check that a token's device session is still live.

pub mod password;
pub mod revocation;
pub mod tokens;
pub mod totp;
pub mod turn;
