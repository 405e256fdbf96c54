//! Authentication: password hashing and verification, access tokens (JWT) and opaque refresh
//! tokens.

pub mod password;
pub mod tokens;
pub mod totp;
