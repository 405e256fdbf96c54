//! What each message type carries (PRD 3.1), checked before a message is stored: text needs
//! text; a picture, video, voice note, document or sticker names an uploaded file (`mediaId`);
//! a location has coordinates (and, for a live location, how long it is shared); a contact is
//! one vCard card, as phones share them (4.0, 3.0 or 2.1, read by `vcards`); a poll asks a
//! question with 2 to 12 answers; an encrypted message carries only ciphertexts, one per device
//! (`metadata.envelopes`), which the server never reads. The details are stored normalized in
//! the message's `metadata`, so every reader sees the same shape.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::api::limits::MAX_METADATA_BYTES;
use crate::api::models::MessageMetadata;
use crate::domain::trim_blank;
use crate::error::ApiError;
use crate::vcards;

/// Longest vCard a contact message stores, without its pictures and sounds
/// ([`vcards::without_media`]).
pub const MAX_VCARD_BYTES: usize = 3 * 1024;
/// A contact message's `metadata` as sent: a phone's card, photo included.
pub const MAX_CONTACT_METADATA_BYTES: usize = 96 * 1024;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 50;
/// How long a live location may be shared: 15 minutes, 1 hour, 8 hours (WhatsApp's choices).
pub const LIVE_LOCATION_SECONDS: [i64; 3] = [900, 3_600, 28_800];
/// A poll's answers: at least 2, at most 12 (WhatsApp's bounds), of at most 100 characters.
pub const POLL_OPTIONS: std::ops::RangeInclusive<usize> = 2..=12;
const MAX_POLL_OPTION_CHARS: usize = 100;
/// Longest poll question.
const MAX_POLL_QUESTION_CHARS: usize = 255;
/// An encrypted message's `metadata` (its ciphertexts), serialized: under a WebSocket
/// message's limit with room for the rest of the frame.
pub const MAX_ENCRYPTED_METADATA_BYTES: usize = 96 * 1024;
/// Devices one encrypted message is sealed for at most (larger groups need sender keys).
pub const MAX_ENVELOPES: usize = 256;

/// A message's content as sent, before it is stored.
pub struct Draft<'a> {
    pub kind: &'a str,
    pub content: Option<&'a str>,
    pub metadata: MessageMetadata,
    pub media_id: Option<Uuid>,
    pub mentions: &'a [Uuid],
}

/// A message's details as checked.
pub struct Checked {
    /// Its `metadata` as stored.
    pub metadata: MessageMetadata,
    /// How an encrypted message is sealed (`None` for every other type).
    pub sealing: Option<Sealing>,
}

/// The message's details as stored, or why they are refused. `max_chars` bounds the text.
pub fn check(draft: Draft<'_>, max_chars: usize) -> Result<Checked, ApiError> {
    let invalid = |m: &str| Err(ApiError::Validation(m.to_owned()));
    if let Some(c) = draft.content {
        if c.chars().count() > max_chars {
            return invalid(&format!("`content` is longer than {max_chars} characters"));
        }
    }
    let max_metadata = match draft.kind {
        "encrypted" => MAX_ENCRYPTED_METADATA_BYTES,
        "contact" => MAX_CONTACT_METADATA_BYTES,
        _ => MAX_METADATA_BYTES,
    };
    if serde_json::to_string(&draft.metadata).map_or(0, |m| m.len()) > max_metadata {
        return invalid(&format!("`metadata` is larger than {max_metadata} bytes"));
    }
    if draft.mentions.len() > MAX_MENTIONS {
        return invalid(&format!("at most {MAX_MENTIONS} `mentions`"));
    }
    let is_media = matches!(
        draft.kind,
        "image" | "video" | "audio" | "document" | "sticker"
    );
    // An encrypted message may carry an attachment (uploaded as `encrypted`): its key is
    // inside the ciphertext.
    let may_attach = is_media || draft.kind == "encrypted";
    if (is_media && draft.media_id.is_none()) || (!may_attach && draft.media_id.is_some()) {
        return invalid(if is_media {
            "a media message needs the `mediaId` of an uploaded file"
        } else {
            "`mediaId` belongs to image, video, audio, document, sticker and encrypted messages"
        });
    }
    let metadata = match draft.kind {
        "text" => {
            let Some(text) = draft.content.filter(|c| !trim_blank(c).is_empty()) else {
                return invalid("a text message needs non-empty `content`");
            };
            let mut metadata = draft.metadata;
            if let Some(preview) = metadata.get("linkPreview") {
                let preview = link_preview(preview, text)?;
                metadata.insert("linkPreview".into(), preview);
            }
            Ok(metadata)
        }
        "location" => location(&draft.metadata),
        "contact" => contact(&draft.metadata),
        "poll" => poll(draft.content, &draft.metadata),
        "encrypted" => return encrypted(draft),
        _ => Ok(draft.metadata),
    }?;
    Ok(Checked {
        metadata,
        sealing: None,
    })
}

/// An encrypted message: no text, no mentions (the server would learn whom it names), and
/// `metadata` exactly one of [`Sealing`]'s forms.
fn encrypted(draft: Draft<'_>) -> Result<Checked, ApiError> {
    if draft.content.is_some() || !draft.mentions.is_empty() {
        return Err(ApiError::Validation(
            "an encrypted message carries its text and mentions inside its ciphertext".into(),
        ));
    }
    Ok(Checked {
        sealing: Some(sealing(&draft.metadata)?),
        metadata: draft.metadata,
    })
}

/// How an encrypted message is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealing {
    /// `{envelopes: [{deviceId, body, preKey?}, ...]}`: one ciphertext per device, each `body`
    /// non-empty standard base64 (pairwise sessions; also how a sender key is handed out):
    /// the devices it is sealed for.
    Envelopes(BTreeSet<Uuid>),
    /// `{senderKey: {distributionId, body}}`: one ciphertext for every device of the group,
    /// under the sender's sender key (Signal's `SenderKeyMessage`), which the devices got in
    /// envelopes before. What groups too large for envelopes use.
    SenderKey,
}

/// How an encrypted message's `metadata` seals it, or why it is refused.
fn sealing(metadata: &MessageMetadata) -> Result<Sealing, ApiError> {
    match (metadata.len(), metadata.get("senderKey")) {
        (1, Some(sender_key)) => sender_key_message(sender_key).map(|()| Sealing::SenderKey),
        _ => envelopes(metadata).map(Sealing::Envelopes),
    }
}

/// A sender-key ciphertext: `{distributionId, body}`.
fn sender_key_message(value: &Value) -> Result<(), ApiError> {
    use base64::Engine;
    let valid = value.as_object().is_some_and(|fields| {
        fields.len() == 2
            && fields
                .get("distributionId")
                .and_then(Value::as_str)
                .is_some_and(|d| Uuid::parse_str(d).is_ok())
            && fields.get("body").and_then(Value::as_str).is_some_and(|b| {
                !b.is_empty() && base64::engine::general_purpose::STANDARD.decode(b).is_ok()
            })
    });
    if valid {
        Ok(())
    } else {
        Err(ApiError::Validation(
            "`metadata.senderKey` is {distributionId, body}: the sender key's id and a non-empty \
             standard base64 ciphertext"
                .into(),
        ))
    }
}

/// The devices an encrypted message's `metadata.envelopes` are for, or why they are refused.
fn envelopes(metadata: &MessageMetadata) -> Result<BTreeSet<Uuid>, ApiError> {
    use base64::Engine;
    let invalid = |m: String| Err(ApiError::Validation(format!("`metadata.envelopes`: {m}")));
    if metadata.keys().any(|k| k != "envelopes") {
        return invalid(
            "an encrypted message's `metadata` holds only `envelopes` (or only `senderKey`)".into(),
        );
    }
    let Some(list) = metadata.get("envelopes").and_then(Value::as_array) else {
        return invalid("a list of {deviceId, body, preKey?} is required".into());
    };
    if list.is_empty() || list.len() > MAX_ENVELOPES {
        return invalid(format!("1 to {MAX_ENVELOPES} envelopes, one per device"));
    }
    let mut devices = BTreeSet::new();
    for item in list {
        let Some(fields) = item.as_object() else {
            return invalid("each envelope is an object {deviceId, body, preKey?}".into());
        };
        if let Some(other) = fields
            .keys()
            .find(|k| !["deviceId", "body", "preKey"].contains(&k.as_str()))
        {
            return invalid(format!("unknown field `{other}`"));
        }
        let device_id = fields
            .get("deviceId")
            .and_then(Value::as_str)
            .and_then(|d| Uuid::parse_str(d).ok());
        let Some(device_id) = device_id else {
            return invalid("each envelope's `deviceId` is a device's id".into());
        };
        if !devices.insert(device_id) {
            return invalid(format!("device {device_id} has two envelopes"));
        }
        let body_ok = fields.get("body").and_then(Value::as_str).is_some_and(|b| {
            !b.is_empty() && base64::engine::general_purpose::STANDARD.decode(b).is_ok()
        });
        if !body_ok {
            return invalid("each envelope's `body` is non-empty standard base64".into());
        }
        if !matches!(
            fields.get("preKey"),
            None | Some(Value::Null | Value::Bool(_))
        ) {
            return invalid("`preKey` is true or false".into());
        }
    }
    Ok(devices)
}

fn number(
    m: &Map<String, Value>,
    key: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<f64, ApiError> {
    m.get(key)
        .and_then(Value::as_f64)
        .filter(|v| range.contains(v))
        .ok_or_else(|| {
            ApiError::Validation(format!(
                "`metadata.{key}` must be a number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

fn short_text(m: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => {
            let t = trim_blank(s);
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
        _ => Err(ApiError::Validation(format!(
            "`metadata.{key}` must be text of at most {max} characters"
        ))),
    }
}

/// Longest link a preview names.
const MAX_PREVIEW_URL: usize = 2_048;

/// A text message's `linkPreview`, as the sending device made it (devices fetch previews
/// themselves, as WhatsApp's do: the server never fetches what users link to):
/// `{url, title?, description?, siteName?}`. Its `url` must be a link of the message's own
/// text, `http` or `https`, so a preview cannot show one site while the text links another.
fn link_preview(preview: &Value, text: &str) -> Result<Value, ApiError> {
    let invalid = |m: &str| Err(ApiError::Validation(format!("`metadata.linkPreview`: {m}")));
    let Some(fields) = preview.as_object() else {
        return invalid("an object {url, title?, description?, siteName?}");
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !["url", "title", "description", "siteName"].contains(&k.as_str()))
    {
        return invalid(&format!("unknown field `{other}`"));
    }
    let Some(link) = fields.get("url").and_then(Value::as_str) else {
        return invalid("`url` is required");
    };
    let parsed = url::Url::parse(link).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    if link.len() > MAX_PREVIEW_URL || parsed.is_none() {
        return invalid(&format!(
            "`url` must be an http or https link of at most {MAX_PREVIEW_URL} characters"
        ));
    }
    if !text.contains(link) {
        return invalid("`url` must be a link in the message's text");
    }
    let mut checked = Map::new();
    checked.insert("url".into(), link.into());
    for (key, max) in [("title", 200), ("description", 500), ("siteName", 100)] {
        if let Some(value) = short_text(fields, key, max).map_err(|_| {
            ApiError::Validation(format!(
                "`metadata.linkPreview.{key}` must be text of at most {max} characters"
            ))
        })? {
            checked.insert(key.into(), value.into());
        }
    }
    Ok(Value::Object(checked))
}

/// Refuse a field of `metadata` that a `kind` message does not take (`fields`): a misspelt one
/// (`multipleAnswer`) would otherwise be dropped without a word, and the message stored as the
/// sender did not mean it.
fn only_fields(m: &MessageMetadata, kind: &str, fields: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !fields.contains(&k.as_str())) {
        None => Ok(()),
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            Err(ApiError::Validation(format!(
                "`metadata.{shown}` is not a field of a {kind} message (it takes {})",
                fields.join(", ")
            )))
        }
    }
}

/// `{latitude, longitude, name?, address?, liveSeconds?}`: a place, or a live location shared
/// for 15 minutes, 1 hour or 8 hours.
fn location(m: &MessageMetadata) -> Result<MessageMetadata, ApiError> {
    only_fields(
        m,
        "location",
        &["latitude", "longitude", "name", "address", "liveSeconds"],
    )?;
    let latitude = number(m, "latitude", -90.0..=90.0)?;
    let longitude = number(m, "longitude", -180.0..=180.0)?;
    let mut out = Map::new();
    out.insert("latitude".into(), json!(latitude));
    out.insert("longitude".into(), json!(longitude));
    if let Some(name) = short_text(m, "name", 200)? {
        out.insert("name".into(), json!(name));
    }
    if let Some(address) = short_text(m, "address", 500)? {
        out.insert("address".into(), json!(address));
    }
    match m.get("liveSeconds") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let seconds = v
                .as_f64()
                .filter(|s| s.fract() == 0.0 && LIVE_LOCATION_SECONDS.contains(&(*s as i64)))
                .ok_or_else(|| {
                    ApiError::Validation("`metadata.liveSeconds` must be 900, 3600 or 28800".into())
                })?;
            out.insert("liveSeconds".into(), json!(seconds as i64));
        }
    }
    Ok(out)
}

/// `{vcard}`: exactly one card with a name, in the vCard version the sharing phone writes (4.0;
/// 3.0 from iOS and macOS; 2.1 from Android), passed on as it is but for its pictures and sounds
/// (a phone embeds the contact's photo: [`vcards::without_media`]); stored with the name and
/// numbers read from it, so clients need not parse it to show the card (sent back, as a client
/// may copy a stored card, those two are read from the card again).
fn contact(m: &MessageMetadata) -> Result<MessageMetadata, ApiError> {
    only_fields(m, "contact", &["vcard", "name", "phones"])?;
    let bad = |why: &str| ApiError::Validation(format!("`metadata.vcard`: {why}"));
    let shared = m
        .get("vcard")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a contact message carries one vCard card as text"))?;
    let text = vcards::without_media(shared);
    if text.len() > MAX_VCARD_BYTES {
        return Err(bad(&format!(
            "at most {MAX_VCARD_BYTES} bytes without its pictures and sounds"
        )));
    }
    let cards = vcards::parse(&text).map_err(|e| bad(&e.to_string()))?;
    let [card] = cards.as_slice() else {
        return Err(bad("exactly one card"));
    };
    let name = card
        .name
        .clone()
        .ok_or_else(|| bad("the card needs a name (FN or N)"))?;
    let phones = &card.phones;
    let mut out = Map::new();
    out.insert("vcard".into(), json!(text));
    out.insert("name".into(), json!(name));
    out.insert("phones".into(), json!(phones));
    Ok(out)
}

/// A poll: its question is the message's `content`; `{options: [text, ...], multipleAnswers?}`
/// (2 to 12 different answers; one answer each unless `multipleAnswers`). Stored as
/// `{options, multipleAnswers}`; an answer is named by its index.
fn poll(question: Option<&str>, m: &MessageMetadata) -> Result<MessageMetadata, ApiError> {
    let invalid = |m: String| Err(ApiError::Validation(m));
    only_fields(m, "poll", &["options", "multipleAnswers"])?;
    let question = question.map(trim_blank).unwrap_or_default();
    if question.is_empty() || question.chars().count() > MAX_POLL_QUESTION_CHARS {
        return invalid(format!(
            "a poll's `content` is its question: 1 to {MAX_POLL_QUESTION_CHARS} characters"
        ));
    }
    let bad_options = || {
        invalid(format!(
            "`metadata.options` must hold {} to {} different answers of 1 to \
             {MAX_POLL_OPTION_CHARS} characters",
            POLL_OPTIONS.start(),
            POLL_OPTIONS.end()
        ))
    };
    // The count first: the pairwise check below is for a dozen answers, not thousands.
    let Some(given) = m
        .get("options")
        .and_then(Value::as_array)
        .filter(|o| POLL_OPTIONS.contains(&o.len()))
    else {
        return bad_options();
    };
    let mut options: Vec<&str> = Vec::with_capacity(given.len());
    for option in given {
        let text = option.as_str().map(trim_blank).unwrap_or_default();
        let fits = (1..=MAX_POLL_OPTION_CHARS).contains(&text.chars().count());
        if !fits
            || options
                .iter()
                .any(|o| o.to_lowercase() == text.to_lowercase())
        {
            return bad_options();
        }
        options.push(text);
    }
    let multiple = match m.get("multipleAnswers") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return invalid("`metadata.multipleAnswers` must be true or false".into()),
    };
    let mut out = Map::new();
    out.insert("options".into(), json!(options));
    out.insert("multipleAnswers".into(), json!(multiple));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata `check` stores (what these tests look at).
    fn check(draft: Draft<'_>, max_chars: usize) -> Result<MessageMetadata, ApiError> {
        super::check(draft, max_chars).map(|checked| checked.metadata)
    }

    fn draft<'a>(kind: &'a str, metadata: Value, media: Option<Uuid>) -> Draft<'a> {
        Draft {
            kind,
            content: None,
            metadata: metadata.as_object().unwrap().clone(),
            media_id: media,
            mentions: &[],
        }
    }

    #[test]
    fn locations_need_coordinates_in_range_and_a_known_live_duration() {
        let ok = check(
            draft(
                "location",
                json!({ "latitude": 48.85, "longitude": 2.35, "name": " Paris " }),
                None,
            ),
            100,
        )
        .unwrap();
        assert_eq!(
            ok,
            json!({ "latitude": 48.85, "longitude": 2.35, "name": "Paris" })
                .as_object()
                .unwrap()
                .clone()
        );
        for bad in [
            json!({ "latitude": 91, "longitude": 0 }),
            json!({ "latitude": "48", "longitude": 0 }),
            json!({ "longitude": 0 }),
            json!({ "latitude": 0, "longitude": 0, "liveSeconds": 60 }),
            // Misspelt: refused, not stored as a place shared once.
            json!({ "latitude": 0, "longitude": 0, "liveSecond": 3600 }),
        ] {
            assert!(
                check(draft("location", bad.clone(), None), 100).is_err(),
                "{bad}"
            );
        }
        let live = check(
            draft(
                "location",
                json!({ "latitude": 0, "longitude": 0, "liveSeconds": 3600.0 }),
                None,
            ),
            100,
        )
        .unwrap();
        assert_eq!(live["liveSeconds"], 3600);
    }

    #[test]
    fn contacts_are_one_vcard_card_with_a_name() {
        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë Ndiaye\r\nTEL;TYPE=cell:+33 6 12 34 56 78\r\nTEL:+1-555-0100\r\nEND:VCARD\r\n";
        let ok = check(draft("contact", json!({ "vcard": card }), None), 100).unwrap();
        assert_eq!(ok["name"], "Zoë Ndiaye");
        assert_eq!(ok["phones"].as_array().unwrap().len(), 2);
        // A stored card sent back as it was (a client copying it): read from the card again.
        let copied = json!({ "vcard": card, "name": "Someone else", "phones": [] });
        let again = check(draft("contact", copied, None), 100).unwrap();
        assert_eq!(again, ok);
        // As iOS shares it: the same card, read the same.
        let v3 = card.replace("VERSION:4.0", "VERSION:3.0");
        let shared = check(draft("contact", json!({ "vcard": v3 }), None), 100).unwrap();
        assert_eq!(
            (&shared["name"], &shared["phones"]),
            (&ok["name"], &ok["phones"])
        );
        // As an iPhone shares a contact with a photo (tens of KB): stored without it.
        let photo: String = (0..600)
            .map(|_| {
                " QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
            })
            .collect();
        let with_photo = v3.replace(
            "END:VCARD",
            &format!("PHOTO;ENCODING=b;TYPE=JPEG:/9j/\r\n{photo}END:VCARD"),
        );
        assert!(with_photo.len() > 40_000);
        let shared = check(draft("contact", json!({ "vcard": with_photo }), None), 100).unwrap();
        assert_eq!(shared["vcard"], json!(v3));
        assert_eq!(shared["phones"], ok["phones"]);
        // What is left must still fit: 3 KB, and not a byte more.
        let noted = |bytes: usize| {
            let note = "x".repeat(bytes - v3.len() - "NOTE:\r\n".len());
            let card = v3.replace("END:VCARD", &format!("NOTE:{note}\r\nEND:VCARD"));
            assert_eq!(card.len(), bytes);
            check(draft("contact", json!({ "vcard": card }), None), 100)
        };
        assert!(noted(MAX_VCARD_BYTES).is_ok());
        let refused = noted(MAX_VCARD_BYTES + 1);
        assert!(matches!(refused, Err(ApiError::Validation(m)) if m.contains("3072 bytes")));
        let unknown = card.replace("VERSION:4.0", "VERSION:9.9");
        let two = format!("{card}{card}");
        let nameless = "BEGIN:VCARD\r\nVERSION:4.0\r\nTEL:+1\r\nEND:VCARD\r\n";
        for bad in [
            json!({}),
            json!({ "vcard": unknown }),
            json!({ "vcard": two }),
            json!({ "vcard": nameless }),
            json!({ "vcard": "VERSION:4.0\nhello" }),
            json!({ "vcard": card, "photo": "x" }),
        ] {
            assert!(
                check(draft("contact", bad.clone(), None), 100).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_link_preview_names_a_link_of_the_text_and_is_kept_as_checked() {
        let text = |content: &'static str, preview: Value| Draft {
            content: Some(content),
            ..draft("text", json!({ "linkPreview": preview }), None)
        };
        let ok = check(
            text(
                "see https://example.com/a?b=1 now",
                json!({ "url": "https://example.com/a?b=1", "title": "  A page ", "description": "" }),
            ),
            100,
        )
        .unwrap();
        assert_eq!(
            ok["linkPreview"],
            json!({ "url": "https://example.com/a?b=1", "title": "A page" })
        );
        // An international domain name (`url` reads it through `idna_adapter`).
        let idn = text(
            "Katalog: https://bücher.example/neu",
            json!({ "url": "https://bücher.example/neu" }),
        );
        assert!(check(idn, 100).is_ok());
        for (content, bad) in [
            // Another site than the text links: a spoofed preview.
            (
                "see https://example.com",
                json!({ "url": "https://bank.example" }),
            ),
            (
                "javascript:alert(1)",
                json!({ "url": "javascript:alert(1)" }),
            ),
            ("file:///etc/passwd", json!({ "url": "file:///etc/passwd" })),
            (
                "https://example.com",
                json!({ "url": "https://example.com", "image": "x" }),
            ),
            (
                "https://example.com",
                json!({ "url": "https://example.com", "title": 5 }),
            ),
            ("https://example.com", json!({ "title": "no url" })),
            ("https://example.com", json!("https://example.com")),
        ] {
            assert!(check(text(content, bad.clone()), 100).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2_048));
        let content: &'static str = Box::leak(long.clone().into_boxed_str());
        assert!(check(text(content, json!({ "url": long })), 5_000).is_err());
    }

    #[test]
    fn media_types_and_only_they_name_a_file() {
        let file = Some(Uuid::nil());
        assert!(check(draft("image", json!({}), file), 100).is_ok());
        assert!(check(draft("image", json!({}), None), 100).is_err());
        assert!(check(
            draft("location", json!({ "latitude": 0, "longitude": 0 }), file),
            100
        )
        .is_err());
        let text = Draft {
            content: Some("  "),
            ..draft("text", json!({}), None)
        };
        assert!(check(text, 100).is_err());
    }

    #[test]
    fn polls_ask_a_question_with_two_to_twelve_different_answers() {
        let poll = |question: &'static str, metadata: Value| Draft {
            content: Some(question),
            ..draft("poll", metadata, None)
        };
        let stored = check(
            poll(
                " Lunch? ",
                json!({ "options": [" Pizza ", "Sushi"], "multipleAnswers": true }),
            ),
            1_000,
        )
        .unwrap();
        assert_eq!(
            Value::Object(stored),
            json!({ "options": ["Pizza", "Sushi"], "multipleAnswers": true })
        );
        let single = check(poll("Lunch?", json!({ "options": ["a", "b"] })), 1_000).unwrap();
        assert_eq!(single["multipleAnswers"], false);
        let twelve: Vec<String> = (0..12).map(|i| format!("option {i}")).collect();
        assert!(check(poll("Q", json!({ "options": twelve })), 1_000).is_ok());
        let thirteen: Vec<String> = (0..13).map(|i| format!("option {i}")).collect();
        let long = "a".repeat(101);
        let question: &'static str = Box::leak("q".repeat(256).into_boxed_str());
        for (question, bad) in [
            ("Q", json!({ "options": ["only one"] })),
            ("Q", json!({ "options": thirteen })),
            ("Q", json!({ "options": ["Same", " same "] })),
            ("Q", json!({ "options": ["a", " "] })),
            ("Q", json!({ "options": ["a", long] })),
            ("Q", json!({ "options": ["a", 2] })),
            ("Q", json!({ "options": "a, b" })),
            (
                "Q",
                json!({ "options": ["a", "b"], "multipleAnswers": "yes" }),
            ),
            ("  ", json!({ "options": ["a", "b"] })),
            (question, json!({ "options": ["a", "b"] })),
            // Misspelt: refused, not stored as a single-answer poll.
            (
                "Q",
                json!({ "options": ["a", "b"], "allowMultipleAnswers": true }),
            ),
        ] {
            assert!(check(poll(question, bad.clone()), 1_000).is_err(), "{bad}");
        }
        let no_question = draft("poll", json!({ "options": ["a", "b"] }), None);
        assert!(check(no_question, 1_000).is_err());
    }

    fn sealed(devices: usize, body_bytes: usize) -> Value {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(vec![7u8; body_bytes]);
        let envelopes: Vec<Value> = (0..devices)
            .map(|_| json!({ "deviceId": Uuid::new_v4(), "body": body, "preKey": false }))
            .collect();
        json!({ "envelopes": envelopes })
    }

    #[test]
    fn an_encrypted_message_holds_up_to_256_envelopes_in_96_kib() {
        let at = sealed(MAX_ENVELOPES, 16);
        let stored = check(draft("encrypted", at.clone(), None), 100).unwrap();
        assert_eq!(Value::Object(stored), at, "stored as sent");
        let past = check(draft("encrypted", sealed(MAX_ENVELOPES + 1, 16), None), 100);
        assert!(
            matches!(&past, Err(ApiError::Validation(m)) if m.contains("1 to 256")),
            "{past:?}"
        );
        // Serialized, four envelopes of this size are about 89 KiB; five are past 96.
        assert!(check(draft("encrypted", sealed(4, 17_000), None), 100).is_ok());
        let large = check(draft("encrypted", sealed(5, 17_000), None), 100);
        assert!(
            matches!(&large, Err(ApiError::Validation(m)) if m.contains("98304 bytes")),
            "{large:?}"
        );
        // Other kinds keep the 4 KB limit.
        let text = Draft {
            content: Some("hi"),
            ..draft(
                "text",
                json!({ "linkPreview": null, "pad": "x".repeat(5000) }),
                None,
            )
        };
        assert!(check(text, 100).is_err());
    }
}
