-- Pinned messages (API.md "pin / star"): at most 3 live pins per chat, each for 24 h, 7 d or
-- 30 d; an expired pin no longer counts and is dropped at the next pin of its chat.
CREATE TABLE message_pins (
    chat_id    uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    pinned_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    pinned_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);

-- Starred messages: per user, listed newest first.
CREATE TABLE message_stars (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    starred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, message_id)
);
CREATE INDEX message_stars_user ON message_stars (user_id, starred_at DESC, message_id);

-- When each receipt watermark moved, for message info (`GET .../messages/{id}/info`: who got
-- and read it, when). The watermark rows are updated on every move anyway; each keeps its
-- latest 64 moves, newest first, as [seq, time] pairs: a message's time is that of the first
-- move that reached its seq. Older moves are forgotten (the status stays exact; only the time
-- of a very old receipt is then unknown).
ALTER TABLE chat_participants
    ADD COLUMN delivered_marks jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN read_marks jsonb NOT NULL DEFAULT '[]';

-- A watermark move prepended to its marks, the list cut to 64.
CREATE FUNCTION receipt_marks_push(marks jsonb, seq bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_path_query_array(jsonb_build_array(jsonb_build_array(seq, now())) || marks, '$[0 to 63]')
$$;

-- When a watermark first reached `seq`: the time of the earliest move at or past it, unless
-- that is the oldest move a full list remembers (an earlier, forgotten one may have reached it).
CREATE FUNCTION receipt_marks_time(marks jsonb, seq bigint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN jsonb_array_length(marks) = 64 AND (marks->63->>0)::bigint >= seq THEN NULL
           ELSE (SELECT (m->>1)::timestamptz FROM jsonb_array_elements(marks) m
                 WHERE (m->>0)::bigint >= seq ORDER BY (m->>0)::bigint LIMIT 1)
           END
$$;
