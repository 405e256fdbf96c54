-- Undoing an email change from the old address: the link sent there after a change remembers
-- the address it restores.
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'reset_2fa', 'change_email', 'undo_email_change'));
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_new_email_for_a_change;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_new_email_for_a_change
    CHECK ((purpose IN ('change_email', 'undo_email_change')) = (new_email IS NOT NULL));
