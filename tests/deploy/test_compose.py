"""The Docker deployment: docker-compose.yml, docker/, .env.example, .dockerignore.

There is no Docker engine here, so nothing is built or started. What is checked instead:
the compose file resolves (`docker-compose config`, and `docker compose config` when the plugin
exists) with the documented .env; the resolved stack has the services, health checks, start order,
volumes and sidecar settings the deployment relies on; the Dockerfile's basics; the shell and PHP
scripts parse; and the two scripts that move credentials (setup.sh, the sidecar entrypoint) and
the MariaDB init script behave as intended when run against stubs or the local MariaDB.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "docker" / "sidecar.Dockerfile"
ENTRYPOINT = REPO / "docker" / "sidecar-entrypoint.sh"
SETUP_SCRIPT = REPO / "docker" / "setup" / "setup.sh"
MARIADB_INIT = REPO / "docker" / "mariadb-init" / "10-orderchatz.sh"
PHP_FILES = [REPO / "docker" / "setup" / "wc-api-key.php",
             REPO / "docker" / "wordpress" / "orderchatz-docker-network.php"]

# DESIGN.md §5.
SIDECAR_SETTINGS = [
    "ORDERCHATZ_LINE_CHANNEL_SECRET", "ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN", "ORDERCHATZ_WC_URL",
    "ORDERCHATZ_WC_CONSUMER_KEY", "ORDERCHATZ_WC_CONSUMER_SECRET", "ORDERCHATZ_SHARED_SECRET",
    "ORDERCHATZ_WP_ORIGIN", "ORDERCHATZ_DATABASE_URL", "ORDERCHATZ_REDIS_URL",
    "ORDERCHATZ_MEDIA_DIR", "ORDERCHATZ_LINE_API_BASE",
]
# Not in the compose environment on purpose: setup.sh creates them and the entrypoint reads them.
FROM_SECRETS_FILE = {"ORDERCHATZ_WC_CONSUMER_KEY", "ORDERCHATZ_WC_CONSUMER_SECRET",
                     "ORDERCHATZ_SHARED_SECRET"}
TIMEOUT = 60


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No ORDERCHATZ_* from the test run may leak into compose interpolation or the scripts."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def _env_example_assignments() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            pairs[match.group(1)] = match.group(2)
    return pairs


def _compose_commands() -> list[list[str]]:
    commands = []
    if shutil.which("docker-compose"):
        commands.append(["docker-compose"])
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=TIMEOUT)
        if probe.returncode == 0:
            commands.append(["docker", "compose"])
    return commands


def _run_config(command: list[str], env_file: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*command, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE),
         "--env-file", str(env_file), "config"],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, env=_clean_env(tmp_path))


@pytest.fixture(scope="module", params=_compose_commands() or [None],
                ids=lambda c: " ".join(c) if c else "no-compose")
def compose_command(request) -> list[str]:
    if request.param is None:
        pytest.skip("neither `docker-compose` nor `docker compose` is installed "
                    "(Debian: apt-get install docker-compose)")
    return request.param


@pytest.fixture(scope="module")
def stack(compose_command, tmp_path_factory) -> dict:
    """The resolved compose configuration with the .env a user starts from."""
    tmp = tmp_path_factory.mktemp("compose")
    env_file = tmp / ".env"
    shutil.copy(ENV_EXAMPLE, env_file)
    result = _run_config(compose_command, env_file, tmp)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # some compose versions print KEY=value lists
        env = dict(item.split("=", 1) for item in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def _volume_targets(service: dict) -> dict[str, dict]:
    """target path -> {"source", "read_only"} for both short and long volume syntax."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            out[parts[1]] = {"source": parts[0], "read_only": len(parts) > 2 and "ro" in parts[2]}
        else:
            out[volume["target"]] = {"source": volume.get("source"),
                                     "read_only": bool(volume.get("read_only"))}
    return out


def _depends(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


# -- the resolved stack ---------------------------------------------------------------------------

def test_stack_has_every_service(stack):
    assert set(stack["services"]) == {"db", "redis", "wordpress", "setup", "sidecar", "worker"}


def test_images_are_the_official_ones(stack):
    services = stack["services"]
    assert re.fullmatch(r"wordpress:6[\w.-]*-apache", services["wordpress"]["image"])
    assert services["setup"]["image"].startswith("wordpress:cli")
    assert services["db"]["image"].startswith("mariadb:")
    assert services["redis"]["image"].startswith("redis:")
    for name in ("sidecar", "worker"):
        assert services[name]["build"]["dockerfile"] == "docker/sidecar.Dockerfile"
        assert Path(services[name]["build"]["context"]).resolve() == REPO


def test_sidecar_serves_with_gunicorn_and_checks_readyz(stack):
    sidecar = stack["services"]["sidecar"]
    assert sidecar["command"] == ["orderchatz-sidecar", "serve", "--bind", "0.0.0.0:8000"]
    test = sidecar["healthcheck"]["test"]
    assert test[0] == "CMD" and "/readyz" in " ".join(test)
    assert "curl" not in test  # python:3.11-slim has none


def test_worker_runs_rq_and_skips_the_web_healthcheck(stack):
    worker = stack["services"]["worker"]
    assert worker["command"] == ["orderchatz-sidecar", "worker"]
    assert worker["healthcheck"].get("disable") is True or worker["healthcheck"]["test"] == ["NONE"]


def test_start_order_waits_for_setup_and_health(stack):
    services = stack["services"]
    assert _depends(services["setup"]) == {"db": "service_healthy", "wordpress": "service_healthy"}
    for name in ("sidecar", "worker"):
        deps = _depends(services[name])
        assert deps["setup"] == "service_completed_successfully", name
        assert deps["redis"] == "service_healthy", name
    assert _depends(services["sidecar"])["db"] == "service_healthy"
    # The worker never migrates: a healthy web container means the schema is current.
    assert _depends(services["worker"])["sidecar"] == "service_healthy"
    for name in ("db", "redis", "wordpress", "sidecar"):
        assert services[name].get("healthcheck", {}).get("test"), name


def test_sidecar_uses_its_own_mariadb_database_not_sqlite(stack):
    for name in ("sidecar", "worker"):
        env = _environment(stack["services"][name])
        url = env["ORDERCHATZ_DATABASE_URL"]
        assert url.startswith("mysql+pymysql://orderchatz:"), url
        assert url.endswith("@db:3306/orderchatz?charset=utf8mb4"), url
        assert env["ORDERCHATZ_REDIS_URL"] == "redis://redis:6379/0"


def test_woocommerce_is_reached_over_plain_http_inside_the_network(stack):
    env = _environment(stack["services"]["sidecar"])
    # http:// makes WooClient sign with OAuth 1.0a; the signature is checked against the home URL.
    assert env["ORDERCHATZ_WC_URL"] == "http://wordpress"
    assert env["ORDERCHATZ_WC_SITE_URL"] == _environment(stack["services"]["setup"])["WP_SITE_URL"]
    assert env["ORDERCHATZ_WP_ORIGIN"] == "http://localhost:8080"


def test_every_sidecar_setting_reaches_the_sidecar(stack):
    for name in ("sidecar", "worker"):
        env = _environment(stack["services"][name])
        missing = [v for v in SIDECAR_SETTINGS if v not in env and v not in FROM_SECRETS_FILE]
        assert not missing, (name, missing)
        # Secrets generated by setup must not be shadowed by (empty) compose values.
        assert not FROM_SECRETS_FILE & set(env), name


def test_state_lives_on_named_volumes(stack):
    services, named = stack["services"], set(stack["volumes"])
    expected = {("db", "/var/lib/mysql"), ("wordpress", "/var/www/html"), ("redis", "/data"),
                ("sidecar", "/var/lib/orderchatz/media"), ("worker", "/var/lib/orderchatz/media")}
    for service, target in expected:
        assert _volume_targets(services[service])[target]["source"] in named, (service, target)
    assert "--appendonly" in services["redis"]["command"]
    assert _environment(services["sidecar"])["ORDERCHATZ_MEDIA_DIR"] == "/var/lib/orderchatz/media"


def test_credentials_volume_is_written_by_setup_only(stack):
    services = stack["services"]
    assert _volume_targets(services["setup"])["/run/orderchatz"]["read_only"] is False
    for name in ("sidecar", "worker"):
        assert _volume_targets(services[name])["/run/orderchatz"]["read_only"] is True, name
    for name in ("wordpress", "db", "redis"):
        assert "/run/orderchatz" not in _volume_targets(services[name]), name


def test_plugin_is_mounted_from_the_repository(stack):
    for name in ("wordpress", "setup"):
        mount = _volume_targets(stack["services"][name])["/var/www/html/wp-content/plugins/orderchatz"]
        assert Path(mount["source"]).resolve() == REPO / "wp-plugin" / "orderchatz"
        assert mount["read_only"] is True


def test_sidecar_group_matches_the_dockerfile(stack):
    gid = _environment(stack["services"]["setup"])["SIDECAR_GID"]
    assert re.search(rf"groupadd\b.*--gid {gid}\b", DOCKERFILE.read_text(encoding="utf-8"))


def test_missing_password_is_refused_by_name(compose_command, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in _env_example_assignments().items()
                                if k != "SIDECAR_DB_PASSWORD"), encoding="utf-8")
    result = _run_config(compose_command, env_file, tmp_path)
    assert result.returncode != 0
    assert "SIDECAR_DB_PASSWORD" in result.stderr


# -- .env.example ---------------------------------------------------------------------------------

def test_env_example_variables_are_all_used_and_all_documented():
    compose = COMPOSE_FILE.read_text(encoding="utf-8")
    assigned = _env_example_assignments()
    referenced = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose))
    assert set(assigned) - referenced == set(), "in .env.example but unused by docker-compose.yml"
    assert referenced - set(assigned) == set(), "interpolated by docker-compose.yml but undocumented"
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    undocumented = [v for v in SIDECAR_SETTINGS if v not in example]
    assert not undocumented


def test_env_example_holds_no_real_secrets():
    values = _env_example_assignments()
    for name in ("ORDERCHATZ_LINE_CHANNEL_SECRET", "ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN",
                 "ORDERCHATZ_SHARED_SECRET"):
        assert values[name] == "", name
    for name in ("MARIADB_ROOT_PASSWORD", "WORDPRESS_DB_PASSWORD", "SIDECAR_DB_PASSWORD",
                 "WP_ADMIN_PASSWORD"):
        assert values[name].startswith("change-me"), name


# -- Dockerfile and build context -----------------------------------------------------------------

def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_basics():
    instructions = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert ("EXPOSE", "8000") in instructions
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert 'pip install ".[mysql,postgres]"' in runs
    healthcheck = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert healthcheck and "/readyz" in healthcheck[0] and "curl" not in healthcheck[0]
    assert any(k == "ENTRYPOINT" for k, _ in instructions)


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies():
    lines = [line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", "allow-list: .git, .venv, instance/, tests, .env stay out"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for keyword, rest in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "COPY":
            sources = [part for part in rest.split() if not part.startswith("--")][:-1]
            copied.update(source.rstrip("/") for source in sources)
    assert copied == allowed
    for path in copied:
        assert (REPO / path).exists(), path


# -- scripts --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shell, script", [("bash", SETUP_SCRIPT), ("bash", MARIADB_INIT),
                                           ("sh", ENTRYPOINT)], ids=lambda v: getattr(v, "name", v))
def test_shell_scripts_parse(shell, script):
    result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr


def test_executable_bits():
    assert os.stat(ENTRYPOINT).st_mode & stat.S_IXUSR
    assert os.stat(SETUP_SCRIPT).st_mode & stat.S_IXUSR
    # Must stay non-executable: the MariaDB image then sources it and provides docker_process_sql.
    assert not os.stat(MARIADB_INIT).st_mode & stat.S_IXUSR


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.name)
def test_php_files_parse(path):
    if not shutil.which("php"):
        pytest.skip("php-cli is not installed")
    result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr


# -- the sidecar entrypoint, against a stub orderchatz-sidecar ------------------------------------

STUB_SIDECAR = """#!/bin/sh
printf '%s|%s|%s\\n' "$*" "${ORDERCHATZ_WC_CONSUMER_KEY:-}" "${ORDERCHATZ_SHARED_SECRET:-}" >> "$STUB_LOG"
"""


def _stub_bin(tmp_path: Path, name: str, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / name
    stub.write_text(body, encoding="utf-8")
    stub.chmod(0o755)
    return bin_dir


def _run_entrypoint(tmp_path: Path, secrets: Path, *command: str) -> tuple[int, list[str]]:
    bin_dir = _stub_bin(tmp_path, "orderchatz-sidecar", STUB_SIDECAR)
    log = tmp_path / "calls.log"
    env = _clean_env(tmp_path, ORDERCHATZ_SECRETS_FILE=str(secrets), STUB_LOG=str(log))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    result = subprocess.run(["sh", str(ENTRYPOINT), *command], env=env, capture_output=True,
                            text=True, timeout=TIMEOUT)
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return result.returncode, calls


def test_entrypoint_loads_credentials_and_migrates_before_serving(tmp_path):
    secrets = tmp_path / "sidecar.env"
    secrets.write_text("# comment\nORDERCHATZ_WC_CONSUMER_KEY=ck_abc\n"
                       "ORDERCHATZ_WC_CONSUMER_SECRET=cs_def\nORDERCHATZ_SHARED_SECRET=s3cr3t\n")
    code, calls = _run_entrypoint(tmp_path, secrets, "orderchatz-sidecar", "serve", "--bind", "0.0.0.0:8000")
    assert code == 0
    assert calls == ["db upgrade|ck_abc|s3cr3t", "serve --bind 0.0.0.0:8000|ck_abc|s3cr3t"]


def test_entrypoint_reads_the_file_as_data(tmp_path):
    secrets = tmp_path / "sidecar.env"
    marker = tmp_path / "executed"
    secrets.write_text(f"touch {marker}\nPATH=/nowhere\nORDERCHATZ_WC_CONSUMER_KEY=ck_$(id)~x=y\n"
                       "ORDERCHATZ_SHARED_SECRET=ab+/c==")
    code, calls = _run_entrypoint(tmp_path, secrets, "orderchatz-sidecar", "worker")
    assert (code, calls) == (0, ["worker|ck_$(id)~x=y|ab+/c=="])  # last line without newline too
    assert not marker.exists()


def test_entrypoint_worker_does_not_migrate(tmp_path):
    secrets = tmp_path / "sidecar.env"
    secrets.write_text("ORDERCHATZ_WC_CONSUMER_KEY=ck_abc\nORDERCHATZ_SHARED_SECRET=s3cr3t\n")
    code, calls = _run_entrypoint(tmp_path, secrets, "orderchatz-sidecar", "worker")
    assert (code, calls) == (0, ["worker|ck_abc|s3cr3t"])


def test_entrypoint_without_credentials_file_still_runs(tmp_path):
    # Plain `docker run` with everything in the environment: no file, no failure.
    code, calls = _run_entrypoint(tmp_path, tmp_path / "absent.env", "orderchatz-sidecar", "worker")
    assert (code, calls) == (0, ["worker||"])


def test_entrypoint_stops_when_migration_fails(tmp_path):
    bin_dir = _stub_bin(tmp_path, "orderchatz-sidecar",
                        STUB_SIDECAR + '[ "$1" = db ] && exit 3\nexit 0\n')
    log = tmp_path / "calls.log"
    env = _clean_env(tmp_path, ORDERCHATZ_SECRETS_FILE=str(tmp_path / "absent"), STUB_LOG=str(log))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    result = subprocess.run(["sh", str(ENTRYPOINT), "orderchatz-sidecar", "serve"], env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 3
    assert log.read_text().splitlines() == ["db upgrade||"]  # never served on an old schema


# -- setup.sh, against a stub wp ------------------------------------------------------------------

# Answers the WP-CLI commands setup.sh uses and records them. eval-file behaves like
# wc-api-key.php: it keeps the key it was handed unless told the key is gone, and prints a noise
# line first (PHP notices reach stdout on some hosts).
STUB_WP = r"""#!/bin/bash
args=()
for arg in "$@"; do
    case "$arg" in --allow-root|--path=*) ;; *) args+=("$arg") ;; esac
done
{ printf '%s\x1f' "${args[@]}"; printf '\n'; } >> "$STUB_LOG"
if [ "${args[0]} ${args[1]:-}" = "core is-installed" ]; then
    [ "${STUB_INSTALLED:-}" = 1 ]; exit
fi
if [ "${args[0]}" = eval-file ]; then
    if [ "${STUB_EVAL_GARBAGE:-}" = 1 ]; then echo "PHP Fatal error: something"; exit 0; fi
    echo "Notice: noise"
    ck="${ORDERCHATZ_WC_CONSUMER_KEY:-}" cs="${ORDERCHATZ_WC_CONSUMER_SECRET:-}"
    if [ -z "$ck" ] || [ -z "$cs" ] || [ "${STUB_KEY_GONE:-}" = 1 ]; then
        ck="ck_$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"
        cs="cs_$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"
    fi
    echo "$ck $cs"
fi
exit 0
"""


@pytest.fixture
def run_setup(tmp_path):
    if not shutil.which("php"):
        pytest.skip("php-cli is not installed (setup.sh generates the secret with php)")
    wp_path = tmp_path / "html"
    (wp_path / "wp-content" / "plugins" / "orderchatz").mkdir(parents=True)
    (wp_path / "wp-content" / "plugins" / "orderchatz" / "orderchatz.php").write_text("<?php\n")
    (wp_path / "wp-config.php").write_text("<?php\n")
    secrets = tmp_path / "run" / "sidecar.env"
    secrets.parent.mkdir()
    bin_dir = _stub_bin(tmp_path, "wp", STUB_WP)
    log = tmp_path / "wp.log"

    def run(**extra: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
        log.write_text("")
        env = _clean_env(
            tmp_path, WP_PATH=str(wp_path), SECRETS_FILE=str(secrets), STUB_LOG=str(log),
            WP_UID=str(os.getuid()), SIDECAR_GID=str(os.getgid()),
            WP_SITE_URL="http://localhost:8080", WP_TITLE="OrderChatz Shop", WP_ADMIN_USER="admin",
            WP_ADMIN_PASSWORD="pw-admin", WP_ADMIN_EMAIL="admin@example.com",
            SIDECAR_PUBLIC_URL="http://localhost:8000", **extra)
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
        result = subprocess.run(["bash", str(SETUP_SCRIPT)], env=env, capture_output=True,
                                text=True, timeout=TIMEOUT)
        calls = [line.split("\x1f")[:-1] for line in log.read_text().splitlines()]
        return result, calls

    run.secrets = secrets
    return run


def _read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line and not line.startswith("#"))


def _config_constants(calls: list[list[str]]) -> dict[str, list[str]]:
    return {call[2]: call[3:] for call in calls if call[:2] == ["config", "set"]}


def test_setup_first_run_provisions_both_sides(run_setup):
    result, calls = run_setup()
    assert result.returncode == 0, result.stderr
    written = _read_env_file(run_setup.secrets)
    assert written["ORDERCHATZ_WC_CONSUMER_KEY"].startswith("ck_")
    assert written["ORDERCHATZ_WC_CONSUMER_SECRET"].startswith("cs_")
    secret = written["ORDERCHATZ_SHARED_SECRET"]
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    mode = os.stat(run_setup.secrets)
    assert stat.S_IMODE(mode.st_mode) == 0o640 and mode.st_gid == os.getgid()
    # WordPress gets the very same secret, and the browser-facing sidecar URL, as constants.
    constants = _config_constants(calls)
    assert constants["ORDERCHATZ_SHARED_SECRET"][0] == secret
    assert constants["ORDERCHATZ_SIDECAR_URL"][0] == "http://localhost:8000"
    assert all("--quiet" in rest and "--type=constant" in rest for rest in constants.values())
    assert secret not in result.stdout + result.stderr
    installs = [c for c in calls if c[:2] == ["core", "install"]]
    assert len(installs) == 1 and "--url=http://localhost:8080" in installs[0]
    activated = [c[2] for c in calls if c[:2] == ["plugin", "activate"]]
    assert activated == ["woocommerce", "orderchatz"]


def test_setup_rerun_keeps_key_and_secret(run_setup):
    run_setup()
    first = _read_env_file(run_setup.secrets)
    result, calls = run_setup(STUB_INSTALLED="1")
    assert result.returncode == 0, result.stderr
    assert _read_env_file(run_setup.secrets) == first
    assert not [c for c in calls if c[:2] == ["core", "install"]]


def test_setup_replaces_a_key_deleted_in_woocommerce(run_setup):
    run_setup()
    first = _read_env_file(run_setup.secrets)
    result, _ = run_setup(STUB_INSTALLED="1", STUB_KEY_GONE="1")
    assert result.returncode == 0, result.stderr
    second = _read_env_file(run_setup.secrets)
    assert second["ORDERCHATZ_WC_CONSUMER_KEY"] != first["ORDERCHATZ_WC_CONSUMER_KEY"]
    assert second["ORDERCHATZ_SHARED_SECRET"] == first["ORDERCHATZ_SHARED_SECRET"]


def test_setup_explicit_shared_secret_wins(run_setup):
    run_setup()
    chosen = "x" * 40
    result, calls = run_setup(STUB_INSTALLED="1", ORDERCHATZ_SHARED_SECRET=chosen)
    assert result.returncode == 0, result.stderr
    assert _read_env_file(run_setup.secrets)["ORDERCHATZ_SHARED_SECRET"] == chosen
    assert _config_constants(calls)["ORDERCHATZ_SHARED_SECRET"][0] == chosen


@pytest.mark.parametrize("bad", ["too-short", "has space " + "x" * 32, "quote'" + "x" * 32,
                                 "~tilde" + "x" * 32, "$dollar" + "x" * 32])
def test_setup_rejects_unusable_shared_secret(run_setup, bad):
    result, calls = run_setup(ORDERCHATZ_SHARED_SECRET=bad)
    assert result.returncode != 0
    assert "ORDERCHATZ_SHARED_SECRET" in result.stdout + result.stderr
    assert not run_setup.secrets.exists()
    assert "ORDERCHATZ_SHARED_SECRET" not in _config_constants(calls)


def test_setup_fails_when_no_key_comes_back(run_setup):
    result, _ = run_setup(STUB_EVAL_GARBAGE="1")
    assert result.returncode != 0
    assert "key pair" in result.stdout + result.stderr
    assert not run_setup.secrets.exists()


# -- MariaDB init script --------------------------------------------------------------------------

# The MariaDB image's entrypoint provides these helpers to the scripts it sources.
MARIADB_HELPERS = """
mysql_note() { echo "note: $*"; }
mysql_error() { echo "error: $*" >&2; exit 1; }
docker_process_sql() { cat > "$SQL_OUT"; }
"""


def _init_sql(tmp_path: Path, password: str) -> subprocess.CompletedProcess:
    script = f"set -eo pipefail\n{MARIADB_HELPERS}\nsource {MARIADB_INIT}\n"
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=TIMEOUT,
                          env=_clean_env(tmp_path, SIDECAR_DB_PASSWORD=password,
                                         SQL_OUT=str(tmp_path / "init.sql")))


@pytest.mark.parametrize("password", ["", "with'quote", "sp ace", "at@sign", "back\\slash"])
def test_mariadb_init_refuses_unsafe_passwords(tmp_path, password):
    result = _init_sql(tmp_path, password)
    assert result.returncode != 0
    assert "SIDECAR_DB_PASSWORD" in result.stderr
    assert not (tmp_path / "init.sql").exists()


def test_mariadb_init_creates_a_database_the_sidecar_can_migrate(tmp_path):
    """Runs the generated SQL on the local MariaDB (under a throwaway name), then the sidecar's
    own migrations through a URL shaped like the one docker-compose.yml builds."""
    sa = pytest.importorskip("sqlalchemy")
    from orderchatz.store.db import upgrade

    password = "Pw-" + uuid.uuid4().hex
    result = _init_sql(tmp_path, password)
    assert result.returncode == 0, result.stderr
    sql = (tmp_path / "init.sql").read_text()
    assert "utf8mb4" in sql
    name = f"ocdeploy_{uuid.uuid4().hex[:8]}"
    admin_url = os.environ.get("ORDERCHATZ_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - no MariaDB server here
        pytest.skip(f"MariaDB not reachable at {admin_url}: {exc.__class__.__name__}")
    statements = [s.strip() for s in sql.replace("orderchatz", name).split(";") if s.strip()]

    def run_raw(*sqls: str) -> None:
        # The DB-API cursor without parameters, so PyMySQL leaves the '%' in 'user'@'%' alone.
        with admin.connect() as conn:
            cursor = conn.connection.cursor()
            for statement in sqls:
                cursor.execute(statement)
            cursor.close()

    try:
        run_raw(*statements)
        host = sa.engine.make_url(admin_url).host
        url = f"mysql+pymysql://{name}:{password}@{host}:3306/{name}?charset=utf8mb4"
        upgrade(url)
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                tables = {row[0] for row in conn.exec_driver_sql("SHOW TABLES")}
        finally:
            engine.dispose()
        assert "alembic_version" in tables and len(tables) > 1
    finally:
        run_raw(f"DROP DATABASE IF EXISTS `{name}`", f"DROP USER IF EXISTS '{name}'@'%'")
        admin.dispose()


# -- the sidecar's own Config, fed what the container will see ------------------------------------

def _dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, rest in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in rest.split())
    return env


def _container_env(stack: dict, service: str, **overrides: str) -> dict[str, str]:
    """Image ENV, then compose environment, then what the entrypoint reads from setup's file."""
    env = _dockerfile_env()
    env.update(_environment(stack["services"][service]))
    env.update(ORDERCHATZ_WC_CONSUMER_KEY="ck_" + "1" * 40, ORDERCHATZ_WC_CONSUMER_SECRET="cs_" + "2" * 40,
               ORDERCHATZ_SHARED_SECRET="3" * 64)
    env.update(overrides)
    return env


@pytest.mark.parametrize("service", ["sidecar", "worker"])
def test_sidecar_config_accepts_the_container_environment(stack, service):
    from orderchatz.config import Config

    config = Config.from_env(_container_env(stack, service, ORDERCHATZ_LINE_CHANNEL_SECRET="s",
                                            ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN="t"))
    assert config.database_url.startswith("mysql+pymysql://orderchatz:")
    assert config.wc_url == "http://wordpress"
    assert config.wc_site_url == "http://localhost:8080"
    assert config.wp_origins == ("http://localhost:8080",)
    assert config.media_dir == "/var/lib/orderchatz/media"
    assert config.instance_dir == "/var/lib/orderchatz"
    assert not config.sandbox


def test_only_the_line_credentials_are_left_to_fill_in(stack):
    from orderchatz.config import Config, ConfigError

    with pytest.raises(ConfigError) as caught:
        Config.from_env(_container_env(stack, "sidecar"))
    message = str(caught.value)
    assert "ORDERCHATZ_LINE_CHANNEL_SECRET" in message
    assert "ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN" in message
    assert "WC_" not in message and "SHARED_SECRET" not in message and "WP_ORIGIN" not in message


# -- the mu-plugin's CURLOPT_CONNECT_TO, with php-cli's real cURL ---------------------------------

# Loads the mu-plugin with just enough of WordPress (ABSPATH, add_action), then sends one request
# through the handle the way WP_Http does after firing `http_api_curl`.
PHP_HARNESS = r"""<?php
define( 'ABSPATH', __DIR__ . '/' );
$GLOBALS['hooks'] = array();
function add_action( $name, $callback ) { $GLOBALS['hooks'][ $name ][] = $callback; }
require $argv[1];
$handle = curl_init( $argv[2] );
curl_setopt( $handle, CURLOPT_RETURNTRANSFER, true );
curl_setopt( $handle, CURLOPT_CONNECTTIMEOUT, 5 );
curl_setopt( $handle, CURLOPT_TIMEOUT, 10 );
foreach ( $GLOBALS['hooks']['http_api_curl'] as $callback ) { $callback( $handle ); }
$body = curl_exec( $handle );
echo false === $body ? 'ERROR ' . curl_errno( $handle ) : $body;
"""


@pytest.fixture
def echo_server():
    import http.server
    import threading

    from tests.support import free_port

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            body = f"{self.headers['Host']} {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _php_request(tmp_path: Path, url: str, connect_to: str | None) -> str:
    if not shutil.which("php"):
        pytest.skip("php-cli is not installed")
    probe = subprocess.run(["php", "-r", "echo defined('CURLOPT_CONNECT_TO') ? 1 : 0;"],
                           capture_output=True, text=True, timeout=TIMEOUT)
    if probe.stdout != "1":
        pytest.skip("php-cli has no cURL extension with CURLOPT_CONNECT_TO (Debian: php-curl)")
    harness = tmp_path / "harness.php"
    harness.write_text(PHP_HARNESS, encoding="utf-8")
    env = _clean_env(tmp_path)
    if connect_to is not None:
        env["ORDERCHATZ_DOCKER_CONNECT_TO"] = connect_to
    result = subprocess.run(["php", str(harness), str(PHP_FILES[1]), url], env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_mu_plugin_connects_public_url_to_the_container(tmp_path, echo_server):
    # "sidecar.invalid" cannot resolve: only the connect-to entry can make this request succeed.
    body = _php_request(tmp_path, "http://sidecar.invalid:8000/wp/events?x=1",
                        f"wp.invalid:8080:127.0.0.1:9 sidecar.invalid:8000:127.0.0.1:{echo_server}")
    # Same Host header and path as requested: signatures and routing are untouched.
    assert body == "sidecar.invalid:8000 /wp/events?x=1"


def test_mu_plugin_leaves_other_urls_alone(tmp_path, echo_server):
    body = _php_request(tmp_path, "http://other.invalid:8000/", f"sidecar.invalid:8000:127.0.0.1:{echo_server}")
    assert body.startswith("ERROR ")  # not redirected: resolution of the unknown host fails


def test_mu_plugin_without_map_does_nothing(tmp_path, echo_server):
    assert _php_request(tmp_path, "http://sidecar.invalid:8000/", None).startswith("ERROR ")
    assert _php_request(tmp_path, f"http://127.0.0.1:{echo_server}/ok", "") == f"127.0.0.1:{echo_server} /ok"


# -- wc-api-key.php inside a real WordPress (tests/harness), WooCommerce reduced to what it uses ----

# TEST-ONLY stand-ins: WooCommerce can't be installed here. The two helpers and the table are
# WooCommerce's own definitions (wc-core-functions.php, WC_Install::get_schema()); WP_CLI is just
# line()/error().
WC_KEYS_PRELUDE = r"""
if ( ! function_exists( 'wc_api_hash' ) ) {
	function wc_api_hash( $data ) { return hash_hmac( 'sha256', $data, 'wc-api' ); }
}
if ( ! function_exists( 'wc_rand_hash' ) ) {
	function wc_rand_hash() { return bin2hex( random_bytes( 20 ) ); }
}
if ( ! class_exists( 'WP_CLI' ) ) {
	class WP_CLI {
		public static function line( $text ) { echo $text, "\n"; }
		public static function error( $text ) { fwrite( STDERR, "Error: $text\n" ); exit( 1 ); }
	}
}
global $wpdb;
$wpdb->query( "CREATE TABLE IF NOT EXISTS {$wpdb->prefix}woocommerce_api_keys (
	key_id BIGINT UNSIGNED NOT NULL auto_increment, user_id BIGINT UNSIGNED NOT NULL,
	description varchar(200) NULL, permissions varchar(10) NOT NULL, consumer_key char(64) NOT NULL,
	consumer_secret char(43) NOT NULL, nonces longtext NULL, truncated_key char(7) NOT NULL,
	last_access datetime NULL default null, PRIMARY KEY (key_id), KEY consumer_key (consumer_key),
	KEY consumer_secret (consumer_secret) ) {$wpdb->get_charset_collate()}" );
"""


@pytest.fixture(scope="module")
def wp_site():
    from tests.harness.wordpress import WordPressSite, php_available
    from tests.support import free_port

    if not php_available():
        pytest.skip("php-cli and Debian's wordpress package are required")
    site = WordPressSite(port=free_port(), db_name=f"oc_deploy_{uuid.uuid4().hex[:10]}",
                         sidecar_url=None, shared_secret=None, activate_plugin=False)
    site.start()
    yield site
    site.stop()


def _issue_key(site, *, admin: str = "admin", ck: str = "", cs: str = "") -> tuple[int, str, str]:
    script = REPO / "docker" / "setup" / "wc-api-key.php"
    env = "".join(f"putenv( {json.dumps(f'{k}={v}')} );\n" for k, v in
                  {"WP_ADMIN_USER": admin, "ORDERCHATZ_WC_CONSUMER_KEY": ck,
                   "ORDERCHATZ_WC_CONSUMER_SECRET": cs}.items())
    code = WC_KEYS_PRELUDE + env + f"include {json.dumps(str(script))};\n"
    try:
        out = site.php(code)
    except Exception as exc:  # noqa: BLE001 - WordPressError carries the exit and stderr
        return 1, "", str(exc)
    return 0, out.strip().splitlines()[-1], ""


def _key_rows(site) -> list[dict]:
    return site.php_json("global $wpdb; return $wpdb->get_results( \"SELECT user_id, description, "
                         "permissions, consumer_key, consumer_secret, truncated_key FROM "
                         "{$wpdb->prefix}woocommerce_api_keys\", ARRAY_A );")


def test_wc_key_is_stored_the_way_woocommerce_checks_it(wp_site):
    import hashlib
    import hmac

    wp_site.php(WC_KEYS_PRELUDE + "$wpdb->query( \"DELETE FROM {$wpdb->prefix}woocommerce_api_keys\" );")
    code, line, err = _issue_key(wp_site)
    assert code == 0, err
    ck, cs = line.split()
    assert re.fullmatch(r"ck_[0-9a-f]{40}", ck) and re.fullmatch(r"cs_[0-9a-f]{40}", cs)
    [row] = _key_rows(wp_site)
    assert row["consumer_key"] == hmac.new(b"wc-api", ck.encode(), hashlib.sha256).hexdigest()
    assert row["consumer_secret"] == cs  # WooCommerce keeps the secret in clear to verify OAuth
    assert row["truncated_key"] == ck[-7:]
    assert row["permissions"] == "read_write"
    assert int(row["user_id"]) == wp_site.users["admin"].user_id


def test_wc_key_is_reused_while_it_exists_and_replaced_when_gone(wp_site):
    wp_site.php(WC_KEYS_PRELUDE + "$wpdb->query( \"DELETE FROM {$wpdb->prefix}woocommerce_api_keys\" );")
    _, first, _ = _issue_key(wp_site)
    ck, cs = first.split()
    assert _issue_key(wp_site, ck=ck, cs=cs)[1] == first
    assert len(_key_rows(wp_site)) == 1
    # The shop owner revoked it (or made it read-only): a fresh key, and the stale row goes.
    wp_site.php(WC_KEYS_PRELUDE + "$wpdb->query( \"UPDATE {$wpdb->prefix}woocommerce_api_keys SET permissions = 'read'\" );")
    _, second, _ = _issue_key(wp_site, ck=ck, cs=cs)
    assert second != first
    rows = _key_rows(wp_site)
    assert len(rows) == 1 and rows[0]["consumer_secret"] == second.split()[1]
    # A secret that doesn't match the key is not accepted as "still there" either.
    assert _issue_key(wp_site, ck=second.split()[0], cs="cs_" + "0" * 40)[1] != second


def test_wc_key_refuses_an_unknown_admin(wp_site):
    code, _, err = _issue_key(wp_site, admin="nobody-here")
    assert code != 0
    assert "WP_ADMIN_USER" in err
