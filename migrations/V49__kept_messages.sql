-- Kept messages (WhatsApp's "Keep in chat"): a member keeps a disappearing message so that it
-- stays for everyone; it disappears again, at its own time (or at once if that has passed),
-- when whoever kept it or its sender unkeeps it.
ALTER TABLE messages ADD COLUMN kept_at timestamptz,
                     ADD COLUMN kept_by uuid REFERENCES users (id) ON DELETE SET NULL,
                     ADD COLUMN expires_unless_kept timestamptz;
-- For the foreign key (an erased account's keeps), only over the few kept messages.
CREATE INDEX messages_kept_by ON messages (kept_by) WHERE kept_by IS NOT NULL;
