-- Changing a signed-in account's email address: the link goes to the new address, and the
-- token remembers which address it confirms.
ALTER TABLE email_tokens ADD COLUMN new_email text CHECK (length(new_email) <= 254);
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'reset_2fa', 'change_email'));
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_new_email_for_a_change
    CHECK ((purpose = 'change_email') = (new_email IS NOT NULL));
