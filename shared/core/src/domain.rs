//! Validated input types. Each `parse` is the only way to build one, so a value of the type is
//! known to be well-formed wherever it travels. Each also deserializes through its `parse` (a
//! request type's field of this type is checked where the body is read, and the error names the
//! field) and describes itself to the OpenAPI document with the same rules.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};
use uuid::Uuid;

use crate::error::ApiError;

/// Implements `Deserialize` through `parse`, and `ToSchema` as a string with the given rules.
macro_rules! validated_string {
    ($ty:ty, $describe:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = Cow::<str>::deserialize(d)?;
                <$ty>::parse(&raw).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                let describe: fn(ObjectBuilder) -> ObjectBuilder = $describe;
                describe(ObjectBuilder::new().schema_type(Type::String)).into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

/// A blank character, as the documents' patterns mean `\s` (ECMAScript: Unicode White_Space
/// but U+0085, and U+FEFF), so "not only spaces" is one rule on both sides.
pub fn is_blank_char(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

/// `s` without its blank characters at either end.
pub fn trim_blank(s: &str) -> &str {
    s.trim_matches(is_blank_char)
}

/// A character no name holds (a display name, a nickname, a group's or a label's): names are
/// one line (no control characters, no line or paragraph separator: a group name with a line
/// break forged a second line in its "changed the group name" line) and read in their letters'
/// own direction (no bidirectional embedding, override or isolate, with which "alice\u{202E}gpj.exe"
/// shows as "aliceexe.jpg").
pub fn unfit_for_a_name(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

// The parts of the documents' name patterns, as literals for `concat!`: a blank trimmed from
// a name's ends (as [`trim_blank`]: neither U+0085 nor the control characters some engines
// count as blanks), and what lies between: characters fit for a name ([`unfit_for_a_name`]'s
// others, no blank) with blanks between them (no control character, no line or paragraph
// separator).
macro_rules! name_end_blank {
    () => {
        r"[^\S\u001C-\u001F\u0085]*"
    };
}
macro_rules! name_inside {
    () => {
        concat!(
            r"[^\s\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]",
            r"([^\S\u0000-\u001F\u007F-\u009F\u2028\u2029]*",
            r"[^\s\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069])*"
        )
    };
}

/// [`unfit_for_a_name`] as the documents' pattern for a name that may be blank (which clears
/// it).
pub const NAME_PATTERN: &str = concat!(
    "^",
    name_end_blank!(),
    "(",
    name_inside!(),
    ")?",
    name_end_blank!(),
    "$"
);

/// [`NAME_PATTERN`] for a name that must not be blank (a group's).
pub const REQUIRED_NAME_PATTERN: &str = concat!(
    "^",
    name_end_blank!(),
    name_inside!(),
    name_end_blank!(),
    "$"
);

/// Refuse a name (already trimmed) holding a character [`unfit_for_a_name`].
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().any(unfit_for_a_name) {
        return Err(ApiError::Validation(
            "a name is one line, without control or text-direction characters".into(),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// An address of ASCII words: `local@domain`, the local part dot-separated words of
    /// letters, digits and ``!#$%&'*+/=?^_`{|}~-``, the domain two or more dot-separated labels
    /// of letters, digits and inner hyphens; at most 254 characters. Stored lower-cased.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::Validation("email is not a valid address".into());
        if raw.len() > 254 {
            return Err(bad());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(bad)?;
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok = local
            .split('.')
            .all(|word| !word.is_empty() && word.chars().all(atext));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(bad());
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// The pattern is the whole rule: a `format: email` would let each validator apply its own
// reading of the RFCs.
validated_string!(Email, |s| s
    .description(Some(
        "An email address of ASCII words, e.g. alice@example.com"
    ))
    .max_length(Some(254))
    .pattern(Some(concat!(
        r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
        r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
    ))));

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// 3 to 30 of `a-z 0-9 _ .`, lower-cased.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let u = raw.to_ascii_lowercase();
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

    /// What the handle looks like: its confusable skeleton (Unicode TS #39), case-folded, so
    /// `a1ice`, `AIice` and `alice` are one, as are `b0b` and `bob`, `rnary` and `mary`. Two
    /// live accounts never share one (`users_username_skeleton_key`).
    pub fn skeleton(&self) -> String {
        unicode_security::skeleton(&self.0)
            .collect::<String>()
            .to_lowercase()
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

validated_string!(Username, |s| s
    .description(Some(
        "3 to 30 of a-z, 0-9, '_' and '.' (stored lower-cased)"
    ))
    .pattern(Some(r"^[A-Za-z0-9_.]{3,30}$")));

#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The most common passwords a new one could be, lower-cased, one per line (`#` lines are
/// notes: where the list comes from, its license). NIST SP 800-63B asks that a new password be
/// checked against such a list.
const COMMON_PASSWORDS: &str = include_str!("../data/common_passwords.txt");

impl Password {
    /// A new password: 8 to 128 characters, and none of the most common ones (whatever its
    /// case: "Password1" is "password1").
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let n = raw.chars().count();
        if !(8..=128).contains(&n) {
            return Err(ApiError::Validation(
                "password must be 8 to 128 characters".into(),
            ));
        }
        let lower = raw.to_lowercase();
        if COMMON_PASSWORDS.lines().any(|common| common == lower) {
            return Err(ApiError::Validation(
                "this password is one of the most common ones, which are guessed first: choose another".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

validated_string!(Password, |s| s
    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
    .min_length(Some(8))
    .max_length(Some(128)));

/// A credential presented as it is (a password to check, a token, a code): any string up to
/// 1,024 characters, never shown in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.chars().count() > 1024 {
            return Err(ApiError::Validation("at most 1024 characters".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

validated_string!(Secret, |s| s.max_length(Some(1024)));

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// E.164: `+` then 8 to 15 digits; spaces, dashes and parentheses between are dropped.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let p: String = raw
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

validated_string!(Phone, |s| s
    .description(Some(
        "E.164, e.g. +14155550100; spaces, dashes and parentheses are allowed and dropped"
    ))
    .pattern(Some(r"^[ ()-]*\+([ ()-]*[0-9]){8,15}[ ()-]*$")));

/// A phone number from an address book, in E.164 as libphonenumber's rules read it (the
/// `phonenumber` crate): international numbers as they are, national ones in `region`. `None`
/// when it is no valid number there.
pub fn address_book_phone(raw: &str, region: Option<phonenumber::country::Id>) -> Option<String> {
    let number = phonenumber::parse(region, raw).ok()?;
    number
        .is_valid()
        .then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The region (ISO 3166-1 alpha-2) a number belongs to, or that `code` names.
pub fn phone_region(number_or_code: &str) -> Option<phonenumber::country::Id> {
    if let Ok(id) = number_or_code.parse() {
        return Some(id);
    }
    phonenumber::parse(None, number_or_code)
        .ok()?
        .country()
        .id()
}

/// A code from an SMS or an authenticator app: 6 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SixDigitCode(String);

impl SixDigitCode {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::Validation("the code is 6 digits".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_string!(SixDigitCode, |s| s.pattern(Some("^[0-9]{6}$")));

/// A client's own id for something it makes (a message, a group, a forward), so that a retry finds
/// what the first attempt made: 1 to 100 characters, none of them control characters.
fn client_chosen_id(raw: &str, field: &str) -> Result<String, ApiError> {
    let n = raw.chars().count();
    if n == 0 || n > 100 || raw.chars().any(char::is_control) {
        return Err(ApiError::Validation(format!(
            "{field} must be 1 to 100 printable characters"
        )));
    }
    Ok(raw.to_owned())
}

/// The client's own id for a message, for idempotent sends ([`client_chosen_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessageId(String);

impl ClientMessageId {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        client_chosen_id(raw, "clientMessageId").map(Self)
    }

    /// One the server makes for a send that names none (the PRD's send has no such field):
    /// unique, so that send is stored as a new message.
    pub fn fresh() -> Self {
        Self(format!("server:{}", uuid::Uuid::new_v4()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_string!(ClientMessageId, |s| s
    .min_length(Some(1))
    .max_length(Some(100))
    .pattern(Some(r"^[^\u0000-\u001F\u007F-\u009F]+$")));

/// The client's own id for something else it makes (a group, a forward), so that asking again
/// answers what the first request made ([`client_chosen_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        client_chosen_id(raw, "a client id").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_string!(ClientId, |s| s
    .min_length(Some(1))
    .max_length(Some(100))
    .pattern(Some(r"^[^\u0000-\u001F\u007F-\u009F]+$")));

/// A device token from FCM or APNs: 1 to 1,024 visible ASCII characters (no spaces). Real
/// ones are far shorter (APNs: 64 hex digits, FCM: about 160 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushToken(String);

impl PushToken {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.is_empty() || raw.len() > 1024 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::Validation(
                "token must be 1 to 1024 visible ASCII characters".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_string!(PushToken, |s| s
    .min_length(Some(1))
    .max_length(Some(1024))
    .pattern(Some(r"^[!-~]+$")));

/// Bytes sent as standard base64 (RFC 4648, padded, canonical), decoded; `N` is their exact
/// length. Public keys and signatures of end-to-end encryption (`PUT /api/keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Bytes<const N: usize>(Vec<u8>);

impl<const N: usize> Base64Bytes<N> {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .ok()
            .filter(|b| b.len() == N)
            .map(Self)
            .ok_or_else(|| ApiError::Validation(format!("must be {N} bytes in base64")))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl<'de, const N: usize> Deserialize<'de> for Base64Bytes<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A Curve25519 public key as the Signal protocol serializes it (a type byte, then 32 bytes).
/// In the document: `^[A-Za-z0-9+/]{44}$`, exactly the base64 spellings of 33 bytes.
pub type PublicKey = Base64Bytes<33>;
/// An Ed25519 / XEdDSA signature. In the document: `^[A-Za-z0-9+/]{85}[AQgw]==$`, exactly the
/// canonical spellings of 64 bytes (a last group of one byte, whose stray bits are zero).
pub type KeySignature = Base64Bytes<64>;

/// A group's name: 1 to 100 characters, not only spaces; stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = trim_blank(raw);
        if name.is_empty() || raw.chars().count() > 100 {
            return Err(ApiError::Validation(
                "`name` must be 1 to 100 characters".into(),
            ));
        }
        check_name(name)?;
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_string!(GroupName, |s| s
    .min_length(Some(1))
    .max_length(Some(100))
    .pattern(Some(REQUIRED_NAME_PATTERN)));

/// A picture's address (a group's avatar): `https://`, at most 2,048 characters, no blanks or
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let valid = raw.chars().count() <= 2048
            && raw.strip_prefix("https://").is_some_and(|rest| {
                !rest.is_empty() && !rest.chars().any(|c| is_blank_char(c) || c.is_control())
            });
        if !valid {
            return Err(ApiError::Validation(
                "`avatarUrl` must be an https:// address of at most 2048 characters".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_string!(AvatarUrl, |s| s
    .max_length(Some(2048))
    .pattern(Some(r"^https://[^\s\u0000-\u001F\u007F-\u009F]+$")));

/// Free text of at most `MAX` characters (status, about, descriptions; a name with `NAME`),
/// stored trimmed; text that is empty once trimmed reads as none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayText<const MAX: usize, const NAME: bool = false>(Option<String>);

/// A name of at most `MAX` characters (a display name, a nickname, a label): [`DisplayText`]
/// that is one line, without text-direction controls ([`unfit_for_a_name`]).
pub type NameText<const MAX: usize> = DisplayText<MAX, true>;

impl<const MAX: usize, const NAME: bool> DisplayText<MAX, NAME> {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.chars().count() > MAX {
            return Err(ApiError::Validation(format!("at most {MAX} characters")));
        }
        let t = trim_blank(raw);
        if NAME {
            check_name(t)?;
        }
        Ok(Self((!t.is_empty()).then(|| t.to_owned())))
    }

    /// The text, or `None` if it was only spaces.
    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

impl<'de, const MAX: usize, const NAME: bool> Deserialize<'de> for DisplayText<MAX, NAME> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A reaction: exactly one emoji as Unicode lists it (skin tones and ZWJ sequences included),
/// told apart from any other text by the `emojis` crate's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        match emojis::get(raw) {
            Some(_) => Ok(Self(raw.to_owned())),
            None => Err(ApiError::Validation(
                "`emoji` must be a single emoji".into(),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_string!(Emoji, |s| s
    .min_length(Some(1))
    .max_length(Some(32))
    .description(Some("One emoji (skin tones and ZWJ sequences included).")));

/// PRD message types a client may send (`system` messages are the server's own).
pub const MESSAGE_TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "location",
    "contact",
    "sticker",
    "poll",
    "encrypted",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageType(&'static str);

impl Default for MessageType {
    fn default() -> Self {
        Self("text")
    }
}

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

validated_string!(MessageType, |s| s
    .enum_values(Some(MESSAGE_TYPES.iter().copied())));

/// A UUID from a path, as a 400 (not a 500) when malformed.
pub fn parse_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Validation(format!("`{what}` must be a UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_book_numbers_become_e164_in_their_region() {
        let gb = phone_region("GB");
        assert_eq!(
            address_book_phone("020 7946 0958", gb).as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            address_book_phone("+1 (650) 253-0000", gb).as_deref(),
            Some("+16502530000")
        );
        assert_eq!(
            address_book_phone("(650) 253-0000", phone_region("US")).as_deref(),
            Some("+16502530000")
        );
        assert_eq!(
            address_book_phone("(650) 253-0000", gb),
            None,
            "no British number"
        );
        assert_eq!(address_book_phone("12", gb), None);
        assert_eq!(address_book_phone("call me", None), None);
        assert_eq!(phone_region("+442079460958"), gb);
        assert_eq!(phone_region("ZZ"), None);
    }

    #[test]
    fn a_new_password_is_none_of_the_most_common_ones() {
        for common in [
            "password",
            "Password1",
            "QWERTYUIOP",
            "iloveyou",
            "12345678",
        ] {
            assert!(Password::parse(common).is_err(), "{common}");
        }
        for fine in ["correct horse battery", "bench password", "Tr0ub4dor&3x"] {
            assert!(Password::parse(fine).is_ok(), "{fine}");
        }
        assert!(
            COMMON_PASSWORDS
                .lines()
                .filter(|l| !l.starts_with('#'))
                .all(|l| l.chars().count() >= 8 && l == l.to_lowercase()),
            "the list holds only what a new password could be, as it is compared"
        );
    }

    #[test]
    fn a_name_is_one_line_read_in_its_letters_direction() {
        for (raw, stored) in [
            ("  Alice Smith\n", "Alice Smith"),
            ("\u{2028}Zoë\u{a0}K", "Zoë\u{a0}K"),
            (
                "👨\u{200d}👩\u{200d}👧 family",
                "👨\u{200d}👩\u{200d}👧 family",
            ),
            ("שלום\u{200f} Dan", "שלום\u{200f} Dan"),
        ] {
            let name = NameText::<100>::parse(raw).unwrap().into_inner();
            assert_eq!(name.as_deref(), Some(stored), "{raw:?}");
            assert_eq!(GroupName::parse(raw).unwrap().as_str(), stored, "{raw:?}");
        }
        for bad in [
            "alice\nbob was removed",
            "a\tb",
            "alice\u{202e}gpj.exe",
            "x\u{2067}y",
            "a\u{2029}b",
            "\u{85}alice",
        ] {
            assert!(NameText::<100>::parse(bad).is_err(), "{bad:?}");
            assert!(GroupName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(NameText::<100>::parse(" \t ").unwrap().into_inner(), None);
        assert!(
            DisplayText::<100>::parse("line one\nline two").is_ok(),
            "other texts may have lines"
        );
    }

    #[test]
    fn a_reaction_is_exactly_one_emoji() {
        for good in ["👍", "👍🏽", "❤️", "👨‍👩‍👧", "🇫🇷"] {
            assert_eq!(Emoji::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "a", ":)", "👍👍", " 👍", "👍 ", "\u{200d}"] {
            assert!(Emoji::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn email_rules() {
        assert_eq!(
            Email::parse("Alice@Example.COM").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "a@b",
            "@example.com",
            "a@@b.com",
            "a b@c.com",
            " a@c.com",
            "a@.com",
            "a@b..com",
            "a@b.info*",
            "a..b@c.com",
            "é@c.com",
            "a@-b.com",
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
    fn look_alike_usernames_share_a_skeleton() {
        let skeleton = |u: &str| Username::parse(u).unwrap().skeleton();
        assert_eq!(skeleton("a1ice"), skeleton("alice"));
        assert_eq!(skeleton("b0b"), skeleton("bob"));
        assert_eq!(skeleton("rnary"), skeleton("mary"));
        assert_ne!(skeleton("alice"), skeleton("alicia"));
        assert_ne!(skeleton("bob_1"), skeleton("bob_2"));
    }

    #[test]
    fn passwords_and_ids() {
        assert!(Password::parse("short").is_err());
        assert!(format!("{:?}", Password::parse("long enough").unwrap()).contains("***"));
        assert!(format!("{:?}", Secret::parse("hunter2").unwrap()).contains("***"));
        assert!(ClientMessageId::parse("").is_err());
        assert!(ClientMessageId::parse(&"x".repeat(101)).is_err());
        assert!(
            ClientMessageId::parse(&"é".repeat(100)).is_ok(),
            "counted in characters"
        );
        assert!(MessageType::parse("hologram").is_err());
        assert!(Phone::parse("+1 415 555 0100").is_ok());
        assert!(Phone::parse("4155550100").is_err());
        assert!(SixDigitCode::parse("12345").is_err());
        assert!(SixDigitCode::parse("123456").is_ok());
        assert!(GroupName::parse("   ").is_err());
        assert!(
            GroupName::parse("\u{feff}\u{3000}").is_err(),
            "blank as a pattern's \\s"
        );
        assert!(
            GroupName::parse("\u{85}").is_err(),
            "U+0085 is not \\s, so not trimmed, and a control character no name holds"
        );
        assert_eq!(DisplayText::<5>::parse("  ").unwrap().into_inner(), None);
        assert!(DisplayText::<5>::parse("toolong").is_err());
    }

    #[test]
    fn deserializing_runs_the_parser() {
        let ok: Username = serde_json::from_str("\"Bob_1\"").unwrap();
        assert_eq!(ok.as_str(), "bob_1");
        let err = serde_json::from_str::<Username>("\"b\"").unwrap_err();
        assert!(err.to_string().contains("username must be"), "{err}");
    }
}
