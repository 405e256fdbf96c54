-- Presence (API.md, issue: typing and presence): a user is online while any of their
-- connections is open and active (`user:online` / `user:offline` from a client mark its device
-- active or idle). The WebSocket registry (DynamoDB) says where to push; this table says which
-- connections count for presence, changed under the user's row lock so two devices connecting
-- or leaving at once agree on the one transition. API Gateway closes a connection after two
-- hours at most, so an older row is stale (a lost `$disconnect`) and does not count.
CREATE TABLE presence_connections (
    connection_id text PRIMARY KEY CHECK (length(connection_id) BETWEEN 1 AND 128),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    active        boolean NOT NULL DEFAULT true,
    connected_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presence_connections_user ON presence_connections (user_id);

-- Who is told when `owner` comes online or goes offline: the people they share a 1:1 chat
-- or a contact with (never a whole large group), who may see their presence (`presence_visible`,
-- V8), who do not hide their own (as WhatsApp: who hides theirs sees no one's) and whom they
-- have not blocked.
CREATE FUNCTION presence_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT v FROM (
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
    WHERE presence_visible(owner, people.v)
      AND coalesce(u.privacy_settings->>'lastSeen', 'everyone') <> 'nobody'
      AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.relationship_type = 'blocked'
                      AND b.user_id = people.v AND b.related_user_id = owner)
$$;
