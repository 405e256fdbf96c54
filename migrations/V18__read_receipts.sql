-- Read receipts (API.md "Messages"), as WhatsApp: in a 1:1 chat a read tick shows only when both
-- people have read receipts on (who turns theirs off neither sends nor sees them); groups always
-- keep them. One definition for the history's status and the live `message:read` event.
CREATE FUNCTION read_receipts_on(owner uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT (privacy_settings->>'readReceipts')::boolean FROM users WHERE id = owner), true)
$$;

CREATE FUNCTION read_receipts_shared(chat uuid, reader uuid, sender uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (SELECT type FROM chats WHERE id = chat) = 'group'
        OR (read_receipts_on(reader) AND read_receipts_on(sender))
$$;
