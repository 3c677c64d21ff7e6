"""Inbound LINE webhook events: record durably, once, then follow up.

`handle_line_webhook` runs one DB transaction for a whole delivery: every event is recorded by
`webhookEventId` (unique, so a redelivery is a no-op), friends are upserted and messages inserted.
Only after commit are follow-up jobs enqueued and live updates published. Events are handled as raw
dicts: an unknown type, an unknown message type or a known type with missing fields is recorded
and never breaks the other events of the delivery.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import inspect, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError, StatementError
from sqlalchemy.orm import Session

from ..store.models import Friend, Message, Outbox, WebhookEvent, utcnow
from . import followups
from .messages import message_preview

log = logging.getLogger(__name__)

MEDIA_TYPES = {"image", "video", "audio", "file"}
MESSAGE_TYPES = {"text", "sticker", "location"} | MEDIA_TYPES
IGNORED_EVENT_TYPES = {"join", "leave", "memberJoined", "memberLeft", "beacon", "things",
                       "videoPlayComplete", "activated", "deactivated", "botSuspended",
                       "botResumed", "module", "membership"}
PROFILE_REFRESH_AFTER = timedelta(days=1)


class BadWebhookBody(ValueError):
    pass


@dataclass
class WebhookResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unsupported: int = 0
    invalid: int = 0
    skipped: int = 0
    live: list[dict] = field(default_factory=list)


def _is_verify_dummy(event: dict) -> bool:
    # The console's old "Verify" button sent events whose reply tokens are all 0s or all fs.
    token = str(event.get("replyToken") or "")
    return bool(token) and (set(token) == {"0"} or set(token) == {"f"})


def _event_key(event: dict) -> str:
    key = event.get("webhookEventId")
    if isinstance(key, str) and key:
        return key[:64]
    # Very old deliveries had no id; a content hash still makes exact duplicates collide.
    digest = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()
    return "sha256:" + digest[:57]


def _event_time(event: dict) -> datetime:
    try:
        return datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=timezone.utc)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return utcnow()


LINE_USER_ID = re.compile(r"^U[0-9a-f]{32}$")


def _user_id(event: dict) -> str | None:
    """The 1:1 chat's user id, only in LINE's own format (it ends up in LINE API paths)."""
    source = event.get("source")
    if isinstance(source, dict) and source.get("type") == "user":
        uid = source.get("userId")
        if isinstance(uid, str) and LINE_USER_ID.match(uid):
            return uid
    return None


def _text(value, limit: int, *, required: bool = False) -> str | None:
    """A string field of an event, or None; anything else makes the event invalid."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value[:limit]


def parse_body(body: bytes) -> list:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadWebhookBody(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise BadWebhookBody("body must be an object with an `events` array")
    return data["events"]


def handle_line_webhook(svc, body: bytes) -> WebhookResult:
    events = parse_body(body)
    for attempt in range(3):
        try:
            result, outbox = _record(svc, events)
            break
        except IntegrityError:
            # A concurrent delivery of the same event or friend won the race; the retry's
            # pre-selects now see its rows and treat them as duplicates.
            if attempt == 2:
                raise
    followups.enqueue_followups(svc, outbox)
    svc.live.publish_many(result.live)
    return result


class _Batch:
    """State shared by the events of one delivery inside its transaction."""

    def __init__(self, session: Session, result: WebhookResult):
        self.s = session
        self.result = result
        self.outbox: list[Outbox] = []
        self.friends: dict[str, Friend] = {}
        self.touched: set[str] = set()
        self.message_ids: set[str] = set()  # LINE message ids already stored

    def friend(self, user_id: str, at: datetime) -> Friend:
        friend = self.friends.get(user_id)
        if friend is None:
            friend = Friend(line_user_id=user_id, display_name="", last_activity_at=at,
                            followed_at=at, unread_count=0, blocked=False)
            self.s.add(friend)
            self.s.flush()
            self.friends[user_id] = friend
            self.followup("profile", f"{user_id}:{at:%Y%m%d}", new=True)
        elif (friend.profile_refreshed_at is None and friend.created_at < utcnow() - timedelta(minutes=10)
              or friend.profile_refreshed_at
              and friend.profile_refreshed_at < utcnow() - PROFILE_REFRESH_AFTER):
            self.followup("profile", f"{user_id}:{utcnow():%Y%m%d}")
        self.touched.add(user_id)
        return friend

    def mark(self) -> tuple:
        return len(self.outbox), len(self.result.live), set(self.touched), set(self.message_ids)

    def rollback_to(self, mark: tuple) -> None:
        """Forget what a failed event's savepoint undid (its new friends, jobs, live updates)."""
        outbox, live, touched, message_ids = mark
        del self.outbox[outbox:]
        del self.result.live[live:]
        self.touched, self.message_ids = touched, message_ids
        self.friends = {uid: f for uid, f in self.friends.items() if inspect(f).persistent}

    def followup(self, job: str, ref: str, *, new: bool = False) -> None:
        """Queue a follow-up once. `new`: its ref cannot exist yet (a row made in this batch)."""
        if any(o.job == job and o.ref == ref for o in self.outbox):
            return
        if new or self.s.scalar(select(Outbox.id).where(Outbox.job == job, Outbox.ref == ref)) is None:
            self.outbox.append(followups.add_followup(self.s, job, ref))


def _record(svc, events: list) -> tuple[WebhookResult, list[Outbox]]:
    result = WebhookResult(received=len(events))
    with svc.store.session() as s:
        batch = _Batch(s, result)
        keyed = []
        for event in events:
            if not isinstance(event, dict):
                result.invalid += 1
                continue
            if _is_verify_dummy(event):
                result.skipped += 1
                continue
            keyed.append((_event_key(event), event))
        keys = [k for k, _ in keyed]
        seen = set(s.scalars(select(WebhookEvent.webhook_event_id)
                             .where(WebhookEvent.webhook_event_id.in_(keys)))) if keys else set()
        line_ids = {m["id"] for _, e in keyed if e.get("type") == "message"
                    and isinstance(m := e.get("message"), dict) and isinstance(m.get("id"), str)}
        if line_ids:
            batch.message_ids.update(s.scalars(select(Message.line_message_id)
                                               .where(Message.line_message_id.in_(line_ids))))
        first_seen: dict[str, datetime] = {}
        for key, e in keyed:
            if key not in seen and (uid := _user_id(e)):
                at = _event_time(e)
                first_seen[uid] = min(first_seen.get(uid, at), at)
        if first_seen:
            for f in s.scalars(select(Friend).where(Friend.line_user_id.in_(first_seen))):
                batch.friends[f.line_user_id] = f
            _create_friends(batch, {u: t for u, t in first_seen.items() if u not in batch.friends})
        for key, event in keyed:
            if key in seen:
                result.duplicates += 1
                continue
            seen.add(key)
            row = WebhookEvent(webhook_event_id=key, event_type=str(event.get("type", ""))[:40],
                               line_user_id=_user_id(event), status="processed",
                               redelivery=bool((event.get("deliveryContext") or {}).get("isRedelivery"))
                               if isinstance(event.get("deliveryContext"), dict) else False,
                               raw=json.dumps(event, ensure_ascii=False))
            s.add(row)
            mark = batch.mark()
            try:
                with s.begin_nested():
                    row.status = _apply(batch, event)
            except (KeyError, TypeError, ValueError, AttributeError, StatementError) as exc:
                if isinstance(exc, DBAPIError) and not isinstance(exc, (DataError, ProgrammingError)):
                    raise  # the database itself is failing: nothing of the delivery is kept
                # One malformed event (a value the store cannot hold included) must not cost
                # the delivery's other events: it is kept raw, marked invalid.
                batch.rollback_to(mark)
                row.status = "invalid"
                log.warning("webhook event %s recorded as invalid: %s", key, exc.__class__.__name__)
            if row.status == "unsupported":
                result.unsupported += 1
            elif row.status == "invalid":
                result.invalid += 1
            else:
                result.stored += 1
        for uid in batch.touched:
            f = batch.friends[uid]
            result.live.append({"type": "friend.updated", "line_user_id": uid,
                                "unread_count": f.unread_count, "blocked": f.blocked})
    return result, batch.outbox


def _create_friends(batch: _Batch, first_seen: dict[str, datetime]) -> None:
    """New friends of a delivery in one insert that ignores friends a concurrent delivery just
    created (sorted, so concurrent deliveries lock rows in the same order and never deadlock)."""
    if not first_seen:
        return
    rows = [{"line_user_id": uid, "display_name": "", "last_activity_at": first_seen[uid],
             "followed_at": first_seen[uid], "unread_count": 0, "blocked": False,
             "last_message_preview": "", "created_at": utcnow()} for uid in sorted(first_seen)]
    dialect = batch.s.bind.dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
        stmt = insert(Friend).on_conflict_do_nothing(index_elements=["line_user_id"])
    else:
        stmt = Friend.__table__.insert().prefix_with("IGNORE")
    batch.s.execute(stmt, rows)
    for friend in batch.s.scalars(select(Friend).where(Friend.line_user_id.in_(first_seen))):
        batch.friends[friend.line_user_id] = friend
        batch.followup("profile", f"{friend.line_user_id}:{first_seen[friend.line_user_id]:%Y%m%d}")


def _apply(batch: _Batch, event: dict) -> str:
    etype = event.get("type")
    if etype in IGNORED_EVENT_TYPES:
        return "ignored"
    handler = _HANDLERS.get(etype)
    if handler is None:
        return "unsupported"
    user_id = _user_id(event)
    if user_id is None:
        source = event.get("source")
        if isinstance(source, dict) and source.get("type") in ("group", "room"):
            return "ignored"  # group and room chats are outside a 1:1 inbox
        raise ValueError("event has no valid user source")
    return handler(batch, event, user_id, _event_time(event))


def _on_message(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    msg = event["message"]
    if not isinstance(msg, dict):
        raise TypeError("message must be an object")
    mtype = _text(msg.get("type"), 24, required=True)
    line_id = _text(msg["id"], 64, required=True)
    if line_id in batch.message_ids:
        return "processed"
    batch.message_ids.add(line_id)
    friend = batch.friend(user_id, at)
    supported = mtype in MESSAGE_TYPES
    row = Message(
        friend_id=friend.id, direction="in", type=mtype if supported else "unsupported",
        text=_text(msg.get("text"), 20_000, required=True) if mtype == "text" else None,
        payload=json.dumps(msg, ensure_ascii=False), line_message_id=line_id,
        quote_token=_text(msg.get("quoteToken"), 255),
        quoted_message_id=_text(msg.get("quotedMessageId"), 64),
        reply_token=_text(event.get("replyToken"), 255), status="received", created_at=at,
    )
    provider = (msg.get("contentProvider") or {}).get("type", "line")
    if mtype in MEDIA_TYPES:
        row.media_status = "pending" if provider == "line" else "external"
    batch.s.add(row)
    batch.s.flush()
    if row.media_status == "pending":
        batch.followup("media", str(row.id), new=True)
    friend.unread_count = (friend.unread_count or 0) + 1
    _touch(friend, row, at)
    batch.result.live.append({"type": "message.created", "line_user_id": user_id,
                              "message_id": row.id})
    return "processed" if supported else "unsupported"


def _touch(friend: Friend, row: Message, at: datetime) -> None:
    if friend.last_activity_at is None or at >= friend.last_activity_at:
        friend.last_activity_at = at
        friend.last_message_preview = message_preview(row)
        friend.last_message_direction = row.direction


def _system(batch: _Batch, friend: Friend, kind: str, text: str, at: datetime,
            payload: dict | None = None, reply_token: str | None = None) -> Message:
    row = Message(friend_id=friend.id, direction="system", type=kind, text=text,
                  payload=json.dumps(payload or {}, ensure_ascii=False), status="received",
                  reply_token=reply_token, created_at=at)
    batch.s.add(row)
    batch.s.flush()
    batch.result.live.append({"type": "message.created", "line_user_id": friend.line_user_id,
                              "message_id": row.id})
    return row


def _on_follow(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    friend = batch.friend(user_id, at)
    unblocked = bool((event.get("follow") or {}).get("isUnblocked")) or friend.blocked
    friend.blocked = False
    friend.followed_at = at
    row = _system(batch, friend, "follow", "unblocked" if unblocked else "followed", at,
                  reply_token=_text(event.get("replyToken"), 255))
    _touch(friend, row, at)
    batch.followup("profile", f"{user_id}:{at:%Y%m%d%H%M}")
    return "processed"


def _on_unfollow(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    friend = batch.friend(user_id, at)
    friend.blocked = True
    friend.unfollowed_at = at
    _system(batch, friend, "unfollow", "blocked", at)
    return "processed"


def _on_unsend(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    line_id = _text(event["unsend"]["messageId"], 64, required=True)
    row = batch.s.scalar(select(Message).where(Message.line_message_id == line_id))
    if row is None:
        return "processed"  # unsent before we ever saw it; nothing to hide
    row.unsent_at = at
    friend = batch.friend(user_id, at)
    if friend.last_message_preview and row.direction == "in":
        friend.last_message_preview = message_preview(row)
    batch.result.live.append({"type": "message.updated", "line_user_id": user_id,
                              "message_id": row.id})
    return "processed"


def _on_postback(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    friend = batch.friend(user_id, at)
    postback = event["postback"]
    _system(batch, friend, "postback", _text(postback.get("data", ""), 2000), at,
            payload=postback, reply_token=_text(event.get("replyToken"), 255))
    return "processed"


def _on_account_link(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    from .binding import complete_account_link

    friend = batch.friend(user_id, at)
    link = event["link"]
    outcome = complete_account_link(batch.s, friend, str(link.get("result", "")),
                                    str(link.get("nonce", "")))
    _system(batch, friend, "account_link", outcome.summary, at,
            payload={"result": link.get("result"), "bound": outcome.bound},
            reply_token=_text(event.get("replyToken"), 255))
    for job, ref in outcome.followups:
        batch.followup(job, ref)
        batch.result.live.append({"type": "message.created", "line_user_id": user_id,
                                  "message_id": int(ref)})
    batch.result.live.append({"type": "binding.updated", "line_user_id": user_id})
    return "processed"


_HANDLERS = {
    "message": _on_message,
    "follow": _on_follow,
    "unfollow": _on_unfollow,
    "unsend": _on_unsend,
    "postback": _on_postback,
    "accountLink": _on_account_link,
}
