//! vCard import and export (`/api/contacts/import`, `/api/contacts/export`), and the card a
//! contact message shares (`content.rs`).
//!
//! Import reads what phones and address books really write: vCard 4.0 (RFC 6350), 3.0 (iOS,
//! Google Contacts, macOS) and 2.1 (Android), so it is a lenient line reader rather than a
//! strict 4.0 parser: folded lines, property groups
//! (`item1.TEL`), quoted parameter values, escaped `\,` `\;` `\n`, `tel:` URIs, and 2.1's
//! `QUOTED-PRINTABLE` with its soft line breaks. It keeps what matching needs (names, phones,
//! emails, a Banter `UID`) and what a contact keeps (`NOTE`, and `CATEGORIES` as contact
//! groups), so an export imports back whole. Export writes vCard 4.0: CRLF lines folded at 75
//! octets, text escaped.

use uuid::Uuid;

/// The parts of one card that import uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Card {
    /// `FN`, else `N` put together.
    pub name: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// A Banter user id from `UID:urn:uuid:...` (what export writes).
    pub banter_id: Option<Uuid>,
    pub note: Option<String>,
    /// `CATEGORIES`: the groups the card is filed under (each once, first spelling kept).
    pub categories: Vec<String>,
}

/// Why a vCard could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vCard line {line}: {message}")]
pub struct CardError {
    pub line: usize,
    pub message: String,
}

/// Cards one import may hold.
pub const MAX_CARDS: usize = 5_000;
/// Phone numbers and emails read from one card (more are ignored).
const MAX_ADDRESSES_PER_CARD: usize = 20;
/// Categories read from one card (more are ignored).
const MAX_CATEGORIES_PER_CARD: usize = 20;

fn error(line: usize, message: impl Into<String>) -> CardError {
    CardError {
        line,
        message: message.into(),
    }
}

/// One content line after unfolding: where it started, and its text.
struct Logical {
    line: usize,
    text: String,
}

/// Physical lines joined back into content lines: a line starting with a space or tab
/// continues the one before (RFC 6350 3.2); a quoted-printable value ending in `=` continues
/// on the next line, and so does a base64 value on lines of its own (vCard 2.1, where a blank
/// line ends it; a base64 line has no colon, a property line always has one).
fn unfold(text: &str) -> Vec<Logical> {
    let mut out: Vec<Logical> = Vec::new();
    let mut soft_break = false;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let continues_fold = raw.starts_with(' ') || raw.starts_with('\t');
        let continues_base64 = !raw.trim().is_empty() && !raw.contains(':');
        match out.last_mut() {
            Some(last) if soft_break => last.text.push_str(raw),
            Some(last) if continues_fold => last.text.push_str(&raw[1..]),
            Some(last) if continues_base64 && is_base64(&last.text) => last.text.push_str(raw),
            _ => out.push(Logical {
                line: i + 1,
                text: raw.to_owned(),
            }),
        }
        let last = out.last().expect("a line was just added");
        soft_break = last.text.ends_with('=') && is_quoted_printable(&last.text);
        if soft_break {
            out.last_mut().expect("present").text.pop();
        }
    }
    out
}

/// Whether a content line's parameters say `encoding`, as `ENCODING=...` or bare (2.1).
fn is_encoded(line: &str, encoding: &str) -> bool {
    let head = line.split(':').next().unwrap_or("").to_ascii_uppercase();
    head.split(';')
        .any(|p| p == encoding || p.strip_prefix("ENCODING=") == Some(encoding))
}

fn is_quoted_printable(line: &str) -> bool {
    is_encoded(line, "QUOTED-PRINTABLE")
}

fn is_base64(line: &str) -> bool {
    is_encoded(line, "BASE64")
}

/// A content line split up: the property name (without its group, upper-cased), its
/// parameters (names upper-cased) and its raw value.
struct Property {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

fn split_property(line: &Logical) -> Result<Property, CardError> {
    // The value starts at the first colon outside a quoted parameter value.
    let mut quoted = false;
    let mut colon = None;
    for (i, c) in line.text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon.ok_or_else(|| error(line.line, "a property without a ':'"))?;
    let (head, value) = (&line.text[..colon], &line.text[colon + 1..]);
    let mut parts = head.split(';');
    let full_name = parts.next().unwrap_or("");
    let name = full_name
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(error(
            line.line,
            format!("`{full_name}` is not a property name"),
        ));
    }
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (
                k.trim().to_ascii_uppercase(),
                v.trim_matches('"').to_owned(),
            ),
            // vCard 2.1 writes bare types: `TEL;CELL;PREF:...`.
            None => {
                let bare = p.trim().to_ascii_uppercase();
                if bare == "QUOTED-PRINTABLE" || bare == "BASE64" {
                    ("ENCODING".to_owned(), bare)
                } else {
                    ("TYPE".to_owned(), bare)
                }
            }
        })
        .collect();
    Ok(Property {
        name,
        params,
        value: value.to_owned(),
    })
}

impl Property {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value as text: quoted-printable decoded (UTF-8, or Latin-1 where the card says so).
    fn decoded(&self, line: usize) -> Result<String, CardError> {
        if !self
            .param("ENCODING")
            .is_some_and(|e| e.eq_ignore_ascii_case("QUOTED-PRINTABLE"))
        {
            return Ok(self.value.clone());
        }
        let bytes = decode_quoted_printable(&self.value)
            .ok_or_else(|| error(line, "bad quoted-printable value"))?;
        let latin1 = self
            .param("CHARSET")
            .is_some_and(|c| c.eq_ignore_ascii_case("ISO-8859-1"));
        Ok(if latin1 {
            bytes.iter().map(|&b| b as char).collect()
        } else {
            String::from_utf8(bytes).map_err(|_| error(line, "the value is not UTF-8"))?
        })
    }
}

fn decode_quoted_printable(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A text value's components: split at unescaped `separator`, each unescaped.
fn components(value: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n' | 'N') => parts.last_mut().expect("one part").push('\n'),
                Some(other) => parts.last_mut().expect("one part").push(other),
                None => {}
            },
            c if c == separator => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts
}

fn unescaped(value: &str) -> String {
    components(value, '\u{0}').concat().trim().to_owned()
}

/// Read every card of `text`.
pub fn parse(text: &str) -> Result<Vec<Card>, CardError> {
    if text.contains('\u{0}') {
        return Err(error(1, "the text holds a NUL character"));
    }
    let mut cards = Vec::new();
    let mut open: Option<(Card, Option<String>, usize)> = None;
    for line in unfold(text) {
        if line.text.trim().is_empty() {
            continue;
        }
        let property = split_property(&line)?;
        let value = property.decoded(line.line)?;
        match (property.name.as_str(), open.as_mut()) {
            ("BEGIN", None) if value.trim().eq_ignore_ascii_case("VCARD") => {
                if cards.len() == MAX_CARDS {
                    return Err(error(line.line, format!("more than {MAX_CARDS} cards")));
                }
                open = Some((Card::default(), None, line.line));
            }
            ("BEGIN", _) => return Err(error(line.line, "BEGIN inside a card")),
            ("END", Some(_)) if value.trim().eq_ignore_ascii_case("VCARD") => {
                let (mut card, structured_name, started) = open.take().expect("a card is open");
                if card.name.is_none() {
                    card.name = structured_name;
                }
                if card.name.is_none() && card.phones.is_empty() && card.emails.is_empty() {
                    return Err(error(started, "a card with no name, phone or email"));
                }
                cards.push(card);
            }
            ("END", _) => return Err(error(line.line, "END without BEGIN:VCARD")),
            (_, None) => {
                return Err(error(
                    line.line,
                    "a property outside BEGIN:VCARD ... END:VCARD",
                ))
            }
            ("VERSION", Some(_)) if !matches!(value.trim(), "2.1" | "3.0" | "4.0") => {
                return Err(error(
                    line.line,
                    format!("unknown vCard version `{}`", value.trim()),
                ));
            }
            ("FN", Some((card, _, _))) => {
                card.name = Some(unescaped(&value)).filter(|n| !n.is_empty());
            }
            ("N", Some((_, structured, _))) => {
                // family;given;additional;prefixes;suffixes -> "prefix given additional family suffix"
                let n = components(&value, ';');
                let order = [3, 1, 2, 0, 4];
                let joined = order
                    .iter()
                    .filter_map(|&i| n.get(i))
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                if !joined.is_empty() {
                    *structured = Some(joined);
                }
            }
            ("TEL", Some((card, _, _))) => {
                let raw = value.trim();
                let raw = raw
                    .strip_prefix("tel:")
                    .map(|t| t.split(';').next().unwrap_or(""))
                    .unwrap_or(raw);
                if !raw.is_empty() && card.phones.len() < MAX_ADDRESSES_PER_CARD {
                    card.phones.push(raw.to_owned());
                }
            }
            ("EMAIL", Some((card, _, _))) => {
                let email = unescaped(&value);
                if !email.is_empty() && card.emails.len() < MAX_ADDRESSES_PER_CARD {
                    card.emails.push(email);
                }
            }
            ("NOTE", Some((card, _, _))) => {
                card.note = Some(unescaped(&value)).filter(|n| !n.is_empty());
            }
            ("CATEGORIES", Some((card, _, _))) => {
                for category in components(&value, ',') {
                    let category = category.trim();
                    let known = card
                        .categories
                        .iter()
                        .any(|c| c.to_lowercase() == category.to_lowercase());
                    if !category.is_empty()
                        && !known
                        && card.categories.len() < MAX_CATEGORIES_PER_CARD
                    {
                        card.categories.push(category.to_owned());
                    }
                }
            }
            ("UID", Some((card, _, _))) => {
                card.banter_id = value
                    .trim()
                    .strip_prefix("urn:uuid:")
                    .and_then(|id| Uuid::parse_str(id).ok());
            }
            _ => {}
        }
    }
    if let Some((_, _, started)) = open {
        return Err(error(started, "BEGIN:VCARD without END:VCARD"));
    }
    if cards.is_empty() {
        return Err(error(1, "no BEGIN:VCARD in the text"));
    }
    Ok(cards)
}

/// Properties a shared card goes without: its pictures and sounds, which phones embed as
/// base64 (an iPhone card with a photo runs to tens of KB) or link to (a URL every recipient's
/// phone would fetch).
const MEDIA_PROPERTIES: [&str; 3] = ["PHOTO", "LOGO", "SOUND"];

/// `text` without the [`MEDIA_PROPERTIES`] of its cards: each such content line goes with all
/// its physical lines (as [`unfold`] reads them) and the blank lines after it (vCard 2.1 ends a
/// base64 value with one); every other line is kept as it was written.
pub fn without_media(text: &str) -> String {
    let physical: Vec<&str> = text.split_inclusive('\n').collect();
    let logical = unfold(text);
    let mut dropped = vec![false; physical.len()];
    for (i, content) in logical.iter().enumerate() {
        let is_media =
            split_property(content).is_ok_and(|p| MEDIA_PROPERTIES.contains(&p.name.as_str()));
        if !is_media {
            continue;
        }
        let next = logical[i + 1..]
            .iter()
            .find(|l| !l.text.trim().is_empty())
            .map_or(physical.len(), |l| l.line - 1);
        dropped[content.line - 1..next.min(physical.len())].fill(true);
    }
    physical
        .into_iter()
        .zip(dropped)
        .filter_map(|(line, dropped)| (!dropped).then_some(line))
        .collect()
}

/// One contact as export writes it.
pub struct ExportedContact<'a> {
    pub user_id: Uuid,
    /// `FN`: the nickname the owner gave, else the display name, else the username.
    pub name: &'a str,
    pub username: &'a str,
    pub note: Option<&'a str>,
    /// Contact group names (`CATEGORIES`).
    pub groups: Vec<&'a str>,
}

/// Contacts as vCard 4.0 text.
pub fn write(contacts: &[ExportedContact<'_>]) -> String {
    let mut out = String::new();
    for c in contacts {
        line(&mut out, "BEGIN:VCARD");
        line(&mut out, "VERSION:4.0");
        line(&mut out, &format!("UID:urn:uuid:{}", c.user_id));
        line(&mut out, &format!("FN:{}", escape(c.name)));
        line(&mut out, &format!("NICKNAME:{}", escape(c.username)));
        if let Some(note) = c.note {
            line(&mut out, &format!("NOTE:{}", escape(note)));
        }
        if !c.groups.is_empty() {
            let names: Vec<String> = c.groups.iter().map(|g| escape(g)).collect();
            line(&mut out, &format!("CATEGORIES:{}", names.join(",")));
        }
        line(&mut out, "END:VCARD");
    }
    out
}

/// RFC 6350 3.4: backslash, comma, semicolon and newline escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Append a content line, folded after 75 octets (never inside a character), CRLF-ended.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As iOS Contacts exports (vCard 3.0): groups, repeated TEL with types, an escaped comma,
    /// a photo folded over many lines.
    const IPHONE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\nN:Müller;Jürgen;;;\r\nFN:Jürgen Müller\r\nORG:Acme\\, Inc.;\r\nitem1.TEL;type=CELL;type=VOICE;type=pref:+49 151 23456789\r\nTEL;type=HOME;type=VOICE:030 1234567\r\nitem2.EMAIL;type=INTERNET;type=pref:juergen@example.com\r\nitem2.X-ABLabel:_$!<Other>!$_\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEx8\r\n Q4NEBMRFRoZGBYWGBkaIiYfHRolGhQVIjQiJScoKisuLR8mNjk2MS0xKTY3OP/bAEMB\r\nEND:VCARD\r\n";

    /// As Android exports (vCard 2.1): bare types, quoted-printable UTF-8 with a soft break.
    const ANDROID: &str = "BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=D0=98=D0=B2=D0=B0=D0=BD=D0=BE=D0=B2;=D0=98=D0=B2=D0=B0=\n=D0=BD;;;\nTEL;CELL;PREF:+7 912 345-67-89\nTEL;WORK:+7 (495) 123-45-67\nEND:VCARD\nBEGIN:VCARD\nVERSION:2.1\nFN:José Pérez\nEMAIL;HOME:jose@example.org\nEND:VCARD\n";

    /// vCard 4.0 with a tel: URI, a quoted parameter holding a colon and a folded FN.
    const V4: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\\, Countess of\r\n  Lovelace\r\nTEL;VALUE=uri;TYPE=\"voice,cell\";PID=1.1;X-LABEL=\"a:b\":tel:+44-20-7946-0958;ext=1\r\nUID:urn:uuid:6f1c4c5e-2b7a-4f37-9a3a-0c9e6d1f2a10\r\nEND:VCARD\r\n";

    #[test]
    fn reads_an_iphone_export() {
        let cards = parse(IPHONE).unwrap();
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0].name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(cards[0].phones, ["+49 151 23456789", "030 1234567"]);
        assert_eq!(cards[0].emails, ["juergen@example.com"]);
    }

    #[test]
    fn reads_an_android_export_with_quoted_printable() {
        let cards = parse(ANDROID).unwrap();
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[0].name.as_deref(), Some("Иван Иванов"));
        assert_eq!(cards[0].phones, ["+7 912 345-67-89", "+7 (495) 123-45-67"]);
        assert_eq!(cards[1].name.as_deref(), Some("José Pérez"));
        assert_eq!(cards[1].emails, ["jose@example.org"]);
    }

    #[test]
    fn reads_vcard_4_with_uris_and_folding() {
        let cards = parse(V4).unwrap();
        assert_eq!(
            cards[0].name.as_deref(),
            Some("Ada Lovelace, Countess of Lovelace")
        );
        assert_eq!(cards[0].phones, ["+44-20-7946-0958"]);
        assert_eq!(
            cards[0].banter_id,
            Some(Uuid::parse_str("6f1c4c5e-2b7a-4f37-9a3a-0c9e6d1f2a10").unwrap())
        );
    }

    #[test]
    fn shared_cards_go_without_pictures_and_sounds() {
        // iOS: a photo folded over lines starting with a space; every other line kept as it was.
        let photo = "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEx8\r\n Q4NEBMRFRoZGBYWGBkaIiYfHRolGhQVIjQiJScoKisuLR8mNjk2MS0xKTY3OP/bAEMB\r\n";
        assert!(IPHONE.contains(photo));
        assert_eq!(without_media(IPHONE), IPHONE.replace(photo, ""));
        assert_eq!(
            parse(&without_media(IPHONE)).unwrap(),
            parse(IPHONE).unwrap()
        );
        // vCard 2.1: a base64 value's lines indented or not, and the blank line that ends it.
        for continued in ["  SkZJRgABAQ\n  AAAQAB==\n\n", "SkZJRgABAQ\nAAAQAB==\n\n"] {
            let card = format!(
                "BEGIN:VCARD\nVERSION:2.1\nFN:Ann\nPHOTO;ENCODING=BASE64;JPEG:/9j/4AAQ\n{continued}\
                 TEL;CELL:+1 555 0100\nEND:VCARD\n"
            );
            assert_eq!(
                without_media(&card),
                "BEGIN:VCARD\nVERSION:2.1\nFN:Ann\nTEL;CELL:+1 555 0100\nEND:VCARD\n"
            );
            // Import reads such a card too (the photo skipped).
            assert_eq!(parse(&card).unwrap()[0].phones, ["+1 555 0100"], "{card}");
        }
        // vCard 4.0: linked or inline, any case, in a group; names that only start alike stay.
        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bo\r\nphoto:https://tracker.example/p.jpg\r\n\
                    item3.LOGO;VALUE=uri:https://example.com/l.png\r\nSOUND:data:audio/ogg;base64,T2dn\r\n\
                    X-PHOTO-ID:7\r\nNOTE:PHOTO: later\r\nEND:VCARD\r\n";
        assert_eq!(
            without_media(card),
            "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bo\r\nX-PHOTO-ID:7\r\nNOTE:PHOTO: later\r\nEND:VCARD\r\n"
        );
        // A quoted-printable value's soft line break continues it, whatever the next line says.
        let note = "NOTE;ENCODING=QUOTED-PRINTABLE:call =\nPHOTO: not a photo=\n=20later\n";
        let card = format!("BEGIN:VCARD\nVERSION:2.1\nFN:Cy\n{note}END:VCARD\n");
        assert_eq!(without_media(&card), card);
    }

    #[test]
    fn malformed_cards_say_which_line() {
        let cases = [
            ("BEGIN:VCARD\nVERSION:4.0\nFN:x\n", 1, "without END"),
            ("FN:x\n", 1, "outside"),
            ("BEGIN:VCARD\nVERSION:9.9\nFN:x\nEND:VCARD\n", 2, "version"),
            (
                "BEGIN:VCARD\nVERSION:4.0\nno colon here\nEND:VCARD\n",
                3,
                "':'",
            ),
            ("BEGIN:VCARD\nBEGIN:VCARD\n", 2, "inside"),
            ("BEGIN:VCARD\nVERSION:4.0\nEND:VCARD\n", 1, "no name"),
            (
                "BEGIN:VCARD\nN;ENCODING=QUOTED-PRINTABLE:=ZZ\nEND:VCARD\n",
                2,
                "quoted-printable",
            ),
            ("BEGIN:VCARD\nFN:a\u{0}b\nEND:VCARD\n", 1, "NUL"),
            ("", 1, "no BEGIN"),
            ("\r\n\r\n", 1, "no BEGIN"),
        ];
        for (text, line, says) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn export_is_vcard_4_that_a_strict_parser_and_import_read_back() {
        let id = Uuid::new_v4();
        let long_note = "ü".repeat(100);
        let text = write(&[ExportedContact {
            user_id: id,
            name: "Bob; the \"builder\", Jr.",
            username: "bob_1",
            note: Some(&long_note),
            groups: vec!["Work, mostly", "Family"],
        }]);
        assert!(
            text.lines().all(|l| l.len() <= 76),
            "folded at 75 octets: {text}"
        );
        let strict = vcard4::parse(&text).expect("valid vCard 4.0");
        assert_eq!(strict.len(), 1);
        assert_eq!(
            strict[0].formatted_name[0].value,
            "Bob; the \"builder\", Jr."
        );
        let back = parse(&text).unwrap();
        assert_eq!(back[0].banter_id, Some(id));
        assert_eq!(back[0].name.as_deref(), Some("Bob; the \"builder\", Jr."));
        assert_eq!(back[0].note.as_deref(), Some(long_note.as_str()));
        assert_eq!(back[0].categories, ["Work, mostly", "Family"]);
    }

    #[test]
    fn categories_are_read_once_each_and_notes_unescaped() {
        let text =
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nNOTE:met at the\\nconference\\, 2024\r\n\
                    CATEGORIES:Work, family ,,WORK\r\nCATEGORIES:Gym\r\nEND:VCARD\r\n";
        let cards = parse(text).unwrap();
        assert_eq!(
            cards[0].note.as_deref(),
            Some("met at the\nconference, 2024")
        );
        assert_eq!(cards[0].categories, ["Work", "family", "Gym"]);
    }
}
