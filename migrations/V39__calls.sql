-- Voice and video calls (PRD: "Voice and video calling (WebRTC)"): the server carries the
-- signalling (the offer, the answer, ICE candidates) through the event log and keeps each
-- call's record for the call history; the media flows between the devices (WebRTC).
-- One-to-one chats only: a group call needs a media server this design does not have.
CREATE TABLE calls (
    id          uuid PRIMARY KEY,
    chat_id     uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    caller_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    kind        text NOT NULL CHECK (kind IN ('audio', 'video')),
    status      text NOT NULL DEFAULT 'ringing' CHECK (status IN ('ringing', 'ongoing', 'ended')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz,
    ended_at    timestamptz,
    -- Why it ended: hung up after it was answered, declined by the callee, cancelled by the
    -- caller or unanswered in time (missed), or replaced by a new call in the chat.
    end_reason  text CHECK (end_reason IN ('hung_up', 'declined', 'missed', 'replaced')),
    CHECK ((status = 'ended') = (ended_at IS NOT NULL AND end_reason IS NOT NULL))
);
-- A chat's history of calls, and at most one live call per chat.
CREATE INDEX calls_chat ON calls (chat_id, started_at DESC);
CREATE UNIQUE INDEX calls_live_per_chat ON calls (chat_id) WHERE status <> 'ended';
-- Erasing an account finds its calls by index (the caller becomes null).
CREATE INDEX calls_caller ON calls (caller_id);
-- The schedule's sweep of calls nobody answered.
CREATE INDEX calls_ringing ON calls (started_at) WHERE status = 'ringing';
