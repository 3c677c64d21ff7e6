# Shared by scripts/run-local.sh and scripts/test.sh: system packages, the venv, local services.
# Debian 12 (bookworm) is the reference machine; every step is idempotent.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ORDERCHATZ_VENV:-$ROOT/.venv}"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

log() { printf '\033[1;34m[orderchatz]\033[0m %s\n' "$*" >&2; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

python_env() {
    # $1: pip extras, e.g. "test"
    local extras="${1:-}"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-${extras:-base}"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        log "installing Python packages${extras:+ [$extras]}"
        "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install -q -e "$ROOT${extras:+[$extras]}"
        touch "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

ensure_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
    log "starting Redis on 127.0.0.1:6379"
    $SUDO mkdir -p /var/lib/redis /var/log/redis
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/orderchatz.log
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && return; sleep 0.1; done
    log "Redis did not start"; return 1
}

ensure_postgres() {
    if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return; fi
    log "starting PostgreSQL"
    if ls /etc/postgresql >/dev/null 2>&1; then
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
    for _ in $(seq 100); do pg_isready -h 127.0.0.1 -p 5432 -q && return; sleep 0.2; done
    log "PostgreSQL did not start"; return 1
}

ensure_mariadb() {
    if mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then return; fi
    log "starting MariaDB"
    $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
    $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
    for _ in $(seq 100); do mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && return; sleep 0.2; done
    log "MariaDB did not start"; return 1
}

mariadb_demo_login() {
    # $1: database the demo uses, $2: env file for scripts/demo.py, $3: user (orderchatz_demo).
    # A TCP login for the demo's WordPress: MariaDB root without a password when that works (CI,
    # the reference machine); otherwise (a fresh Debian, where root authenticates over the unix
    # socket only) a dedicated user created over the socket, its password kept in $2.
    local db="$1" file="$2" user="${3:-orderchatz_demo}" password
    if mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; then return; fi
    if [ -f "$file" ]; then
        password="$(sed -n 's/^ORDERCHATZ_DEMO_DB_PASSWORD=//p' "$file")"
        if MYSQL_PWD="$password" mariadb -h 127.0.0.1 -P 3306 -u "$user" -e 'SELECT 1' >/dev/null 2>&1; then
            return
        fi
    fi
    log "creating the MariaDB user $user@127.0.0.1 for the demo (root has no TCP login)"
    password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    $SUDO mariadb <<SQL
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
SQL
    mkdir -p "$(dirname "$file")"
    (umask 077 && printf '%s\n' "# MariaDB login of the local demo (scripts/run-local.sh). Demo only." \
        "ORDERCHATZ_DEMO_DB_HOST=127.0.0.1" "ORDERCHATZ_DEMO_DB_PORT=3306" \
        "ORDERCHATZ_DEMO_DB_USER=$user" "ORDERCHATZ_DEMO_DB_PASSWORD=$password" > "$file")
}
