-- A former member sees the group as it was when they left (V38): its name, description and
-- picture of that moment, not what its members made of them since.
ALTER TABLE chat_participants ADD COLUMN left_name text,
                              ADD COLUMN left_description text,
                              ADD COLUMN left_avatar_url text;
