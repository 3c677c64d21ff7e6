#!/usr/bin/env bash
# Install and run OrderChatz locally on a fresh Debian 12 machine (embedded SQLite store).
# Without LINE channel credentials in the environment it starts the clearly labelled sandbox,
# where the LINE emulator stands in for LINE; with them it runs against the real LINE Platform.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

apt_install python3-venv redis-server redis-tools
python_env
ensure_redis

BIND="${ORDERCHATZ_BIND:-127.0.0.1:8000}"
if [ -z "${ORDERCHATZ_LINE_CHANNEL_SECRET:-}" ] || [ -z "${ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN:-}" ]; then
    exec orderchatz-sidecar sandbox --bind "$BIND"
fi
orderchatz-sidecar db upgrade
orderchatz-sidecar worker &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT
orderchatz-sidecar serve --bind "$BIND"
