-- Reports of abuse (a user, a chat, a message), as WhatsApp's "Report": what the reporter saw
-- (the last messages they could read, at most five) is kept with the report for moderators,
-- because the messages themselves may disappear or be deleted. Kept 90 days (housekeeping).
CREATE TABLE abuse_reports (
    id               uuid PRIMARY KEY,
    reporter_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    reported_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    chat_id          uuid REFERENCES chats (id) ON DELETE SET NULL,
    message_id       uuid,
    reason           text NOT NULL CHECK (reason IN ('spam', 'scam', 'harassment', 'hate_speech',
                                                     'violence', 'sexual_content', 'other')),
    comment          text CHECK (length(comment) <= 2000),
    evidence         jsonb NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX abuse_reports_reporter ON abuse_reports (reporter_id, created_at DESC);
CREATE INDEX abuse_reports_reported_user ON abuse_reports (reported_user_id, created_at DESC);
CREATE INDEX abuse_reports_created ON abuse_reports (created_at);
CREATE INDEX abuse_reports_chat ON abuse_reports (chat_id);
