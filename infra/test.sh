#!/usr/bin/env bash
# Runs every test of Banter: unit and integration tests against a real PostgreSQL, the AWS
# adapters through the AWS SDK against moto, and the template checks (sam validate --lint,
# cfn-lint, SAM CLI's parser on the REST API), and schemathesis against the local stack and the
# generated openapi.json, every `cargo lambda invoke` line of README.md through `cargo lambda
# watch`, each mode of banter-bench at a small size, and every cargo fuzz target for a few
# seconds (nightly). Installs what
# is missing first: PostgreSQL, and the media tools the media function runs (ffmpeg,
# poppler-utils, LibreOffice Writer, ClamAV) (Debian's packages), and the Python tools (a
# virtualenv, infra/requirements-dev.txt).
#
#   ./infra/test.sh            everything
#   ./infra/test.sh -p banter-core   extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${BANTER_VENV:-${TMPDIR:-/tmp}/banter-venv}"
PG_DIR="${TMPDIR:-/tmp}/banter-test-postgres"
PG_PORT="${BANTER_TEST_PG_PORT:-54330}"
CLAMD_DIR="${TMPDIR:-/tmp}/banter-test-clamd"

say() { printf '\n== %s\n' "$*"; }

# --- tools ---------------------------------------------------------------------------------
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  say "installing PostgreSQL"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
if ! command -v make >/dev/null; then
  say "installing make (the local stack's allocator, jemalloc, builds with it)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends make >/dev/null
fi
MEDIA_TOOLS="ffmpeg ffprobe pdftoppm pdfinfo soffice clamd sigtool"
if ! (for tool in $MEDIA_TOOLS; do command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || exit 1; done); then
  say "installing the media tools (ffmpeg, poppler-utils, LibreOffice Writer, ClamAV)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    ffmpeg poppler-utils libreoffice-writer-nogui clamav clamav-daemon >/dev/null
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  say "installing python3-venv"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
if [ ! -x "$VENV/bin/moto_server" ] || ! cmp -s infra/requirements-dev.txt "$VENV/.requirements"; then
  say "installing Python tools into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r infra/requirements-dev.txt
  cp infra/requirements-dev.txt "$VENV/.requirements"
fi
export PATH="$VENV/bin:$PATH"
export AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0

# --- services for the tests ----------------------------------------------------------------
cargo build -q -p banter-local --bin banter-local
LOCAL_BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/banter-local"

# (Assigned, then exported: `export X="$(...)"` answers export's status, so a start that
# failed would not stop the run, and every test would fail on an empty address instead.)
say "starting PostgreSQL for the tests ($PG_DIR, port $PG_PORT)"
TEST_DATABASE_URL="$("$LOCAL_BIN" postgres start "$PG_DIR" "$PG_PORT")"
export TEST_DATABASE_URL

say "starting clamd with test signatures for the tests ($CLAMD_DIR)"
CLAMD_SOCKET="$("$LOCAL_BIN" clamd start "$CLAMD_DIR")"
export CLAMD_SOCKET

MOTO_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
MOTO_PID=$!
export MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"

cleanup() {
  kill "$MOTO_PID" 2>/dev/null || true
  "$LOCAL_BIN" postgres stop "$PG_DIR" "$PG_PORT" >/dev/null 2>&1 || true
  "$LOCAL_BIN" clamd stop "$CLAMD_DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT
python3 - <<PY
import time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen("$MOTO_ENDPOINT/moto-api/", timeout=1)
        break
    except Exception:
        time.sleep(0.1)
PY

# --- tests ---------------------------------------------------------------------------------
if [ "$#" -gt 0 ]; then
  say "cargo test $*"
  cargo test "$@"
else
  say "cargo test"
  cargo test --workspace -- --skip faults::
  # The fault scenarios print what they counted (acknowledged, received, lost, re-pushed, gaps).
  say "fault scenarios"
  # (pipefail: a failing scenario fails the run; grep always finds the result line.)
  cargo test -p banter-local --test it faults:: -- --nocapture 2>&1 \
    | grep -E '\[fault|^test result|panicked|FAILED|assertion'
fi

if [ "$#" -eq 0 ]; then
  say "cargo lambda: README's invoke lines through cargo lambda watch against the local stack"
  python3 infra/cargo_lambda_samples.py "$LOCAL_BIN"

  # Each mode of the benchmark, small, on this debug build: that it still runs to its end
  # against the stack as it is now (a mode left behind by a change in behaviour fails here,
  # not on the day someone needs its figures). The figures of a debug build mean nothing.
  say "banter-bench: each mode at a small size"
  cargo build -q -p banter-bench
  BENCH_BIN="$(dirname "$LOCAL_BIN")/banter-bench"
  BENCH_LOG="$(mktemp)"
  for mode in "--connections 20 --rate 50 --seconds 2" "--group 16 --rate 20 --seconds 2" \
              "--features --seconds 1" "--dropped-connections --connections 200"; do
    echo "banter-bench $mode"
    # shellcheck disable=SC2086 # the mode is its flags, split on purpose
    if ! "$BENCH_BIN" --stack-bin "$LOCAL_BIN" $mode >"$BENCH_LOG" 2>&1; then
      cat "$BENCH_LOG"
      exit 1
    fi
  done
  rm -f "$BENCH_LOG"
fi

say "contract test: schemathesis against the local stack and openapi.json"
python3 infra/schemathesis_run.py "$LOCAL_BIN"

say "fuzz targets (cargo fuzz, bounded)"
./infra/fuzz.sh

say "template checks"
sam validate --lint -t template.yaml
cfn-lint template.yaml
python infra/check_sam_routes.py template.yaml
python infra/check_sam_builds.py template.yaml
python infra/check_sam_operations.py template.yaml

say "all tests passed"
