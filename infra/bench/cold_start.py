"""Lambda cold start of Banter's function binaries, under a minimal Lambda runtime API emulator.

For each binary: start it with the environment a deployed function has, and time from process
start to its first `GET /2018-06-01/runtime/invocation/next` (init: logging, configuration, the
database pool, the AWS SDK), then hand it one event and time the answer. Prints each stripped
binary's size too, against DESIGN.md's budgets (under 8 MB, init under 10 ms).

Build each function on its own, as `sam build` does: one cargo invocation for several would
unify their features, linking every function the AWS clients any of them uses.

    for f in health ws-message; do cargo build --release -p fn-$f; done
    python3 infra/bench/cold_start.py target/release/fn-health target/release/fn-ws-message

Uses only the standard library; stops by itself.
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import time

SIZE_BUDGET_MB = 8
INIT_BUDGET_MS = 10

EVENT = {"resource": "/api/openapi.json", "path": "/api/openapi.json", "httpMethod": "GET", "headers": {},
         "multiValueHeaders": {}, "requestContext": {"requestId": "cold-start"}, "isBase64Encoded": False}


def measure(binary: str, runs: int = 5):
    inits, firsts = [], []
    for _ in range(runs):
        state = {"next_at": None, "answered_at": None, "served": False}
        done = threading.Event()

        class Runtime(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the process under test was stopped

            def do_GET(self):
                if state["next_at"] is None:
                    state["next_at"] = time.perf_counter()
                if state["served"]:
                    done.wait(5)
                    self.send_response(500)
                    self.end_headers()
                    return
                state["served"] = True
                body = json.dumps(EVENT).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:f")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the process was stopped mid-answer

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                state["answered_at"] = time.perf_counter()
                self.send_response(202)
                self.end_headers()
                done.set()

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        key = base64.b64encode(bytes(32)).decode()  # a syntactically valid public key
        env = dict(os.environ,
                   AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
                   AWS_LAMBDA_FUNCTION_NAME="cold-start", AWS_LAMBDA_FUNCTION_VERSION="1",
                   AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256", AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   DATABASE_URL="postgres://banter@127.0.0.1:9/banter", JWT_PUBLIC_KEY=key,
                   CONNECTIONS_TABLE="t", DELIVERY_QUEUE_URL="http://127.0.0.1:9/q",
                   WEBSOCKET_MANAGEMENT_URL="http://127.0.0.1:9", MEDIA_BUCKET="b",
                   NOTIFY_FROM_EMAIL="a@example.com", RUST_LOG="warn")
        env.pop("JWT_PRIVATE_KEY", None)
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        done.wait(10)
        proc.kill()
        proc.wait()
        server.shutdown()
        if state["next_at"] is None:
            return None  # it stopped at init (a setting it misses, an adapter it was built without)
        inits.append((state["next_at"] - start) * 1000)
        if state["answered_at"]:
            firsts.append((state["answered_at"] - start) * 1000)
    return inits, firsts


def main():
    binaries = sys.argv[1:]
    if not binaries:
        raise SystemExit(__doc__)
    print(f"{'binary':<28} {'size MB':>8} {'init ms (median of 5)':>22} {'first answer ms':>16}")
    over = []
    for b in binaries:
        measured = measure(b)
        if measured is None:
            print(f"{os.path.basename(b):<28} {os.path.getsize(b) / 1e6:>8.1f} {'never asked for an event':>22}")
            over.append(os.path.basename(b))
            continue
        inits, firsts = measured
        inits.sort()
        firsts.sort()
        first = f"{firsts[len(firsts) // 2]:.1f}" if firsts else "-"
        size, init = os.path.getsize(b) / 1e6, inits[len(inits) // 2]
        print(f"{os.path.basename(b):<28} {size:>8.1f} {init:>22.1f} {first:>16}")
        if size >= SIZE_BUDGET_MB or init >= INIT_BUDGET_MS:
            over.append(os.path.basename(b))
    print(f"over budget (size {SIZE_BUDGET_MB:g} MB, init {INIT_BUDGET_MS:g} ms) or not starting: {', '.join(over) or 'none'}")


if __name__ == "__main__":
    main()
