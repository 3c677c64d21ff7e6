"""One typed configuration object, built from ORDERCHATZ_* environment variables.

Nothing here is read at import time; `Config.from_env()` is called by the app factory,
the worker and the CLI. Validation collects every problem and reports them together.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class ConfigError(RuntimeError):
    """Raised at start when required settings are missing or invalid."""


PREFIX = "ORDERCHATZ_"
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Config:
    shared_secret: str
    wp_origins: tuple[str, ...]
    line_channel_secret: str = ""
    line_channel_access_token: str = ""
    line_api_base: str = ""  # tests and sandbox only: the LINE emulator's base URL
    wc_url: str = ""
    wc_consumer_key: str = ""
    wc_consumer_secret: str = ""
    # WordPress's own site URL when the sidecar reaches the shop by another address (docker-compose:
    # http://wordpress vs http://localhost:8080); OAuth 1.0a signatures are checked against it.
    wc_site_url: str = ""
    database_url: str = ""
    redis_url: str = "redis://localhost:6379/0"
    # Prefix of every Redis key, queue and stream: several installs can share one Redis.
    redis_namespace: str = "orderchatz"
    media_dir: str = ""
    instance_dir: str = ""
    sandbox: bool = False
    # An https image for product cards whose product has none (LINE needs absolute https URLs).
    placeholder_image_url: str = ""
    # Limits and timings that tests and benchmarks may tune.
    max_webhook_bytes: int = 1_000_000
    reply_token_max_age: float = 50.0
    line_timeout: float = 5.0
    wc_timeout: float = 5.0
    customer_cache_ttl: int = 60
    token_leeway: int = 30

    @property
    def wp_issuer(self) -> str:
        return self.wp_origins[0] if self.wp_origins else ""


    @classmethod
    def from_env(cls, environ: dict | None = None, *, sandbox: bool = False) -> "Config":
        env = dict(os.environ if environ is None else environ)

        def get(name: str, default: str = "") -> str:
            return env.get(PREFIX + name, default).strip()

        sandbox = sandbox or get("SANDBOX") == "1"

        instance = Path(get("INSTANCE_DIR") or Path.cwd() / "instance")
        missing: list[str] = []
        problems: list[str] = []

        secret = get("SHARED_SECRET")
        if not secret:
            missing.append(PREFIX + "SHARED_SECRET")
        elif len(secret.encode()) < MIN_SECRET_BYTES:
            problems.append(f"{PREFIX}SHARED_SECRET must be at least {MIN_SECRET_BYTES} bytes")

        origins = tuple(o.rstrip("/") for o in get("WP_ORIGIN").split() if o)
        if not origins:
            missing.append(PREFIX + "WP_ORIGIN")

        line_secret = get("LINE_CHANNEL_SECRET")
        line_token = get("LINE_CHANNEL_ACCESS_TOKEN")
        line_base = get("LINE_API_BASE")
        if not sandbox:
            for name, value in (("LINE_CHANNEL_SECRET", line_secret),
                                ("LINE_CHANNEL_ACCESS_TOKEN", line_token)):
                if not value:
                    missing.append(PREFIX + name)
        for name in ("WC_URL", "WC_CONSUMER_KEY", "WC_CONSUMER_SECRET"):
            if not get(name) and not sandbox:
                missing.append(PREFIX + name)

        if missing or problems:
            parts = []
            if missing:
                parts.append("missing required settings: " + ", ".join(missing))
            parts.extend(problems)
            raise ConfigError("; ".join(parts))

        return cls(
            shared_secret=secret,
            wp_origins=origins,
            line_channel_secret=line_secret,
            line_channel_access_token=line_token,
            line_api_base=line_base.rstrip("/"),
            wc_url=get("WC_URL").rstrip("/"),
            wc_consumer_key=get("WC_CONSUMER_KEY"),
            wc_consumer_secret=get("WC_CONSUMER_SECRET"),
            wc_site_url=get("WC_SITE_URL").rstrip("/"),
            database_url=get("DATABASE_URL") or f"sqlite:///{instance / 'orderchatz.sqlite3'}",
            redis_url=get("REDIS_URL") or "redis://localhost:6379/0",
            redis_namespace=get("REDIS_NAMESPACE") or "orderchatz",
            media_dir=get("MEDIA_DIR") or str(instance / "media"),
            instance_dir=str(instance),
            sandbox=sandbox,
            placeholder_image_url=get("PLACEHOLDER_IMAGE_URL"),
        )

    def redacted(self) -> dict:
        """For logs: never the secrets themselves, nor passwords inside URLs."""
        from sqlalchemy.engine import make_url

        hidden = {"shared_secret", "line_channel_secret", "line_channel_access_token",
                  "wc_consumer_secret", "wc_consumer_key"}
        out = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if k in hidden:
                v = "***" if v else ""
            elif k in ("database_url", "redis_url") and v:
                try:
                    v = make_url(v).render_as_string(hide_password=True)
                except Exception:  # noqa: BLE001 - an unparsable URL is shown as nothing
                    v = "(unparsable)"
            out[k] = v
        return out
