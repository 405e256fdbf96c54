//! The domain parsers: each refuses with a 400 or accepts, and what one accepts it accepts again
//! in its normalised form, unchanged (parsing is idempotent); an encrypted message's metadata is
//! sealed one way or refused with a 400; any text as a shared contact's vCard is read, with a
//! name, or refused with a 400, and goes without its pictures and sounds in one pass.
#![no_main]

use banter_core::domain::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(e) = Email::parse(raw) {
        assert_eq!(Email::parse(e.as_str()).unwrap(), e);
        assert!(e.as_str().len() <= 254 && !e.as_str().contains('\0'));
    }
    if let Ok(u) = Username::parse(raw) {
        assert_eq!(Username::parse(u.as_str()).unwrap(), u);
        assert!(u.with_suffix("1234").as_str().len() <= 30);
    }
    if let Ok(p) = Phone::parse(raw) {
        assert_eq!(Phone::parse(p.as_str()).unwrap(), p);
    }
    if let Ok(c) = SixDigitCode::parse(raw) {
        assert_eq!(c.as_str().len(), 6);
    }
    if let Ok(id) = ClientMessageId::parse(raw) {
        assert!((1..=100).contains(&id.as_str().chars().count()));
    }
    if let Ok(name) = GroupName::parse(raw) {
        assert_eq!(GroupName::parse(name.as_str()).unwrap(), name);
    }
    let _ = DisplayText::<100>::parse(raw).map(DisplayText::into_inner);
    let _ = Password::parse(raw);
    let _ = Secret::parse(raw);
    let _ = MessageType::parse(raw);
    if let Ok(key) = PublicKey::parse(raw) {
        assert_eq!(key.as_bytes().len(), 33);
    }
    if let Ok(signature) = KeySignature::parse(raw) {
        assert_eq!(signature.as_bytes().len(), 64);
    }
    // Any JSON object as an encrypted message's metadata: sealed one way, or refused with 400.
    if let Ok(serde_json::Value::Object(metadata)) = serde_json::from_str(raw) {
        let draft = banter_core::content::Draft {
            kind: "encrypted",
            content: None,
            metadata,
            media_id: None,
            mentions: &[],
        };
        if let Err(e) = banter_core::content::check(draft, 100) {
            assert_eq!(e.status(), 400);
        }
    }
    // Any text as a contact message's card (the reader import uses too).
    let mut card = serde_json::Map::new();
    card.insert("vcard".into(), raw.into());
    let draft = banter_core::content::Draft {
        kind: "contact",
        content: None,
        metadata: card,
        media_id: None,
        mentions: &[],
    };
    match banter_core::content::check(draft, 100) {
        Ok(checked) => {
            assert!(checked.metadata["name"]
                .as_str()
                .is_some_and(|n| !n.is_empty()));
            // The card stored is stored again as it is: nothing left to drop.
            let stored = checked.metadata["vcard"].as_str().unwrap();
            assert_eq!(banter_core::vcards::without_media(stored), stored);
        }
        Err(e) => assert_eq!(e.status(), 400),
    }
    // Dropping pictures and sounds only drops lines, and leaves none to drop.
    let kept = banter_core::vcards::without_media(raw);
    assert!(kept.len() <= raw.len());
    assert_eq!(banter_core::vcards::without_media(&kept), kept);
    if let Ok(id) = parse_id(raw, "id") {
        assert_eq!(parse_id(&id.to_string(), "id").unwrap(), id);
    }
    for result in [
        Email::parse(raw).err(),
        Username::parse(raw).err(),
        Phone::parse(raw).err(),
        parse_id(raw, "id").err(),
    ]
    .into_iter()
    .flatten()
    {
        assert_eq!(result.status(), 400);
    }
});
