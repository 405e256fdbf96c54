-- The last TOTP time step a login spent: a code (or an earlier one) cannot be used again.
ALTER TABLE users ADD COLUMN totp_last_step bigint;
