"""Panel JSON API for the shop side: customer search, binding, customer panel, orders and notes,
products, tags and staff notes."""
from __future__ import annotations

import unicodedata

from flask import Blueprint, g, jsonify, request

from ..domain import binding, catalog, order_notes, staff_notes, tags
from ..domain.customer_panel import customer_panel
from ..domain.customers import candidate_to_dict, search_candidates
from .api import json_body
from .auth import require_panel_user, services

bp = Blueprint("woo_api", __name__, url_prefix="/api/v1")


def _actor() -> str:
    return f"{g.user.name or 'wp-user'} (#{g.user.user_id})"


@bp.get("/customers/search")
@require_panel_user
def customers_search():
    # Full-width digits and punctuation (０９１２－３４５－６７８, ＃12345) as typed on phones.
    q = unicodedata.normalize("NFKC", request.args.get("q", "")).strip()
    if not q:
        return jsonify({"query": q, "candidates": []})
    found = search_candidates(services().woo, q)
    # Registered accounts first: a guest who reused someone's phone must not be the first pick.
    found = sorted(found, key=lambda c: c.kind != "registered")
    return jsonify({"query": q, "candidates": [candidate_to_dict(c) for c in found]})


@bp.get("/conversations/<line_user_id>/binding")
@require_panel_user
def get_binding(line_user_id: str):
    svc = services()
    return jsonify({"binding": binding.get_binding(svc, line_user_id),
                    "history": binding.binding_history(svc, line_user_id)})


@bp.put("/conversations/<line_user_id>/binding")
@require_panel_user
def put_binding(line_user_id: str):
    return jsonify({"binding": binding.bind_friend(services(), line_user_id, json_body(),
                                                   actor=_actor())})


@bp.delete("/conversations/<line_user_id>/binding")
@require_panel_user
def delete_binding(line_user_id: str):
    binding.unbind_friend(services(), line_user_id, actor=_actor())
    return "", 204


@bp.post("/conversations/<line_user_id>/binding/link")
@require_panel_user
def send_link(line_user_id: str):
    svc = services()
    result = binding.send_link_button(svc, line_user_id, actor=_actor(),
                                      link_page_base=g.user.home_url)
    return jsonify(result), 202


@bp.get("/bindings/lookup")
@require_panel_user
def lookup_binding():
    """For the plugin's order meta box: is this order's customer bound to a LINE friend?"""
    svc = services()
    customer_id = request.args.get("customer_id", type=int)
    with svc.store.session() as s:
        friends = binding.friends_for_customer(s, customer_id=customer_id or None,
                                               email=request.args.get("email") or None,
                                               phone=request.args.get("phone") or None)
        found = [{"line_user_id": f.line_user_id, "display_name": f.display_name} for f in friends]
    return jsonify({"bound": bool(found), "friends": found})


@bp.get("/conversations/<line_user_id>/customer")
@require_panel_user
def customer(line_user_id: str):
    return jsonify(customer_panel(services(), line_user_id, admin_url=g.user.admin_url,
                                  hpos=g.user.hpos, refresh=request.args.get("refresh") == "1"))


@bp.get("/orders/<ref>")
@require_panel_user
def get_order(ref: str):
    ref = unicodedata.normalize("NFKC", ref)
    return jsonify(order_notes.get_order(services(), ref, admin_url=g.user.admin_url,
                                         hpos=g.user.hpos))


@bp.post("/orders/<ref>/notes")
@require_panel_user
def add_note(ref: str):
    return jsonify(order_notes.add_order_note(services(), ref, json_body(),
                                              staff_name=g.user.name)), 201


@bp.get("/products/search")
@require_panel_user
def products_search():
    return jsonify({"products": catalog.search_products(services(), request.args.get("q", ""))})


@bp.get("/tags")
@require_panel_user
def list_tags():
    return jsonify({"tags": tags.list_tags(services())})


@bp.patch("/tags/<name>")
@require_panel_user
def rename_tag(name: str):
    return jsonify(tags.rename_tag(services(), name, json_body().get("name", "")))


@bp.put("/conversations/<line_user_id>/tags/<name>")
@require_panel_user
def add_tag(line_user_id: str, name: str):
    return jsonify({"tags": tags.add_tag(services(), line_user_id, name)})


@bp.delete("/conversations/<line_user_id>/tags/<name>")
@require_panel_user
def remove_tag(line_user_id: str, name: str):
    return jsonify({"tags": tags.remove_tag(services(), line_user_id, name)})


@bp.get("/conversations/<line_user_id>/notes")
@require_panel_user
def list_notes(line_user_id: str):
    return jsonify(staff_notes.list_notes(services(), line_user_id))


@bp.post("/conversations/<line_user_id>/notes")
@require_panel_user
def create_note(line_user_id: str):
    note = staff_notes.create_note(services(), line_user_id, json_body(),
                                   author_id=g.user.user_id, author_name=g.user.name)
    return jsonify({"note": note}), 201


@bp.patch("/conversations/<line_user_id>/notes/<int:note_id>")
@require_panel_user
def update_note(line_user_id: str, note_id: int):
    return jsonify({"note": staff_notes.update_note(services(), line_user_id, note_id, json_body())})


@bp.delete("/conversations/<line_user_id>/notes/<int:note_id>")
@require_panel_user
def delete_note(line_user_id: str, note_id: int):
    staff_notes.delete_note(services(), line_user_id, note_id)
    return "", 204


@bp.get("/note-categories")
@require_panel_user
def get_categories():
    return jsonify({"categories": staff_notes.list_categories(services())})


@bp.put("/note-categories")
@require_panel_user
def put_categories():
    return jsonify({"categories": staff_notes.set_categories(services(), json_body().get("categories"))})
