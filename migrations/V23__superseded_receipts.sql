-- Receipts are watermarks: a newer `message:delivered` or `message:read` event for a chat says
-- all an older one did (for the same recipients, or the same reader), so the older one is
-- dropped when the newer is appended. A device catching up on 10,000 messages then leaves its
-- sender one delivered event and one read event, not one per sync page or per read.
CREATE INDEX events_user_receipts ON events (user_id, (data->>'chatId'))
    WHERE name IN ('message:delivered', 'message:read');
