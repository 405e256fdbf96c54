-- Message search picks how to find a query's messages (`db::messages::search_sql`): through the
-- words' index (`messages_search`), or by reading the searcher's own messages. The index lists
-- a word's messages in every chat of the service, so for a word in a large share of all messages
-- (a common word, a short prefix) it reads far more than the searcher could ever see: 420,000
-- postings for the 20,000 messages of a user in 200 chats, among 1,000,000. This function says
-- whether reading the searcher's chats is cheaper, from the words' shares of all messages (the
-- statistics ANALYZE keeps of the most common words) and how many messages the searcher's chats
-- hold (`in_scope`).
--
-- The costs, measured on that corpus: reading a message (a heap row) costs about sixteen times
-- what a posting costs the index (1.35 us and 0.08 us), and through the index each message found
-- is read as well. So the index costs share * (total / 16 + in_scope) message reads, the
-- searcher's chats in_scope. Several words (all required): the rarest one's share, since the
-- index walks the others' postings by it. A prefix: the shares of the common words it starts.
-- Words the statistics do not list are rare, and without statistics (a table not yet analyzed)
-- the index is used. (PL/pgSQL, so that its statements are planned once per session.)
CREATE FUNCTION search_reads_chats(query tsquery, in_scope bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    words text[];
    shares real[];
    total real;
    rarest real;
BEGIN
    SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples
      INTO words, shares, total
      FROM pg_stats s, pg_class c
     WHERE s.schemaname = 'public' AND s.tablename = 'messages' AND s.attname = 'search'
       AND c.oid = 'public.messages'::regclass;
    IF query IS NULL OR words IS NULL OR total <= 0 THEN
        RETURN false;
    END IF;
    SELECT min(least(1, coalesce(
               CASE WHEN m[2] IS NULL THEN shares[array_position(words, w.word)]
                    ELSE (SELECT sum(shares[i]) FROM generate_subscripts(words, 1) i
                          WHERE starts_with(words[i], w.word)) END, 0)))
      INTO rarest
      FROM regexp_matches(query::text, '''((?:[^'']|'''')*)''(:\*)?', 'g') m,
           LATERAL (SELECT replace(m[1], '''''', '''') AS word) w;
    RETURN coalesce(rarest * (total / 16 + in_scope) > in_scope, false);
END
$$;
