-- Known devices: a device that logged in to an account before holds a token issued then (only
-- its hash is stored). A login from a known device is exempt from the account-wide backoff, so
-- someone failing logins on purpose cannot keep the owner out.
CREATE TABLE known_devices (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX known_devices_user ON known_devices (user_id, last_used_at DESC);

-- Two-factor reset by email (as WhatsApp's PIN reset): a confirmed request turns 2FA off at the
-- first login after this moment, unless a login with the code cancels it before.
ALTER TABLE users ADD COLUMN totp_reset_after timestamptz;

ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'reset_2fa'));
