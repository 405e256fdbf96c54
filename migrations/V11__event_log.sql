-- The event log: every server-to-client event is a row here, written in the same transaction as
-- the change that causes it (a transactional outbox). Live pushes (the relay) and /api/sync both
-- read it, so sync sees everything the WebSocket pushes.
--
-- Two streams in one table:
-- * chat-wide events (`chat_id`: a message, an edit, a membership change) are stored once per
--   chat, and each member reads them for the time they were a member (fan-out on read): a
--   message to a 1,024-member group is one row;
-- * per-user events (`user_id`: receipts to a sender, a chat created for someone) are that
--   user's alone.
--
-- Order and cursors: an event's position is (xid, id), the writing transaction's id first.
-- A reader only reads below the oldest transaction still in flight (`pg_snapshot_xmin`): every
-- transaction with a smaller xid has finished, so no event can later appear below that line,
-- and a cursor never skips an event that commits late (ids drawn from a sequence commit out of
-- order; transaction ids below the horizon do not).
DROP TABLE user_events;

CREATE TABLE events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid               xid8 NOT NULL DEFAULT pg_current_xact_id(),
    chat_id           uuid REFERENCES chats (id) ON DELETE CASCADE,
    user_id           uuid REFERENCES users (id) ON DELETE CASCADE,
    -- Who caused it: members who blocked them do not get it.
    actor_id          uuid REFERENCES users (id) ON DELETE SET NULL,
    -- The connection that caused it, which already has its answer (not pushed to again).
    origin_connection text CHECK (length(origin_connection) <= 128),
    name              text NOT NULL CHECK (length(name) <= 64),
    -- Message events are read with the message as it is (one source of truth); other events
    -- carry their payload.
    message_id        uuid REFERENCES messages (id) ON DELETE CASCADE,
    data              jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((chat_id IS NULL) <> (user_id IS NULL))
);
CREATE INDEX events_position ON events (xid, id);
CREATE INDEX events_chat ON events (chat_id, xid, id) WHERE chat_id IS NOT NULL;
CREATE INDEX events_user ON events (user_id, xid, id) WHERE user_id IS NOT NULL;

-- Where the relay (the one live path) has got to; one row. Relays take it with
-- `FOR UPDATE SKIP LOCKED`, so one runs at a time and pushes to each connection in order.
CREATE TABLE relay_position (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    xid   xid8 NOT NULL,
    event bigint NOT NULL
);
INSERT INTO relay_position (xid, event) VALUES (pg_snapshot_xmin(pg_current_snapshot()), 0);

-- Connections that asked to resume from a cursor (`/ws?since=`): the relay replays their
-- events up to its own position before pushing anything newer to them.
CREATE TABLE pending_replays (
    connection_id text PRIMARY KEY CHECK (length(connection_id) <= 128),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    after_xid     xid8 NOT NULL,
    after_event   bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Compaction: events below this position were deleted; a cursor older than it answers 410.
CREATE TABLE event_retention (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    pruned_xid  xid8 NOT NULL
);
INSERT INTO event_retention (pruned_xid) VALUES ('0'::xid8);

GRANT SELECT, INSERT, UPDATE, DELETE ON events, relay_position, pending_replays, event_retention TO banter_app;
