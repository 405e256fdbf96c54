-- Message search in Chinese, Japanese and Korean, and inside links and addresses. Their text
-- runs on without spaces, and the parser reads a run as one word (V24): "東京タワーに行きました"
-- was found by "東京" (a prefix of the last word typed) but never by "タワー". Likewise a link or
-- an email address is one word, or a few (`github.com/banter/issues`, `bob@example.com`), so
-- "github issues" or "example" found nothing. Each character of those scripts is now a word of
-- its own in the index, and a link or address comes apart at `.`, `/`, `@` and `:`
-- (`search_text`); a word typed with any of them matches its parts one right after another
-- (`search_query`, a phrase), so any part of a run is found, in order, and nothing whose parts
-- are merely scattered.

-- Kana, CJK ideographs (with extension A and the compatibility ones), Hangul syllables, and the
-- marks that hold links and addresses together, each set apart by U+0001, which the parser
-- reads as a blank and a snippet drops again.
CREATE FUNCTION search_text(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(content,
                          '([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff./@:])',
                          E'\u0001\\1\u0001', 'g')
$$;

-- The index as V24 and V34 made it, over the new reading (the column is generated: it is
-- replaced, and every message read again).
DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN search;
ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('banter_search'::regconfig, search_text(coalesce(content, '')))) STORED;
CREATE INDEX messages_search ON messages USING gin (search)
    WITH (fastupdate = on, gin_pending_list_limit = 16384)
    WHERE type <> 'system' AND NOT deleted_for_everyone;
-- The new column's statistics, which search reads to choose how to search (V35): until they
-- exist it always takes the index.
ANALYZE messages (search);

-- What someone typed, as before: each word as the index reads it, all required, the last also
-- as a prefix once it has two characters (the last of its parts: "github.co" is half of
-- "github.com"); but a word of parts is the phrase of its parts, and one holding those scripts
-- takes no prefix (its characters already match anywhere in a run). NULL when the text holds no
-- word. Nothing the user types reaches tsquery syntax: each part is quoted by
-- `phraseto_tsquery`, and only its output is put together.
CREATE OR REPLACE FUNCTION search_query(typed text) RETURNS tsquery
LANGUAGE sql STABLE AS $$
    SELECT string_agg('(' || w.query::text
                          || CASE WHEN w.n = w.total AND length(w.token) >= 2
                                       AND w.token !~ '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]'
                                  THEN ':*' ELSE '' END
                          || ')',
                      ' & ' ORDER BY w.n)::tsquery
    FROM (SELECT q.token, q.query, row_number() OVER (ORDER BY q.n) AS n, count(*) OVER () AS total
          FROM (SELECT d.token, row_number() OVER () AS n,
                       phraseto_tsquery('banter_search'::regconfig, search_text(d.token)) AS query
                FROM ts_debug('banter_search'::regconfig, typed) d
                WHERE d.lexemes IS NOT NULL AND d.lexemes <> '{}') q
          WHERE numnode(q.query) > 0) w
$$;
