#!/usr/bin/env python3
"""Mixed load for the soak test (run by scripts/soak.sh; standard library only).

usage: soak_load.py BASE_URL DAEMON_PID SECONDS [WORKERS]

Drives the daemon at BASE_URL (loopback) for SECONDS with WORKERS threads, each picking, at
random: a session created, used and deleted (churn); echo calls; sleep calls with progress
read to the end; calls whose client vanishes mid-stream; events followers that read a while and
leave, some resuming with Last-Event-ID; malformed requests; small file writes and reads. One
follower that never reads is kept connected (and replaced every minute). Every 10 s it prints
the daemon's RSS, threads and open file descriptors, and the operations done; at the end, a
summary. Exits 1 if the daemon died, answered a 5xx other than 503, or a request hung.
"""

import json
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

BASE, PID, DURATION = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
WORKERS = int(sys.argv[4]) if len(sys.argv) > 4 else 8
TIMEOUT = 30  # every request's socket timeout: a hang is an error, not a stall
HOST, PORT = BASE.removeprefix("http://").split(":")

lock = threading.Lock()
counts = {}
errors = []
stop = threading.Event()


def count(what):
    with lock:
        counts[what] = counts.get(what, 0) + 1


def error(what):
    with lock:
        errors.append(what)
        if len(errors) <= 20:
            print(f"ERROR {what}", flush=True)


def request(method, path, body=None, headers=None, read=True):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
    try:
        response = urllib.request.urlopen(req, timeout=TIMEOUT)
        status = response.status
    except urllib.error.HTTPError as err:
        response, status = err, err.code
    if status >= 500 and status != 503:
        error(f"{method} {path}: {status}")
    if not read:
        return status, response
    payload = response.read()
    response.close()
    return status, payload


def new_session():
    status, body = request("POST", "/session", {"label": "soak"})
    if status != 200:
        return None
    created = json.loads(body)
    return created


def auth(session):
    return {"Authorization": "Bearer " + session["token"], "X-Construct-Session": session["session_id"],
            "Content-Type": "application/json"}


def call(session, tool, arguments, token=None, ident=1):
    params = {"name": tool, "arguments": arguments}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": ident, "method": "tools/call", "params": params}


def finished_call(session, tool, arguments, token=None):
    status, body = request("POST", "/mcp", call(session, tool, arguments, token), auth(session))
    if status == 200 and b'"result"' not in body and b'"error"' not in body:
        error(f"{tool}: no final response")
    return status


def vanishing_call(session):
    status, response = request(
        "POST", "/mcp", call(session, "sleep", {"duration_ms": 3000, "steps": 300}, "gone", random.randint(1, 1 << 30)),
        auth(session), read=False)
    if status == 200:
        response.read(random.randint(1, 400))
    response.close()


def follower(session, resume):
    headers = {"Authorization": "Bearer " + session["token"]}
    if resume:
        headers["Last-Event-ID"] = str(random.randint(0, 5000))
    status, response = request("GET", f"/session/{session['session_id']}/events", None, headers, read=False)
    if status == 200:
        deadline = time.time() + random.uniform(0.05, 1.0)
        try:
            response.fp.raw._sock.settimeout(1.0)
        except AttributeError:
            pass
        while time.time() < deadline:
            try:
                if not response.read1(4096):
                    break
            except (TimeoutError, socket.timeout):
                break
    response.close()


def never_reader(session):
    sock = socket.create_connection((HOST, int(PORT)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET /session/{session['session_id']}/events HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
                 f"Authorization: Bearer {session['token']}\r\n\r\n".encode())
    return sock


def worker(seed, shared):
    rng = random.Random(seed)
    own = new_session()
    files = 0
    while not stop.is_set():
        session = rng.choice(shared + ([own] if own else []))
        action = rng.random()
        try:
            if action < 0.10:
                churn = new_session()
                if churn:
                    finished_call(churn, "echo", {"text": "churn"})
                    request("DELETE", f"/session/{churn['session_id']}", None,
                            {"Authorization": "Bearer " + churn["token"]})
                count("session churn")
            elif action < 0.35:
                finished_call(session, "echo", {"text": "x" * rng.randint(1, 2000)})
                count("echo")
            elif action < 0.50:
                finished_call(session, "sleep", {"duration_ms": rng.randint(0, 300), "steps": rng.randint(1, 50)},
                              rng.randint(1, 1000))
                count("sleep with progress")
            elif action < 0.60:
                vanishing_call(session)
                count("vanishing call")
            elif action < 0.75:
                follower(session, resume=rng.random() < 0.5)
                count("follower")
            elif action < 0.85:
                request("POST", "/mcp", rng.choice([b"{", b"[]", b"\xff", b'{"jsonrpc":"2.0","id":1}']), auth(session))
                count("bad request")
            else:
                files += 1
                name = f"soak-{seed}-{files % 20}.txt"
                finished_call(session, "file_write", {"path": name, "content": "soak\n" * rng.randint(1, 200)})
                finished_call(session, "file_read", {"path": name})
                count("file write+read")
        except (OSError, urllib.error.URLError) as err:
            if not stop.is_set():
                error(f"action {action:.2f}: {err!r}")


def rss_kib():
    with open(f"/proc/{PID}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


def main():
    shared = [s for s in (new_session() for _ in range(4)) if s]
    stalled = never_reader(shared[0])
    threads = [threading.Thread(target=worker, args=(seed, shared), daemon=True) for seed in range(WORKERS)]
    for thread in threads:
        thread.start()
    started = time.time()
    samples = []
    next_sample = started
    next_stall = started + 60
    while time.time() - started < DURATION:
        now = time.time()
        if now >= next_stall:
            stalled.close()
            stalled = never_reader(random.choice(shared))
            next_stall += 60
        if now >= next_sample:
            try:
                rss, nthreads = rss_kib()
            except FileNotFoundError:
                error("the daemon is gone")
                break
            fds = len(os.listdir(f"/proc/{PID}/fd"))
            with lock:
                done = sum(counts.values())
            samples.append(rss)
            print(f"t={now - started:6.0f}s  rss={rss:8d} KiB  threads={nthreads:3d}  fds={fds:4d}  ops={done:8d}  errors={len(errors)}",
                  flush=True)
            next_sample += 10
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(TIMEOUT + 5)
    stalled.close()
    hung = [t for t in threads if t.is_alive()]
    if hung:
        error(f"{len(hung)} workers still blocked after the end")
    time.sleep(5)  # let the daemon settle after the load
    try:
        rss, _ = rss_kib()
        status, _ = request("GET", "/health")
        if status != 200:
            error(f"/health answered {status}")
    except (FileNotFoundError, OSError) as err:
        error(f"the daemon is gone: {err!r}")
        rss = 0
    print("operations:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if samples:
        print(f"RSS: first sample {samples[0]} KiB, peak {max(samples)} KiB, last sample {samples[-1]} KiB, "
              f"5 s after the load {rss} KiB")
    print(f"errors: {len(errors)}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
