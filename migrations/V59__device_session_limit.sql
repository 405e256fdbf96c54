-- A login past the account's limit of live device sessions signs out the one used least
-- recently (`Settings::max_sessions_per_user`), and the account's activity says so.
ALTER TABLE account_activity DROP CONSTRAINT account_activity_kind_check;
ALTER TABLE account_activity ADD CONSTRAINT account_activity_kind_check CHECK (kind IN (
    'registered', 'login', 'login_failed', 'logged_out', 'session_revoked',
    'refresh_token_reused', 'password_changed', 'password_reset', 'email_changed',
    'email_change_undone', 'two_factor_enabled', 'two_factor_disabled',
    'two_factor_reset_confirmed', 'data_exported', 'signed_out_for_new_device'));
