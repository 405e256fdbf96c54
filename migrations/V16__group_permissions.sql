-- Group permissions (WhatsApp's "group settings"), changed by admins: who may send messages,
-- edit the group's info (name, description), and add members: `all` members or `admins` only.
ALTER TABLE chats
    ADD COLUMN send_permission      text NOT NULL DEFAULT 'all'    CHECK (send_permission IN ('all', 'admins')),
    ADD COLUMN edit_info_permission text NOT NULL DEFAULT 'admins' CHECK (edit_info_permission IN ('all', 'admins')),
    ADD COLUMN add_permission       text NOT NULL DEFAULT 'admins' CHECK (add_permission IN ('all', 'admins'));
