-- The message search index takes each insert directly instead of through GIN's pending list,
-- whose flush (every few MB of pending entries) stalls the unlucky sender for milliseconds.
ALTER INDEX messages_search SET (fastupdate = off);
