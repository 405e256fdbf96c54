-- A resuming connection's device session, so that its replay carries what that device reads
-- (an encrypted message's own envelope). Replays asked before this column existed (seconds old
-- at the upgrade) have none: they carry no envelope, which the device reads from its history.
ALTER TABLE pending_replays
    ADD COLUMN session_id uuid REFERENCES device_sessions (id) ON DELETE CASCADE;
CREATE INDEX pending_replays_session ON pending_replays (session_id);
