-- End-to-end encryption keys (PRD "Data protection: end-to-end encryption"), as a Signal-protocol
-- server keeps them: each device session publishes its identity key, a signed pre-key and a
-- supply of one-time pre-keys; a device starting an encrypted conversation with a user claims one
-- bundle per device of theirs, and each one-time pre-key is handed out once. The server stores
-- public keys only. A session that ends takes its keys with it (the trigger below), as its push
-- device goes (V37).
CREATE TABLE device_keys (
    session_id           uuid PRIMARY KEY REFERENCES device_sessions (id) ON DELETE CASCADE,
    user_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_key         bytea NOT NULL CHECK (length(identity_key) = 33),
    signed_pre_key_id    integer NOT NULL CHECK (signed_pre_key_id >= 0),
    signed_pre_key       bytea NOT NULL CHECK (length(signed_pre_key) = 33),
    signed_pre_key_signature bytea NOT NULL CHECK (length(signed_pre_key_signature) = 64),
    -- When the one-time pre-keys last ran low and the owner was told (`keys:low`), so that it is
    -- told once per shortage; cleared when it adds keys.
    low_told_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
-- A user's devices, for a bundle claim and for a chat's devices at an encrypted send.
CREATE INDEX device_keys_user ON device_keys (user_id);

CREATE TABLE one_time_pre_keys (
    session_id uuid NOT NULL REFERENCES device_keys (session_id) ON DELETE CASCADE,
    key_id     integer NOT NULL CHECK (key_id >= 0),
    public_key bytea NOT NULL CHECK (length(public_key) = 33),
    PRIMARY KEY (session_id, key_id)
);

CREATE FUNCTION forget_device_keys_of_ended_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM device_keys WHERE session_id = NEW.id;
    RETURN NEW;
END
$$;
GRANT EXECUTE ON FUNCTION forget_device_keys_of_ended_session() TO banter_app;
CREATE TRIGGER device_sessions_forget_device_keys
    AFTER UPDATE OF revoked_at ON device_sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION forget_device_keys_of_ended_session();

-- Encrypted messages: `content` is empty and `metadata.envelopes` holds one ciphertext per
-- device of the chat's members; the server reads none of it.
ALTER TABLE messages DROP CONSTRAINT messages_type_check;
ALTER TABLE messages ADD CONSTRAINT messages_type_check CHECK (type IN
    ('text', 'image', 'video', 'audio', 'document', 'location', 'contact', 'sticker', 'poll',
     'encrypted', 'system'));
