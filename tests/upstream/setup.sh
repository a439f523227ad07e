#!/usr/bin/env bash
# Installs the real MCP servers used by tests/upstream.rs into target/upstream/ (a cache: safe to
# rerun, does nothing when the pinned versions are already there), then prints their versions.
# Nobody here wrote them: they are the servers people put behind the daemon.
#   target/upstream/node  node_modules with @modelcontextprotocol/server-everything and
#                         @modelcontextprotocol/server-filesystem (both stdio)
#   target/upstream/venv  Python venv with mcp-server-time (stdio) and the official Python SDK
#                         (mcp), which tests/upstream/changing_server.py is built on
set -euo pipefail

EVERYTHING_VERSION=2026.8.31
FILESYSTEM_VERSION=2026.8.31
TIME_VERSION=2026.10.19
MCP_VERSION=2.3.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
upstream="$root/target/upstream"
mkdir -p "$upstream"

# TypeScript: the reference server with every feature (progress, cancellation, list-changed),
# and the filesystem server, which confines itself to the roots its client gives it.
node_dir="$upstream/node"
node_version() {
    node -p "try { require('$node_dir/node_modules/@modelcontextprotocol/$1/package.json').version } catch { '' }" 2>/dev/null || true
}
if [ "$(node_version server-everything)" != "$EVERYTHING_VERSION" ] \
    || [ "$(node_version server-filesystem)" != "$FILESYSTEM_VERSION" ]; then
    mkdir -p "$node_dir"
    [ -f "$node_dir/package.json" ] || printf '{"name":"construct-actor-upstream-tests","private":true}\n' >"$node_dir/package.json"
    npm install --prefix "$node_dir" --silent --no-audit --no-fund --save-exact \
        "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION" \
        "@modelcontextprotocol/server-filesystem@$FILESYSTEM_VERSION"
fi

# Python: a server built on the Python SDK, and the SDK itself (its 2026-07-28 servers tell their
# changes on subscriptions/listen streams; changing_server.py is one whose lists change).
venv="$upstream/venv"
python_version() {
    "$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true
}
if [ "$(python_version mcp-server-time)" != "$TIME_VERSION" ] || [ "$(python_version mcp)" != "$MCP_VERSION" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "mcp-server-time==$TIME_VERSION" "mcp==$MCP_VERSION"
fi

echo "upstream MCP servers ready in $upstream:"
echo "  @modelcontextprotocol/server-everything $(node_version server-everything)"
echo "  @modelcontextprotocol/server-filesystem $(node_version server-filesystem)"
echo "  mcp-server-time $(python_version mcp-server-time)"
echo "  mcp (the Python SDK) $(python_version mcp)"
