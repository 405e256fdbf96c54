-- presence_audience applied presence_visible (a PL/pgSQL call of three lookups) wherever the
-- planner put it. Pushed down into the union of candidates, it became a filter on the scan of
-- the other members; in a plan that scanned all members once per chat of the owner (a nested
-- loop checking the chat after the filter), a user in 500 chats called it about 290,000 times
-- for 500 viewers: several seconds a presence change in `banter-bench --features`. Plans vary
-- by connection with the tables' statistics, so most changes were fast and some were not.
-- The candidates are now found first (OFFSET 0 keeps the check out of that query), and each
-- is checked once.
CREATE OR REPLACE FUNCTION presence_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT candidates.v FROM (
        SELECT people.v FROM (
            SELECT o.user_id AS v
            FROM chat_participants me
            JOIN chats c ON c.id = me.chat_id AND c.type = 'individual'
            JOIN chat_participants o ON o.chat_id = me.chat_id AND o.user_id <> owner AND o.left_at IS NULL
            WHERE me.user_id = owner AND me.left_at IS NULL
            UNION
            SELECT related_user_id FROM user_relationships WHERE user_id = owner AND relationship_type = 'contact'
            UNION
            SELECT user_id FROM user_relationships WHERE related_user_id = owner AND relationship_type = 'contact'
        ) people
        JOIN users u ON u.id = people.v AND u.deleted_at IS NULL
        WHERE coalesce(u.privacy_settings->>'lastSeen', 'everyone') <> 'nobody'
          AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                          AND b.user_id = people.v AND b.related_user_id = owner)
        OFFSET 0
    ) candidates
    WHERE presence_visible(owner, candidates.v)
$$;
