-- Presence is shared both ways, as WhatsApp's is ("if you don't share your last seen, you
-- can't see other people's"): since V8 someone who showed their last seen to nobody saw nobody's,
-- but someone who showed it to their contacts only still saw everyone's who allowed it. Now a
-- viewer is told the owner's presence only when each side's setting lets the other see theirs
-- (`presence_visible` both ways, which also covers "nobody" and a block by the viewer). Profiles
-- (`db::users::PUBLIC_SELECT`) apply the same rule.
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
    WHERE presence_visible(owner, candidates.v) AND presence_visible(candidates.v, owner)
$$;
