-- Archiving a chat unpins it (as WhatsApp's does): the chat list never shows an archived chat
-- among its pinned ones, and an archived chat no longer holds one of the three pins. Chats
-- archived while pinned before this rule are unpinned now.
UPDATE chat_participants SET pinned_at = NULL WHERE archived AND pinned_at IS NOT NULL;
