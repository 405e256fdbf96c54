-- An account's security activity, for its owner (`GET /api/auth/activity`): logins and failed
-- logins, device sessions ended, password, email and two-factor changes, data exports. Where it
-- came from: the device session (and its user agent) or, before there is one, the request's.
-- Kept 180 days (housekeeping); it goes with the account.
CREATE TABLE account_activity (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN (
                   'registered', 'login', 'login_failed', 'logged_out', 'session_revoked',
                   'refresh_token_reused', 'password_changed', 'password_reset', 'email_changed',
                   'email_change_undone', 'two_factor_enabled', 'two_factor_disabled',
                   'two_factor_reset_confirmed', 'data_exported')),
    session_id uuid,
    user_agent text CHECK (length(user_agent) <= 500),
    ip_address text CHECK (length(ip_address) <= 100),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_activity_user ON account_activity (user_id, created_at DESC, id DESC);
CREATE INDEX account_activity_created ON account_activity (created_at);
