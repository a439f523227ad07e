#!/usr/bin/env bash
# Installs the official MCP SDK clients used by tests/sdk_clients.rs into target/sdk/ (a cache:
# safe to rerun, does nothing when the pinned versions are already there).
#   target/sdk/venv  Python venv with the `mcp` 2.x package (modern era, probes server/discover)
#   target/sdk/node  node_modules with @modelcontextprotocol/sdk 1.x (legacy era, 2025-11-25)
set -euo pipefail

PY_MCP_VERSION=2.3.0
TS_SDK_VERSION=1.32.2

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sdk="$root/target/sdk"
mkdir -p "$sdk"

# Python: a venv with mcp==$PY_MCP_VERSION.
venv="$sdk/venv"
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$PY_MCP_VERSION')" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==$PY_MCP_VERSION"
    "$venv/bin/python" -c "import mcp.client.streamable_http" # the transport imports
fi

# TypeScript: @modelcontextprotocol/sdk@$TS_SDK_VERSION (needs node >= 18).
node_dir="$sdk/node"
installed="$(node -p "try { require('$node_dir/node_modules/@modelcontextprotocol/sdk/package.json').version } catch { '' }" 2>/dev/null || true)"
if [ "$installed" != "$TS_SDK_VERSION" ]; then
    mkdir -p "$node_dir"
    [ -f "$node_dir/package.json" ] || printf '{"name":"construct-actor-sdk-tests","private":true,"type":"module"}\n' >"$node_dir/package.json"
    npm install --prefix "$node_dir" --silent --no-audit --no-fund --save-exact \
        "@modelcontextprotocol/sdk@$TS_SDK_VERSION"
fi
(cd "$node_dir" && node --input-type=module -e "
import '@modelcontextprotocol/sdk/client/index.js';
import '@modelcontextprotocol/sdk/client/streamableHttp.js';
")

echo "MCP SDKs ready in $sdk (python mcp $PY_MCP_VERSION, @modelcontextprotocol/sdk $TS_SDK_VERSION)"
