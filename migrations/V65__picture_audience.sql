-- Who is told that a user's profile picture changed (`user:profile_picture_updated`): presence's
-- people whom the owner's `profilePicture` setting shows it to, neither blocking the other, as
-- `status_audience` (V36, V60) tells a status to those the `about` setting shows it to. Both now
-- read one function, `shown_audience`, by the setting's name. Each stays a single SQL query, so
-- PostgreSQL inlines it into the statement that reads it (V33).
CREATE FUNCTION shown_audience(owner uuid, setting text) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT people.v FROM presence_viewers(owner) AS people(v)
    CROSS JOIN (SELECT coalesce(privacy_settings->>setting, 'everyone') AS audience
                FROM users WHERE id = owner) shown
    WHERE shown.audience <> 'nobody'
      AND (shown.audience = 'everyone'
           OR EXISTS (SELECT 1 FROM user_relationships c WHERE c.user_id = owner
                      AND c.related_user_id = people.v AND c.relationship_type = 'contact'))
      AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.user_id = owner
                      AND b.related_user_id = people.v AND b.relationship_type = 'blocked')
      AND NOT EXISTS (SELECT 1 FROM user_relationships b WHERE b.user_id = people.v
                      AND b.related_user_id = owner AND b.relationship_type = 'blocked')
$$;

CREATE OR REPLACE FUNCTION status_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT v FROM shown_audience(owner, 'about') AS a(v)
$$;

CREATE FUNCTION picture_audience(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT v FROM shown_audience(owner, 'profilePicture') AS a(v)
$$;
