-- A group's creation is idempotent, as a send is: a client that retries `POST /api/chats` (or
-- `chat:create`) after a timeout names the same `clientChatId` and gets the group the first
-- attempt made, not a second group with a second round of `chat:created` for every member.
ALTER TABLE chats ADD COLUMN client_chat_id text;
CREATE UNIQUE INDEX chats_client_chat_id ON chats (created_by, client_chat_id)
    WHERE client_chat_id IS NOT NULL;
