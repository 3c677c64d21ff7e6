"""Shared-secret tokens (DESIGN.md §4): the panel JWT and the plugin → sidecar event signature.

Pure functions, no Flask: the HTTP layer, the CLI, the tests and the benchmarks all use them.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt

PANEL_AUDIENCE = "orderchatz-panel"
PANEL_MAX_LIFETIME = 300
SIGNATURE_TOLERANCE = 300


class AuthError(Exception):
    """A token or signature was refused; `code` is the API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PanelUser:
    user_id: str
    name: str
    caps: tuple[str, ...]
    locale: str
    issuer: str
    expires_at: int
    hpos: bool = True
    admin_url: str = ""
    home_url: str = ""


def mint_panel_token(secret: str, *, issuer: str, user_id: str, name: str = "",
                     caps: tuple[str, ...] | list[str] = ("manage_woocommerce",),
                     locale: str = "zh_TW", lifetime: int = PANEL_MAX_LIFETIME,
                     hpos: bool = True, now: float | None = None) -> str:
    iat = int(now if now is not None else time.time())
    claims = {
        "iss": issuer, "aud": PANEL_AUDIENCE, "sub": str(user_id), "name": name,
        "caps": list(caps), "locale": locale, "hpos": hpos,
        "iat": iat, "exp": iat + min(lifetime, PANEL_MAX_LIFETIME),
        "jti": secrets.token_hex(16),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_panel_token(token: str, secret: str, *, issuers: tuple[str, ...] | list[str],
                       leeway: int = 30, now: float | None = None) -> PanelUser:
    options = {"require": ["iss", "aud", "sub", "iat", "exp"]}
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "HS256":
            raise AuthError("invalid_token", "token must be HS256")
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience=PANEL_AUDIENCE,
            leeway=leeway, options={**options, "verify_iss": False},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token_expired", "the panel token has expired") from None
    except jwt.InvalidAudienceError:
        raise AuthError("invalid_token", "wrong token audience") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError("invalid_token", f"invalid panel token: {exc}") from None
    if not str(claims.get("sub", "")).strip():
        raise AuthError("invalid_token", "token has no user")
    issuer = str(claims.get("iss", "")).rstrip("/")
    if issuer not in {i.rstrip("/") for i in issuers}:
        raise AuthError("invalid_token", "wrong token issuer")
    current = now if now is not None else time.time()
    if claims["exp"] - claims["iat"] > PANEL_MAX_LIFETIME + leeway:
        raise AuthError("invalid_token", "token lifetime exceeds 300 s")
    if claims["iat"] > current + leeway:
        raise AuthError("invalid_token", "token issued in the future")
    return PanelUser(
        user_id=str(claims["sub"]), name=str(claims.get("name", "")),
        caps=tuple(claims.get("caps") or ()), locale=str(claims.get("locale") or "zh_TW"),
        issuer=issuer, expires_at=int(claims["exp"]), hpos=bool(claims.get("hpos", True)),
        admin_url=_on_site(claims.get("admin_url"), issuer, "/wp-admin/"),
        home_url=_on_site(claims.get("home_url"), issuer, "/"),
    )


def _on_site(claimed, issuer: str, default_path: str) -> str:
    """A URL claimed by the plugin (admin_url(), home_url('/')); only ever on the issuing site,
    which may live in a subdirectory."""
    claimed = str(claimed or "")
    if claimed.startswith(issuer + "/"):
        return claimed
    return issuer + default_path


def sign_wp_event(body: bytes, secret: str, *, now: float | None = None) -> str:
    """The `X-OrderChatz-Signature` header value for a raw body."""
    t = int(now if now is not None else time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_wp_event(header: str | None, body: bytes, secret: str, *,
                    tolerance: int = SIGNATURE_TOLERANCE, now: float | None = None) -> None:
    if not header:
        raise AuthError("missing_signature", "X-OrderChatz-Signature header is required")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        raise AuthError("invalid_signature", "signature header has no valid timestamp") from None
    current = now if now is not None else time.time()
    if abs(current - t) > tolerance:
        raise AuthError("stale_signature", "signature timestamp is outside ±5 minutes")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, v) for v in parts.get("v1", [])):
        raise AuthError("invalid_signature", "signature does not match the body")


def line_signature(body: bytes, channel_secret: str) -> str:
    """Base64 HMAC-SHA256 of the raw body, as LINE computes `X-Line-Signature`."""
    import base64
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_line_signature(body: bytes, header: str | None, channel_secret: str) -> bool:
    if not header or not channel_secret:
        return False
    return hmac.compare_digest(line_signature(body, channel_secret), header.strip())
