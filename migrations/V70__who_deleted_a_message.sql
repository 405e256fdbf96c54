-- Who deleted a message for everyone: its sender, or an admin of its group (WhatsApp shows
-- "deleted by admin"). The `message:deleted` event said so; now history, search and backups,
-- read later, say so too. Forgotten (NULL) with the account that deleted it.
ALTER TABLE messages ADD COLUMN deleted_by uuid REFERENCES users (id) ON DELETE SET NULL;
-- Erasing an account looks its deletions up (few messages are deleted by anyone).
CREATE INDEX messages_deleted_by ON messages (deleted_by) WHERE deleted_by IS NOT NULL;
