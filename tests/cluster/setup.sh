#!/usr/bin/env bash
# Installs what the cluster store tests (tests/cluster_store.rs, run with --ignored) need:
#   redis-server    Debian's Redis, from apt-get (when missing from PATH)
# The tests start and stop their own redis-server processes on free loopback ports; if the
# package starts a system service of its own, this script leaves it alone.
# Safe to rerun: it does nothing when redis-server is already there.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi

echo "cluster tests ready: $(redis-server --version)"
