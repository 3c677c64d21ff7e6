"""Reading the inbox: friend list with cursor paging, message history, read state."""
from __future__ import annotations

import base64
from datetime import datetime

from sqlalchemy import func, literal, or_, select, tuple_, update

from ..store.models import Binding, Friend, FriendTag, Message, Tag
from .errors import DomainError
from .messages import friend_json, message_json

MAX_PAGE = 100


def not_found(what: str) -> DomainError:
    return DomainError("not_found", f"no such conversation or message: {what}", 404)


def _encode_cursor(at: datetime, friend_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{friend_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, fid = raw.partition("|")
        return datetime.fromisoformat(at), int(fid)
    except (ValueError, UnicodeDecodeError):
        raise DomainError("invalid_parameter", "invalid cursor") from None


def binding_summary(b: Binding | None) -> dict | None:
    if b is None:
        return None
    return {"customer_id": b.customer_id, "email": b.email, "phone": b.phone,
            "display_name": b.display_name, "kind": "registered" if b.customer_id else "guest",
            "method": b.method, "bound_by": b.bound_by,
            "bound_at": b.bound_at.isoformat().replace("+00:00", "Z")}


def _decorate(s, friends: list[Friend]) -> list[dict]:
    ids = [f.id for f in friends]
    if not ids:
        return []
    bindings = {b.friend_id: b for b in s.scalars(select(Binding).where(Binding.friend_id.in_(ids)))}
    tags: dict[int, list[str]] = {}
    for fid, name in s.execute(select(FriendTag.friend_id, Tag.name)
                               .join(Tag, Tag.id == FriendTag.tag_id)
                               .where(FriendTag.friend_id.in_(ids)).order_by(Tag.name)):
        tags.setdefault(fid, []).append(name)
    return [friend_json(f, binding=binding_summary(bindings.get(f.id)), tags=tags.get(f.id, []))
            for f in friends]


def list_conversations(svc, *, q: str = "", filter: str = "", tag: str = "", cursor: str = "",
                       limit: int = 50) -> dict:
    limit = max(1, min(int(limit), MAX_PAGE))
    stmt = select(Friend)
    if filter == "unread":
        # A literal, not a bound parameter: PostgreSQL's generic plans (after psycopg prepares the
        # statement) cannot match a partial index whose predicate has a parameter in it.
        stmt = stmt.where(Friend.unread_count > literal(0, literal_execute=True))
    elif filter == "unbound":
        stmt = stmt.where(~select(Binding.id).where(Binding.friend_id == Friend.id).exists())
    elif filter == "bound":
        stmt = stmt.where(select(Binding.id).where(Binding.friend_id == Friend.id).exists())
    elif filter == "blocked":
        stmt = stmt.where(Friend.blocked.is_(True))
    elif filter:
        raise DomainError("invalid_parameter", "filter must be unread, unbound, bound or blocked")
    if tag:
        stmt = stmt.where(select(FriendTag.friend_id).join(Tag, Tag.id == FriendTag.tag_id)
                          .where(FriendTag.friend_id == Friend.id, Tag.name == tag).exists())
    q = (q or "").strip()
    if q:
        term = q.lower()  # matched as a substring, %, _ and the escape character escaped
        digits = "".join(ch for ch in q if ch.isdigit())
        conditions = [func.lower(Friend.display_name).contains(term, autoescape=True),
                      func.lower(Friend.bound_label).contains(term, autoescape=True),
                      select(FriendTag.friend_id).join(Tag, Tag.id == FriendTag.tag_id)
                      .where(FriendTag.friend_id == Friend.id,
                             func.lower(Tag.name).contains(term, autoescape=True)).exists()]
        if len(digits) >= 3:
            national = "0" + digits[3:] if digits.startswith("886") else digits
            conditions.append(Friend.bound_label.like(f"%{national}%"))
        stmt = stmt.where(or_(*conditions))
    if cursor:
        at, fid = _decode_cursor(cursor)
        # A row-value comparison seeks straight to the page on both SQLite and PostgreSQL.
        stmt = stmt.where(tuple_(Friend.last_activity_at, Friend.id) < tuple_(at, fid))
    stmt = stmt.order_by(Friend.last_activity_at.desc(), Friend.id.desc()).limit(limit + 1)
    with svc.store.session() as s:
        rows = list(s.scalars(stmt))
        more = len(rows) > limit
        rows = rows[:limit]
        items = _decorate(s, rows)
    next_cursor = _encode_cursor(rows[-1].last_activity_at, rows[-1].id) if more and rows else None
    return {"conversations": items, "next_cursor": next_cursor}


def get_conversation(svc, line_user_id: str) -> dict:
    with svc.store.session() as s:
        friend = s.scalar(select(Friend).where(Friend.line_user_id == line_user_id))
        if friend is None:
            raise not_found(line_user_id)
        return _decorate(s, [friend])[0]


def friend_or_404(s, line_user_id: str) -> Friend:
    friend = s.scalar(select(Friend).where(Friend.line_user_id == line_user_id))
    if friend is None:
        raise DomainError("not_found", "no such LINE friend", 404)
    return friend


def friend_id_for(s, line_user_id: str) -> int:
    fid = s.scalar(select(Friend.id).where(Friend.line_user_id == line_user_id))
    if fid is None:
        raise not_found(line_user_id)
    return fid


def media_url(row: Message) -> str:
    return f"api/v1/media/{row.id}"


def list_messages(svc, line_user_id: str, *, before: int | None = None, after: int | None = None,
                  limit: int = 50) -> dict:
    """History, newest last. `before` pages back; `after` catches up after a reconnect."""
    limit = max(1, min(int(limit), MAX_PAGE))
    with svc.store.session() as s:
        fid = friend_id_for(s, line_user_id)
        stmt = select(Message).where(Message.friend_id == fid)
        if after is not None:
            stmt = stmt.where(Message.id > after).order_by(Message.id.asc()).limit(limit + 1)
            rows = list(s.scalars(stmt))
            more = len(rows) > limit
            rows = rows[:limit]
        else:
            if before is not None:
                stmt = stmt.where(Message.id < before)
            rows = list(s.scalars(stmt.order_by(Message.id.desc()).limit(limit + 1)))
            more = len(rows) > limit
            rows = list(reversed(rows[:limit]))
    return {"messages": [message_json(r, media_url=media_url(r)) for r in rows],
            "has_more": more}


def mark_read(svc, line_user_id: str) -> None:
    with svc.store.session() as s:
        changed = s.execute(update(Friend).where(Friend.line_user_id == line_user_id)
                            .values(unread_count=0)).rowcount
    if not changed:
        raise not_found(line_user_id)
    svc.live.publish({"type": "friend.updated", "line_user_id": line_user_id, "unread_count": 0})


def unread_totals(svc) -> dict:
    with svc.store.session() as s:
        conversations, messages = s.execute(
            select(func.count(Friend.id), func.coalesce(func.sum(Friend.unread_count), 0))
            .where(Friend.unread_count > literal(0, literal_execute=True))).one()
    return {"unread_conversations": int(conversations), "unread_messages": int(messages)}
