"""GET /panel: the workbench page the plugin frames. Token arrives in the URL fragment."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Blueprint, render_template

from .auth import services

bp = Blueprint("panel", __name__, template_folder="../panel/templates",
               static_folder="../panel/static", static_url_path="/panel/static")


def content_security_policy(origins: tuple[str, ...], shop_url: str = "") -> str:
    ancestors = " ".join(origins) or "'none'"
    # Product images come from the shop; a shop on plain http (a LAN, the demo) needs its origin.
    parts = urlsplit(shop_url)
    shop = f" {parts.scheme}://{parts.netloc}" if parts.scheme == "http" and parts.netloc else ""
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data: blob: https:{shop}; media-src 'self' blob:; connect-src 'self'; "
            "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {ancestors}")


@bp.get("/panel")
def panel():
    cfg = services().config
    page = render_template(
        "panel.html", parent_origins=json.dumps(list(cfg.wp_origins)), sandbox=cfg.sandbox)
    return page, 200, {"Content-Security-Policy": content_security_policy(cfg.wp_origins, cfg.wc_url),
                       "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
