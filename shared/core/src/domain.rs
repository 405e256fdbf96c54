//! Validated input types. Each `parse` is the only way to build one, so a value of the type is
//! known to be well-formed wherever it travels.

use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trimmed and lower-cased; one `@`, a dotted domain, no spaces, at most 254 bytes.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let e = raw.trim().to_lowercase();
        let bad = || ApiError::Validation("email is not a valid address".into());
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = e.split_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') || !domain.contains('.') {
            return Err(bad());
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(bad());
        }
        Ok(Self(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// 3 to 30 of `a-z 0-9 _ .`, lower-cased.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let u = raw.trim().to_lowercase();
        let ok = (3..=30).contains(&u.len())
            && u.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !ok {
            return Err(ApiError::Validation(
                "username must be 3-30 characters of a-z, 0-9, '_' and '.'".into(),
            ));
        }
        Ok(Self(u))
    }

    /// A handle derived from an email's local part, for registrations that give none. The
    /// caller appends digits if it is taken.
    pub fn from_email(email: &Email) -> Self {
        let local = email.as_str().split('@').next().unwrap_or_default();
        let mut u: String = local
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.')
            .take(24)
            .collect();
        while u.len() < 3 {
            u.push('_');
        }
        Self(u)
    }

    /// This handle with a suffix, kept within 30 bytes.
    pub fn with_suffix(&self, suffix: &str) -> Self {
        let keep = 30usize.saturating_sub(suffix.len()).min(self.0.len());
        Self(format!("{}{suffix}", &self.0[..keep]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// 8 to 128 characters.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let n = raw.chars().count();
        if !(8..=128).contains(&n) {
            return Err(ApiError::Validation(
                "password must be 8 to 128 characters".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// E.164: `+` then 8 to 15 digits.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let p: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let digits = p.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::Validation(
                "phone must be in international format, e.g. +14155550100".into(),
            ));
        }
        Ok(Self(p))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The client's own id for a message, for idempotent sends: 1 to 100 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessageId(String);

impl ClientMessageId {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.is_empty() || raw.len() > 100 || raw.chars().any(char::is_control) {
            return Err(ApiError::Validation(
                "clientMessageId must be 1 to 100 printable characters".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// PRD message types a client may send (`system` messages are the server's own).
pub const MESSAGE_TYPES: &[&str] = &[
    "text", "image", "video", "audio", "document", "location", "contact", "sticker",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageType(&'static str);

impl MessageType {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        MESSAGE_TYPES
            .iter()
            .find(|t| **t == raw)
            .map(|t| Self(t))
            .ok_or_else(|| {
                ApiError::Validation(format!("type must be one of {}", MESSAGE_TYPES.join(", ")))
            })
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// A page size: default 50, at most 100.
pub fn page_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(50),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(ApiError::Validation(
                "limit must be between 1 and 100".into(),
            )),
        },
    }
}

/// A UUID from a path or body, as a 400 (not a 500) when malformed.
pub fn parse_id(raw: &str, what: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Validation(format!("{what} must be a UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "a@b",
            "@example.com",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn username_rules_and_derivation() {
        assert!(Username::parse("al").is_err());
        assert!(Username::parse("alice smith").is_err());
        assert_eq!(Username::parse("Alice_1").unwrap().as_str(), "alice_1");
        let derived = Username::from_email(&Email::parse("A+b@x.io").unwrap());
        assert_eq!(derived.as_str(), "ab_");
        assert_eq!(
            Username::parse(&"x".repeat(30))
                .unwrap()
                .with_suffix("123")
                .as_str()
                .len(),
            30
        );
    }

    #[test]
    fn passwords_and_ids() {
        assert!(Password::parse("short").is_err());
        assert!(format!("{:?}", Password::parse("long enough").unwrap()).contains("***"));
        assert!(ClientMessageId::parse("").is_err());
        assert!(ClientMessageId::parse(&"x".repeat(101)).is_err());
        assert!(MessageType::parse("hologram").is_err());
        assert_eq!(page_limit(Some("101")).is_err(), true);
        assert_eq!(page_limit(None).unwrap(), 50);
        assert!(Phone::parse("+1 415 555 0100").is_ok());
        assert!(Phone::parse("4155550100").is_err());
    }
}
