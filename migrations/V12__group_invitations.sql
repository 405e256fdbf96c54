-- Group invitations: someone whose privacy (`privacySettings.groups`) does not let the adder
-- add them is invited instead (as WhatsApp does); they join by accepting.
CREATE TABLE chat_invitations (
    chat_id    uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_invitations_user ON chat_invitations (user_id);
