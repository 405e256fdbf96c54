-- Rate-limit counters are not worth a WAL flush per request (one per message sent): unlogged,
-- a crash empties them (every window starts over), and a request that only counts commits
-- without waiting for the disk.
ALTER TABLE rate_limit_counters SET UNLOGGED;
