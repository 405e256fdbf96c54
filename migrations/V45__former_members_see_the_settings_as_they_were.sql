-- A former member sees the group's settings as they were when they left (as its name,
-- description and picture, V41): its permissions and its disappearing-messages timer. Those who
-- left before this see them as they are now, kept from here on.
ALTER TABLE chat_participants ADD COLUMN left_disappearing_seconds integer,
                              ADD COLUMN left_send_permission text,
                              ADD COLUMN left_edit_info_permission text,
                              ADD COLUMN left_add_permission text;
UPDATE chat_participants p
SET left_disappearing_seconds = c.disappearing_seconds,
    left_send_permission = c.send_permission,
    left_edit_info_permission = c.edit_info_permission,
    left_add_permission = c.add_permission
FROM chats c
WHERE c.id = p.chat_id AND p.left_at IS NOT NULL;
