"""Drives one server under callgrind: warms it up, zeroes its counters, makes `calls` tools/call
echo requests on one keep-alive connection, and dumps the counters once per client path.

Usage: drive.py <valgrind-pid> <base-url> <calls> daemon|ceiling

- daemon: a Construct session (POST /session, then X-Construct-Session and its bearer token),
  then a standard 2025-11-25 session (initialize, then Mcp-Session-Id); dumps "construct" and
  "standard".
- ceiling: the Construct-shaped request, which the ceiling answers with a fixed body; dumps
  "ceiling".
"""

import http.client
import json
import subprocess
import sys
from urllib.parse import urlsplit

API_KEY = "k-0123456789abcdef0123456789abcdef"
WARM_UP = 300


def main():
    pid, url, calls, mode = sys.argv[1], urlsplit(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def post(path, body, headers):
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response, response.read()

    def measure(headers, dump):
        def call(n):
            for i in range(n):
                body = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                        "params": {"name": "echo", "arguments": {"text": "hello"}}}
                response, data = post("/mcp", body, headers)
                if response.status != 200 or b'"result"' not in data:
                    sys.exit(f"{dump}: tools/call answered {response.status}: {data[:300]!r}")
        call(WARM_UP)
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        call(calls)
        subprocess.run(["callgrind_control", "-d", dump, pid], check=True, capture_output=True)

    json_type = {"Content-Type": "application/json"}
    if mode == "ceiling":
        measure({**json_type, "Authorization": "Bearer x",
                 "X-Construct-Session": "00000000-0000-4000-8000-000000000000"}, "ceiling")
        return
    owner = {**json_type, "Authorization": f"Bearer {API_KEY}"}
    response, data = post("/session", {"cwd": "~"}, owner)
    if response.status != 200:
        sys.exit(f"POST /session answered {response.status}: {data[:300]!r}")
    created = json.loads(data)
    measure({**json_type, "Authorization": f"Bearer {created['token']}",
             "X-Construct-Session": created["session_id"]}, "construct")
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
    measure(standard, "standard")


main()
