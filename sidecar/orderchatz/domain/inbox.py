"""Inbound LINE webhook events: record durably, once, then follow up.

`handle_line_webhook` runs one DB transaction per delivery: every event is recorded with its raw
JSON by `webhookEventId` (unique, so a redelivery is a no-op), senders get a friend row, messages
are inserted. Only after commit are follow-up jobs enqueued and live updates published.

Messages, nearly all of the traffic, are written with a few bulk statements per delivery: one
insert, one update per friend whose counters move in SQL (two deliveries for one friend never
lose an increment). The rare other events (follow, unsend, account link, ...) run one by one
through the ORM, in delivery order. Events are handled as raw dicts: an unknown type, an unknown
message type or a known type with missing fields is recorded and never breaks the other events.
A value the database refuses fails a bulk statement; the delivery is then recorded again event by
event, each in a savepoint, so only that event ends up `invalid`.
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import Integer, bindparam, case, func, or_, select, tuple_, update
from sqlalchemy.exc import (DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError,
                            StatementError)
from sqlalchemy.orm import Session

from ..store.models import Friend, Message, Outbox, UTCDateTime, WebhookEvent, utcnow
from . import followups
from .messages import message_preview, preview_of

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


def _event_key(event) -> str:
    key = event.get("webhookEventId") if isinstance(event, dict) else None
    if isinstance(key, str) and key:
        return key[:64]
    # Very old deliveries had no id; a content hash still makes exact duplicates collide.
    digest = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()
    return "sha256:" + digest[:57]


def _event_time(event: dict) -> datetime:
    now = utcnow()
    try:
        at = datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=timezone.utc)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return now
    # LINE stamps events itself; one from the future would pin its friend atop the list for good.
    return now if at > now + timedelta(minutes=5) else at


LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")  # fullmatch: `$` would let a final newline in


def _user_id(event: dict) -> str | None:
    """The 1:1 chat's user id, only in LINE's own format (it ends up in LINE API paths)."""
    source = event.get("source")
    if isinstance(source, dict) and source.get("type") == "user":
        uid = source.get("userId")
        if isinstance(uid, str) and LINE_USER_ID.fullmatch(uid):
            return uid
    return None


def _text(value, limit: int, *, required: bool = False) -> str | None:
    """A string field of an event, or None; anything else makes the event invalid."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value[:limit]


# JSON escapes no store can keep: NUL (PostgreSQL refuses it) and a lone UTF-16 surrogate
# (not encodable as UTF-8). A pair like \ud83e\udd28 also matches; json.loads joins those.
_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE_CHARS = re.compile("[\x00\ud800-\udfff]")


def _storable(value):
    """`value` with NUL and lone surrogates replaced by U+FFFD in every string it holds, keys
    included. Without recursion: the parser accepts deeper nesting than Python's stack."""
    def clean(v):
        return _UNSTORABLE_CHARS.sub("\ufffd", v) if isinstance(v, str) else v

    root = [value]
    todo = [(root, 0)]
    while todo:
        parent, slot = todo.pop()
        item = parent[slot]
        if isinstance(item, dict):
            item = parent[slot] = {clean(k): v for k, v in item.items()}
            todo.extend((item, k) for k in item)
        elif isinstance(item, list):
            todo.extend((item, i) for i in range(len(item)))
        else:
            parent[slot] = clean(item)
    return root[0]


def _parse_int(digits: str):
    # Python refuses to convert integers of over 4,300 digits (a guard against slow parsing):
    # kept as text, such a number makes only its own event invalid, not the whole body a 400.
    return int(digits) if len(digits) <= 4000 else digits


def parse_body(body: bytes) -> list:
    try:
        data = json.loads(body, parse_int=_parse_int)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadWebhookBody(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise BadWebhookBody("body must be an object with an `events` array")
    events = data["events"]
    return _storable(events) if _UNSTORABLE.search(body) else events


def handle_line_webhook(svc, body: bytes) -> WebhookResult:
    events = parse_body(body)
    careful = False
    for attempt in range(4):
        try:
            result, outbox = _record(svc, events, careful=careful)
            break
        except (IntegrityError, OperationalError, _FriendRace) as exc:
            # A concurrent delivery of the same event or friend won the race (the retry's
            # pre-selects see its rows as duplicates), or the database broke a deadlock.
            if attempt == 3 or isinstance(exc, OperationalError) and not _is_deadlock(exc):
                raise
        except StatementError as exc:
            if careful or isinstance(exc, DBAPIError) and not isinstance(exc, (DataError, ProgrammingError)):
                raise  # the database itself is failing: nothing of the delivery is kept
            # A value the store refuses failed a bulk statement: record the delivery again,
            # event by event, so only the bad event is lost to `invalid`.
            careful = True
    followups.enqueue_followups(svc, outbox)
    svc.live.publish_many(result.live)
    return result


class _FriendRace(Exception):
    pass


def _is_deadlock(exc: OperationalError) -> bool:
    """PostgreSQL's deadlock/serialization failures, InnoDB's deadlock: retry the transaction."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) in ("40001", "40P01") or \
        bool(getattr(orig, "args", None)) and orig.args[0] == 1213


class Followup(NamedTuple):
    """A committed outbox row, as `followups.enqueue_followups` needs it."""
    id: int
    job: str
    ref: str


_F, _M, _W, _O = (t.__table__.c for t in (Friend, Message, WebhookEvent, Outbox))


def _where_in(column, *selected):
    return select(*selected).where(column.in_(bindparam("keys", expanding=True)))


def _select_in(conn, stmt, keys) -> list:
    """`stmt` for every key, 1,000 at a time (drivers cap the parameters of one statement)."""
    keys = list(keys)
    return [row for i in range(0, len(keys), 1000)
            for row in conn.execute(stmt, {"keys": keys[i:i + 1000]})]


# Built once: a delivery runs these with new values only (no statement building per request).
_SEEN_EVENTS = _where_in(_W.webhook_event_id, _W.webhook_event_id)
_KNOWN_MESSAGES = _where_in(_M.line_message_id, _M.line_message_id)
# Locks the delivery's known friends up front, in one order for every delivery, so deliveries
# naming the same friends in another order wait for each other instead of deadlocking
# (PostgreSQL: FOR NO KEY UPDATE, which leaves message inserts' foreign-key checks alone).
_FRIEND_ROWS = (_where_in(_F.line_user_id, _F.id, _F.line_user_id, _F.created_at, _F.profile_refreshed_at)
                .order_by(_F.line_user_id).with_for_update(key_share=True))
_FRIEND_STATE = _where_in(_F.line_user_id, _F.line_user_id, _F.unread_count, _F.blocked)
_KNOWN_FOLLOWUPS = select(_O.job, _O.ref).where(
    tuple_(_O.job, _O.ref).in_(bindparam("keys", expanding=True)))
_AT = bindparam("at", type_=UTCDateTime())
_NEWER = or_(_F.last_activity_at.is_(None), _F.last_activity_at <= _AT)
# One friend's share of a delivery's messages. Counted in SQL, so two deliveries for one friend
# never lose an increment; last_activity_at goes last because MySQL evaluates SET in order.
_TOUCH = (update(Friend.__table__).where(_F.id == bindparam("fid")).ordered_values(
    (_F.unread_count, _F.unread_count + bindparam("n", type_=Integer())),
    (_F.last_message_preview, case((_NEWER, bindparam("preview")), else_=_F.last_message_preview)),
    (_F.last_message_direction, case((_NEWER, "in"), else_=_F.last_message_direction)),
    (_F.last_activity_at, case((_NEWER, _AT), else_=_F.last_activity_at))))


def _insert_ids(conn, table, rows: list[dict]) -> list[int]:
    """Insert rows; their new ids in the same order (one statement where the driver allows)."""
    if not rows:
        return []
    if conn.dialect.insert_executemany_returning_sort_by_parameter_order:
        return list(conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                                 rows).scalars())
    return [conn.execute(table.insert(), row).inserted_primary_key[0] for row in rows]


class _Batch:
    """State shared by the events of one delivery inside its transaction."""

    def __init__(self, session: Session, result: WebhookResult, careful: bool):
        self.s = session
        self.c = session.connection()  # Core statements skip the ORM's bookkeeping
        self.result = result
        self.careful = careful
        self.friends: dict[str, int] = {}  # LINE user id → friend id, for every sender
        self.wanted: list[tuple[str, str, bool]] = []  # follow-ups (job, ref, ref is new)
        self.touched: set[str] = set()
        self.message_ids: set[str] = set()  # LINE message ids already stored
        self.pending: list[tuple[str, dict]] = []  # messages not yet written: (user id, row)

    def ensure_friends(self, first_seen: dict[str, datetime]) -> None:
        """Every sender of the delivery has a row. New friends come in one insert that ignores
        friends a concurrent delivery just created (sorted, so concurrent deliveries lock rows
        in the same order and never deadlock); profiles are fetched for new and stale friends."""
        if not first_seen:
            return
        known = {r.line_user_id: r for r in _select_in(self.c, _FRIEND_ROWS, sorted(first_seen))}
        missing = sorted(set(first_seen) - set(known))
        if missing:
            self.c.execute(_insert_ignoring_conflicts(self.c.dialect.name), [
                {"line_user_id": uid, "display_name": "", "last_activity_at": first_seen[uid],
                 "followed_at": first_seen[uid], "unread_count": 0, "blocked": False,
                 "last_message_preview": "", "created_at": utcnow()} for uid in missing])
            for r in _select_in(self.c, _FRIEND_ROWS, missing):
                self.friends[r.line_user_id] = r.id
                self.followup("profile", f"{r.line_user_id}:{first_seen[r.line_user_id]:%Y%m%d}",
                              new=True)
            if len(self.friends) < len(missing):
                raise _FriendRace()  # made by a transaction this one cannot see yet: retry
        now = utcnow()
        for uid, r in known.items():
            self.friends[uid] = r.id
            if (r.profile_refreshed_at is None and r.created_at < now - timedelta(minutes=10)
                    or r.profile_refreshed_at and r.profile_refreshed_at < now - PROFILE_REFRESH_AFTER):
                self.followup("profile", f"{uid}:{now:%Y%m%d}")

    def friend(self, user_id: str) -> Friend:
        """The sender's row as an ORM object, fresh (bulk statements may have changed it)."""
        self.touched.add(user_id)
        return self.s.get(Friend, self.friends[user_id], populate_existing=True)

    def followup(self, job: str, ref: str, *, new: bool = False) -> None:
        """Queue a follow-up once. `new`: its ref cannot exist yet (a row made in this batch)."""
        self.wanted.append((job, ref, new))

    def mark(self) -> tuple:
        return len(self.wanted), len(self.result.live), set(self.touched), set(self.message_ids)

    def rollback_to(self, mark: tuple) -> None:
        """Forget what a failed event's savepoint undid (its jobs, live updates)."""
        wanted, live, touched, message_ids = mark
        del self.wanted[wanted:]
        del self.result.live[live:]
        self.touched, self.message_ids = touched, message_ids

    def add_message(self, user_id: str, row: dict) -> None:
        row = {**row, "friend_id": self.friends[user_id]}
        self.message_ids.add(row["line_message_id"])
        self.pending.append((user_id, row))
        if self.careful:
            self.write_messages()

    def write_messages(self) -> None:
        """The pending messages: one update per friend, then one insert. Friends first, in id
        order: InnoDB's foreign-key check would otherwise share-lock a friend row that the
        update then needs exclusively, and two deliveries for one friend would deadlock."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        latest: dict[int, list] = {}
        for _, row in pending:
            share = latest.setdefault(row["friend_id"], [0, row])
            share[0] += 1
            if row["created_at"] >= share[1]["created_at"]:
                share[1] = row
        self.c.execute(_TOUCH, [{"fid": fid, "n": n, "at": row["created_at"],
                                 "preview": preview_of(row["type"], row["text"])}
                                for fid, (n, row) in sorted(latest.items())])
        ids = _insert_ids(self.c, Message.__table__, [row for _, row in pending])
        for (uid, row), mid in zip(pending, ids):
            if row["media_status"] == "pending":
                self.followup("media", str(mid), new=True)
            self.result.live.append({"type": "message.created", "line_user_id": uid, "message_id": mid})
            self.touched.add(uid)

    def write_followups(self) -> list[Followup]:
        wanted = list(dict.fromkeys((job, ref) for job, ref, _ in self.wanted))
        check = {(job, ref) for job, ref, new in self.wanted if not new}
        if check:
            known = {tuple(r) for r in _select_in(self.c, _KNOWN_FOLLOWUPS, sorted(check))}
            wanted = [w for w in wanted if w not in known]
        rows = [{"job": job, "ref": ref, "created_at": utcnow()} for job, ref in wanted]
        return [Followup(i, job, ref) for i, (job, ref)
                in zip(_insert_ids(self.c, Outbox.__table__, rows), wanted)]


@functools.cache
def _insert_ignoring_conflicts(dialect: str):
    if dialect in ("postgresql", "sqlite"):
        insert_ = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
        return insert_(Friend.__table__).on_conflict_do_nothing(index_elements=["line_user_id"])
    return Friend.__table__.insert().prefix_with("IGNORE")


def _record(svc, events: list, *, careful: bool) -> tuple[WebhookResult, list[Followup]]:
    result = WebhookResult(received=len(events))
    with svc.store.session() as s:
        batch = _Batch(s, result, careful)
        keyed = []
        for event in events:
            if isinstance(event, dict) and _is_verify_dummy(event):
                result.skipped += 1
                continue
            keyed.append((_event_key(event), event))
        keys = [k for k, _ in keyed]
        rows: list[dict] = []  # webhook_events
        seen = {r[0] for r in _select_in(batch.c, _SEEN_EVENTS, keys)}
        fresh = []
        for key, event in keyed:
            if key in seen:
                result.duplicates += 1
            elif isinstance(event, dict):
                fresh.append((key, event))
            else:  # not even an object: kept raw, nothing else to do
                rows.append(_event_row(key, event, "invalid"))
            seen.add(key)
        line_ids = {m["id"] for _, e in fresh if e.get("type") == "message"
                    and isinstance(m := e.get("message"), dict) and isinstance(m.get("id"), str)}
        if line_ids:
            batch.message_ids.update(r[0] for r in _select_in(batch.c, _KNOWN_MESSAGES, line_ids))
        first_seen: dict[str, datetime] = {}
        for _, e in fresh:  # senders of events the inbox acts on (not ignored or unknown types)
            if e.get("type") in _HANDLERS and (uid := _user_id(e)):
                at = _event_time(e)
                first_seen[uid] = min(first_seen.get(uid, at), at)
        batch.ensure_friends(first_seen)
        for key, event in fresh:
            rows.append(_event_row(key, event, _apply_safely(batch, key, event)))
        batch.write_messages()
        if rows:
            batch.c.execute(WebhookEvent.__table__.insert(), rows)
        for row in rows:
            if row["status"] == "unsupported":
                result.unsupported += 1
            elif row["status"] == "invalid":
                result.invalid += 1
            else:
                result.stored += 1
        outbox = batch.write_followups()
        if batch.touched:
            for uid, unread, blocked in _select_in(batch.c, _FRIEND_STATE, sorted(batch.touched)):
                result.live.append({"type": "friend.updated", "line_user_id": uid,
                                    "unread_count": unread, "blocked": bool(blocked)})
    return result, outbox


def _event_row(key: str, event, status: str) -> dict:
    """The `webhook_events` row: the event as received, and what became of it."""
    obj = event if isinstance(event, dict) else {}
    context = obj.get("deliveryContext")
    return {"webhook_event_id": key, "event_type": str(obj.get("type", ""))[:40],
            "line_user_id": _user_id(obj), "raw": json.dumps(event, ensure_ascii=False),
            "redelivery": isinstance(context, dict) and bool(context.get("isRedelivery")),
            "status": status, "received_at": utcnow()}


def _apply_safely(batch: _Batch, key: str, event: dict) -> str:
    """One event's status. Messages wait for the delivery's bulk insert (written at once when
    `careful`); any other event runs now, in delivery order, in a savepoint of its own."""
    deferred = event.get("type") == "message" and not batch.careful
    if not deferred:
        batch.write_messages()  # what came before this event is written before it
    # A deferred message changes the batch only once it is valid, as its very last step; the
    # rest may have to be undone (copying the batch's sets per message would be quadratic).
    mark = None if deferred else batch.mark()
    try:
        if deferred:
            return _apply(batch, event)
        with batch.s.begin_nested():
            return _apply(batch, event)
    except (KeyError, TypeError, ValueError, AttributeError, StatementError) as exc:
        if isinstance(exc, DBAPIError) and not isinstance(exc, (DataError, ProgrammingError)):
            raise  # the database itself is failing: nothing of the delivery is kept
        # One malformed event (a value the store cannot hold included) must not cost the
        # delivery's other events: it is kept raw, marked invalid.
        if mark is not None:
            batch.rollback_to(mark)
        log.warning("webhook event %s recorded as invalid: %s", key, exc.__class__.__name__)
        return "invalid"


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
    line_id = _text(msg["id"], 1000, required=True)
    if len(line_id) > 64:  # LINE's are ~18 digits; cut, it would no longer match its duplicate
        raise ValueError("message id longer than 64 characters")
    supported = mtype in MESSAGE_TYPES
    provider = (msg.get("contentProvider") or {}).get("type", "line")
    row = {
        "direction": "in", "type": mtype if supported else "unsupported",
        "text": _text(msg.get("text"), 20_000, required=True) if mtype == "text" else None,
        "payload": json.dumps(msg, ensure_ascii=False), "line_message_id": line_id,
        "quote_token": _text(msg.get("quoteToken"), 255),
        "quoted_message_id": _text(msg.get("quotedMessageId"), 64),
        "reply_token": _text(event.get("replyToken"), 255), "status": "received", "created_at": at,
        "media_status": ("pending" if provider == "line" else "external") if mtype in MEDIA_TYPES else None,
    }
    if line_id not in batch.message_ids:  # else the same message came under another event id
        batch.add_message(user_id, row)
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
    friend = batch.friend(user_id)
    unblocked = bool((event.get("follow") or {}).get("isUnblocked")) or friend.blocked
    friend.blocked = False
    friend.followed_at = at
    row = _system(batch, friend, "follow", "unblocked" if unblocked else "followed", at,
                  reply_token=_text(event.get("replyToken"), 255))
    _touch(friend, row, at)
    batch.followup("profile", f"{user_id}:{at:%Y%m%d%H%M}")
    return "processed"


def _on_unfollow(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    friend = batch.friend(user_id)
    friend.blocked = True
    friend.unfollowed_at = at
    _system(batch, friend, "unfollow", "blocked", at)
    return "processed"


def _on_unsend(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    line_id = _text(event["unsend"]["messageId"], 64, required=True)
    row = batch.s.scalar(select(Message).where(Message.line_message_id == line_id,
                                               Message.friend_id == batch.friends[user_id]))
    if row is None:
        return "processed"  # unsent before we ever saw it (or not this friend's): nothing to hide
    row.unsent_at = at
    friend = batch.friend(user_id)
    newest = batch.s.scalar(select(func.max(Message.id)).where(Message.friend_id == friend.id))
    if row.id == newest:  # the friend list previews this message
        friend.last_message_preview = message_preview(row)
    batch.result.live.append({"type": "message.updated", "line_user_id": user_id,
                              "message_id": row.id})
    return "processed"


def _on_postback(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    friend = batch.friend(user_id)
    postback = event["postback"]
    _system(batch, friend, "postback", _text(postback.get("data", ""), 2000), at,
            payload=postback, reply_token=_text(event.get("replyToken"), 255))
    return "processed"


def _on_account_link(batch: _Batch, event: dict, user_id: str, at: datetime) -> str:
    from .binding import complete_account_link

    friend = batch.friend(user_id)
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
