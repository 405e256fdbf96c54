-- Deleting a message (a disappearing message's time is up, a chat is deleted with its
-- messages) makes PostgreSQL find the rows that refer to it, by foreign key: its events, the
-- forwards of it, its pins and stars, who hid it. With no index leading with the referring
-- column, each deleted message read the whole of each of those tables (the log and `messages`
-- itself included): erasing a batch of disappearing messages cost batch x table size.
-- Partial where the column is mostly NULL, so a message that is not a forward costs no entry.
CREATE INDEX events_message ON events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_forwarded_from ON messages (forwarded_from_id) WHERE forwarded_from_id IS NOT NULL;
CREATE INDEX message_pins_message ON message_pins (message_id);
CREATE INDEX message_stars_message ON message_stars (message_id);
CREATE INDEX message_hidden_message ON message_hidden (message_id);
