-- No JIT compilation for this database's statements. Every statement here reads or writes a few
-- rows by key, in well under a millisecond; PostgreSQL compiles a statement whose estimated
-- cost passes `jit_above_cost`, and compiling (with inlining and optimization) took 464 ms of
-- a 529 ms run of the relay's read once a disabled plan node's cost estimate passed that line.
-- A long search is no better off: its cost is in reading the index, not in expressions.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END
$$;
