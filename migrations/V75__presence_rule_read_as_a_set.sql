-- Whether an owner shows a viewer their presence was `presence_visible(owner, viewer)`, a
-- PL/pgSQL call of three lookups (V26) made once per row: the profiles of a group's 1,024
-- members took 22 ms of PostgreSQL, 16 of them in that call. The rule is now a single SQL query
-- over a set of viewers, which PostgreSQL inlines into the statement that reads it (as
-- `presence_viewers`, V60): the owner's setting is looked up once, each viewer's block and
-- contact rows by index, and no function is called per row. The same read takes 6.5 ms, and
-- `GET /api/chats/:id` of that group 16 ms instead of 28 (p50, `banter-bench --group 1024`).
-- `presence_audience` checks its candidates the same way: for a user with 500 1:1 chats it took
-- 13.7 ms a presence change and takes 4.8, and the change reaches the last of 50 connected
-- partners in 12.9 ms instead of 23.3 (p50, `banter-bench --features`). Statements ask the rule
-- through `db::presence_shown`; `presence_visible` is gone.

-- The `viewers` to whom `owner` shows their presence: themselves, and, unless the owner blocks
-- them, everyone (`lastSeen` 'everyone', the default), their contacts ('contacts') or nobody.
CREATE FUNCTION presence_shown_to(owner uuid, viewers uuid[]) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT v FROM unnest(viewers) AS v
    WHERE v = owner OR (
        NOT EXISTS (SELECT 1 FROM user_relationships b
                    WHERE b.user_id = owner AND b.related_user_id = v AND b.relationship_type = 'blocked')
        AND CASE coalesce((SELECT privacy_settings->>'lastSeen' FROM users WHERE id = owner), 'everyone')
                WHEN 'nobody' THEN false
                WHEN 'contacts' THEN EXISTS (SELECT 1 FROM user_relationships c
                    WHERE c.user_id = owner AND c.related_user_id = v AND c.relationship_type = 'contact')
                ELSE true
            END)
$$;

-- As V72, the check both ways read from `presence_shown_to`.
CREATE OR REPLACE FUNCTION presence_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT candidates.v FROM (
        SELECT people.v FROM presence_viewers(owner) AS people(v)
        JOIN users u ON u.id = people.v
        WHERE coalesce(u.privacy_settings->>'lastSeen', 'everyone') <> 'nobody'
          AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                          AND b.user_id = people.v AND b.related_user_id = owner)
        OFFSET 0
    ) candidates
    WHERE EXISTS (SELECT 1 FROM presence_shown_to(owner, ARRAY[candidates.v]))
      AND EXISTS (SELECT 1 FROM presence_shown_to(candidates.v, ARRAY[owner]))
$$;

DROP FUNCTION presence_visible(uuid, uuid);
