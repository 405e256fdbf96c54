-- Each member's own settings of a chat (API.md `PUT /api/chats/{chatId}` `settings`), as
-- columns the chat list can order and filter by: muted until (`infinity`: until unmuted),
-- pinned since (pinned chats come first, most recently pinned first; three at most), archived
-- (left out of the list unless asked for).
ALTER TABLE chat_participants
    ADD COLUMN muted_until timestamptz,
    ADD COLUMN pinned_at   timestamptz,
    ADD COLUMN archived    boolean NOT NULL DEFAULT false;
UPDATE chat_participants SET muted_until = 'infinity'
    WHERE coalesce((notification_settings->>'mute')::boolean, false);
ALTER TABLE chat_participants DROP COLUMN notification_settings;
CREATE INDEX chat_participants_pinned ON chat_participants (user_id) WHERE pinned_at IS NOT NULL AND left_at IS NULL;
