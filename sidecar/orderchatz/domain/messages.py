"""How stored messages look to the panel: previews and the API's JSON shape."""
from __future__ import annotations

import json

from sqlalchemy import select, update

from ..store.models import Friend, Message

PREVIEW_CHARS = 60

_PREVIEW_LABELS = {
    "image": "[圖片]", "video": "[影片]", "audio": "[語音]", "file": "[檔案]",
    "location": "[位置]", "sticker": "[貼圖]", "product": "[商品]", "flex": "[卡片]",
    "unsupported": "[不支援的訊息]", "follow": "[加入好友]", "unfollow": "[封鎖]",
    "order_note": "[訂單備註]", "order_status": "[訂單狀態]", "account_link": "[帳號綁定]",
    "postback": "[按鈕]", "template": "[按鈕訊息]",
}


def utf16_len(text: str) -> int:
    """LINE counts text limits in UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


LINE_TEXT_LIMIT = 5000


def fit_line_text(text: str, limit: int = LINE_TEXT_LIMIT) -> str:
    """Shorten text to LINE's limit (UTF-16 units), marking the cut with an ellipsis."""
    if utf16_len(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit - 1:
            break
        out.append(ch)
        used += size
    return "".join(out) + "…"


def message_preview(row: Message) -> str:
    return preview_of(row.type, row.text, unsent=row.unsent_at is not None)


def preview_of(kind: str, text: str | None, *, unsent: bool = False) -> str:
    if unsent:
        return "[已收回]"
    if kind == "text" and text:
        return " ".join(text.split())[:PREVIEW_CHARS]
    if kind in ("order_note", "order_status") and text:
        return text[:PREVIEW_CHARS]
    return _PREVIEW_LABELS.get(kind, f"[{kind}]")


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def message_json(row: Message, *, media_url: str | None = None) -> dict:
    payload = json.loads(row.payload) if row.payload else {}
    unsent = row.unsent_at is not None
    out = {
        "id": row.id,
        "client_id": row.client_id,
        "direction": row.direction,
        "type": row.type,
        "text": None if unsent else row.text,
        "payload": {} if unsent else _public_payload(row, payload),
        "status": row.status,
        "sent_via": row.sent_via,
        "failure": ({"code": row.failure_code, "reason": row.failure_reason}
                    if row.failure_code else None),
        "quote_token": row.quote_token,
        "quoted_message_id": row.quoted_message_id,
        "line_message_id": row.line_message_id,
        "unsent": unsent,
        "author": ({"id": row.author_user_id, "name": row.author_name}
                   if row.author_user_id else None),
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at),
    }
    if row.media_status:
        out["media"] = {"status": row.media_status, "content_type": row.media_content_type,
                        "url": media_url if row.media_status == "ready" else None}
    return out


def _public_payload(row: Message, payload: dict) -> dict:
    """Only what the panel needs: never reply tokens or LINE-internal fields."""
    if row.direction == "in":
        keep = ("type", "packageId", "stickerId", "stickerResourceType", "keywords", "title",
                "address", "latitude", "longitude", "fileName", "fileSize", "duration",
                "emojis", "mention", "contentProvider")
        return {k: payload[k] for k in keep if k in payload}
    return payload


def friend_json(friend: Friend, *, binding: dict | None = None, tags: list[str] | None = None) -> dict:
    return {
        "line_user_id": friend.line_user_id,
        "display_name": friend.display_name or "",
        "picture_url": friend.picture_url,
        "status_message": friend.status_message,
        "language": friend.language,
        "blocked": bool(friend.blocked),
        "unread_count": friend.unread_count or 0,
        "last_message": {"preview": friend.last_message_preview or "",
                         "direction": friend.last_message_direction,
                         "at": iso(friend.last_activity_at)},
        "last_activity_at": iso(friend.last_activity_at),
        "bound": binding is not None,
        "binding": binding,
        "tags": tags or [],
        "created_at": iso(friend.created_at),
    }


def update_message(svc, message_id: int, **values) -> None:
    """Change a stored message and tell connected panels."""
    with svc.store.session() as s:
        s.execute(update(Message).where(Message.id == message_id).values(**values))
        line_user_id = s.scalar(select(Friend.line_user_id)
                                .join(Message, Message.friend_id == Friend.id)
                                .where(Message.id == message_id))
    svc.live.publish({"type": "message.updated", "line_user_id": line_user_id,
                      "message_id": message_id})
