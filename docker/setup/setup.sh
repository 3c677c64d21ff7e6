#!/bin/bash
# One-shot provisioning, run by the compose `setup` service (wordpress:cli image) on every
# `docker compose up`. Every step is idempotent, so re-running it is how settings from .env
# (site URL, sidecar URL, an explicit shared secret) reach WordPress again.
#
#  1. installs WordPress (first run only) and keeps home/siteurl equal to WP_SITE_URL;
#  2. installs + activates WooCommerce and activates OrderChatz (mounted from wp-plugin/orderchatz);
#  3. makes sure a read_write WooCommerce REST key exists for the admin user (wc-api-key.php);
#  4. picks the shared secret (ORDERCHATZ_SHARED_SECRET from .env, else the one from the last run,
#     else a new random one) and writes it as a wp-config.php constant, with ORDERCHATZ_SIDECAR_URL;
#  5. writes the sidecar's credentials to $SECRETS_FILE on the shared volume, readable only by
#     root and the sidecar's group; the sidecar entrypoint reads it.
#
# Runs as root because the fresh credentials volume is root-owned; WordPress' own files are given
# back to www-data (uid 33 in the Debian-based wordpress image) at the end.
set -euo pipefail

# Overridable only so tests can run this script against a stub `wp`.
WP_PATH="${WP_PATH:-/var/www/html}"
SECRETS_FILE="${SECRETS_FILE:-/run/orderchatz/sidecar.env}"
SETUP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN_DIR="$WP_PATH/wp-content/plugins/orderchatz"
WP_UID="${WP_UID:-33}"

: "${WP_SITE_URL:?}" "${WP_TITLE:?}" "${WP_ADMIN_USER:?}" "${WP_ADMIN_PASSWORD:?}" "${WP_ADMIN_EMAIL:?}"
: "${SIDECAR_PUBLIC_URL:?}" "${SIDECAR_GID:?}"

wp() {
    command wp --allow-root --path="$WP_PATH" "$@"
}

log() {
    printf 'orderchatz-setup: %s\n' "$*"
}

# The official wordpress container copies WordPress into the shared volume and writes
# wp-config.php before Apache starts; compose waits for its healthcheck, this is a guard.
for _ in $(seq 1 60); do
    [ -f "$WP_PATH/wp-config.php" ] && break
    sleep 2
done
[ -f "$WP_PATH/wp-config.php" ] || { log "no $WP_PATH/wp-config.php after 120 s"; exit 1; }
[ -f "$PLUGIN_DIR/orderchatz.php" ] || { log "OrderChatz is not mounted at $PLUGIN_DIR"; exit 1; }

if ! wp core is-installed 2>/dev/null; then
    log "installing WordPress at $WP_SITE_URL"
    wp core install --url="$WP_SITE_URL" --title="$WP_TITLE" --admin_user="$WP_ADMIN_USER" \
        --admin_password="$WP_ADMIN_PASSWORD" --admin_email="$WP_ADMIN_EMAIL" --skip-email
fi
wp option update home "$WP_SITE_URL" --quiet
wp option update siteurl "$WP_SITE_URL" --quiet
# /wp-json/ needs pretty permalinks; the wordpress image already ships the .htaccess rules.
wp rewrite structure '/%postname%/' --quiet

if ! wp plugin is-installed woocommerce; then
    log "installing WooCommerce ${WOOCOMMERCE_VERSION:-(latest)}"
    wp plugin install woocommerce ${WOOCOMMERCE_VERSION:+--version="$WOOCOMMERCE_VERSION"}
fi
# WooCommerce first: OrderChatz declares "Requires Plugins: woocommerce".
wp plugin activate woocommerce
wp plugin activate orderchatz

previous_ck="" previous_cs="" previous_secret=""
if [ -f "$SECRETS_FILE" ]; then
    previous_ck=$(sed -n 's/^ORDERCHATZ_WC_CONSUMER_KEY=//p' "$SECRETS_FILE")
    previous_cs=$(sed -n 's/^ORDERCHATZ_WC_CONSUMER_SECRET=//p' "$SECRETS_FILE")
    previous_secret=$(sed -n 's/^ORDERCHATZ_SHARED_SECRET=//p' "$SECRETS_FILE")
fi

read -r consumer_key consumer_secret < <(
    ORDERCHATZ_WC_CONSUMER_KEY="$previous_ck" ORDERCHATZ_WC_CONSUMER_SECRET="$previous_cs" \
        wp eval-file "$SETUP_DIR/wc-api-key.php" | tail -n 1
)
case "$consumer_key:$consumer_secret" in
    ck_*:cs_*) ;;
    *) log "wc-api-key.php did not return a key pair"; exit 1 ;;
esac
[ "$consumer_key" = "$previous_ck" ] || log "created a new WooCommerce REST key for the sidecar"

shared_secret="${ORDERCHATZ_SHARED_SECRET:-${previous_secret:-}}"
if [ -z "$shared_secret" ]; then
    shared_secret=$(php -r 'echo bin2hex(random_bytes(32));')
    log "generated a new shared secret"
fi
# Kept shell-inert (the entrypoint reads values verbatim; this is a second guard): no spaces, quotes, $ or ~.
case "$shared_secret" in
    *[!A-Za-z0-9._+/=-]*) log "ORDERCHATZ_SHARED_SECRET may only contain letters, digits and . _ + / = -"; exit 1 ;;
esac
[ "${#shared_secret}" -ge 32 ] || { log "ORDERCHATZ_SHARED_SECRET must be at least 32 characters"; exit 1; }

# wp-config.php constants win over the plugin's settings page (DESIGN.md §4). --quiet: WP-CLI would
# otherwise print the secret in its success message, i.e. into `docker compose logs`.
wp config set ORDERCHATZ_SHARED_SECRET "$shared_secret" --type=constant --quiet
wp config set ORDERCHATZ_SIDECAR_URL "$SIDECAR_PUBLIC_URL" --type=constant --quiet

umask 077
tmp="$SECRETS_FILE.tmp"
{
    echo "# Written by docker/setup/setup.sh on every 'docker compose up'; edits are overwritten."
    echo "ORDERCHATZ_WC_CONSUMER_KEY=$consumer_key"
    echo "ORDERCHATZ_WC_CONSUMER_SECRET=$consumer_secret"
    echo "ORDERCHATZ_SHARED_SECRET=$shared_secret"
} > "$tmp"
chgrp "$SIDECAR_GID" "$tmp"
chmod 0640 "$tmp"
mv -f "$tmp" "$SECRETS_FILE"

# Whatever WP-CLI created as root (plugin files, uploads/wc-logs, …) goes back to www-data so
# Apache can update plugins and write uploads; the read-only bind mounts are left alone.
find "$WP_PATH" \( -path "$PLUGIN_DIR" -o -path "$WP_PATH/wp-content/mu-plugins" \) -prune \
    -o ! -user "$WP_UID" -exec chown "$WP_UID:$WP_UID" {} +

log "done: WordPress $WP_SITE_URL, sidecar $SIDECAR_PUBLIC_URL"
