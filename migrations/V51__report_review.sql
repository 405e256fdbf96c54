-- Moderators work through the reports: each is open until a moderator resolves it, as dismissed
-- (nothing to act on) or actioned (the reported account was dealt with), with a note. Suspending
-- an account resolves the open reports about it as actioned, with the suspension's reason.
ALTER TABLE abuse_reports
    ADD COLUMN resolved_at     timestamptz,
    ADD COLUMN resolution      text CHECK (resolution IN ('dismissed', 'actioned')),
    ADD COLUMN resolution_note text CHECK (length(resolution_note) <= 500),
    ADD CONSTRAINT abuse_reports_resolved CHECK ((resolved_at IS NULL) = (resolution IS NULL));
-- The review queue: open reports, newest first.
CREATE INDEX abuse_reports_open ON abuse_reports (created_at DESC) WHERE resolved_at IS NULL;
