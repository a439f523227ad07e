#!/usr/bin/env bash
# The gateway is transparent: the official MCP conformance suite, run against the daemon with the
# reference server @modelcontextprotocol/server-everything behind it (its tools under their own
# names, no built-in tool to shadow them), passes every scenario that the same server passes
# when the suite runs against it directly (over its own Streamable HTTP). Fails, naming them, if
# a scenario passes directly and not through the daemon.
#
# Needs the servers of tests/upstream/setup.sh (run it first).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_suite
everything="$root/target/upstream/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
[ -f "$everything" ] || { echo "server-everything is missing: run bash tests/upstream/setup.sh"; exit 1; }
results=$(mktemp -d)

# The scenarios a run passed, one per line, from the suite's summary ("✓ name: …").
passed() { sed -n 's/^✓ \([a-z0-9-]*\):.*/\1/p' "$1" | sort; }

# Directly: server-everything on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$port node "$everything" streamableHttp > "$results/direct-server.log" 2>&1 &
direct=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
CONSTRUCT_ACTOR_API_KEY=unused run_suite "http://127.0.0.1:$port/mcp" --suite all > "$results/direct.txt" 2>&1 || true
kill "$direct"; wait "$direct" 2>/dev/null || true

# Through the daemon: the same server over stdio, behind it.
start_daemon "$(printf '[tools]\nenabled = []\n[servers.everything]\ncommand = "node"\nargs = ["%s", "stdio"]\nprefix = "never"\n' "$everything")"
# Wait until its tools are on offer.
python3 - "$base" <<'PY'
import json, os, sys, time, urllib.request
request = urllib.request.Request(sys.argv[1] + "/admin/servers",
    headers={"Authorization": "Bearer " + os.environ["CONSTRUCT_ACTOR_API_KEY"]})
for _ in range(600):
    servers = json.load(urllib.request.urlopen(request))["servers"]
    if servers and all(server["state"] == "ready" for server in servers):
        sys.exit(0)
    time.sleep(0.1)
sys.exit("server-everything did not become ready behind the daemon")
PY
run_suite "$base/mcp" --suite all > "$results/daemon.txt" 2>&1 || true

passed "$results/direct.txt" > "$results/direct.passed"
passed "$results/daemon.txt" > "$results/daemon.passed"
echo "passing directly: $(paste -sd' ' "$results/direct.passed")"
echo "passing through the daemon: $(paste -sd' ' "$results/daemon.passed")"
# Scenarios that pass directly only by accident, each with its reason (transparency-exceptions.txt).
grep -v '^#' "$root/tests/conformance/transparency-exceptions.txt" | cut -d' ' -f1 | sed '/^$/d' | sort > "$results/excepted"
lost=$(comm -23 "$results/direct.passed" "$results/daemon.passed" | comm -23 - "$results/excepted")
if [ -n "$lost" ]; then
  echo "NOT TRANSPARENT: passing directly, failing through the daemon: $lost"
  for scenario in $lost; do
    sed -n "/=== Running scenario: $scenario ===/,/=== Running scenario/p" "$results/daemon.txt" | head -40
  done
  exit 1
fi
echo "transparent: every scenario passing directly passes through the daemon"
