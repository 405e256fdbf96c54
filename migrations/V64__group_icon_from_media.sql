-- A group's icon can be a picture uploaded to Banter: its file is named here and its URL signed
-- when the chat is answered (signed URLs expire), as a profile's picture is. An outside https
-- address (`avatar_url`) stays possible; a group has one or the other. A former member keeps the
-- icon as it was when they left, as they keep the name (V41).
ALTER TABLE chats
    ADD COLUMN avatar_media_id uuid REFERENCES media_files (id) ON DELETE SET NULL,
    ADD CONSTRAINT chats_one_avatar CHECK (avatar_url IS NULL OR avatar_media_id IS NULL);
ALTER TABLE chat_participants
    ADD COLUMN left_avatar_media_id uuid REFERENCES media_files (id) ON DELETE SET NULL;

-- Who may see a picture's file, and whether housekeeping may delete it, are asked by file:
-- these make those questions (and the foreign keys' SET NULL) index lookups.
CREATE INDEX chats_avatar_media ON chats (avatar_media_id) WHERE avatar_media_id IS NOT NULL;
CREATE INDEX chat_participants_left_avatar_media ON chat_participants (left_avatar_media_id)
    WHERE left_avatar_media_id IS NOT NULL;
CREATE INDEX users_profile_picture_media ON users (profile_picture_media_id)
    WHERE profile_picture_media_id IS NOT NULL;
