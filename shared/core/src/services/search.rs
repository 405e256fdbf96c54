//! Message search (`GET /api/messages/search`, PRD 3.3): full-text search over the messages
//! the caller may see, in every chat they are in. Words are matched as written, without case
//! or accents and in any language (`banter_search`, V24: no stemming); the last word may be
//! half typed; Chinese, Japanese and Korean, written without spaces, are matched character by
//! character, in order, so any part of a run is found, and links and email addresses by their
//! parts (V73); each emoji is a word of its own (V78). What the user types never reaches tsquery
//! syntax (`search_query`, V24, V73, V78).
//! Results come best ranked first with a snippet and where the words found are in it.

use crate::api::models::{MessageSearchHit, OffsetPagination, Page, PageEnvelope, TextRange};
use crate::api::requests::MessageSearchQuery;
use crate::auth::tokens::Caller;
use crate::db::messages::{self, SearchFilter};
use crate::error::ApiError;
use crate::App;

/// `GET /api/messages/search?q=&chatId=&type=&senderId=&from=&to=&limit=&offset=`.
#[utoipa::path(get, path = "/api/messages/search", tag = "messages", security(("bearer" = [])),
    params(MessageSearchQuery),
    responses((status = 200, description = "Messages with every word (the last may be a prefix), best match first, then newest; only chats the caller is in, only what they may see", body = PageEnvelope<Vec<MessageSearchHit>, OffsetPagination>)))]
pub async fn messages(
    app: &App,
    caller: Caller,
    q: MessageSearchQuery,
) -> Result<Page<Vec<MessageSearchHit>, OffsetPagination>, ApiError> {
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            return Err(ApiError::Validation("`from` must not be after `to`".into()));
        }
    }
    let (limit, offset) = (q.limit.0, q.offset.0);
    let filter = SearchFilter {
        text: &q.q.0,
        chat: q.chat_id,
        kind: q.kind.as_ref().map(|k| k.as_str()),
        sender: q.sender_id,
        from: q.from,
        to: q.to,
        limit,
        offset,
    };
    let (rows, total) = messages::search(&app.db, caller.user_id, &filter).await?;
    let mut items: Vec<MessageSearchHit> = rows
        .into_iter()
        .map(|row| {
            let (snippet, highlights) = highlighted(&row.marked_snippet);
            MessageSearchHit {
                message: row.message,
                snippet,
                highlights,
            }
        })
        .collect();
    super::messaging::with_urls(app, caller, items.iter_mut().map(|hit| &mut hit.message)).await?;
    let pagination = OffsetPagination::new(limit, offset, items.len(), total);
    Ok(Page { items, pagination })
}

/// A snippet with `\u{2}` ... `\u{3}` around each word found, as the text without the marks
/// and the marked ranges in UTF-16 code units. Marks that touch make one range: a phrase of
/// Chinese, Japanese or Korean characters comes marked character by character (V73).
fn highlighted(marked: &str) -> (String, Vec<TextRange>) {
    let mut text = String::with_capacity(marked.len());
    let mut ranges: Vec<TextRange> = Vec::new();
    let (mut at, mut start) = (0usize, None);
    for c in marked.chars() {
        match c {
            '\u{2}' => start = Some(at),
            '\u{3}' => match (start.take(), ranges.last_mut()) {
                (Some(start), Some(last)) if last.end == start => last.end = at,
                (Some(start), _) => ranges.push(TextRange { start, end: at }),
                (None, _) => {}
            },
            c => {
                text.push(c);
                at += c.len_utf16();
            }
        }
    }
    (text, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_utf16_ranges() {
        let (text, ranges) = highlighted("😀 \u{2}café\u{3} and \u{2}crème\u{3}");
        assert_eq!(text, "😀 café and crème");
        // The emoji is two UTF-16 code units.
        assert_eq!(
            ranges,
            [
                TextRange { start: 3, end: 7 },
                TextRange { start: 12, end: 17 }
            ]
        );
        let utf16: Vec<u16> = text.encode_utf16().collect();
        assert_eq!(String::from_utf16(&utf16[3..7]).unwrap(), "café");
        assert_eq!(String::from_utf16(&utf16[12..17]).unwrap(), "crème");
        // Characters marked one by one, touching: one range; apart: two.
        let (text, ranges) =
            highlighted("東京\u{2}タ\u{3}\u{2}ワ\u{3}\u{2}ー\u{3}に \u{2}a\u{3} \u{2}b\u{3}");
        assert_eq!(text, "東京タワーに a b");
        assert_eq!(
            ranges,
            [
                TextRange { start: 2, end: 5 },
                TextRange { start: 7, end: 8 },
                TextRange { start: 9, end: 10 }
            ]
        );
    }
}
