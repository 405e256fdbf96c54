-- A phone number belongs to an account only once verified: an unverified claim (given at
-- registration) never blocks the number's real owner, who takes it over by verifying it.
DROP INDEX users_phone_key;
CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL AND phone_verified;
