#!/usr/bin/env python3
"""Every `cargo lambda invoke` line of README.md, run as written through `cargo lambda watch`
against a local stack, answers as the README says; and a function missing its settings stops
with one line that `cargo lambda invoke` shows.

    python3 infra/cargo_lambda_samples.py <banter-local binary>

What a newcomer does, from the repository root, with nothing exported: the local stack (the
binary `cargo run -p banter-local` runs; here on free ports, with its data in a temporary
directory), then `cargo lambda watch` (reading `.banter/lambda.env`, which the stack writes),
then each README line (on the watch's port). The `.banter/lambda.env` and `sam-env.json` a
developer had are put back afterwards.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = [os.path.join(ROOT, ".banter", name) for name in ("lambda.env", "sam-env.json")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(answer):
    return json.loads(answer["body"])


def status(code):
    return lambda answer: answer.get("statusCode") == code


def error_code(code):
    return lambda answer: body(answer)["error"]["code"] == code


# What each README line answers, by its data file (the README's comment says the same).
EXPECTED = {
    "events/health.json": lambda a: status(200)(a) and body(a)["data"]["database"] == "up",
    "events/auth-register.json": lambda a: status(201)(a)
    and body(a)["data"]["user"]["username"] == "sample_user",
    "events/chats-list-without-token.json": lambda a: status(401)(a)
    and error_code("INVALID_TOKEN")(a),
    "events/users-profile-forged-token.json": lambda a: status(401)(a)
    and error_code("INVALID_TOKEN")(a),
    "events/migrate.json": lambda a: a == {"applied": []},
    "events/moderation-reports.json": lambda a: a == [],
    "events/ws-authorizer-alg-none.json": lambda a: a.get("errorMessage") == "Unauthorized",
    "events/ws-connect-unknown-session.json": status(401),
    "events/ws-disconnect.json": status(200),
    "events/ws-message-unknown-session.json": lambda a: body(a)["event"] == "error:general"
    and body(a)["data"]["code"] == "INVALID_TOKEN",
    "events/delivery.json": lambda a: a == {"batchItemFailures": []},
    "events/media.json": lambda a: a == {"processed": []},
    "events/uploads-presigned-url-without-token.json": lambda a: status(401)(a)
    and error_code("UNAUTHORIZED")(a),
}


def readme_invoke_lines():
    lines = []
    with open(os.path.join(ROOT, "README.md")) as f:
        for line in f:
            if line.startswith("cargo lambda invoke "):
                lines.append(line.split("#", 1)[0].split())
    return lines


class Processes:
    """Processes this run started, each in its own group, stopped at exit."""

    def __init__(self):
        self.started = []

    def start(self, args, log, env=None):
        process = subprocess.Popen(
            args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def stop(self, process, sig=signal.SIGTERM):
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self):
        for process in reversed(self.started):
            self.stop(process)


def invoke(args, port):
    """A `cargo lambda invoke` line on the watch's port: its answer as JSON, or its output."""
    args = args[:3] + ["-P", str(port)] + args[3:]
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    out = run.stdout.strip()
    try:
        return json.loads(out)
    except ValueError:
        # An error the function returned (the authorizer's Unauthorized) is printed as text.
        match = re.search(r"×\s*(.+)", run.stdout + run.stderr)
        return {"errorMessage": match.group(1).strip() if match else out, "output": run.stderr}


def wait_for(url, what, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.load(r)
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer at {url}")


def watch(processes, port, log, *extra):
    process = processes.start(["cargo", "lambda", "watch", "-P", str(port), *extra], log)
    deadline = time.time() + 120
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.2)
    raise RuntimeError("cargo lambda watch did not start")


def main():
    # Stopped from outside, still put the developer's files back (SystemExit runs `finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    stack_bin = os.path.abspath(sys.argv[1])
    failures = []
    work = tempfile.mkdtemp(prefix="banter-cargo-lambda-")
    os.chmod(work, 0o755)  # run as root, the stack's PostgreSQL runs as `postgres`
    saved = {}
    for path in SETTINGS:
        if os.path.exists(path):
            saved[path] = os.path.join(work, os.path.basename(path))
            shutil.move(path, saved[path])
    processes = Processes()
    log = open(os.path.join(work, "processes.log"), "w")
    try:
        # 1. A function missing its settings, or given the development key where it does not
        # belong (no stack yet; each case its own environment file and its own watch, since
        # cargo lambda answers an /init/error to the first invocation it holds, whichever
        # function that is for).
        cases = [
            ("fn-health", "BANTER_ENV='development'\n",
             ["missing settings: ", "DATABASE_URL_SECRET"],
             ["CONNECTIONS_TABLE", "JWT_PRIVATE_KEY"]),
            ("fn-auth", "BANTER_ENV='development'\n",
             ["missing settings: ", "DATABASE_URL_SECRET", "JWT_PRIVATE_KEY_SECRET",
              "CONNECTIONS_TABLE", "WEBSOCKET_MANAGEMENT_URL", "NOTIFY_FROM_EMAIL"],
             ["MEDIA_BUCKET", "DELIVERY_QUEUE_URL"]),
            ("fn-ws-authorizer",
             "DATABASE_URL='postgres://x@127.0.0.1:9/x'\nJWT_DEVELOPMENT_PRIVATE_KEY='a2V5'\n",
             ["invalid settings: ", "accepted only with BANTER_ENV=development"], []),
            ("fn-health", "BANTER_ENV='development'\nDATABASE_URL_SECRET='banter/database-url'\n",
             ["invalid settings: ", "refused where production secrets are"], []),
            # Media downloads through the CDN: a function that makes media URLs needs its key
            # pair id and signing key, and refuses a key that is not one; others ignore it.
            ("fn-uploads", "BANTER_ENV='development'\nMEDIA_CDN_URL='https://d1.cloudfront.net'\n",
             ["missing settings: ", "MEDIA_CDN_KEY_PAIR_ID", "MEDIA_CDN_PRIVATE_KEY_SECRET"], []),
            ("fn-uploads", "BANTER_ENV='development'\nMEDIA_CDN_URL='https://d1.cloudfront.net'\n"
             "MEDIA_CDN_KEY_PAIR_ID='K1'\nMEDIA_CDN_PRIVATE_KEY='not a key'\n",
             ["invalid settings: ", "MEDIA_CDN_URL", "not an RSA private key"], []),
            ("fn-health", "BANTER_ENV='development'\nMEDIA_CDN_URL='https://d1.cloudfront.net'\n",
             ["missing settings: ", "DATABASE_URL_SECRET"], ["MEDIA_CDN"]),
        ]
        for i, (function, settings, must, must_not) in enumerate(cases):
            env_file = os.path.join(work, f"case-{i}.env")
            with open(env_file, "w") as f:
                f.write(settings)
            port = free_port()
            process = watch(processes, port, log, "--env-file", env_file)
            line = ["cargo", "lambda", "invoke", "-A", "127.0.0.1", function,
                    "--data-file", "events/health.json"]
            first, again = invoke(line, port), invoke(line, port)
            message = first.get("errorMessage", "")
            ok = (first.get("errorType") == "Runtime.InitError"
                  and message.startswith(must[0])
                  and all(text in message for text in must)
                  and not any(text in message for text in must_not)
                  and "Runtime.InitError" in again.get("output", ""))
            print(f"[{'ok' if ok else 'FAILED'}] {function} with {settings.strip()!r}: "
                  f"{message[:100]}...")
            if not ok:
                failures.append(f"{function} with {settings!r} answered {first}, then {again}")
            processes.stop(process)
        log.flush()
        with open(os.path.join(work, "processes.log")) as f:
            said = [l for l in f if l.startswith(("missing settings: ", "invalid settings: "))]
        if len(said) != len(cases):
            failures.append(f"each function should print its one line once, got {said}")

        # 2. The README: the stack, then cargo lambda watch, then every invoke line.
        stack_port = free_port()
        env = dict(os.environ, BANTER_PORT=str(stack_port), BANTER_PG_PORT=str(free_port()),
                   BANTER_DATA_DIR=os.path.join(work, "data"))
        stack = processes.start([stack_bin], log, env)
        base = f"http://127.0.0.1:{stack_port}"
        wait_for(f"{base}/api/health", "the local stack")
        port = free_port()
        watch(processes, port, log)
        lines = readme_invoke_lines()
        files = {args[args.index("--data-file") + 1] for args in lines}
        if files != set(EXPECTED):
            failures.append(f"README's invoke lines {sorted(files)} differ from "
                            f"the expected answers {sorted(EXPECTED)}")
        registered = None
        for args in lines:
            data_file = args[args.index("--data-file") + 1]
            started = time.time()
            answer = invoke(args, port)
            check = EXPECTED.get(data_file, lambda a: False)
            try:
                ok = check(answer)
            except (KeyError, TypeError, ValueError):
                ok = False
            print(f"[{'ok' if ok else 'FAILED'}] {' '.join(args)} ({time.time() - started:.1f} s)")
            if not ok:
                failures.append(f"{data_file} answered {json.dumps(answer)[:600]}")
            if data_file == "events/auth-register.json" and ok:
                registered = body(answer)["data"]
                again = invoke(args, port)
                if again.get("statusCode") != 409:
                    failures.append(f"registering twice answered {again}")

        # 3. The function and the stack share one world: the function's token works on the
        # stack, and the email it sent through SES is in the stack's outbox.
        if registered:
            request = urllib.request.Request(
                f"{base}/api/chats",
                headers={"authorization": f"Bearer {registered['tokens']['accessToken']}"})
            with urllib.request.urlopen(request, timeout=10) as r:
                if r.status != 200:
                    failures.append(f"the stack refused the function's token: {r.status}")
            outbox = wait_for(f"{base}/local/outbox", "the outbox")
            if not any(m["to"] == "sample@example.com" for m in outbox):
                failures.append(f"the verification email is not in the stack's outbox: {outbox}")
            else:
                print("[ok] the function's token works on the stack; its email is in the outbox")
        processes.stop(stack, signal.SIGINT)
    except Exception as e:
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        processes.stop_all()
        log.close()
        for path in SETTINGS:
            if os.path.exists(path):
                os.remove(path)
        for path, kept in saved.items():
            shutil.move(kept, path)
        if failures:
            with open(os.path.join(work, "processes.log")) as f:
                sys.stderr.write(f.read()[-6000:])
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit("cargo lambda samples failed:\n  " + "\n  ".join(failures))
    print(f"all {len(lines)} README invoke lines answered as it says")


if __name__ == "__main__":
    main()
