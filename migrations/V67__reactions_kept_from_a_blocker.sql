-- A reaction someone makes in a 1:1 chat with a person who blocks them is stored (a refusal
-- would tell them of the block) and kept from that person for good, as their messages then
-- are (V66's calls too): hidden only while the block stands, it showed after an unblock.
ALTER TABLE message_reactions ADD COLUMN kept_from uuid REFERENCES users (id) ON DELETE SET NULL;
-- Erasing an account finds the reactions kept from it by index (few are).
CREATE INDEX message_reactions_kept_from ON message_reactions (kept_from) WHERE kept_from IS NOT NULL;
