#!/usr/bin/env python3
"""Contract test: schemathesis against the local stack and the generated openapi.json.

Starts `banter-local` (the binary given as the first argument) on a free loopback port with its
own private PostgreSQL, creates what the operations need to reach real logic (two users, a
second device session, a 1:1 chat and a group with a message), then runs schemathesis with every
check: no server errors, no schema-valid request rejected, no schema-violating request accepted,
responses as documented, 405 for undeclared methods. `logout` and account deletion run last, in a
second pass with their own user, so they cannot cut the first pass short. Exits non-zero on any
failure. Loopback only; stops the stack it started.

    python3 infra/schemathesis_run.py target/debug/banter-local [--max-examples N] [--seed N]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAST_PASS = ["POST /api/auth/logout", "DELETE /api/users/me"]
BUSINESS_RULE_400 = [
    # A new password among the most common ones (a list no schema states).
    "POST /api/auth/register",
    "POST /api/auth/reset-password",
    "POST /api/auth/change-password",
    "POST /api/auth/phone/verify",
    "POST /api/auth/2fa/enable",
    "POST /api/users/block",
    "POST /api/users/unblock",
    "POST /api/chats/{chatId}/messages",
    # `mentions` naming someone who is not a member (any id the schema allows).
    "PUT /api/chats/{chatId}/messages/{messageId}",
    "POST /api/chats/{chatId}/messages/{messageId}/reactions",
    "DELETE /api/chats/{chatId}/messages/{messageId}/reactions/{emoji}",
    # An answer index the poll does not have (its answers are the message's), or one twice.
    "PUT /api/chats/{chatId}/messages/{messageId}/poll/vote",
    # A region code shaped right but naming no region; a vCard file that does not parse; a
    # `from` after `to`.
    "POST /api/contacts/sync",
    "POST /api/contacts/import",
    "GET /api/messages/search",
    # A mute's end already past, or given with an unmute; a pin for a chat archived (or being);
    # a group's picture given both as `avatarUrl` and `avatarMediaId`.
    "PUT /api/chats/{chatId}",
    "POST /api/chats",
    # Members, roles and invite links of a 1:1 chat (the seeded `chatId` is one): it is no group.
    "POST /api/chats/{chatId}/participants",
    "DELETE /api/chats/{chatId}/participants/{userId}",
    "PUT /api/chats/{chatId}/participants/{userId}/role",
    "GET /api/chats/{chatId}/past-participants",
    "POST /api/chats/{chatId}/invite-link",
    "GET /api/chats/{chatId}/invite-link",
    "DELETE /api/chats/{chatId}/invite-link",
    "GET /api/chats/{chatId}/invite-link/qr",
    "GET /api/chats/{chatId}/join-requests",
    "POST /api/chats/{chatId}/join-requests/{userId}/approve",
    "POST /api/chats/{chatId}/join-requests/{userId}/reject",
    # A report naming neither a user nor a chat, yourself, or a user who did not send the
    # reported message.
    "POST /api/reports",
    # Yourself as a contact (the seeded user id is the caller's own).
    "POST /api/contacts",
]

# The upload policy (PRD `FileUploadConfig`, configurable) answers 413 `FILE_TOO_LARGE` and
# 415 `INVALID_FILE_TYPE` to well-formed requests: a size over the kind's limit, a MIME type the
# kind may not be. The schema cannot state a limit that depends on `fileType`.
UPLOAD_POLICY = [
    "POST /api/upload/presigned-url",
    "POST /api/upload/multipart",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def must(result, what):
    status, body = result
    if status >= 300:
        sys.exit(f"setting up {what} failed: {status} {body}")
    return body["data"]


def register(base, name):
    data = must(
        call(base, "POST", "/api/auth/register",
             {"email": f"{name}@example.com", "password": "correct horse", "username": name}),
        f"user {name}",
    )
    return data["user"]["id"], data["tokens"]["accessToken"]


def seed(base):
    """What the operations' parameters point at, and the token they run as."""
    alice_id, alice = register(base, "alice")
    bob_id, _ = register(base, "bob")
    # A second device session of alice's, for DELETE /api/auth/sessions/{sessionId}.
    must(call(base, "POST", "/api/auth/login",
              {"email": "alice@example.com", "password": "correct horse"}), "a second session")
    sessions = must(call(base, "GET", "/api/auth/sessions", token=alice), "sessions")
    other_session = next(s["id"] for s in sessions if not s["current"])
    chat = must(call(base, "POST", "/api/chats",
                     {"type": "individual", "participantIds": [bob_id]}, alice), "a 1:1 chat")
    message = must(call(base, "POST", f"/api/chats/{chat['id']}/messages",
                        {"clientMessageId": "seed-1", "content": "hello"}, alice), "a message")
    return alice, {
        "path.chatId": chat["id"],
        "path.userId": bob_id,
        "path.sessionId": other_session,
        "path.messageId": message["id"],
    }


def write_config(directory, parameters):
    lines = ["[parameters]"]
    lines += [f'"{k}" = "{v}"' for k, v in parameters.items()]
    # The server refuses U+0000 in any text (400 naming the field), as the document says; the
    # generator is told not to produce it in schema-valid strings.
    lines += ["", "[generation]", "allow-x00 = false"]
    # A body over the size limit is refused unread with 413: a rejection too.
    lines += [
        "",
        "[checks.negative_data_rejection]",
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", '
        '"422", "428", "429"]',
    ]
    # The stateful phase joins a resource it created to the fixed ids above: a new chat with the
    # seed's message id (a message of another chat), a new contact group with a user who is no
    # member. Those 404s are right, and this check cannot tell them from a lost resource.
    lines += ["", "[checks.ensure_resource_availability]", "enabled = false"]
    # Rules no schema can state answer 400 to well-formed input here: a wrong verification
    # code (after a code was sent), blocking yourself, a reply to a message of another chat, a
    # reaction that is not one emoji (Unicode's list is no pattern), a region code of no
    # region, a malformed vCard, a search whose `from` is after its `to`. Only
    # these operations may answer 400 to schema-valid data.
    lines += [
        "",
        "[[operations]]",
        "include-name = [" + ", ".join(f'"{n}"' for n in BUSINESS_RULE_400) + "]",
        'checks.positive_data_acceptance.expected-statuses = '
        '["2xx", "400", "401", "403", "404", "409", "429"]',
    ]
    lines += [
        "",
        "[[operations]]",
        "include-name = [" + ", ".join(f'"{n}"' for n in UPLOAD_POLICY) + "]",
        'checks.positive_data_acceptance.expected-statuses = '
        '["2xx", "401", "403", "404", "409", "413", "415", "429"]',
    ]
    # A sync cursor is two numbers to any schema: one older than the retention, or ahead of
    # every position the server issued, is well-formed and answers 410 SYNC_CURSOR_EXPIRED.
    lines += [
        "",
        "[[operations]]",
        'include-name = ["GET /api/sync"]',
        'checks.positive_data_acceptance.expected-statuses = '
        '["2xx", "401", "403", "404", "409", "410", "429"]',
    ]
    path = os.path.join(directory, "schemathesis.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def schemathesis(config, base, token, args, include=None, exclude=None):
    command = [
        "st", "--config-file", config, "run", os.path.join(ROOT, "openapi.json"),
        "--url", base,
        "-H", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        # One worker: with two threads, CPython 3.11's parser can fail inside hypothesis
        # ("AST constructor recursion depth mismatch", CPython gh-106905), a false error.
        "--workers", "1",
        "--no-color",
        "--warnings", "off",
    ]
    for name in include or []:
        command += ["--include-name", name]
    for name in exclude or []:
        command += ["--exclude-name", name]
    print("+", " ".join(c if "Bearer" not in c else "Authorization: Bearer ***" for c in command),
          flush=True)
    # Run in the scratch directory: schemathesis keeps its cache (`.schemathesis/`) in the
    # working directory, which must not be the clone.
    return subprocess.run(command, cwd=os.path.dirname(config)).returncode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="banter-schemathesis-")
    # PostgreSQL refuses to run as root, so its cluster belongs to another user who must be
    # able to reach it.
    os.chmod(work, 0o755)
    port = free_port()
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update({
        "BANTER_PORT": str(port),
        "BANTER_DATA_DIR": os.path.join(work, "data"),
        "BANTER_PG_PORT": str(free_port()),
        # Generated requests come from one IP by the thousand: the PRD's limits are tested
        # elsewhere (integration tests).
        "BANTER_RATE_LIMIT_GENERAL": "100000000/60",
        "BANTER_RATE_LIMIT_AUTH": "100000000/60",
        "BANTER_RATE_LIMIT_MESSAGES": "100000000/60",
        "BANTER_RATE_LIMIT_KEY_CLAIMS": "100000000/60",
        "BANTER_RATE_LIMIT_KEY_CLAIMS_PER_USER": "100000000/60",
        "BANTER_RATE_LIMIT_KEY_PUBLISHES": "100000000/60",
        "BANTER_LOGIN_FAILURES_BEFORE_BACKOFF": "100000000",
        "RUST_LOG": env.get("RUST_LOG", "warn"),
    })
    log = open(os.path.join(work, "stack.log"), "w")
    stack = subprocess.Popen([args.binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if call(base, "GET", "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if stack.poll() is not None:
                sys.exit(f"the local stack exited; its log is {log.name}")
            time.sleep(0.1)
        else:
            sys.exit("the local stack did not become healthy")
        token, parameters = seed(base)
        config = write_config(work, parameters)
        first = schemathesis(config, base, token, args, exclude=LAST_PASS)
        _, carol = register(base, "carol")
        last = schemathesis(config, base, carol, args, include=LAST_PASS)
        if first or last:
            print(f"schemathesis found failures; the stack's log is {log.name}")
            sys.exit(1)
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.kill()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
