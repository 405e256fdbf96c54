-- A member an admin removed does not come back through the group's invite link on their own: they
-- may ask through a link that needs approval, or an admin adds them. `removed_by_admin` says how
-- their membership ended (by someone else, not by leaving); joining again clears it. (Not
-- `removed`: V54's trigger function has a variable of that name, which a column of
-- chat_participants would make ambiguous there.)
ALTER TABLE chat_participants ADD COLUMN removed_by_admin boolean NOT NULL DEFAULT false;
