-- Polls (WhatsApp's, Telegram's): a message of type `poll` whose `content` is the question and
-- whose `metadata` holds `{options: [text, ...], multipleAnswers}`; an option is named by its
-- index. A member's votes are their rows here: none (not voted, or taken back), one, or (in a
-- poll with `multipleAnswers`) several. They go with the message (deleted for everyone or
-- disappeared) and with the voter's account.
ALTER TABLE messages DROP CONSTRAINT messages_type_check;
ALTER TABLE messages ADD CONSTRAINT messages_type_check CHECK (type IN
    ('text', 'image', 'video', 'audio', 'document', 'location', 'contact', 'sticker', 'poll', 'system'));

CREATE TABLE poll_votes (
    message_id   uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    option_index smallint NOT NULL CHECK (option_index BETWEEN 0 AND 11),
    voted_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, option_index)
);
CREATE INDEX poll_votes_user ON poll_votes (user_id);
