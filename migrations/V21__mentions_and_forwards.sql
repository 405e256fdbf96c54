-- Mentions (PRD 3.1): the members a message names. A mentioned member's chat list shows an
-- unread mention; found through this index.
ALTER TABLE messages ADD COLUMN mentions uuid[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(mentions) <= 50);
CREATE INDEX messages_mentions ON messages USING gin (mentions) WHERE cardinality(mentions) > 0;

-- Forwarding (PRD 3.2, WhatsApp): a forwarded copy counts the hops from the original
-- (`forward_count`, since V1); the copy reuses the original's file (`media_id`).
-- A file is attached to messages in the chat it was uploaded for; forwarding reuses it
-- elsewhere, so the media gallery reads a chat's files through its messages.
CREATE INDEX messages_chat_media ON messages (chat_id, seq DESC) WHERE media_id IS NOT NULL;
