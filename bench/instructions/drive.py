"""Drives one server under callgrind: for each operation, warms it up, zeroes the counters, does
it `count` times on one keep-alive connection, and dumps the counters under the operation's name.

Usage: drive.py <valgrind-pid> <base-url> <count> daemon|ceiling

- construct: `tools/call` echo in a Construct session (X-Construct-Session and its bearer token).
- standard: the same in a standard 2025-11-25 session (initialize, then Mcp-Session-Id).
- sessions: `POST /session` with `{}`, as construct-bench's sessions scenario sends it.
The ceiling answers the first two with fixed bodies.
"""

import http.client
import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

API_KEY = os.environ.get("INSTRUCTIONS_API_KEY", "")
WARM_UP = 300


def main():
    pid, url, count, mode = sys.argv[1], urlsplit(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def post(path, body, headers):
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response, response.read()

    def measure(dump, path, body, headers, answered):
        def do(n):
            for i in range(n):
                if "id" in body:
                    body["id"] = i + 1
                response, data = post(path, body, headers)
                if response.status != 200 or answered not in data:
                    sys.exit(f"{dump}: {path} answered {response.status}: {data[:300]!r}")
        do(WARM_UP)
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        do(count)
        subprocess.run(["callgrind_control", "-d", dump, pid], check=True, capture_output=True)

    def calls(dump, headers):
        echo = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "hello"}}}
        measure(dump, "/mcp", echo, headers, b'"result"')

    json_type = {"Content-Type": "application/json"}
    owner = {**json_type, "Authorization": f"Bearer {API_KEY}"}
    if mode == "ceiling":
        calls("construct", {**json_type, "Authorization": "Bearer x",
                            "X-Construct-Session": "00000000-0000-4000-8000-000000000000"})
        measure("sessions", "/session", {}, owner, b'"token"')
        return
    response, data = post("/session", {}, owner)
    if response.status != 200:
        sys.exit(f"POST /session answered {response.status}: {data[:300]!r}")
    created = json.loads(data)
    calls("construct", {**json_type, "Authorization": f"Bearer {created['token']}",
                        "X-Construct-Session": created["session_id"]})
    accept = {"Accept": "application/json, text/event-stream"}
    initialize = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                  "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                             "clientInfo": {"name": "instructions", "version": "1"}}}
    response, data = post("/mcp", initialize, {**owner, **accept})
    session = response.getheader("Mcp-Session-Id")
    if response.status != 200 or not session:
        sys.exit(f"initialize answered {response.status}: {data[:300]!r}")
    standard = {**json_type, **accept, "Mcp-Session-Id": session,
                "MCP-Protocol-Version": "2025-11-25"}
    post("/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, standard)
    calls("standard", standard)
    # Last: the sessions it makes stay, and a heap holding a thousand more sessions allocates a
    # little slower (the calls above would cost ~7% more after them, in mimalloc's slow path).
    measure("sessions", "/session", {}, owner, b'"token"')


main()
