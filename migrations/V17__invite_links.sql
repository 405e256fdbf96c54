-- Group invite links (API.md): at most one live link per group, made, reset and revoked by
-- admins. The code is a capability (anyone holding it may ask to join), shown again to admins
-- (and as a QR code), so it is kept as it is: 128 random bits, base64url. A reset replaces it,
-- so the old code stops working.
CREATE TABLE chat_invite_links (
    chat_id          uuid PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    code             text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_-]{22}$'),
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz,
    require_approval boolean NOT NULL DEFAULT false
);

-- Someone who followed a link that needs approval, until an admin approves or rejects them.
CREATE TABLE chat_join_requests (
    chat_id      uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    requested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_join_requests_user ON chat_join_requests (user_id);
