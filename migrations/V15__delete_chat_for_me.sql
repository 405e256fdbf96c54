-- A 1:1 chat deleted "for me" (`DELETE /api/chats/{chatId}`): its history so far is cleared for
-- that member (`cleared_seq`) and it stays out of their chat list until its next message.
ALTER TABLE chat_participants ADD COLUMN hidden boolean NOT NULL DEFAULT false;
