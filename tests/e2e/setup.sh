#!/usr/bin/env bash
# Installs what the dashboard's end-to-end test (tests/dashboard.rs, run with --ignored) needs:
#   /usr/bin/chromium                Debian's Chromium, from apt-get (when missing)
#   target/e2e/node_modules          playwright-core, which drives it over the DevTools protocol
# A cache: safe to rerun; it does nothing when both are already there.
set -euo pipefail

PLAYWRIGHT_CORE_VERSION=1.65.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
e2e="$root/target/e2e"

if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --headless --no-sandbox --version >/dev/null 2>&1 || /usr/bin/chromium --version >/dev/null

mkdir -p "$e2e"
installed="$(node -p "try { require('$e2e/node_modules/playwright-core/package.json').version } catch { '' }" 2>/dev/null || true)"
if [ "$installed" != "$PLAYWRIGHT_CORE_VERSION" ]; then
    [ -f "$e2e/package.json" ] || printf '{"name":"construct-actor-e2e","private":true}\n' >"$e2e/package.json"
    npm install --prefix "$e2e" --silent --no-audit --no-fund --save-exact \
        "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi
node -e "require('$e2e/node_modules/playwright-core')"

echo "dashboard e2e ready: $(/usr/bin/chromium --version 2>/dev/null | head -1), playwright-core $PLAYWRIGHT_CORE_VERSION in $e2e"
