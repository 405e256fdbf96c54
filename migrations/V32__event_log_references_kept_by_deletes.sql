-- The event log's references to chats, users and messages are kept from the side that deletes,
-- not checked on every insert. As foreign keys, each event inserted ran a check per reference
-- (a query that also locks the chat's, the actor's and the message's row): three per message
-- sent, most of the send statement's trigger work. Nothing but the server writes the log, and
-- it writes a message's event in the statement that inserts the message, after checking the
-- sender's membership of the chat. Measured on the send statement alone (a batch of 128
-- messages over 64 chats, generic plan, alternating runs): median 32 ms with the foreign keys,
-- 27 ms without.
--
-- What the foreign keys did on delete, these triggers do, once per deleting statement: a
-- deleted chat or message takes its events with it (a disappearing message leaves nothing
-- behind in the log), an erased user takes their own stream and is no longer named as an
-- actor. An event written for a row deleted in the same instant (an edit racing the message's
-- expiry) names something gone; the relay and sync already skip those, and compaction
-- removes them with the rest of the log.
ALTER TABLE events
    DROP CONSTRAINT events_chat_id_fkey,
    DROP CONSTRAINT events_user_id_fkey,
    DROP CONSTRAINT events_actor_id_fkey,
    DROP CONSTRAINT events_message_id_fkey;

-- Each found through its partial index (`= ANY` implies NOT NULL): V11's events_chat and
-- events_user, V30's events_message, V31's events_actor.
CREATE FUNCTION events_of_deleted_chats() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events WHERE chat_id = ANY (ARRAY(SELECT id FROM deleted));
    RETURN NULL;
END
$$;

CREATE FUNCTION events_of_deleted_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events WHERE message_id = ANY (ARRAY(SELECT id FROM deleted));
    RETURN NULL;
END
$$;

CREATE FUNCTION events_of_deleted_users() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events WHERE user_id = ANY (ARRAY(SELECT id FROM deleted));
    UPDATE events SET actor_id = NULL WHERE actor_id = ANY (ARRAY(SELECT id FROM deleted));
    RETURN NULL;
END
$$;

CREATE TRIGGER chats_delete_events AFTER DELETE ON chats
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION events_of_deleted_chats();
CREATE TRIGGER messages_delete_events AFTER DELETE ON messages
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION events_of_deleted_messages();
CREATE TRIGGER users_delete_events AFTER DELETE ON users
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION events_of_deleted_users();
