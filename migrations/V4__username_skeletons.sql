-- A username's confusable skeleton (Unicode TS #39, case-folded): two handles that look alike
-- (`alice` and `a1ice`, `bob` and `b0b`, `mary` and `rnary`) have the same skeleton, and only
-- one live account may hold it. Rows from before this migration are filled in by the migration
-- runner (`db::migrate`); an erased account's skeleton is cleared, freeing its look-alikes.
ALTER TABLE users ADD COLUMN username_skeleton text;
CREATE UNIQUE INDEX users_username_skeleton_key ON users (username_skeleton)
    WHERE username_skeleton IS NOT NULL;
