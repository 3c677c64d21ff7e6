#!/usr/bin/env bash
# Install and run OrderChatz locally on a Debian 12 machine, without Docker.
#
# Without LINE channel credentials in the environment: the local demo (scripts/demo.py), a real
# WordPress (Debian's package, `php -S`) with the OrderChatz plugin active, in front of the sidecar
# sandbox (web + worker on SQLite, Redis, the LINE emulator, and the WooCommerce emulator serving
# the recorded demo shop). It prints the WP admin URL and logins; Ctrl-C stops everything.
# Ports: ORDERCHATZ_DEMO_WP_PORT (8080), ORDERCHATZ_BIND (127.0.0.1:8000),
# ORDERCHATZ_SANDBOX_LINE_PORT (8101), ORDERCHATZ_SANDBOX_WOO_PORT (8102).
#
# With ORDERCHATZ_LINE_CHANNEL_SECRET and ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN set: the production
# path against the real LINE Platform (db upgrade, worker, web server); no emulators.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

case "${1:-}" in
    -h|--help)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        echo
        echo "Extra arguments go to scripts/demo.py (e.g. --wp-port 18080 --bind 127.0.0.1:18000"
        echo "--line-port 18101 --woo-port 18102 --db-name orderchatz_demo2); the same as the variables above."
        exit 0 ;;
esac

BIND="${ORDERCHATZ_BIND:-127.0.0.1:8000}"

if [ -n "${ORDERCHATZ_LINE_CHANNEL_SECRET:-}" ] && [ -n "${ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN:-}" ]; then
    apt_install python3-venv redis-server redis-tools
    python_env
    ensure_redis
    orderchatz-sidecar db upgrade
    orderchatz-sidecar worker &
    WORKER=$!
    trap 'kill $WORKER 2>/dev/null || true' EXIT
    orderchatz-sidecar serve --bind "$BIND"
    exit
fi

apt_install python3-venv redis-server redis-tools mariadb-server mariadb-client \
    php-cli php-mysql php-mbstring php-xml php-curl wordpress wordpress-l10n wordpress-theme-twentytwentythree
python_env mysql
ensure_redis
ensure_mariadb
INSTANCE="${ORDERCHATZ_INSTANCE_DIR:-$ROOT/instance}"
DB_NAME="${ORDERCHATZ_DEMO_DB_NAME:-orderchatz_demo}"
args=("$@")
for i in "${!args[@]}"; do  # --db-name given as an argument wins, here as in demo.py
    if [ "${args[$i]}" = "--db-name" ] && [ -n "${args[$((i + 1))]:-}" ]; then DB_NAME="${args[$((i + 1))]}"; fi
done
mariadb_demo_login "$DB_NAME" "$INSTANCE/demo-db.env"
log "starting the local demo (WordPress + sidecar sandbox); Ctrl-C stops it"
exec python "$ROOT/scripts/demo.py" --bind "$BIND" --db-name "$DB_NAME" "$@"
