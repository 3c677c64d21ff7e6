"""GET /panel: the workbench page the plugin frames. Token arrives in the URL fragment."""
from __future__ import annotations

import json

from flask import Blueprint, render_template

from .auth import services

bp = Blueprint("panel", __name__, template_folder="../panel/templates",
               static_folder="../panel/static", static_url_path="/panel/static")


def content_security_policy(origins: tuple[str, ...]) -> str:
    ancestors = " ".join(origins) or "'none'"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            "img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self'; "
            f"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")


@bp.get("/panel")
def panel():
    cfg = services().config
    page = render_template(
        "panel.html", parent_origins=json.dumps(list(cfg.wp_origins)), sandbox=cfg.sandbox)
    return page, 200, {"Content-Security-Policy": content_security_policy(cfg.wp_origins),
                                    "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
