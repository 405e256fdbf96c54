-- Emoji in message search. The parser reads an emoji as a blank, so "🎂" found nothing. Each
-- emoji character is now a word of its own in the index (`search_emoji`): `ꙮ` (U+A66E, a letter
-- nobody types) and its code point in six hex digits, set apart by U+0001 as V73 sets apart
-- Chinese, Japanese and Korean characters. What someone types is read the same way, so an emoji
-- typed is a word to find. Variation selectors and joiners stay blanks: "❤️" finds "❤", and a
-- sequence (a skin tone, a family, a flag) is found by its parts, all of them required. A
-- snippet shows the emoji again (`search_shown`).

-- Emoji and the symbols phones offer among them, as a bracket expression: the pictographs of
-- U+1F000-U+1FAFF (with skin tones and flags' regional indicators), the symbols and dingbats
-- of U+2600-U+27BF, and the others the emoji keyboard has (©, ‼, ⌚, ▶, ⬆, ⭐, 〰...). And `ꙮ`
-- itself: written in a message, it is spelled too, so no text reads as the spelling of an emoji.
CREATE FUNCTION emoji_characters() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '[\ua66e\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328\u23cf\u23e9-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]'
$$;

-- `content` with each emoji character spelled as a word of its own.
CREATE FUNCTION search_emoji_words(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(coalesce(E'\u0001ꙮ' || lpad(to_hex(ascii(m[1])), 6, '0') || E'\u0001', m[2]),
                      '' ORDER BY n)
    FROM regexp_matches(content,
                        '(' || emoji_characters() || ')|(' || replace(emoji_characters(), '[', '[^') || '+)',
                        'g') WITH ORDINALITY AS r(m, n)
$$;

-- The same, where there is an emoji; other text as it is. (A plain expression, which the
-- generated column inlines: a message without emoji pays one regular expression match.)
CREATE FUNCTION search_emoji(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN content ~ emoji_characters() THEN search_emoji_words(content) ELSE content END
$$;

-- What V73's `search_text` did: each Chinese, Japanese and Korean character, and the marks
-- that hold links and addresses together, set apart.
CREATE FUNCTION search_parts(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(content,
                          '([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff./@:])',
                          E'\u0001\\1\u0001', 'g')
$$;

-- The text as the index reads it: its parts set apart, its emoji spelled as words.
CREATE OR REPLACE FUNCTION search_text(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT search_parts(search_emoji(content))
$$;

-- As V73 made it, reading typed emoji as words (spelled once, before the text is cut into
-- words: each word is then only set apart in parts); an emoji is no prefix (it is whole as
-- typed).
CREATE OR REPLACE FUNCTION search_query(typed text) RETURNS tsquery
LANGUAGE sql STABLE AS $$
    SELECT string_agg('(' || w.query::text
                          || CASE WHEN w.n = w.total AND length(w.token) >= 2
                                       AND w.token !~ '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaffꙮ]'
                                  THEN ':*' ELSE '' END
                          || ')',
                      ' & ' ORDER BY w.n)::tsquery
    FROM (SELECT q.token, q.query, row_number() OVER (ORDER BY q.n) AS n, count(*) OVER () AS total
          FROM (SELECT d.token, row_number() OVER () AS n,
                       phraseto_tsquery('banter_search'::regconfig, search_parts(d.token)) AS query
                FROM ts_debug('banter_search'::regconfig, search_emoji(typed)) d
                WHERE d.lexemes IS NOT NULL AND d.lexemes <> '{}') q
          WHERE numnode(q.query) > 0) w
$$;

-- A snippet (`ts_headline` over `search_text`) as written: without the U+0001 set between
-- words, and each emoji as itself again.
CREATE FUNCTION search_shown(marked text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(s.t, 'ꙮ') = 0 THEN s.t
                ELSE (SELECT string_agg(coalesce(chr(('x' || lpad(m[1], 8, '0'))::bit(32)::int), m[2]),
                                        '' ORDER BY n)
                      FROM regexp_matches(s.t, 'ꙮ([0-9a-f]{6})|([^ꙮ]+|ꙮ)', 'g') WITH ORDINALITY AS r(m, n))
           END
    FROM (SELECT translate(marked, E'\u0001', '') AS t) s
$$;

-- The messages holding an emoji, read again: the words stored for them are the old reading's.
-- (Their `updated_at` stays as it was: nothing a client sees of them changed.)
ALTER TABLE messages DISABLE TRIGGER messages_updated_at;
UPDATE messages SET content = content WHERE search_emoji(content) <> content;
ALTER TABLE messages ENABLE TRIGGER messages_updated_at;
ANALYZE messages (search);
