-- Moderators suspend an account (abuse reports, `ModerationFunction`): its sessions are revoked
-- and it cannot log in until it is reinstated. Its messages stay where they are.
ALTER TABLE users ADD COLUMN suspended_at timestamptz,
                  ADD COLUMN suspension_reason text CHECK (length(suspension_reason) <= 500);
