#!/usr/bin/env bash
# Runs every cargo fuzz target (fuzz/fuzz_targets) for a bounded time from its committed seed
# corpus (fuzz/corpus/<target>, copied so the run does not change it); any crash or panic fails.
# Needs the nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz, installed if missing.
#
#   ./infra/fuzz.sh                    10 s per target (the test command)
#   BANTER_FUZZ_SECONDS=600 ./infra/fuzz.sh    a longer run (the benchmark's)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET="${BANTER_FUZZ_SECONDS:-10}"
TARGET_DIR="${CARGO_TARGET_DIR:-../target}/fuzz"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "the nightly toolchain is missing (rustup toolchain list); cargo fuzz needs it" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz"
  cargo install -q cargo-fuzz --locked
fi

# No sanitizer: the code under test is safe Rust, where what fuzzing finds is panics.
cargo +nightly fuzz build -s none --target-dir "$TARGET_DIR"
for target in $(cargo +nightly fuzz list); do
  work="$(mktemp -d)"
  cp -r "corpus/$target/." "$work/"
  log="$work.log"
  if ! cargo +nightly fuzz run -s none --target-dir "$TARGET_DIR" "$target" "$work" -- \
      -max_total_time="$SECONDS_PER_TARGET" -seed=20261201 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target" >&2
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  echo "fuzz $target: $runs inputs in ${SECONDS_PER_TARGET}s, no crash"
  rm -rf "$work" "$log"
done
