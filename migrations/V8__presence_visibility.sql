-- May `viewer` learn when `owner` is online? The owner's last-seen privacy says (everyone,
-- contacts: people the owner has as contacts, nobody), and a block hides it. Delivery receipts
-- tell when a device was online, so they follow the same rule: one definition, used by the
-- history's receipt status and by the live `message:delivered` notice.
CREATE FUNCTION presence_visible(owner uuid, viewer uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT owner = viewer OR (
        NOT EXISTS (SELECT 1 FROM user_relationships b
                    WHERE b.user_id = owner AND b.related_user_id = viewer AND b.relationship_type = 'blocked')
        AND CASE coalesce((SELECT privacy_settings->>'lastSeen' FROM users WHERE id = owner), 'everyone')
                WHEN 'nobody' THEN false
                WHEN 'contacts' THEN EXISTS (SELECT 1 FROM user_relationships c
                    WHERE c.user_id = owner AND c.related_user_id = viewer AND c.relationship_type = 'contact')
                ELSE true
            END)
$$;
