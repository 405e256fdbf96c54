-- Disappearing messages (PRD 3.2, API.md `disappearingSeconds`): a chat-wide timer; each
-- message sent while it is set expires that long after it was sent, and the scheduled
-- housekeeping erases expired messages (their events go with them).
ALTER TABLE chats ADD COLUMN disappearing_seconds integer NOT NULL DEFAULT 0
    CHECK (disappearing_seconds IN (0, 86400, 604800, 7776000));
ALTER TABLE messages ADD COLUMN expires_at timestamptz;
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;

-- View-once media: a recipient opens it once (recorded here), then it is gone for them.
ALTER TABLE messages ADD COLUMN view_once boolean NOT NULL DEFAULT false;
CREATE TABLE message_views (
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    opened_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id)
);
