"""Staff notes on a customer (friend): category, optional related order/product/message."""
from __future__ import annotations

from sqlalchemy import select

from ..store.models import DEFAULT_NOTE_CATEGORIES, NoteCategory, StaffNote, utcnow
from .conversations import friend_or_404
from .errors import DomainError, positive_id
from .messages import iso

MAX_BODY = 5000


def categories(s) -> list[str]:
    names = list(s.scalars(select(NoteCategory.name).order_by(NoteCategory.position, NoteCategory.id)))
    return names or list(DEFAULT_NOTE_CATEGORIES)


def list_categories(svc) -> list[str]:
    with svc.store.session() as s:
        return categories(s)


def set_categories(svc, names) -> list[str]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DomainError("invalid_categories", "categories must be a non-empty list of names")
    cleaned = []
    for n in names:
        n = " ".join(n.split())
        if not n or len(n) > 32:
            raise DomainError("invalid_categories", "a category is 1–32 characters")
        if n not in cleaned:
            cleaned.append(n)
    with svc.store.session() as s:
        for row in s.scalars(select(NoteCategory)):
            s.delete(row)
        s.flush()
        for i, n in enumerate(cleaned):
            s.add(NoteCategory(name=n, position=i))
    return cleaned


def note_json(n: StaffNote) -> dict:
    return {"id": n.id, "category": n.category, "body": n.body,
            "related_order_id": n.related_order_id, "related_product_id": n.related_product_id,
            "related_message_id": n.related_message_id,
            "author": {"id": n.author_user_id, "name": n.author_name},
            "created_at": iso(n.created_at), "updated_at": iso(n.updated_at)}


def _optional_int(body: dict, key: str):
    value = body.get(key)
    if value in (None, ""):
        return None
    return positive_id(value, "invalid_note", key, strip="#")


def _apply(s, note: StaffNote, body: dict, *, partial: bool) -> None:
    if "body" in body or not partial:
        text = body.get("body")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_BODY:
            raise DomainError("invalid_note", f"body must be 1–{MAX_BODY} characters")
        note.body = text.strip()
    if "category" in body or not partial:
        category = body.get("category") or categories(s)[0]
        if category not in categories(s):
            raise DomainError("invalid_category", f"unknown category {category!r}")
        note.category = category
    for key in ("related_order_id", "related_product_id", "related_message_id"):
        if key in body or not partial:
            setattr(note, key, _optional_int(body, key))


def list_notes(svc, line_user_id: str) -> dict:
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        rows = s.scalars(select(StaffNote).where(StaffNote.friend_id == friend.id)
                         .order_by(StaffNote.id.desc()))
        return {"notes": [note_json(n) for n in rows], "categories": categories(s)}


def create_note(svc, line_user_id: str, body: dict, *, author_id: str, author_name: str) -> dict:
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        note = StaffNote(friend_id=friend.id, author_user_id=author_id, author_name=author_name)
        _apply(s, note, body, partial=False)
        s.add(note)
        s.flush()
        return note_json(note)


def _own_note(s, line_user_id: str, note_id: int) -> StaffNote:
    friend = friend_or_404(s, line_user_id)
    note = s.get(StaffNote, note_id)
    if note is None or note.friend_id != friend.id:
        raise DomainError("not_found", "no such note", 404)
    return note


def update_note(svc, line_user_id: str, note_id: int, body: dict) -> dict:
    with svc.store.session() as s:
        note = _own_note(s, line_user_id, note_id)
        _apply(s, note, body, partial=True)
        note.updated_at = utcnow()
        return note_json(note)


def delete_note(svc, line_user_id: str, note_id: int) -> None:
    with svc.store.session() as s:
        s.delete(_own_note(s, line_user_id, note_id))
