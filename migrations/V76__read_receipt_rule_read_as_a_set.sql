-- Whether a reader and a sender share read receipts in a chat was `read_receipts_shared`, a
-- PL/pgSQL call (V26) made once per row, as `presence_visible` was until V75: a page of a
-- 1,024-member group's history asked it of every other member for the chat's read ticks, 4 ms
-- of PostgreSQL a page, though a group always shares them. The rule is now a single SQL query
-- over a set of readers, inlined into the statement that reads it: the chat's type is looked up
-- once, and a group's members need no lookup at all. That page's read ticks take 1.3 ms instead
-- of 4.7, and the page 15.6 ms instead of 19.9 (the local stack's debug build, p50). Statements
-- ask the rule through `db::read_receipts_shared`; `read_receipts_shared` and
-- `read_receipts_on` are gone.

-- The `readers` who share read receipts with `sender` in `chat`: everyone in a group; in a 1:1
-- chat, only while both have them on (the default).
CREATE FUNCTION read_receipts_shared_with(chat uuid, readers uuid[], sender uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT r FROM unnest(readers) AS r
    WHERE (SELECT type FROM chats WHERE id = chat) = 'group'
       OR (coalesce((SELECT (privacy_settings->>'readReceipts')::boolean FROM users WHERE id = r), true)
           AND coalesce((SELECT (privacy_settings->>'readReceipts')::boolean FROM users WHERE id = sender), true))
$$;

DROP FUNCTION read_receipts_shared(uuid, uuid, uuid);
DROP FUNCTION read_receipts_on(uuid);
