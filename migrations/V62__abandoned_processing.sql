-- The scheduled run looks for files whose processing stopped without an outcome (its worker
-- gone, no retry taking over) every minute: an index of the few files in processing, not a
-- scan of every file.
CREATE INDEX media_files_processing ON media_files (updated_at) WHERE status = 'processing';
