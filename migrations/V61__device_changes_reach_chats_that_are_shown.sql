-- A change to someone's devices (`keys:changed`: a new identity key, a device gone, V54) was
-- told to every chat of theirs, so a 1:1 chat they had merely opened (shown to the other
-- person only from its first message, `db::chats::open_individual`) reached that person as a
-- `keys:changed` about a chat they had never seen. It is now told to the chats of theirs that
-- someone else's list shows: every group, and a 1:1 chat whose other member's list shows it
-- (`db::shows_the_chat`: not hidden, or written in since they cleared it). One who gets the
-- chat later asks for the keys when they need them (a sealed send names the devices that
-- changed, `DEVICES_CHANGED`).
CREATE FUNCTION chats_told_of_devices(owner uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT p.chat_id FROM chat_participants p JOIN chats c ON c.id = p.chat_id
    WHERE p.user_id = owner AND p.left_at IS NULL
      AND (c.type <> 'individual' OR EXISTS (
          SELECT 1 FROM chat_participants o JOIN chat_sequences s ON s.chat_id = o.chat_id
          WHERE o.chat_id = p.chat_id AND o.user_id <> owner AND o.left_at IS NULL
            AND (NOT o.hidden OR s.last_seq > o.cleared_seq)))
$$;

-- As V54, to those chats.
CREATE OR REPLACE FUNCTION forget_device_keys_of_ended_session() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    removed jsonb;
BEGIN
    DELETE FROM device_keys WHERE session_id = NEW.id;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    removed := jsonb_build_object('userId', NEW.user_id, 'deviceId', NEW.id,
                                  'identityKey', NULL, 'removed', true);
    INSERT INTO events (chat_id, actor_id, name, data)
    SELECT told.chat_id, NEW.user_id, 'keys:changed', removed || jsonb_build_object('chatId', told.chat_id)
    FROM chats_told_of_devices(NEW.user_id) AS told(chat_id);
    INSERT INTO events (user_id, actor_id, name, data)
    VALUES (NEW.user_id, NEW.user_id, 'keys:changed', removed || jsonb_build_object('chatId', NULL));
    RETURN NEW;
END
$$;
