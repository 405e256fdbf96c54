-- The media pipeline (API.md "Media"): presigned and multipart uploads, processing with
-- progress, retries and cancel, virus scanning.
--
-- A file's life: `pending` (URL issued, bytes not yet processed) -> `processing` ->
-- `completed` | `failed` (`error` holds a code: INVALID_FILE_TYPE, INFECTED, CANCELLED,
-- PROCESSING_FAILED; `error_detail` says more).
ALTER TABLE media_files
    ADD COLUMN progress      smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    ADD COLUMN attempts      smallint NOT NULL DEFAULT 0,
    -- The blob store's multipart upload id while a multipart upload is open.
    ADD COLUMN upload_id     text CHECK (length(upload_id) <= 1024),
    ADD COLUMN processing_started_at timestamptz,
    ADD COLUMN error_detail  text,
    -- A virus scan found something: the object is tagged and never served.
    ADD COLUMN infected      boolean NOT NULL DEFAULT false,
    -- A message showing it was deleted for everyone or disappeared: housekeeping deletes the
    -- file (rows and blobs) unless another message (a forward) still shows it.
    ADD COLUMN released_at   timestamptz;

-- Who may see a file: the members who see a message showing it (a forward shows it in
-- another chat). Unclaimed uploads (no message, no profile) are swept after a day, released
-- ones at once.
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;
CREATE INDEX media_files_created ON media_files (created_at);
CREATE INDEX media_files_released ON media_files (released_at) WHERE released_at IS NOT NULL;

-- V1's job table was never used: a file's processing state lives on its row.
DROP TABLE media_processing_jobs;
