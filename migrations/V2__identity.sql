-- Identity: abuse-protection state and profile picture references.

-- Rate-limit counters are hit on hot paths (every REST request, every message); losing them in
-- a crash only resets some windows, so they skip the WAL.
ALTER TABLE rate_limit_counters SET UNLOGGED;

-- Consecutive failed logins per account and per client IP, for brute-force backoff. Reset by a
-- successful login.
CREATE UNLOGGED TABLE login_failures (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    last_failure timestamptz NOT NULL
);

ALTER TABLE users ADD CONSTRAINT users_profile_picture_media_fk
    FOREIGN KEY (profile_picture_media_id) REFERENCES media_files (id) ON DELETE SET NULL;
