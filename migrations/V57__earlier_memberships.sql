-- A member who left a group (or was removed) and joined it again keeps what came while they were
-- a member before: each earlier membership, from joining to leaving. `chat_participants` holds
-- the latest one; joining again moves the one that ended here, so history, search, media, sync
-- and the relay still count what it brought (`db::came_while_member`). What came between the
-- two was never theirs. Deleting the row (an erased account) takes its earlier ones with it.
CREATE TABLE earlier_memberships (
    chat_id   uuid NOT NULL,
    user_id   uuid NOT NULL,
    joined_at timestamptz NOT NULL,
    left_at   timestamptz NOT NULL CHECK (left_at >= joined_at),
    PRIMARY KEY (chat_id, user_id, joined_at),
    FOREIGN KEY (chat_id, user_id) REFERENCES chat_participants (chat_id, user_id) ON DELETE CASCADE
);
-- A user's sync reads their earlier memberships as it reads their chats.
CREATE INDEX earlier_memberships_user ON earlier_memberships (user_id);

CREATE FUNCTION keep_earlier_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO earlier_memberships (chat_id, user_id, joined_at, left_at)
    VALUES (OLD.chat_id, OLD.user_id, OLD.joined_at, OLD.left_at)
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;

CREATE TRIGGER chat_participants_rejoined
    AFTER UPDATE OF left_at ON chat_participants
    FOR EACH ROW
    WHEN (OLD.left_at IS NOT NULL AND NEW.left_at IS NULL)
    EXECUTE FUNCTION keep_earlier_membership();
