"""Tags on friends: created on first use, renamed, listed with counts."""
from __future__ import annotations

import unicodedata

from sqlalchemy import func, select

from ..store.models import FriendTag, Tag
from .conversations import friend_or_404
from .errors import DomainError

MAX_TAG = 64


def clean_tag(name) -> str:
    """Tags live in URL paths (…/tags/<name>): no slashes, no invisible or control characters."""
    if not isinstance(name, str):
        raise DomainError("invalid_tag", "a tag must be a string")
    name = " ".join(unicodedata.normalize("NFC", name).split())
    if not name or len(name) > MAX_TAG or name in (".", "..") or any(
            ch in "/\\" or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in name):
        raise DomainError("invalid_tag", f"a tag is 1–{MAX_TAG} visible characters, without / or \\")
    return name


def _friend_tags(s, friend_id: int) -> list[str]:
    return list(s.scalars(select(Tag.name).join(FriendTag, FriendTag.tag_id == Tag.id)
                          .where(FriendTag.friend_id == friend_id).order_by(Tag.name)))


def add_tag(svc, line_user_id: str, name: str) -> list[str]:
    name = clean_tag(name)
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        tag = s.scalar(select(Tag).where(Tag.name == name))
        if tag is None:
            tag = Tag(name=name)
            s.add(tag)
            s.flush()
        if s.get(FriendTag, (friend.id, tag.id)) is None:
            s.add(FriendTag(friend_id=friend.id, tag_id=tag.id))
        s.flush()
        tags = _friend_tags(s, friend.id)
    svc.live.publish({"type": "friend.updated", "line_user_id": line_user_id})
    return tags


def remove_tag(svc, line_user_id: str, name: str) -> list[str]:
    name = clean_tag(name)
    with svc.store.session() as s:
        friend = friend_or_404(s, line_user_id)
        tag = s.scalar(select(Tag).where(Tag.name == name))
        if tag is not None:
            link = s.get(FriendTag, (friend.id, tag.id))
            if link is not None:
                s.delete(link)
                s.flush()
        tags = _friend_tags(s, friend.id)
    svc.live.publish({"type": "friend.updated", "line_user_id": line_user_id})
    return tags


def list_tags(svc) -> list[dict]:
    with svc.store.session() as s:
        rows = s.execute(select(Tag.name, func.count(FriendTag.friend_id))
                         .join(FriendTag, FriendTag.tag_id == Tag.id, isouter=True)
                         .group_by(Tag.id, Tag.name).order_by(Tag.name)).all()
    return [{"name": name, "count": count} for name, count in rows]


def rename_tag(svc, old: str, new: str) -> dict:
    old, new = clean_tag(old), clean_tag(new)
    with svc.store.session() as s:
        tag = s.scalar(select(Tag).where(Tag.name == old))
        if tag is None:
            raise DomainError("not_found", f"no tag {old!r}", 404)
        target = s.scalar(select(Tag).where(Tag.name == new))
        if target is not None and target.id != tag.id:
            # Renaming onto an existing tag merges them.
            for link in list(s.scalars(select(FriendTag).where(FriendTag.tag_id == tag.id))):
                if s.get(FriendTag, (link.friend_id, target.id)) is None:
                    s.add(FriendTag(friend_id=link.friend_id, tag_id=target.id))
                s.delete(link)
            s.flush()
            s.delete(tag)
        else:
            tag.name = new
    return {"name": new}
