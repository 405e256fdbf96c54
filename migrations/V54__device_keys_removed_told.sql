-- A device session that ends takes its encryption keys (V50), and the owner's chats and other
-- devices are told in the same transaction (`keys:changed` with `removed`), so that nobody
-- goes on sealing messages for a device that is gone. The payload is `api::ws::KeysChanged`.
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
    SELECT p.chat_id, NEW.user_id, 'keys:changed', removed || jsonb_build_object('chatId', p.chat_id)
    FROM chat_participants p WHERE p.user_id = NEW.user_id AND p.left_at IS NULL;
    INSERT INTO events (user_id, actor_id, name, data)
    VALUES (NEW.user_id, NEW.user_id, 'keys:changed', removed || jsonb_build_object('chatId', NULL));
    RETURN NEW;
END
$$;
