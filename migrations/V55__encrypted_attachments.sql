-- An encrypted message's attachment: ciphertext the client encrypted before uploading, stored as
-- it comes (nothing can scan, check or process it), and read by the message's recipients as any
-- attachment (its key is inside the message's ciphertext).
ALTER TABLE media_files DROP CONSTRAINT media_files_file_type_check;
ALTER TABLE media_files ADD CONSTRAINT media_files_file_type_check
    CHECK (file_type IN ('image', 'video', 'audio', 'document', 'sticker', 'encrypted'));
