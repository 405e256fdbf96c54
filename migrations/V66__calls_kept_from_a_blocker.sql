-- A call from someone the callee blocks rings nobody (WhatsApp: the caller hears it ring; the
-- callee's phone never does): it is kept, with its events, its line in the timeline and its
-- place in the history, from the callee it would have rung, for good (an unblock does not bring
-- it back), and refusing it would tell the caller they are blocked.
ALTER TABLE calls ADD COLUMN kept_from uuid REFERENCES users (id) ON DELETE SET NULL;
-- Erasing an account finds the calls kept from it by index (few calls are).
CREATE INDEX calls_kept_from ON calls (kept_from) WHERE kept_from IS NOT NULL;
