#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what it needs, starts the services
# that are not running, then runs pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

apt_install python3-venv redis-server redis-tools postgresql mariadb-server mariadb-client \
    php-cli php-mysql php-mbstring php-xml php-curl wordpress wordpress-l10n wordpress-theme-twentytwentythree gettext \
    chromium fonts-noto-cjk fonts-noto-color-emoji docker-compose
python_env test
ensure_redis
ensure_postgres
ensure_mariadb

mkdir -p test-artifacts
exec python -m pytest -q -p no:cacheprovider "$@"
