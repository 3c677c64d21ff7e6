"""Friend profile refresh (display name, picture, status message, language)."""
from __future__ import annotations

from sqlalchemy import select

from ..gateways.line import LineNotFound
from ..store.models import Friend, utcnow


def refresh_friend_profile(svc, line_user_id: str) -> str:
    try:
        profile = svc.line.get_profile(line_user_id)
    except LineNotFound:
        # Blocked or never a friend: LINE has no profile for us. Not an error worth retrying.
        with svc.store.session() as s:
            friend = s.scalar(select(Friend).where(Friend.line_user_id == line_user_id))
            if friend is not None:
                friend.profile_refreshed_at = utcnow()
        return "not_found"
    with svc.store.session() as s:
        friend = s.scalar(select(Friend).where(Friend.line_user_id == line_user_id))
        if friend is None:
            return "missing"
        friend.display_name = (profile.display_name or "")[:255]
        friend.picture_url = (profile.picture_url or None)
        friend.status_message = (profile.status_message or None)
        friend.language = profile.language
        friend.profile_refreshed_at = utcnow()
    svc.live.publish({"type": "friend.updated", "line_user_id": line_user_id})
    return "updated"
