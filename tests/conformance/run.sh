#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance) against a real
# construct-actor daemon on 127.0.0.1, with the test-fixture tools on and its default owner key.
#
#   bash tests/conformance/run.sh            # every scenario (--suite all)
#   bash tests/conformance/run.sh ping       # one scenario
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_suite
start_daemon $'[tools]\nfixtures = true'

if [ $# -gt 0 ]; then
  run_suite "$base/mcp" --scenario "$1"
else
  run_suite "$base/mcp" --suite all --expected-failures "$root/tests/conformance/expected-failures.yml"
fi
