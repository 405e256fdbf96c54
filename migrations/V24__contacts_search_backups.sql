-- Contacts (issue 12): a contact is a `user_relationships` row of type 'contact' ("my contacts"
-- in every privacy setting means exactly these rows); favorite becomes a flag of that row
-- instead of a separate relationship type.
ALTER TABLE user_relationships ADD COLUMN favorite boolean NOT NULL DEFAULT false;
INSERT INTO user_relationships (user_id, related_user_id, relationship_type, favorite)
    SELECT user_id, related_user_id, 'contact', true FROM user_relationships WHERE relationship_type = 'favorite'
    ON CONFLICT (user_id, related_user_id, relationship_type) DO UPDATE SET favorite = true;
DELETE FROM user_relationships WHERE relationship_type = 'favorite';
ALTER TABLE user_relationships DROP CONSTRAINT user_relationships_relationship_type_check;
ALTER TABLE user_relationships ADD CONSTRAINT user_relationships_relationship_type_check
    CHECK (relationship_type IN ('contact', 'blocked'));
ALTER TABLE user_relationships ADD CHECK (NOT favorite OR relationship_type = 'contact');

-- Contact groups (labels). A member must be one of the owner's contacts: the foreign key names
-- the contact row, so removing the contact takes them out of every label.
CREATE TABLE contact_groups (
    id         uuid PRIMARY KEY,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contact_groups_owner_name ON contact_groups (owner_id, lower(name));

CREATE TABLE contact_group_members (
    group_id          uuid NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    owner_id          uuid NOT NULL,
    user_id           uuid NOT NULL,
    relationship_type text NOT NULL DEFAULT 'contact' CHECK (relationship_type = 'contact'),
    added_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (owner_id, user_id, relationship_type)
        REFERENCES user_relationships (user_id, related_user_id, relationship_type) ON DELETE CASCADE
);
CREATE INDEX contact_group_members_contact ON contact_group_members (owner_id, user_id);

-- A user's contact link (QR code): made on first use, replaced by a reset (the old one then
-- resolves to nobody).
ALTER TABLE users ADD COLUMN contact_code text UNIQUE CHECK (length(contact_code) BETWEEN 16 AND 64);

-- Message search: words as written, lower-cased and without accents, in any language (no
-- stemming, no stop words: chat text mixes languages, names and short words).
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION banter_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION banter_search
    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword,
                      hword_asciipart, hword_part, hword_numpart
    WITH unaccent, simple;
DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN search;
ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('banter_search'::regconfig, coalesce(content, ''))) STORED;
-- Only what search can show: no system lines, nothing deleted for everyone.
CREATE INDEX messages_search ON messages USING gin (search) WITH (fastupdate = off)
    WHERE type <> 'system' AND NOT deleted_for_everyone;

-- The tsquery for what someone typed: each word of it as the index saw it (same configuration),
-- quoted, all required; the last one also as a prefix (it may be half typed) once it has two
-- characters. NULL when the text holds no word. Nothing the user types reaches tsquery syntax.
CREATE FUNCTION search_query(typed text) RETURNS tsquery
LANGUAGE sql STABLE AS $$
    SELECT to_tsquery('banter_search'::regconfig, string_agg(
               '''' || replace(replace(w.token, '\', '\\'), '''', '''''') || ''''
                   || CASE WHEN w.n = w.total AND length(w.token) >= 2 THEN ':*' ELSE '' END,
               ' & ' ORDER BY w.n))
    FROM (SELECT t.token, t.n, count(*) OVER () AS total
          FROM (SELECT d.token, row_number() OVER () AS n
                FROM ts_debug('banter_search'::regconfig, typed) d
                WHERE d.lexemes IS NOT NULL AND d.lexemes <> '{}') t) w
$$;

-- Chat backups (`POST /api/backups`): built in the background by the delivery function, kept
-- as a zip in the blob store until `expires_at`.
CREATE TABLE backups (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The chats asked for; NULL for all of the user's chats.
    chat_ids    uuid[],
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'building', 'ready', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    claimed_at  timestamptz,
    blob_key    text,
    size_bytes  bigint,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    expires_at  timestamptz
);
CREATE INDEX backups_user ON backups (user_id, created_at DESC);
CREATE INDEX backups_open ON backups (created_at) WHERE status IN ('pending', 'building');
