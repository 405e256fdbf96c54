-- A chat's time in a list is its last message's (V28). What is kept from a blocker (V66: the
-- messages and calls of someone they block, in a 1:1 chat) is not their last message: while
-- everything written since they last saw one is kept from them, their list keeps the chat where
-- it was. `quiet_for` is that member and `quiet_since` the chat's time as they see it; the next
-- message they see clears both. (No reference to `users`: a marker, cleared by the next
-- message, that nothing looks up by.)
ALTER TABLE chat_sequences ADD COLUMN quiet_for uuid, ADD COLUMN quiet_since timestamptz;
