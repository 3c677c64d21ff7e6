# Creates the sidecar's own database and user next to WordPress' (DESIGN.md §1: the store is
# separate from WordPress; the sidecar never touches wp_* tables).
#
# Not executable on purpose: the MariaDB image *sources* non-executable *.sh files from
# /docker-entrypoint-initdb.d, which gives us its docker_process_sql helper (root, local socket).
# It runs once, when the data volume is first initialised; changing SIDECAR_DB_PASSWORD later
# needs `ALTER USER` by hand (or `docker compose down -v`, which also deletes all data).
# shellcheck shell=bash

if [ -z "${SIDECAR_DB_PASSWORD:-}" ]; then
    mysql_error "SIDECAR_DB_PASSWORD is not set: the sidecar's database user needs a password"
fi
# The same value is pasted into the sidecar's SQLAlchemy URL by docker-compose.yml without
# URL-encoding, so keep it to characters that need none (and none that need SQL escaping).
case "$SIDECAR_DB_PASSWORD" in
    *[!A-Za-z0-9._~-]*)
        mysql_error "SIDECAR_DB_PASSWORD may only contain letters, digits and . _ ~ -" ;;
esac

mysql_note "Creating database 'orderchatz' and user 'orderchatz' for the OrderChatz sidecar"
docker_process_sql --database=mysql <<SQL
CREATE DATABASE IF NOT EXISTS orderchatz CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'orderchatz'@'%' IDENTIFIED BY '${SIDECAR_DB_PASSWORD}';
GRANT ALL PRIVILEGES ON orderchatz.* TO 'orderchatz'@'%';
SQL
