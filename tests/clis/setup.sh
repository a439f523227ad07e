#!/usr/bin/env bash
# Installs the real AI CLIs and the MCP Inspector CLI used by tests/clis.rs into target/clis/
# (a cache: safe to rerun, does nothing when the pinned versions are already there), then prints
# the version each reports. Every package ships its binary inside the npm registry package
# (optional per-platform dependencies), so nothing is fetched from anywhere else.
#   target/clis/node/node_modules/.bin/{claude,gemini,codex,opencode,mcp-inspector-cli}
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.197
GEMINI_CLI_VERSION=0.61.0
CODEX_VERSION=0.171.0
OPENCODE_VERSION=1.18.33
INSPECTOR_CLI_VERSION=1.0.3

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
node_dir="$root/target/clis/node"
mkdir -p "$node_dir"
[ -f "$node_dir/package.json" ] || printf '{"name":"construct-actor-cli-tests","private":true}\n' >"$node_dir/package.json"

wanted=(
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION"
    "@google/gemini-cli@$GEMINI_CLI_VERSION"
    "@openai/codex@$CODEX_VERSION"
    "opencode-ai@$OPENCODE_VERSION"
    "@modelcontextprotocol/inspector-cli@$INSPECTOR_CLI_VERSION"
)

# The version of an installed package, or nothing.
installed_version() {
    node -p "try { require('$node_dir/node_modules/$1/package.json').version } catch { '' }" 2>/dev/null || true
}

missing=()
for spec in "${wanted[@]}"; do
    name="${spec%@*}"
    version="${spec##*@}"
    [ "$(installed_version "$name")" = "$version" ] || missing+=("$spec")
done
if [ "${#missing[@]}" -gt 0 ]; then
    # No telemetry or update notices from npm itself; the CLIs' own are switched off by the test.
    npm install --prefix "$node_dir" --silent --no-audit --no-fund --save-exact "${missing[@]}"
fi

bin="$node_dir/node_modules/.bin"
echo "AI CLIs ready in $bin:"
echo "  claude      $("$bin/claude" --version 2>&1 | head -1)"
echo "  gemini      $("$bin/gemini" --version 2>&1 | head -1)"
echo "  codex       $("$bin/codex" --version 2>&1 | head -1)"
echo "  opencode    $("$bin/opencode" --version 2>&1 | head -1)"
echo "  inspector   @modelcontextprotocol/inspector-cli $(installed_version @modelcontextprotocol/inspector-cli)"
