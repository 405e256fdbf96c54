-- User search: queries of 1 or 2 characters match username prefixes, served by this index
-- (the trigram index serves 3 characters and more; shorter ones would scan every user).
CREATE INDEX users_username_prefix ON users (username text_pattern_ops);
