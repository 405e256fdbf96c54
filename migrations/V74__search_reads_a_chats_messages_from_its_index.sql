-- Message search for a common word reads every message of the searcher's chats and matches each
-- (`db::messages::search_sql`, V35). A chat's messages arrive among everyone else's, so its rows
-- lie one to a heap page: for a user in 200 chats of 100 messages, among 1,000,000, that was
-- 20,000 pages and about 45 of the query's 50 ms (`banter-bench --discovery`), over DESIGN.md's
-- 50 ms p95.
--
-- The `(chat_id, seq)` index, which keeps a chat's messages side by side, now also carries what
-- search reads of a message: its words (`search`) and what decides whether the searcher may see
-- it. Search reads the searcher's chats from the index alone (an index-only scan, on pages the
-- visibility map marks all-visible), a few index pages per chat, and goes to the heap only for
-- the page of messages it answers with. On that corpus: the common word 50 -> 18 ms, a prefix
-- 19 -> 13 ms, two words 14 ms, a rare word 5.5 -> 13 ms (statement times, generic plans).
--
-- The price: the index holds about 200 bytes more per message (45 MB -> 238 MB for a million,
-- beside a 362 MB heap), written with each message. It is the same index, widened, not another
-- one: a send still updates as many indexes as before.
CREATE UNIQUE INDEX messages_chat_seq_with_search ON messages (chat_id, seq)
    INCLUDE (search, id, created_at, sender_id, expires_at, type, deleted_for_everyone);
ALTER TABLE messages
    DROP CONSTRAINT messages_chat_id_seq_key,
    ADD CONSTRAINT messages_chat_id_seq_key UNIQUE USING INDEX messages_chat_seq_with_search;
