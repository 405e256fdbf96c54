-- Banter's data model (PRD "Database Design"), as valid Postgres.
--
-- Choices that differ from the PRD's sketch:
-- * Closed sets are TEXT with CHECK constraints rather than enum types: they bind as plain text
--   parameters and can grow without ALTER TYPE.
-- * Per-recipient delivery and read state is a pair of watermarks on chat_participants
--   (delivered_seq, read_seq) compared with messages.seq, so a receipt is one row update however
--   many messages it covers ("read up to here", as clients report it).
-- * Every message has a per-chat seq, drawn from chats.last_seq under that chat's row lock, and
--   client_message_id unique per sender for idempotent sends.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

-- Accounts -------------------------------------------------------------------------------------

CREATE TABLE users (
    id                    uuid PRIMARY KEY,
    email                 text NOT NULL CHECK (length(email) <= 254),
    email_verified        boolean NOT NULL DEFAULT false,
    phone                 text CHECK (length(phone) <= 20),
    phone_verified        boolean NOT NULL DEFAULT false,
    username              text NOT NULL CHECK (username ~ '^[a-z0-9_.]{3,30}$'),
    password_hash         text NOT NULL,
    display_name          text CHECK (length(display_name) <= 100),
    profile_picture_url   text,
    profile_picture_media_id uuid,
    status                text CHECK (length(status) <= 140),
    about                 text CHECK (length(about) <= 500),
    last_seen             timestamptz,
    is_online             boolean NOT NULL DEFAULT false,
    privacy_settings      jsonb NOT NULL DEFAULT
        '{"lastSeen": "everyone", "profilePicture": "everyone", "about": "everyone", "readReceipts": true}',
    notification_settings jsonb NOT NULL DEFAULT '{"messages": true, "calls": true, "groups": true}',
    totp_secret           text,
    totp_enabled          boolean NOT NULL DEFAULT false,
    deleted_at            timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL;
CREATE INDEX users_username_trgm ON users USING gin (username gin_trgm_ops);
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per login: a device session. Access tokens carry its id; revoking it ends the device.
CREATE TABLE device_sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name    text CHECK (length(device_name) <= 200),
    user_agent     text CHECK (length(user_agent) <= 500),
    ip_address     text,
    remember_me    boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX device_sessions_user ON device_sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are stored only as SHA-256 hashes; each is single-use (used_at set on rotation).
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES device_sessions (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Single-use, expiring tokens sent by email (verification, password reset), stored as hashes.
CREATE TABLE email_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

CREATE TABLE phone_verifications (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phone       text NOT NULL,
    code_hash   bytea NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX phone_verifications_user ON phone_verifications (user_id, created_at DESC);

CREATE TABLE totp_recovery_codes (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Fixed-window counters shared by every Lambda instance (rate limits, brute-force backoff).
CREATE TABLE rate_limit_counters (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, window_start)
);

-- Relationships: contacts, favorites, blocks ----------------------------------------------------

CREATE TABLE user_relationships (
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    related_user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    relationship_type text NOT NULL CHECK (relationship_type IN ('contact', 'favorite', 'blocked')),
    nickname          text CHECK (length(nickname) <= 100),
    note              text CHECK (length(note) <= 1000),
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, related_user_id, relationship_type),
    CHECK (user_id <> related_user_id)
);
-- "Who has blocked me / who has me as a contact" lookups.
CREATE INDEX user_relationships_related ON user_relationships (related_user_id, relationship_type);

-- Chats ----------------------------------------------------------------------------------------

CREATE TABLE chats (
    id             uuid PRIMARY KEY,
    type           text NOT NULL CHECK (type IN ('individual', 'group')),
    name           text CHECK (length(name) <= 100),
    description    text CHECK (length(description) <= 2048),
    avatar_url     text,
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    -- The two members of a 1:1 chat, smaller id first: at most one 1:1 chat per pair.
    individual_key text UNIQUE,
    is_active      boolean NOT NULL DEFAULT true,
    settings       jsonb NOT NULL DEFAULT '{}',
    last_seq       bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((type = 'individual') = (individual_key IS NOT NULL))
);
CREATE TRIGGER chats_updated_at BEFORE UPDATE ON chats
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE chat_participants (
    chat_id               uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role                  text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'moderator', 'member')),
    joined_at             timestamptz NOT NULL DEFAULT now(),
    left_at               timestamptz,
    permissions           jsonb NOT NULL DEFAULT '{}',
    notification_settings jsonb NOT NULL DEFAULT '{"mute": false, "muteUntil": null}',
    -- Highest seq delivered to any of the user's devices, and highest seq the user has read.
    delivered_seq         bigint NOT NULL DEFAULT 0,
    read_seq              bigint NOT NULL DEFAULT 0,
    -- Messages with seq <= cleared_seq are hidden from this participant ("clear chat").
    cleared_seq           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_participants_user_active ON chat_participants (user_id) WHERE left_at IS NULL;

CREATE TABLE invite_links (
    code        text PRIMARY KEY CHECK (length(code) BETWEEN 16 AND 64),
    chat_id     uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX invite_links_one_active_per_chat ON invite_links (chat_id) WHERE revoked_at IS NULL;

-- Messages -------------------------------------------------------------------------------------

CREATE TABLE media_files (
    id            uuid PRIMARY KEY,
    uploader_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    chat_id       uuid REFERENCES chats (id) ON DELETE CASCADE,
    file_key      text NOT NULL UNIQUE,
    file_name     text NOT NULL CHECK (length(file_name) <= 255),
    file_type     text NOT NULL CHECK (file_type IN ('image', 'video', 'audio', 'document', 'sticker')),
    declared_mime text NOT NULL CHECK (length(declared_mime) <= 100),
    detected_mime text,
    file_size     bigint NOT NULL CHECK (file_size > 0),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    width         integer,
    height        integer,
    duration_ms   integer,
    -- Processed outputs by name (thumbnail, medium, large, compressed, preview, waveform): keys.
    variants      jsonb NOT NULL DEFAULT '{}',
    metadata      jsonb NOT NULL DEFAULT '{}',
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_files_chat_type ON media_files (chat_id, file_type, created_at DESC);
CREATE INDEX media_files_uploader ON media_files (uploader_id);
CREATE TRIGGER media_files_updated_at BEFORE UPDATE ON media_files
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE media_processing_jobs (
    id            uuid PRIMARY KEY,
    media_id      uuid NOT NULL REFERENCES media_files (id) ON DELETE CASCADE,
    job_type      text NOT NULL CHECK (job_type IN ('image', 'video', 'audio', 'document')),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3,
    input         jsonb NOT NULL DEFAULT '{}',
    output        jsonb,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_processing_jobs_media ON media_processing_jobs (media_id);
CREATE INDEX media_processing_jobs_open ON media_processing_jobs (status) WHERE status IN ('pending', 'processing');
CREATE TRIGGER media_processing_jobs_updated_at BEFORE UPDATE ON media_processing_jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE messages (
    id                     uuid PRIMARY KEY,
    chat_id                uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    -- NULL once the sender's account is erased (their messages stay as tombstones).
    sender_id              uuid REFERENCES users (id) ON DELETE SET NULL,
    client_message_id      text NOT NULL CHECK (length(client_message_id) BETWEEN 1 AND 100),
    seq                    bigint NOT NULL,
    type                   text NOT NULL DEFAULT 'text' CHECK (type IN
                               ('text', 'image', 'video', 'audio', 'document', 'location', 'contact', 'sticker', 'system')),
    content                text CHECK (length(content) <= 65536),
    media_id               uuid REFERENCES media_files (id) ON DELETE SET NULL,
    reply_to_id            uuid REFERENCES messages (id) ON DELETE SET NULL,
    forwarded_from_id      uuid REFERENCES messages (id) ON DELETE SET NULL,
    forward_count          integer NOT NULL DEFAULT 0,
    metadata               jsonb NOT NULL DEFAULT '{}',
    is_edited              boolean NOT NULL DEFAULT false,
    edited_at              timestamptz,
    deleted_for_everyone   boolean NOT NULL DEFAULT false,
    deleted_at             timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    search                 tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(content, ''))) STORED,
    UNIQUE (chat_id, seq),
    UNIQUE (sender_id, client_message_id)
);
CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX messages_chat_type ON messages (chat_id, type, seq DESC) WHERE NOT deleted_for_everyone;
CREATE INDEX messages_reply_to ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE media_files ADD COLUMN message_id uuid REFERENCES messages (id) ON DELETE SET NULL;
CREATE INDEX media_files_message ON media_files (message_id) WHERE message_id IS NOT NULL;

-- "Delete for me": hidden for one user only.
CREATE TABLE message_hidden (
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hidden_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, message_id)
);

CREATE TABLE message_reactions (
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      text NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- One reaction per user per message, as WhatsApp: reacting again replaces it.
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE message_edits (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id       uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    previous_content text,
    edited_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_edits_message ON message_edits (message_id, id);

-- Per-user event stream for /api/sync ------------------------------------------------------------
-- Rows carry the writing transaction's id so a reader can stop below the oldest transaction still
-- in flight (pg_snapshot_xmin) and never skip an event that commits later with a smaller id.

CREATE TABLE user_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event      text NOT NULL,
    data       jsonb NOT NULL,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_events_user ON user_events (user_id, id);
