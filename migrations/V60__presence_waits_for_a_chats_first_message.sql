-- A 1:1 chat shows its other person nothing until its first message (their row starts
-- `hidden`, as V15's chat deleted for oneself: `db::chats::open_individual`), but sharing it
-- gave each the other's presence at once: someone who merely opened a chat with you
-- was announced by their `user:online`. Presence now reaches the other member of a 1:1 chat
-- only while their list shows it (`db::shows_the_chat`: not hidden, or written in since they
-- cleared it), so the opener sees the other's at once and the other sees the opener's from the
-- first message, which tells them it (`services::presence::chat_shown`); deleting the chat for
-- oneself stops it until the next message (told at once). Contacts, either way, see it as
-- before. `presence_people` stays the symmetric superset that `WATCHED` starts from.

-- The people who may be told `owner`'s presence or status: the other member of each 1:1 chat
-- with the owner that their list shows, and contacts either way (never a whole group), not
-- deleted. A single SQL query, so PostgreSQL inlines it into the statement that reads it (V33).
CREATE FUNCTION presence_viewers(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT people.v FROM (
        SELECT o.user_id AS v
        FROM chat_participants me
        JOIN chats c ON c.id = me.chat_id AND c.type = 'individual'
        JOIN chat_participants o ON o.chat_id = me.chat_id AND o.user_id <> owner AND o.left_at IS NULL
        JOIN chat_sequences s ON s.chat_id = me.chat_id
        WHERE me.user_id = owner AND me.left_at IS NULL
          AND (NOT o.hidden OR s.last_seq > o.cleared_seq)
        UNION
        SELECT related_user_id FROM user_relationships WHERE user_id = owner AND relationship_type = 'contact'
        UNION
        SELECT user_id FROM user_relationships WHERE related_user_id = owner AND relationship_type = 'contact'
    ) people
    JOIN users u ON u.id = people.v AND u.deleted_at IS NULL
$$;

-- As V36, on presence_viewers.
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
    WHERE presence_visible(owner, candidates.v)
$$;

-- As V36, on presence_viewers.
CREATE OR REPLACE FUNCTION status_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT people.v FROM presence_viewers(owner) AS people(v)
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
