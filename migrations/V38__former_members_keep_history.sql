-- A member who leaves a group, or is removed, keeps it as they left it: the chat stays in their
-- list and its history up to their leaving stays readable (read-only) until they delete it for
-- themselves (`DELETE /api/chats/{chatId}` once more), which sets `hidden`. Rejoining clears it.
--
-- `left_seq` is the chat's last seq when they left (the leaving transaction's own system
-- messages included): the history they keep ends there. Sends take the chat's seq under its
-- counter's row lock (V28) and hold it to their commit, as the leaving transaction does, so
-- every message below it had committed and every one above it commits after they left.
ALTER TABLE chat_participants ADD COLUMN left_seq bigint;

-- Groups left before this change stay out of their former members' lists, as they were.
UPDATE chat_participants SET hidden = true WHERE left_at IS NOT NULL;

-- The chat list, search and backups read a user's chats with this predicate.
CREATE INDEX chat_participants_user_listed ON chat_participants (user_id)
    WHERE left_at IS NULL OR NOT hidden;
