#!/bin/sh
# Entrypoint of the sidecar image (web and worker).
#
# 1. Loads the credentials the compose `setup` service generated: the WooCommerce REST key it
#    created inside WordPress and the shared secret it also wrote into wp-config.php. They live on a
#    volume, not in the compose environment, because they only exist once WordPress is installed.
# 2. `serve` migrates the database first, so a fresh volume or a new release just works; the worker
#    never migrates (it starts after the web container is healthy, i.e. after the migration).
set -eu

SECRETS_FILE="${ORDERCHATZ_SECRETS_FILE:-/run/orderchatz/sidecar.env}"

if [ -r "$SECRETS_FILE" ]; then
    # Read as data, not sourced: no shell expansion of values, and only ORDERCHATZ_* names.
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
            ORDERCHATZ_[A-Z0-9_]*=*) export "${line%%=*}=${line#*=}" ;;
        esac
    done < "$SECRETS_FILE"
elif [ -e "$SECRETS_FILE" ]; then
    echo "orderchatz-entrypoint: $SECRETS_FILE exists but is not readable by $(id -u):$(id -g)" >&2
    exit 1
fi

if [ "${1:-}" = "orderchatz-sidecar" ] && [ "${2:-}" = "serve" ]; then
    orderchatz-sidecar db upgrade
fi

exec "$@"
