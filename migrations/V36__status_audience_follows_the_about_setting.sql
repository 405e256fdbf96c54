-- Who is told that a user's status text changed. The status is shown by its owner's `about`
-- setting (`GET /api/users/{id}`: everyone, their contacts, or nobody; never to someone they
-- blocked), but `user:status_updated` went to `presence_audience`, chosen by the last-seen
-- settings: a status hidden by `about` reached everyone who saw the owner's presence, and one
-- shown to everyone did not reach people who hide their own last seen.
--
-- Both audiences start from the same people, now one function: 1:1 chat partners and contacts
-- either way (never a whole group), not deleted. Each is a single SQL query, so PostgreSQL
-- inlines it into the statement that reads it, as V33's plan needs.

CREATE FUNCTION presence_people(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
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
$$;

-- As V33, on presence_people.
CREATE OR REPLACE FUNCTION presence_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT candidates.v FROM (
        SELECT people.v FROM presence_people(owner) AS people(v)
        JOIN users u ON u.id = people.v
        WHERE coalesce(u.privacy_settings->>'lastSeen', 'everyone') <> 'nobody'
          AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                          AND b.user_id = people.v AND b.related_user_id = owner)
        OFFSET 0
    ) candidates
    WHERE presence_visible(owner, candidates.v)
$$;

-- The people the owner's `about` setting shows their status to, neither blocking the other.
CREATE FUNCTION status_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT people.v FROM presence_people(owner) AS people(v)
    CROSS JOIN (SELECT coalesce(privacy_settings->>'about', 'everyone') AS about
                FROM users WHERE id = owner) shown
    WHERE shown.about <> 'nobody'
      AND (shown.about = 'everyone'
           OR EXISTS (SELECT 1 FROM user_relationships c WHERE c.user_id = owner
                      AND c.related_user_id = people.v AND c.relationship_type = 'contact'))
      AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.user_id = owner
                      AND b.related_user_id = people.v AND b.relationship_type = 'blocked')
      AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.user_id = people.v
                      AND b.related_user_id = owner AND b.relationship_type = 'blocked')
$$;
