-- A message kept from a blocker (the messages and calls' lines of someone they block, in a 1:1
-- chat: V66) never reaches them: its sender sees it sent, never delivered or read, after an
-- unblock too, though the blocker's receipts (watermarks, `delivered_seq` and `read_seq`) later
-- pass its `seq`. A message someone deleted for themselves keeps the receipts it had.
ALTER TABLE message_hidden ADD COLUMN never_delivered boolean NOT NULL DEFAULT false;
CREATE INDEX message_hidden_never_delivered ON message_hidden (message_id) WHERE never_delivered;
