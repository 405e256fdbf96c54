-- "Mark as unread" (WhatsApp's chat list): a member marks a chat unread for themselves; their
-- list shows it unread until they next read in it (or unmark it).
ALTER TABLE chat_participants ADD COLUMN marked_unread boolean NOT NULL DEFAULT false;
