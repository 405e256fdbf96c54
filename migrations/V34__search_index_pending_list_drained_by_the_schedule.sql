-- The message search index takes new words through GIN's pending list again (V3 turned it
-- off), and the schedule merges the list into the index on every run (each second in the local
-- stack), so no sender's statement pays for the merge. Inserting each message's words straight
-- into the index was a fifth of the send statement's CPU at 4,000 msg/s (perf), and the send
-- batcher stores one batch at a time: merged by the schedule, beside it, the same work no
-- longer holds sends back. Searches read the pending list too, so a word is found as soon as
-- its message is stored. Only if the schedule stopped for long would the
-- list reach its limit (16 MB here) and the insert that fills it merge it, as before V3.
ALTER INDEX messages_search SET (fastupdate = on, gin_pending_list_limit = 16384);

-- Only the index's owner may merge its pending list; the schedule runs as the serving role.
CREATE FUNCTION flush_message_search_index() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT gin_clean_pending_list('public.messages_search'::regclass)
$$;
REVOKE ALL ON FUNCTION flush_message_search_index() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION flush_message_search_index() TO banter_app;
