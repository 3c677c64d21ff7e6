"""Bearer authentication of panel requests (the plugin's short-lived JWT, DESIGN.md §4)."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from ..auth import AuthError, verify_panel_token
from .errors import ApiError

REQUIRED_CAP = "manage_woocommerce"


def services():
    return current_app.extensions["orderchatz"]


def authenticate(token: str):
    cfg = services().config
    try:
        user = verify_panel_token(token, cfg.shared_secret, issuers=cfg.wp_origins,
                                  leeway=cfg.token_leeway)
    except AuthError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    if REQUIRED_CAP not in user.caps:
        raise ApiError(403, "forbidden", "this WordPress user may not use OrderChatz")
    return user


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def require_panel_user(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        token = bearer_token()
        if not token:
            raise ApiError(401, "missing_token", "Authorization: Bearer <panel token> is required")
        g.user = authenticate(token)
        return view(*args, **kwargs)
    return wrapper
