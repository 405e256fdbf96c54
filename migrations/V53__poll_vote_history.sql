-- Former members who kept a group read it as it was when they left, polls included: a vote
-- changed or taken back is withdrawn (`withdrawn_at`) rather than deleted while someone left
-- the group during its life, so their view of the poll counts it as it stood. A withdrawn vote
-- that nobody left during is deleted at once (the vote's change prunes it), so flipping a vote
-- stores nothing more.
ALTER TABLE poll_votes DROP CONSTRAINT poll_votes_pkey;
ALTER TABLE poll_votes ADD COLUMN withdrawn_at timestamptz;
-- Each answer once among a voter's current votes.
CREATE UNIQUE INDEX poll_votes_current ON poll_votes (message_id, user_id, option_index)
    WHERE withdrawn_at IS NULL;
-- A poll's votes, current and withdrawn (and the foreign key's index).
CREATE INDEX poll_votes_message ON poll_votes (message_id, user_id);
